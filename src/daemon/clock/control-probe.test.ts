import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CAP_SYS_TIME,
  decideControl,
  isInitialUserNamespace,
  parseCapEff,
  probeClockControl,
} from "./control-probe.js";

const ROOT_STATUS = "Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
const NO_TIME_STATUS = "Name:\tnode\nCapEff:\t000001fffdffffff\nCapBnd:\t000001ffffffffff\n";
const INIT_NS = "         0          0 4294967295\n";
const CONTAINER_NS = "         0     100000      65536\n";

describe("clock control probe (reads /proc only)", () => {
  it("parses CapEff", () => {
    assert.equal(CAP_SYS_TIME, 25);
    assert.equal(parseCapEff(ROOT_STATUS), 0x1ffffffffffn);
    assert.equal(parseCapEff("CapEff:\t0000000002000000\n"), 1n << 25n);
    assert.equal(parseCapEff("Name:\tx\n"), null);
  });

  it("recognizes the initial user namespace", () => {
    assert.equal(isInitialUserNamespace(INIT_NS), true);
    assert.equal(isInitialUserNamespace("0 0 4294967295"), true);
    assert.equal(isInitialUserNamespace(CONTAINER_NS), false);
    assert.equal(isInitialUserNamespace(`${INIT_NS}${CONTAINER_NS}`), false);
    assert.equal(isInitialUserNamespace(""), false);
  });

  it("decides from CapEff bit 25 and the namespace", () => {
    const yes = decideControl(ROOT_STATUS, INIT_NS);
    assert.equal(yes.permitted, true);
    assert.match(
      yes.reason,
      /CAP_SYS_TIME is in the effective capabilities \(CapEff 0x1ffffffffff\)/,
    );
    assert.equal(decideControl("CapEff:\t0000000002000000\n", null).permitted, true);

    const no = decideControl(NO_TIME_STATUS, INIT_NS);
    assert.equal(no.permitted, false);
    assert.match(
      no.reason,
      /CAP_SYS_TIME is not in the effective capabilities \(CapEff 0x1fffdffffff\)/,
    );
    assert.match(no.reason, /--no-clock-control/);

    const userNs = decideControl(ROOT_STATUS, CONTAINER_NS);
    assert.equal(userNs.permitted, false);
    assert.match(userNs.reason, /user namespace/);

    assert.equal(decideControl("Name:\tx\n", INIT_NS).permitted, false);
  });

  it("never throws: unreadable files are a 'no' with the reason", () => {
    const r = probeClockControl(() => {
      throw new Error("ENOENT: no such file");
    });
    assert.equal(r.permitted, false);
    assert.match(r.reason, /cannot read \/proc\/self\/status \(ENOENT/);
    // A missing uid_map (no user namespaces in the kernel) counts as the initial one.
    const files: Record<string, string> = { "/proc/self/status": ROOT_STATUS };
    const noMap = probeClockControl((path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT ${path}`);
      return text;
    });
    assert.equal(noMap.permitted, true);
  });

  it("the real probe answers with a reason", () => {
    const r = probeClockControl();
    assert.equal(typeof r.permitted, "boolean");
    assert.match(r.reason, /CAP_SYS_TIME|\/proc/);
  });
});
