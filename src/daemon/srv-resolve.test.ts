// SRV discovery against the test DNS responder on loopback: validated
// answers are used in RFC 2782 order, unvalidated ones refused, and only
// resolvers on this machine (or the test one) are trusted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startDnsResponder } from "../../test/helpers/dns-responder.js";
import { TEST_DNS_SERVER_ENV, trustedDnsServers, ValidatingSrvDiscovery } from "./srv-resolve.js";
import { FORBID_CLOCK_CONTROL_ENV } from "./clock-choice.js";

test("SRV targets come back in priority order with their ports; A records resolve", async (t) => {
  const dns = await startDnsResponder({
    srv: {
      "_ntske._tcp.pool.test": [
        { priority: 20, weight: 1, port: 4461, target: "b.pool.test" },
        { priority: 10, weight: 1, port: 4460, target: "a.pool.test" },
      ],
    },
    a: { "a.pool.test": ["127.0.0.2"] },
  });
  t.after(() => dns.close());
  const discovery = new ValidatingSrvDiscovery(() => [{ address: "127.0.0.1", port: dns.port }]);
  assert.deepEqual(await discovery.keServers("pool.test"), [
    { target: "a.pool.test", port: 4460 },
    { target: "b.pool.test", port: 4461 },
  ]);
  assert.deepEqual(await discovery.addresses("a.pool.test"), [{ address: "127.0.0.2", family: 4 }]);
  await assert.rejects(discovery.addresses("missing.pool.test"), /has no address/);
});

test("an answer without the AD bit is refused, and so is an empty one", async (t) => {
  const dns = await startDnsResponder({
    srv: {
      "_ntske._tcp.unsigned.test": [{ priority: 1, weight: 1, port: 4460, target: "x.test" }],
      "_ntske._tcp.empty.test": [],
    },
    insecure: ["_ntske._tcp.unsigned.test"],
  });
  t.after(() => dns.close());
  const discovery = new ValidatingSrvDiscovery(() => [{ address: "127.0.0.1", port: dns.port }]);
  await assert.rejects(discovery.keServers("unsigned.test"), /not DNSSEC-validated/);
  await assert.rejects(discovery.keServers("empty.test"), /has no SRV records/);
  await assert.rejects(discovery.keServers("nowhere.test"), /DNS error code 3/);
});

test("without a resolver on loopback SRV is refused with the reason", async () => {
  const discovery = new ValidatingSrvDiscovery(() => []);
  await assert.rejects(discovery.keServers("pool.test"), /DNSSEC-validated by a local resolver/);
});

test("the test DNS server is used only in a test run", () => {
  const env = { [TEST_DNS_SERVER_ENV]: "127.0.0.1:5353" };
  assert.deepEqual(trustedDnsServers({ ...env, [FORBID_CLOCK_CONTROL_ENV]: "1" }), [
    { address: "127.0.0.1", port: 5353 },
  ]);
  const system = trustedDnsServers({});
  assert.deepEqual(trustedDnsServers(env), system);
  for (const s of system) assert.ok(s.address === "::1" || s.address.startsWith("127."));
});
