// pps sources. This machine (and CI) has no /dev/pps*, so the kernel's side is
// played by fake-pps.c, an LD_PRELOAD library answering the RFC 2783 ioctls
// (PPS_GETCAP, PPS_GETPARAMS, PPS_SETPARAMS, PPS_FETCH with its timeout) for one
// path, with pulses at exact system clock readings; it never touches the clock.
// First the addon's calls against it, then a --no-clock-control daemon with a
// sock source (a fake gpsd, 0.3 ms off) and a pps source: the pps source does
// not vote, is selected next to the sock source it agrees with, and pulls the
// estimate to its own, far more precise, offset.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { readObservationMessage } from "../../src/cli/observation-client.js";
import { parseObservation } from "../../src/daemon/observation.js";
import { FakeGpsd, fakeGpsdUnavailable } from "../helpers/fake-gpsd.js";
import { buildFakePps, fakePpsEnv } from "../helpers/fake-pps.js";
import { runCommand, spawnProcess } from "../helpers/process.js";
import { skipIfMissing } from "../helpers/skip.js";
import { makeTempDir } from "../helpers/tmp.js";
import { waitFor } from "../helpers/wait.js";
import { DAEMON_ENTRY } from "./run-daemon.js";

const PROBE = new URL("../helpers/pps-probe.ts", import.meta.url).pathname;
const PPS_ASSERT = 0x1;
const PPS_CANWAIT = 0x100;

async function probe(env: NodeJS.ProcessEnv, path: string): Promise<Record<string, unknown>[]> {
  const r = await runCommand(process.execPath, ["--import", "tsx", PROBE, path], {
    env,
    timeoutMs: 30_000,
  });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test("the addon's PPS calls against a fake device", { timeout: 120_000 }, async (t) => {
  if (skipIfMissing(t, fakeGpsdUnavailable())) return;
  const dir = await makeTempDir();
  try {
    const library = dir.file("fake_pps.so");
    if (skipIfMissing(t, await buildFakePps(library))) return;
    const path = dir.file("pps0");
    const log = dir.file("ioctl.log");
    const lines = await probe(fakePpsEnv({ library, path, phase: 0.25, period: 0.5, log }), path);
    const opened = lines[0]!.opened as { capabilities: number; mode: number };
    assert.ok(
      (opened.capabilities & PPS_ASSERT) !== 0 && (opened.capabilities & PPS_CANWAIT) !== 0,
    );
    assert.ok((opened.mode & PPS_ASSERT) !== 0, "the assert edge is captured after open");
    const pulses = lines
      .slice(1, 4)
      .map((l) => l.pulse as { sec: number; nsec: number; sequence: number });
    for (const p of pulses)
      assert.ok(p.nsec === 250_000_000 || p.nsec === 750_000_000, `${p.nsec}`);
    for (let i = 1; i < pulses.length; i++) {
      const gap =
        pulses[i]!.sec - pulses[i - 1]!.sec + (pulses[i]!.nsec - pulses[i - 1]!.nsec) * 1e-9;
      assert.ok(Math.abs(gap - 0.5) < 1e-9, `gap ${gap}`);
      assert.equal(pulses[i]!.sequence, pulses[i - 1]!.sequence + 1);
    }
    assert.equal(lines[4]!.short, null, "a fetch that times out resolves null");
    const calls = (await readFile(log, "utf8")).trim().split("\n");
    assert.deepEqual(calls.slice(0, 4), [
      `open ${path}`,
      "PPS_GETCAP",
      "PPS_GETPARAMS",
      "PPS_SETPARAMS mode=0x1001",
    ]);
    assert.ok(calls.includes("PPS_FETCH timeout=0.050"));

    // Already capturing the assert edge: no PPS_SETPARAMS (it needs CAP_SYS_TIME).
    const log2 = dir.file("ioctl2.log");
    await probe(fakePpsEnv({ library, path, mode: 0x1001, log: log2 }), path);
    assert.ok(!(await readFile(log2, "utf8")).includes("PPS_SETPARAMS"));

    // A missing device: a clear errno error, no crash.
    const missing = await probe(fakePpsEnv({ library, path }), dir.file("no-such-pps"));
    assert.equal((missing[0]!.error as { code: string }).code, "ENOENT");
  } finally {
    await dir.cleanup();
  }
});

test(
  "a pps source next to a sock source: selected with it, and it refines the estimate",
  { timeout: 180_000 },
  async (t) => {
    if (skipIfMissing(t, fakeGpsdUnavailable())) return;
    const dir = await makeTempDir();
    const library = dir.file("fake_pps.so");
    if (skipIfMissing(t, await buildFakePps(library))) {
      await dir.cleanup();
      return;
    }
    const ppsPath = dir.file("pps0");
    const sockPath = dir.file("gpsd.sock");
    const observePath = dir.file("observe");
    const configPath = dir.file("pps.toml");
    // Pulses when the system clock reads x.2 s: it is 0.2 s ahead (true − system = −0.2).
    const TRUE_OFFSET = -0.2;
    await (
      await import("node:fs/promises")
    ).writeFile(
      configPath,
      `[observability]
log-level = "info"
observation-path = "${observePath}"

[[source]]
mode = "sock"
path = "${sockPath}"
precision = 1e-3

[[source]]
mode = "pps"
path = "${ppsPath}"
precision = 1e-6
period = 0.5

[synchronization]
minimum-agreeing-sources = 1
`,
    );
    const daemon = await spawnProcess(
      process.execPath,
      ["--import", "tsx", DAEMON_ENTRY, "-c", configPath, "--no-clock-control"],
      { env: fakePpsEnv({ library, path: ppsPath, phase: 0.2, period: 0.5 }), name: "pps-daemon" },
    );
    // The GPS is 0.3 ms off: worse than its stated precision allows the pps to be.
    const gpsd = new FakeGpsd(sockPath, TRUE_OFFSET - 3e-4, 0);
    try {
      await daemon.waitForOutput(/sock source listening/, 30_000);
      await daemon.waitForOutput(/pps device open/, 30_000);
      gpsd.start(100);
      const o = await waitFor(
        async () => {
          const obs = parseObservation(await readObservationMessage(observePath));
          const pps = obs.sources.find((s) => s.name === "PPS device");
          const sock = obs.sources.find((s) => s.name === "GPSd socket");
          if (pps?.selected !== true || sock?.selected !== true) return undefined;
          if (obs.system.offset === undefined || Math.abs(obs.system.offset - TRUE_OFFSET) > 5e-5) {
            return undefined;
          }
          return { obs, pps, sock };
        },
        {
          timeoutMs: 90_000,
          intervalMs: 250,
          what: "the pps source to be selected and pull the estimate",
        },
      );
      assert.equal(o.pps.address, ppsPath);
      // Pulses every 0.5 s at readings x.2 and x.7: the source knows −0.2 only modulo 0.5.
      const wrapped = ((((o.pps.offset - TRUE_OFFSET) % 0.5) + 0.75) % 0.5) - 0.25;
      assert.ok(Math.abs(wrapped) < 5e-5, `pps offset ${o.pps.offset}`);
      assert.ok(
        Math.abs(o.sock.offset - (TRUE_OFFSET - 3e-4)) < 2e-4,
        `sock offset ${o.sock.offset}`,
      );
      assert.ok(Math.abs(o.obs.system.offset! - TRUE_OFFSET) <= 5e-5);
      assert.ok((o.pps.samples ?? 0) >= 8, `pps samples ${o.pps.samples}`);
    } finally {
      gpsd.stop();
      await daemon.stop();
      await dir.cleanup();
    }
  },
);
