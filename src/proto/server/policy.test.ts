import { test } from "node:test";
import assert from "node:assert/strict";
import { cidrs } from "../../../test/helpers/cidr.js";
import { parseConfig } from "../config/parse.js";
import { serverPolicy } from "./policy.js";

test("serverPolicy() is the policy of a [[server]] that sets only listen", () => {
  const r = parseConfig('[[server]]\nlisten = "127.0.0.1:123"\n', "ntp.toml");
  assert.ok(r.ok);
  const { listen: _listen, ...parsed } = r.config.servers[0]!;
  assert.deepEqual(serverPolicy(), parsed);
  assert.deepEqual(serverPolicy().allowlist.filter, cidrs("::/0", "0.0.0.0/0"));
  assert.equal(serverPolicy().requireNts, false);
});

test("serverPolicy() keeps what it is given; undefined is left out", () => {
  const denylist = { filter: cidrs("192.0.2.0/24"), action: "ignore" as const };
  const p = serverPolicy({ denylist, requireNts: undefined, rateLimitingCacheSize: 8 });
  assert.equal(p.denylist, denylist);
  assert.equal(p.requireNts, false);
  assert.equal(p.rateLimitingCacheSize, 8);
  assert.deepEqual(p.acceptNtpVersions, [3, 4]);
});
