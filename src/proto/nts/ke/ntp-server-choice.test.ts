import { test } from "node:test";
import assert from "node:assert/strict";
import { NtpServerChoice } from "./ntp-server-choice.js";

const fleet = [
  { host: "ntp1.example.net", port: null },
  { host: "ntp2.example.net", port: 1123 },
  { host: "2001:db8::3", port: null },
];

test("no ntp-server: no Server record, the Port record only when ntp-port is set", () => {
  assert.deepEqual(new NtpServerChoice([], null).choose(), {});
  assert.deepEqual(new NtpServerChoice([], 124).choose(), { port: 124 });
});

test("one ntp-server is every client's, with ntp-port unless it has its own port", () => {
  const one = new NtpServerChoice([{ host: "time.example.net", port: null }], 124);
  assert.deepEqual(one.choose(), { server: "time.example.net", port: 124 });
  assert.deepEqual(one.choose(), { server: "time.example.net", port: 124 });
  const own = new NtpServerChoice([{ host: "time.example.net", port: 1123 }], 124);
  assert.deepEqual(own.choose(), { server: "time.example.net", port: 1123 });
});

test("several: round robin, each entry's own port or ntp-port or none", () => {
  const choice = new NtpServerChoice(fleet, null);
  const got = Array.from({ length: 6 }, () => choice.choose());
  assert.deepEqual(got, [
    { server: "ntp1.example.net" },
    { server: "ntp2.example.net", port: 1123 },
    { server: "2001:db8::3" },
    { server: "ntp1.example.net" },
    { server: "ntp2.example.net", port: 1123 },
    { server: "2001:db8::3" },
  ]);
});

test("a client's NTP Server Deny names are skipped (case-insensitively); all denied: round robin", () => {
  const choice = new NtpServerChoice(fleet, 123);
  assert.equal(choice.choose(["NTP1.example.net"]).server, "ntp2.example.net");
  assert.equal(choice.choose(["ntp2.example.net"]).server, "2001:db8::3");
  assert.equal(choice.choose(["ntp1.example.net", "2001:db8::3"]).server, "ntp2.example.net");
  const all = fleet.map((t) => t.host);
  assert.equal(choice.choose(all).server, "2001:db8::3", "the next in turn");
  assert.equal(choice.choose().server, "ntp1.example.net");
});
