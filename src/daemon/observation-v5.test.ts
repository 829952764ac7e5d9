// The NTPv5 addition to the observation: sources[].protocol_version (ntpd-rs's
// state names), written from a source's snapshot, read back, refused when
// unknown, and shown by `ntp-ctl status` for sources not plainly on v4.
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatStatusPlain } from "../cli/status-plain.js";
import { NtpSource } from "../proto/source/source.js";
import {
  observedSource as observedSourceOf,
  parseObservation,
  serializeObservation,
  ObservationFormatError,
} from "./observation.js";
import { observedSource, sampleObservation } from "../../test/helpers/observations.js";

test("a source's negotiation state becomes protocol_version in ntpd-rs's names", () => {
  const cases = [
    [4, "V4"],
    [5, "V5"],
    ["auto", "V4UpgradingToV5"],
  ] as const;
  for (const [version, name] of cases) {
    const source = new NtpSource({ version });
    const o = observedSourceOf({
      id: 1,
      name: "a:123",
      address: "192.0.2.1:123",
      ntsCookies: null,
      snapshot: source.snapshot(),
    });
    assert.equal(o.protocol_version, name);
  }
});

test("protocol_version survives a round trip; an unknown one is a format error", () => {
  const o = sampleObservation({ sources: [observedSource({ protocol_version: "UpgradedToV5" })] });
  assert.equal(
    parseObservation(serializeObservation(o)).sources[0]?.protocol_version,
    "UpgradedToV5",
  );
  const bad = serializeObservation(o).replace('"UpgradedToV5"', '"V6"');
  assert.throws(() => parseObservation(bad), ObservationFormatError);
  const without = sampleObservation({ sources: [observedSource()] });
  assert.equal(
    parseObservation(serializeObservation(without)).sources[0]?.protocol_version,
    undefined,
  );
});

test("ntp-ctl status prints an NTP version line for sources not plainly on v4", () => {
  const text = (protocol_version?: "V4" | "V5" | "V4UpgradingToV5") =>
    formatStatusPlain(
      sampleObservation({
        sources: [observedSource(protocol_version === undefined ? {} : { protocol_version })],
      }),
    );
  assert.match(text("V5"), /\tNTP version:\t\t5\n/);
  assert.match(text("V4UpgradingToV5"), /\tNTP version:\t\t4 \(asking to upgrade to 5\)\n/);
  assert.doesNotMatch(text("V4"), /NTP version/);
  assert.doesNotMatch(text(), /NTP version/);
});
