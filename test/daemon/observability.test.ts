// Observability end to end: a real ntp-daemon on loopback serving time to
// itself ([[server]] plus a [[source]] of it, --no-clock-control) with an
// observation socket, read raw and checked against docs/observation.schema.json,
// through `ntp-ctl status` (plain and prometheus) and through a real
// `ntp-metrics-exporter` over HTTP; then the same tools without a daemon.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { readFile, stat, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { readObservationMessage } from "../../src/cli/observation-client.js";
import { parseObservation, type Observation } from "../../src/daemon/observation.js";
import { loadSchema, parseJsonExact, validate } from "../helpers/json-schema.js";
import { familyFor, NTPD_RS_METRICS, parseOpenMetrics } from "../helpers/openmetrics.js";
import { freeTcpPort, freeUdpPort } from "../helpers/ports.js";
import { runCommand, spawnProcess, type Spawned } from "../helpers/process.js";
import { makeTempDir, type TempDir } from "../helpers/tmp.js";
import { waitForUdpBound } from "../helpers/wait.js";
import { CTL_ENTRY, EXPORTER_ENTRY, startDaemon } from "./run-daemon.js";

const schema = loadSchema(new URL("../../docs/observation.schema.json", import.meta.url).pathname);
const NTP_UNIX_OFFSET = 2_208_988_800;

function ctl(args: string[]) {
  return runCommand(process.execPath, ["--import", "tsx", CTL_ENTRY, ...args], {
    timeoutMs: 20_000,
  });
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const why = last instanceof Error ? `: ${last.message}` : "";
  throw new Error(`timed out waiting for ${what}${why}`);
}

describe("a running daemon's observation", { timeout: 120_000 }, () => {
  let dir: TempDir;
  let daemon: Spawned;
  let ntpPort: number;
  let httpPort: number;
  let configPath: string;
  let socketPath: string;

  before(async () => {
    dir = await makeTempDir();
    ntpPort = await freeUdpPort();
    httpPort = await freeTcpPort();
    socketPath = dir.file("observe");
    const toml = `[observability]
log-level = "info"
observation-path = "${socketPath}"
observation-permissions = 0o660
metrics-exporter-listen = "127.0.0.1:${httpPort}"
log-path-metrics-exporter = "${dir.file("exporter.log")}"

[[server]]
listen = "127.0.0.1:${ntpPort}"

[[source]]
mode = "server"
address = "127.0.0.1:${ntpPort}"
poll-interval-limits = { min = 0, max = 0 }

[synchronization]
local-stratum = 1
reference-id = "TEST"
minimum-agreeing-sources = 1
`;
    daemon = await startDaemon(dir, "observed", toml);
    configPath = dir.file("observed.toml");
    await daemon.waitForOutput(/observation socket ready/, 20_000);
    await waitForUdpBound(ntpPort);
    // Wait for two measurements of the source.
    await until("measurements", 20_000, async () => {
      const o = parseObservation(await readObservationMessage(socketPath));
      const s = o.sources[0];
      return s && s.last_update.timestamp !== 0n && o.servers[0]!.stats.accepted_packets >= 2
        ? true
        : undefined;
    });
  });

  after(async () => {
    await daemon?.stop();
    await dir?.cleanup();
  });

  test("the raw message: u64 length, JSON valid against the schema, sane values", async () => {
    const raw = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = connect(socketPath);
      s.on("data", (c: Buffer) => chunks.push(c));
      s.on("error", reject);
      s.on("close", () => resolve(Buffer.concat(chunks)));
    });
    const length = Number(raw.readBigUInt64BE(0));
    assert.equal(raw.length, 8 + length, "one message, then the socket closes");
    const text = raw.subarray(8).toString("utf8");
    assert.deepEqual(validate(schema, parseJsonExact(text)), []);
    assert.equal((await stat(socketPath)).mode & 0o777, 0o660);

    const o: Observation = parseObservation(text);
    const nowUnix = Number(o.program.now.timestamp >> 32n) - NTP_UNIX_OFFSET;
    assert.ok(Math.abs(nowUnix - Date.now() / 1000) < 5, "program.now is the current time");
    assert.ok(o.program.uptime_seconds > 0 && o.program.uptime_seconds < 120);
    assert.match(o.program.version, /^\d+\.\d+\.\d+/);
    assert.equal(o.system.stratum, 1);
    assert.equal(o.system.reference_id, 0x54455354); // "TEST"
    assert.equal(o.system.leap_indicator, "NoWarning");

    assert.equal(o.sources.length, 1);
    const s = o.sources[0]!;
    assert.equal(s.name, `127.0.0.1:${ntpPort}`);
    assert.equal(s.address, `127.0.0.1:${ntpPort}`);
    assert.equal(s.nts_cookies, null);
    assert.equal(s.poll_interval, 0);
    assert.ok(Math.abs(s.offset) < 0.005, `offset ${s.offset}`);
    assert.ok(s.delay > 0 && s.delay < 0.05, `delay ${s.delay}`);
    assert.equal(s.uncertainty, s.delay / 2);
    assert.ok(s.unanswered_polls <= 1);
    const age =
      Number(BigInt.asIntN(64, o.program.now.timestamp - s.last_update.timestamp)) / 2 ** 32;
    assert.ok(age >= 0 && age < 5, `last update ${age} s ago`);

    assert.equal(o.servers.length, 1);
    const server = o.servers[0]!;
    assert.equal(server.address, `127.0.0.1:${ntpPort}`);
    assert.ok(server.stats.received_packets >= 2);
    assert.equal(
      server.stats.received_packets,
      server.stats.accepted_packets + server.stats.ignored_packets + server.stats.denied_packets,
    );
  });

  test("ntp-ctl status: the plain layout with sane numbers", async () => {
    const r = await ctl(["status", "-c", configPath]);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    assert.match(
      out,
      /^Synchronization status:\n\tDispersion:\t\d+\.\d{6}s\n\tDelay:\t\t\d+\.\d{6}s\n\tStratum:\t1\n\n\nSources:\n\n/,
    );
    const header = `127.0.0.1:${ntpPort} 127.0.0.1:${ntpPort} (`;
    assert.ok(out.includes(`\n${header}`), out);
    const field = (label: string) => new RegExp(`\\n\\t${label}:\\t+([^\\n]*)`).exec(out)?.[1];
    const offset = Number(field("Offset"));
    assert.match(field("Offset") ?? "", /^[+-]\d+\.\d{6}$/);
    assert.ok(Math.abs(offset) < 0.005, `offset ${offset}`);
    assert.match(field("Uncertainty") ?? "", /^±\d+\.\d{6}$/);
    const delay = Number(/\n\tDelay:\t\t\t±(\d+\.\d{6})\n/.exec(out)?.[1]);
    assert.ok(delay >= 0 && delay < 0.05, `delay ${delay}`);
    assert.equal(field("Poll interval"), "1s");
    assert.match(field("Missing polls") ?? "", /^[01]$/);
    assert.equal(field("Root dispersion"), "0.000000s");
    assert.equal(field("Root delay"), "0.000000s");
    assert.ok(!out.includes("NTS cookies"), "not an NTS source");
    assert.ok(out.includes(`\n\nServers:\n\n127.0.0.1:${ntpPort}\n\tIgnored\t\t\t`), out);
    const received = Number(/\n\tReceived\t\t(\d+)\n/.exec(out)?.[1]);
    const accepted = Number(/\n\tAccepted\t\t(\d+)\n/.exec(out)?.[1]);
    assert.ok(received >= 2 && accepted >= 2 && accepted <= received);
    for (const label of [
      "Response send errors\t0",
      "NTS NAK\t\t\t0",
      "Denied\t\t\t0",
      "Rate limited\t\t0",
      "NTS Received\t\t0",
      "NTS Accepted\t\t0",
      "NTS Denied\t\t0",
      "NTS Rate limited\t0",
    ]) {
      assert.ok(out.includes(`\n\t${label}\n`), label);
    }
  });

  test("ntp-ctl status -f prometheus: the exporter's body", async () => {
    const r = await ctl(["status", "-f", "prometheus", "-c", configPath]);
    assert.equal(r.code, 0, r.stderr);
    const families = parseOpenMetrics(r.stdout);
    const offset = familyFor(families, "ntp_source_offset_seconds")!.samples[0]!;
    assert.deepEqual(offset.labels, {
      name: `127.0.0.1:${ntpPort}`,
      address: `127.0.0.1:${ntpPort}`,
      id: offset.labels.id!,
    });
    assert.ok(Math.abs(offset.value) < 0.005);
    const bad = await ctl(["status", "-f", "yaml", "-c", configPath]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid format option provided: yaml/);
  });

  test("ntp-metrics-exporter: every metric over HTTP with its type and labels", async () => {
    const exporter = await spawnProcess(
      process.execPath,
      ["--import", "tsx", EXPORTER_ENTRY, "-c", configPath],
      { name: "exporter" },
    );
    try {
      const logFile = dir.file("exporter.log");
      await until("the exporter to listen", 20_000, async () =>
        existsSync(logFile) && (await readFile(logFile, "utf8")).includes("serving metrics")
          ? true
          : undefined,
      );
      const response = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "text/plain");
      const families = parseOpenMetrics(await response.text());
      for (const [name, type, labels, unit] of NTPD_RS_METRICS) {
        const family = familyFor(families, name);
        assert.ok(family, `missing ${name}`);
        assert.equal(family.type, type, name);
        assert.equal(family.unit, unit, name);
        const nts = name === "ntp_source_nts_cookies_available";
        assert.equal(family.samples.length, nts ? 0 : 1, name); // one source, one server
        for (const sample of family.samples) {
          assert.equal(sample.name, name);
          assert.deepEqual(Object.keys(sample.labels).sort(), [...labels].sort(), name);
        }
      }
      const received = familyFor(families, "ntp_server_received_packets_total")!.samples[0]!;
      assert.deepEqual(received.labels, { listen_address: `127.0.0.1:${ntpPort}` });
      assert.ok(received.value >= 2);
      assert.equal(familyFor(families, "ntp_system_stratum")!.samples[0]!.value, 1);
      assert.equal(familyFor(families, "ntp_source_poll_interval_seconds")!.samples[0]!.value, 1);

      // Any path, as ntpd-rs; OpenMetrics content type on request.
      const other = await fetch(`http://127.0.0.1:${httpPort}/`, {
        headers: { accept: "application/openmetrics-text; version=1.0.0" },
      });
      assert.equal(other.status, 200);
      assert.match(other.headers.get("content-type") ?? "", /^application\/openmetrics-text/);
      assert.match(await other.text(), /# EOF\n$/);
      const post = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { method: "POST" });
      assert.equal(post.status, 405);
    } finally {
      const status = await exporter.stop();
      assert.equal(status.code, 0, exporter.output());
    }
  });

  test("clients that connect and never read do not hold up the daemon", async () => {
    const idle: Socket[] = [];
    try {
      for (let i = 0; i < 40; i++) {
        const s = connect(socketPath);
        s.pause();
        s.on("error", () => {});
        idle.push(s);
      }
      const started = performance.now();
      const r = await ctl(["status", "-c", configPath]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Synchronization status:/);
      const o = parseObservation(await readObservationMessage(socketPath, { timeoutMs: 1500 }));
      assert.ok(performance.now() - started < 15_000);
      // Still serving and measuring.
      const before = o.servers[0]!.stats.received_packets;
      await until("more requests served", 5_000, async () => {
        const now = parseObservation(await readObservationMessage(socketPath));
        return now.servers[0]!.stats.received_packets > before ? true : undefined;
      });
    } finally {
      for (const s of idle) s.destroy();
    }
  });
});

describe("without a daemon", { timeout: 60_000 }, () => {
  test("ntp-ctl status: 'Could not open socket at …', exit 1", async () => {
    const dir = await makeTempDir();
    try {
      const socketPath = dir.file("observe");
      const config = dir.file("ntp.toml");
      await writeFile(config, `[observability]\nobservation-path = "${socketPath}"\n`);
      const r = await ctl(["status", "-c", config]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.equal(
        r.stderr,
        `Could not open socket at ${socketPath}: No such file or directory (ENOENT)\n`,
      );
      // A file that is no socket: still "could not open".
      await writeFile(socketPath, "");
      const notSocket = await ctl(["status", "-f", "prometheus", "-c", config]);
      assert.equal(notSocket.code, 1);
      assert.match(notSocket.stderr, new RegExp(`^Could not open socket at ${socketPath}: `));
    } finally {
      await dir.cleanup();
    }
  });

  test("ntp-ctl status without observation-path tries /var/run/ntpd-rs/observe", async (t) => {
    if (existsSync("/var/run/ntpd-rs/observe")) {
      t.skip("an ntpd-rs daemon socket exists on this host");
      return;
    }
    const dir = await makeTempDir();
    try {
      const config = dir.file("ntp.toml");
      await writeFile(config, `[observability]\nlog-level = "warn"\n`);
      const r = await ctl(["status", "-c", config]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Could not open socket at \/var\/run\/ntpd-rs\/observe: /);
    } finally {
      await dir.cleanup();
    }
  });

  test("ntp-metrics-exporter answers 500 with an empty body, and needs observation-path", async () => {
    const dir = await makeTempDir();
    const port = await freeTcpPort();
    try {
      const config = dir.file("ntp.toml");
      await writeFile(
        config,
        `[observability]\nobservation-path = "${dir.file("observe")}"\nmetrics-exporter-listen = "127.0.0.1:${port}"\n`,
      );
      const exporter = await spawnProcess(
        process.execPath,
        ["--import", "tsx", EXPORTER_ENTRY, "-c", config],
        { name: "exporter" },
      );
      try {
        await exporter.waitForOutput(/serving metrics/, 20_000);
        const response = await fetch(`http://127.0.0.1:${port}/metrics`);
        assert.equal(response.status, 500);
        assert.equal(await response.text(), "");
      } finally {
        await exporter.stop();
      }
      const bare = dir.file("bare.toml");
      await writeFile(bare, `[observability]\nlog-level = "info"\n`);
      const r = await runCommand(
        process.execPath,
        ["--import", "tsx", EXPORTER_ENTRY, "-c", bare],
        {
          timeoutMs: 20_000,
        },
      );
      assert.equal(r.code, 1);
      assert.match(r.stderr, /observation-path option in the \[observability\] section/);
    } finally {
      await dir.cleanup();
    }
  });
});
