// The steered clock's error between updates: carried forward, corrected.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ErrorTrack } from "./error-track.js";

function close(actual: number | undefined, expected: number, what: string): void {
  assert.ok(
    actual !== undefined && Math.abs(actual - expected) < 1e-15,
    `${what}: ${actual} != ${expected}`,
  );
}

test("nothing before the first update", () => {
  const track = new ErrorTrack();
  track.stepped(0.1);
  track.frequencyChanged(1e-6, 5);
  assert.equal(track.at(10), null);
});

test("an update is carried forward with its rate", () => {
  const track = new ErrorTrack();
  track.update(1e-3, 20e-6, 100);
  close(track.at(100)?.offset, 1e-3, "at the update");
  close(track.at(110)?.offset, 1e-3 + 200e-6, "10 s later");
});

test("a step takes its size off the error; a frequency change bends it from its instant", () => {
  const track = new ErrorTrack();
  track.update(1e-3, 20e-6, 100);
  track.stepped(1e-3);
  close(track.at(100)?.offset, 0, "stepped away");
  // At 110 s the error is 200 µs; the clock then runs 20 ppm faster: it stays.
  track.frequencyChanged(20e-6, 110);
  close(track.at(110)?.offset, 200e-6, "at the change");
  close(track.at(150)?.offset, 200e-6, "40 s later");
  close(track.at(150)?.rate, 0, "rate");
});

test("a slew: its rate counts in the error and is reported apart until it ends", () => {
  const track = new ErrorTrack();
  track.update(160e-6, 0, 0);
  // 160 µs over 8 s: the clock runs 20 ppm fast.
  track.frequencyChanged(20e-6, 0, -20e-6);
  close(track.at(4)?.offset, 80e-6, "half way");
  close(track.at(4)?.slewRate, -20e-6, "slew rate");
  track.frequencyChanged(-20e-6, 8, 0);
  close(track.at(20)?.offset, 0, "after the slew");
  close(track.at(20)?.slewRate, 0, "no slew");
  // A frequency change during a slew leaves the slew's rate as it was.
  track.frequencyChanged(20e-6, 20, -20e-6);
  track.frequencyChanged(1e-6, 21);
  close(track.at(21)?.slewRate, -20e-6, "slew rate kept");
});
