// A csptp source over real loopback sockets, in one process: against a fake
// server that answers as ntpd-rs's does (two-step: a Sync, then a Follow_Up
// from its general port to our general port), against a silent one (unanswered
// polls counted), and with garbage from its server counted as dropped.
import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { test } from "node:test";
import { freeUdpPort } from "../../test/helpers/ports.js";
import { waitFor } from "../../test/helpers/wait.js";
import { parseConfig } from "../proto/config/parse.js";
import type { CsptpSourceConfig } from "../proto/config/types.js";
import { encodeFollowUp, encodeResponse, parseCsptp, ptpFromUnix } from "../proto/csptp/wire.js";
import type { Measurement } from "../proto/source/types.js";
import { CsptpPorts } from "./csptp-ports.js";
import { CsptpSourceTask } from "./csptp-source.js";
import { Logger, LogOutput, MemorySink } from "./log.js";
import { systemWallClock } from "./wall-clock.js";

const log = new Logger(new LogOutput("error", new MemorySink(), false), "test");

function sourceConfig(port: number): CsptpSourceConfig {
  const r = parseConfig(
    `[[source]]\nmode = "csptp"\naddress = "127.0.0.1:${port}"\npoll_interval = 0.1\nresponse_interval = 0.08\n`,
    "ntp.toml",
  );
  assert.ok(r.ok);
  const s = r.ok ? r.config.sources[0] : undefined;
  assert.ok(s?.mode === "csptp");
  return s;
}

async function bound(port: number): Promise<Socket> {
  const s = createSocket("udp4");
  await new Promise<void>((resolve) => s.bind(port, "127.0.0.1", resolve));
  return s;
}

/** A server that answers two-step, its follow-up from `general` to the client's general port. */
function twoStepServer(
  event: Socket,
  general: Socket,
  clientGeneral: number,
  aheadSeconds: number,
) {
  const buf = new Uint8Array(128);
  let answered = 0;
  event.on("message", (msg, rinfo) => {
    const r = parseCsptp(msg);
    if (!r.ok || r.message.kind !== "request") return;
    const now = Date.now() / 1000 + aheadSeconds;
    const n = encodeResponse(buf, {
      domain: r.message.header.domain,
      sequenceId: r.message.header.sequenceId,
      flags: { twoStep: true },
      originTimestamp: { seconds: 0, nanoseconds: 0 },
      requestIngress: ptpFromUnix(Math.floor(now), Math.floor((now % 1) * 1e9)),
      requestCorrection: r.message.header.correction,
      status: null,
    });
    event.send(buf.slice(0, n), rinfo.port, rinfo.address);
    const f = encodeFollowUp(buf, {
      domain: r.message.header.domain,
      sequenceId: r.message.header.sequenceId,
      preciseOriginTimestamp: ptpFromUnix(Math.floor(now), Math.floor((now % 1) * 1e9)),
    });
    general.send(buf.slice(0, f), clientGeneral, rinfo.address);
    answered++;
  });
  return () => answered;
}

test(
  "a csptp source measures a two-step server, counts silence and garbage",
  { timeout: 60_000 },
  async () => {
    const [clientEvent, clientGeneral, serverEvent, serverGeneral] = [
      await freeUdpPort("::"),
      await freeUdpPort("::"),
      await freeUdpPort("::"),
      await freeUdpPort("::"),
    ];
    const ports = new CsptpPorts({ eventPort: clientEvent, generalPort: clientGeneral }, log);
    const event = await bound(serverEvent);
    const general = await bound(serverGeneral);
    const measurements: Measurement[] = [];
    const task = new CsptpSourceTask(
      sourceConfig(serverEvent),
      { address: "127.0.0.1", family: 4 },
      {
        ports,
        clock: systemWallClock,
        log,
        hooks: { onMeasurement: (_, m) => measurements.push(m) },
      },
    );
    try {
      await ports.open();
      // Silent at first: polls go unanswered.
      task.start();
      await waitFor(() => (task.snapshot().unansweredPolls >= 2 ? true : undefined), {
        timeoutMs: 10_000,
        intervalMs: 20,
        what: "unanswered polls",
      });
      assert.equal(measurements.length, 0);
      assert.ok(task.client.timeouts >= 2);
      // Now answering, 0.5 s ahead, two-step.
      const answered = twoStepServer(event, general, clientGeneral, 0.5);
      await waitFor(() => (measurements.length >= 3 ? true : undefined), {
        timeoutMs: 10_000,
        intervalMs: 20,
        what: "measurements of the two-step server",
      });
      assert.ok(answered() >= 3);
      for (const m of measurements) {
        assert.ok(Math.abs(m.offset - 0.5) < 0.02, `offset ${m.offset}`);
        assert.ok(m.delay > 0 && m.delay < 0.02, `delay ${m.delay}`);
      }
      const snap = task.snapshot();
      assert.equal(snap.unansweredPolls, 0);
      assert.equal(snap.reachable, true);
      assert.equal(snap.pollInterval, -3, "0.1 s rounds to 2^-3");
      // Garbage from the server's address is dropped and counted by the source.
      const before = task.droppedTotal;
      event.send(Buffer.from("garbage!"), clientEvent, "127.0.0.1");
      await waitFor(() => (task.dropped.get("length") === 1 ? true : undefined), {
        timeoutMs: 5_000,
        intervalMs: 10,
        what: "the garbage to be counted",
      });
      assert.ok(task.droppedTotal >= before + 1);
    } finally {
      task.stop();
      ports.close();
      event.close();
      general.close();
    }
  },
);
