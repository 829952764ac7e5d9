// ntp-ctl force-sync against real servers on loopback: our daemon serving plain
// NTP and NTS (with a throw-away CA), and scripted servers whose clock is off.
// force-sync measures them with the daemon's source code (NtpSource over the
// daemon's socket, the daemon's NTS-KE client). The clock is never touched:
// NTPD_TS_FORBID_CLOCK_CONTROL=1 makes force-sync refuse the step, and the
// runs through a terminal (util-linux `script`) either find the clock right
// or answer the question.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { collectTargets, measureTarget } from "../../src/daemon/measure-targets.js";
import { loadConfigFile } from "../../src/daemon/config-file.js";
import { trackPid, untrackPid } from "../helpers/cleanup.js";
import { startFakeNtpServer } from "../helpers/fake-ntp-server.js";
import { assertLoopbackOffset } from "../helpers/loopback-offset.js";
import { ntsServerConfig } from "../helpers/nts-daemon.js";
import { makeTestPki } from "../helpers/pki.js";
import { freePort, freeUdpPort } from "../helpers/ports.js";
import { which, type Spawned } from "../helpers/process.js";
import { skipIfMissing } from "../helpers/skip.js";
import { makeTempDir, type TempDir } from "../helpers/tmp.js";
import { waitForTcpPort, waitForUdpBound } from "../helpers/wait.js";
import { CTL_ENTRY, startDaemon } from "../daemon/run-daemon.js";

const root = new URL("../..", import.meta.url).pathname;

interface Servers {
  daemon: Spawned;
  ntpPort: number;
  kePort: number;
  caPath: string;
}

/** Our daemon as a stratum-1 NTP and NTS server on 127.0.0.1. */
async function startServers(dir: TempDir): Promise<Servers> {
  const pki = await makeTestPki(dir);
  const cert = await pki.issue("server", ["127.0.0.1"]);
  const ntpPort = await freeUdpPort();
  const kePort = await freePort();
  const daemon = await startDaemon(
    dir,
    "server",
    ntsServerConfig({ ntpPort, kePort, chainPath: cert.chainPath, keyPath: cert.keyPath }),
  );
  try {
    await daemon.waitForOutput(/serving NTS-KE/, 30_000);
    await waitForUdpBound(ntpPort);
    await waitForTcpPort(kePort);
  } catch (error) {
    await daemon.stop();
    throw error;
  }
  return { daemon, ntpPort, kePort, caPath: pki.caCertPath };
}

function plainAndNtsSources(s: Servers, minimumAgreeing: number, ntsPool = false): string {
  const pool = `[[source]]
mode = "nts-pool"
address = "127.0.0.1:${s.kePort}"
certificate-authority = "${s.caPath}"
count = 1

`;
  return `[[source]]
mode = "server"
address = "127.0.0.1:${s.ntpPort}"

[[source]]
mode = "nts"
address = "127.0.0.1:${s.kePort}"
certificate-authority = "${s.caPath}"

${ntsPool ? pool : ""}[synchronization]
minimum-agreeing-sources = ${minimumAgreeing}
`;
}

function missingTools(t: TestContext, tools: string[]): boolean {
  const missing = tools.filter((tool) => which(tool) === undefined);
  return skipIfMissing(t, missing.length ? `${missing.join(", ")} not installed` : undefined);
}

interface TerminalRun {
  code: number | null;
  output: string;
}

/**
 * Runs `ntp-ctl force-sync -c CONFIG` on a pseudo-terminal (`script`), with
 * clock control forbidden; answers `answer` once the question appears.
 */
function forceSyncOnTerminal(config: string, answer?: string): Promise<TerminalRun> {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const command = [process.execPath, "--import", "tsx", CTL_ENTRY, "force-sync", "-c", config]
    .map(quote)
    .join(" ");
  const child = spawn("script", ["-qec", command, "/dev/null"], {
    cwd: root,
    env: { ...process.env, NTPD_TS_FORBID_CLOCK_CONTROL: "1" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  trackPid(child.pid!);
  let output = "";
  let answered = false;
  const onData = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    if (!answered && answer !== undefined && output.includes("[y/N]")) {
      answered = true;
      child.stdin.write(`${answer}\n`);
    }
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`force-sync did not finish within 40 s; output so far:\n${output}`));
    }, 40_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      untrackPid(child.pid!);
      child.stdin.destroy();
      resolve({ code, output: output.replaceAll("\r\n", "\n") });
    });
  });
}

test(
  "force-sync measures a plain, an NTS and an NTS pool source with the daemon's source code",
  { timeout: 90_000 },
  async (t) => {
    if (missingTools(t, ["openssl"])) return;
    const dir = await makeTempDir("ntpd-ts-force-sync-");
    try {
      const servers = await startServers(dir);
      try {
        const path = dir.file("client.toml");
        await writeFile(path, plainAndNtsSources(servers, 1, true));
        const loaded = await loadConfigFile(path);
        assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.errors));
        const deadline = Date.now() + 10_000;
        const notes: string[] = [];
        const targets = await collectTargets(loaded.config, (l) => notes.push(l), deadline);
        assert.deepEqual(notes, []);
        assert.deepEqual(
          targets.map((x) => x.kind),
          ["plain", "nts", "nts"],
        );
        const results = await Promise.all(
          targets.map((x) => measureTarget(x, loaded.config, deadline)),
        );
        const [plain, nts, ntsPool] = results;
        assert.equal(plain!.label, `127.0.0.1:${servers.ntpPort}`);
        // The NTS source is named by its NTS-KE address and measured at the NTP port it got.
        assert.equal(nts!.label, `127.0.0.1 [NTS] 127.0.0.1:${servers.ntpPort}`);
        // An NTS pool: one key exchange with it, one server measured.
        assert.equal(ntsPool!.label, `127.0.0.1 [NTS] 127.0.0.1:${servers.ntpPort}`);
        for (const r of results) {
          assert.equal(r.problem, null, `${r.label}: ${r.problem}`);
          assert.ok(r.offset !== null && r.delay !== null, r.label);
          assertLoopbackOffset(r.offset, r.delay, r.label);
        }
      } finally {
        await servers.daemon.stop();
      }
    } finally {
      await dir.cleanup();
    }
  },
);

test(
  "an NTS source whose key exchange fails is reported, not fatal",
  { timeout: 60_000 },
  async (t) => {
    if (missingTools(t, ["openssl"])) return;
    const dir = await makeTempDir("ntpd-ts-force-sync-");
    try {
      const kePort = await freePort(); // nothing listens there
      const path = dir.file("client.toml");
      await writeFile(
        path,
        `[[source]]\nmode = "nts"\naddress = "127.0.0.1:${kePort}"\n\n` +
          `[synchronization]\nminimum-agreeing-sources = 1\n`,
      );
      const loaded = await loadConfigFile(path);
      assert.ok(loaded.ok);
      const deadline = Date.now() + 10_000;
      const [target] = await collectTargets(loaded.config, () => {}, deadline);
      const result = await measureTarget(target!, loaded.config, deadline);
      assert.equal(result.offset, null);
      assert.equal(result.label, `127.0.0.1:${kePort} [NTS]`);
      assert.match(result.problem ?? "", /^NTS key exchange: /);
    } finally {
      await dir.cleanup();
    }
  },
);

test(
  "ntp-ctl force-sync on a terminal: plain and NTS sources agree, the clock is already right",
  { timeout: 120_000 },
  async (t) => {
    if (missingTools(t, ["openssl", "script"])) return;
    const dir = await makeTempDir("ntpd-ts-force-sync-");
    try {
      const servers = await startServers(dir);
      try {
        const path = dir.file("client.toml");
        await writeFile(path, plainAndNtsSources(servers, 2));
        const run = await forceSyncOnTerminal(path);
        assert.equal(run.code, 0, run.output);
        assert.match(run.output, /Querying 2 source address\(es\)\.\.\./);
        assert.match(run.output, new RegExp(`127\\.0\\.0\\.1:${servers.ntpPort}: [+-]0\\.0`));
        assert.match(run.output, /127\.0\.0\.1 \[NTS\] 127\.0\.0\.1:\d+: [+-]0\.0/);
        assert.match(run.output, /Your clock is already within 1s of the correct time/);
        assert.doesNotMatch(run.output, /Do you want/);
      } finally {
        await servers.daemon.stop();
      }
    } finally {
      await dir.cleanup();
    }
  },
);

test(
  "ntp-ctl force-sync on a terminal: servers 100 s ahead, the step is offered and refused under NTPD_TS_FORBID_CLOCK_CONTROL",
  { timeout: 120_000 },
  async (t) => {
    if (missingTools(t, ["script"])) return;
    const dir = await makeTempDir("ntpd-ts-force-sync-");
    const ahead = [
      await startFakeNtpServer(() => ({ kind: "time", offsetSeconds: 100 })),
      await startFakeNtpServer(() => ({ kind: "time", offsetSeconds: 100.2 })),
    ];
    const wrong = await startFakeNtpServer(() => ({ kind: "time", offsetSeconds: -3600 }));
    try {
      const path = dir.file("client.toml");
      await writeFile(
        path,
        [...ahead, wrong]
          .map((s) => `[[source]]\nmode = "server"\naddress = "127.0.0.1:${s.port}"\n\n`)
          .join("") + `[synchronization]\nminimum-agreeing-sources = 2\n`,
      );

      const yes = await forceSyncOnTerminal(path, "y");
      assert.equal(yes.code, 1, yes.output);
      assert.match(yes.output, /Querying 3 source address\(es\)/);
      // Each server's offset, to the fake servers' millisecond.
      const printed = [...yes.output.matchAll(/^ {2}127\.0\.0\.1:(\d+): ([+-]\d+\.\d{6})s$/gm)];
      const offsetOf = (port: number) => Number(printed.find((m) => m[1] === `${port}`)?.[2]);
      assert.ok(Math.abs(offsetOf(ahead[0]!.port) - 100) < 0.05, yes.output);
      assert.ok(Math.abs(offsetOf(ahead[1]!.port) - 100.2) < 0.05, yes.output);
      assert.ok(Math.abs(offsetOf(wrong.port) + 3600) < 0.05, yes.output);
      assert.match(yes.output, /Current local time: /);
      assert.match(yes.output, /Proposed local time: /);
      // The median of the agreeing pair (100, 100.2): 100.1 s.
      assert.match(yes.output, /Your clock is behind by 1 minute\(s\) 40 second\(s\)/);
      assert.match(
        yes.output,
        /refusing to step the clock: NTPD_TS_FORBID_CLOCK_CONTROL=1 forbids changing it/,
      );
      assert.doesNotMatch(yes.output, /Time updated successfully/);

      const no = await forceSyncOnTerminal(path, "n");
      assert.equal(no.code, 0, no.output);
      assert.match(no.output, /The clock was not changed/);
    } finally {
      for (const s of [...ahead, wrong]) await s.close();
      await dir.cleanup();
    }
  },
);
