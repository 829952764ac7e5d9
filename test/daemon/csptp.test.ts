// CSPTP end to end over loopback, no clock control: one daemon serves CSPTP
// ([[csptp-server]], stratum 1), another synchronizes to it with a csptp source.
// Both use unprivileged ports ([csptp] event_port / general_port). The client's
// observation, `ntp-ctl status` and metrics show the source selected with the
// system offset near zero (one clock on both ends); the server answers a padded
// request with a response no larger than it, and drops (and counts) garbage,
// ntpd-rs's unpadded 52-octet request and a follow-up sent to it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { readObservationMessage } from "../../src/cli/observation-client.js";
import { parseObservation } from "../../src/daemon/observation.js";
import { parseCsptp } from "../../src/proto/csptp/wire.js";
import { freeUdpPort } from "../helpers/ports.js";
import { runCommand } from "../helpers/process.js";
import { makeTempDir } from "../helpers/tmp.js";
import { sleep, waitFor } from "../helpers/wait.js";
import { CTL_ENTRY, startDaemon } from "./run-daemon.js";

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ""), "hex");

// ntpd-rs's request as it sends it (domain 128, sequence 7): 52 octets.
const BARE_REQUEST = hex(`
  30 12 0034 80 00 04 00 0000000000000000 00000000 0000000000000000 0000 0007 00 7f
  000000000000 00000000 ff00 0004 01 000000`);
// The same, padded with a PAD TLV (0x8008) to 88 octets, as our client sends it.
const PADDED_REQUEST = hex(`
  30 12 0058 80 00 04 00 0000000000000000 00000000 0000000000000000 0000 0008 00 7f
  000000000000 00000000 ff00 0004 01 000000 8008 0020 ${"00".repeat(32)}`);
// A follow-up (type 8): not a request.
const FOLLOW_UP = hex(`
  38 12 002c 80 00 06 00 0000000000000000 00000000 0000000000000000 0000 0009 00 7f
  000000000001 00000000`);

async function observe(path: string) {
  return parseObservation(await readObservationMessage(path));
}

async function ctl(config: string, args: string[]) {
  const r = await runCommand(
    process.execPath,
    ["--import", "tsx", CTL_ENTRY, ...args, "-c", config],
    { timeoutMs: 20_000 },
  );
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r.stdout;
}

test(
  "a csptp source synchronizes to our [[csptp-server]]; bad requests are dropped and counted",
  { timeout: 120_000 },
  async () => {
    const dir = await makeTempDir();
    const [serverEvent, serverGeneral, clientEvent, clientGeneral] = [
      await freeUdpPort("::"),
      await freeUdpPort("::"),
      await freeUdpPort("::"),
      await freeUdpPort("::"),
    ];
    const serverObserve = dir.file("server.observe");
    const clientObserve = dir.file("client.observe");
    const server = await startDaemon(
      dir,
      "server",
      `[observability]
log-level = "info"
observation-path = "${serverObserve}"

[[csptp-server]]
interface = "any"

[csptp]
event_port = ${serverEvent}
general_port = ${serverGeneral}
priority_1 = 7

[synchronization]
local-stratum = 1
`,
    );
    const client = await startDaemon(
      dir,
      "client",
      `[observability]
log-level = "info"
observation-path = "${clientObserve}"

[[source]]
mode = "csptp"
address = "127.0.0.1:${serverEvent}"
poll_interval = 0.25
response_interval = 0.2

[csptp]
event_port = ${clientEvent}
general_port = ${clientGeneral}

[synchronization]
minimum-agreeing-sources = 1
`,
    );
    const probe = createSocket("udp4");
    try {
      await server.waitForOutput(/CSPTP server listening/, 30_000);
      const name = `127.0.0.1:${serverEvent}`;
      const settled = await waitFor(
        async () => {
          const o = await observe(clientObserve);
          const s = o.sources.find((x) => x.name === name);
          if (s === undefined || (s.samples ?? 0) < 12 || s.selected !== true) return undefined;
          if (o.system.offset === undefined) return undefined;
          return { source: s, system: o.system };
        },
        { timeoutMs: 60_000, intervalMs: 250, what: "the csptp source to be selected" },
      );
      const s = settled.source;
      assert.equal(s.address, name);
      assert.equal(s.nts_cookies, null);
      assert.ok(Math.abs(s.offset) < 5e-3, `source offset ${s.offset}`);
      assert.ok(s.delay > 0 && s.delay < 5e-3, `source delay ${s.delay}`);
      assert.equal(s.poll_interval, -2, "poll_interval 0.25 s is 2^-2");
      assert.ok(Math.abs(settled.system.offset!) < 5e-3, `system offset ${settled.system.offset}`);
      assert.match(client.output(), /measurement.*offset=[+-]0\.00\d+s.*csptp=true/);

      // Malformed and unanswerable requests straight at the server's event port.
      const replies: Buffer[] = [];
      probe.on("message", (m) => replies.push(m));
      await new Promise<void>((resolve) => probe.bind(0, "127.0.0.1", resolve));
      const send = (b: Buffer) =>
        new Promise<void>((resolve, reject) =>
          probe.send(b, serverEvent, "127.0.0.1", (e) => (e ? reject(e) : resolve())),
        );
      await send(Buffer.from("not a PTP message"));
      await send(BARE_REQUEST);
      await send(FOLLOW_UP);
      await sleep(500);
      assert.equal(replies.length, 0, "nothing is answered");
      await send(PADDED_REQUEST);
      await waitFor(() => (replies.length === 1 ? true : undefined), {
        timeoutMs: 5_000,
        intervalMs: 20,
        what: "the response to a padded request",
      });
      const reply = replies[0]!;
      assert.ok(reply.length <= PADDED_REQUEST.length, `response ${reply.length} octets`);
      const parsed = parseCsptp(reply);
      assert.ok(parsed.ok && parsed.message.kind === "response");
      if (parsed.ok && parsed.message.kind === "response") {
        assert.equal(parsed.message.header.sequenceId, 8);
        assert.equal(parsed.message.header.flags.twoStep, false, "one-step");
        assert.equal(parsed.message.status?.priority1, 7);
        assert.equal(parsed.message.status?.stepsRemoved, 0);
      }

      const counted = await waitFor(
        async () => {
          const o = await observe(serverObserve);
          const c = o.csptp_servers?.[0];
          return c && c.dropped["too-short"] === 1 ? c : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 100, what: "the server's counters" },
      );
      assert.equal(counted.address, `[::]:${serverEvent}`);
      assert.deepEqual(counted.dropped, { length: 1, "too-short": 1, "not-request": 1 });
      assert.ok(counted.responded >= 12, `responded ${counted.responded}`);
      assert.equal(counted.received, counted.responded + 3);

      const clientStatus = await ctl(dir.file("client.toml"), ["status"]);
      assert.match(
        clientStatus,
        new RegExp(`${name.replace(/\./g, "\\.")} ${name.replace(/\./g, "\\.")} \\(\\d+\\)`),
      );
      const serverStatus = await ctl(dir.file("server.toml"), ["status"]);
      assert.match(serverStatus, /CSPTP server:\n\n\[::\]:\d+\n\tReceived/);
      assert.match(serverStatus, /Dropped\t\t\tlength 1, not-request 1, too-short 1/);
      const metrics = await ctl(dir.file("server.toml"), ["status", "-f", "prometheus"]);
      assert.match(
        metrics,
        /ntp_csptp_server_dropped_packets_total\{listen_address="\[::\]:\d+",reason="too-short"\} 1/,
      );
      const clientMetrics = await ctl(dir.file("client.toml"), ["status", "-f", "prometheus"]);
      assert.match(clientMetrics, new RegExp(`ntp_source_offset_seconds\\{name="${name}"`));
    } finally {
      probe.close();
      await client.stop();
      await server.stop();
      await dir.cleanup();
    }
  },
);
