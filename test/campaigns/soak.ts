// npm run soak -- --minutes N [--rate R] [--nts]
// A long run of plain NTP load at a fixed rate (default: half of the capacity
// measured at the start) against our daemon on loopback, with an honest client
// alongside. Prints a line a minute and a verdict: the daemon never exits,
// its RSS stays flat, replies are not lost at this load, and its counters
// account for every datagram. See docs/campaigns.md.
import { buildLoadgen, runLoadgen, type LoadgenResult } from "../../bench/loadgen.js";
import { sleep } from "../helpers/wait.js";
import { startHonestNtpClient } from "./honest.js";
import { check, formatReport, passed } from "./report.js";
import { fatesAddUp, startTarget, statsDelta } from "./target.js";

/** RSS may grow this much after the first minute (warm-up) and still count as flat. */
const RSS_FLAT_KIB = 16 * 1024;
/** Lost replies allowed, as a share of requests sent, at half capacity. */
const LOST_MAX_SHARE = 0.001;

function usage(): never {
  console.error("usage: npm run soak -- --minutes N [--rate REQUESTS_PER_SECOND]");
  process.exit(2);
}

let minutes = NaN;
let rate: number | undefined;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--minutes") minutes = Number(argv[++i]);
  else if (argv[i] === "--rate") rate = Number(argv[++i]);
  else usage();
}
if (!(minutes > 0 && minutes <= 24 * 60)) usage();
if (rate !== undefined && !(rate > 0)) usage();

// Ctrl-C: exit through process.exit, so the helpers' exit hooks stop the daemon.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));

const bin = await buildLoadgen();
const target = await startTarget({ name: "soak" });
let ok: boolean;
try {
  let capacity: LoadgenResult | undefined;
  if (rate === undefined) {
    capacity = await runLoadgen(bin, {
      port: target.ntpPort,
      durationMs: 5000,
      warmupMs: 1000,
      window: 1024,
      batch: 32,
    });
    rate = Math.max(1, Math.round(capacity.rate / 2));
    console.log(
      `capacity: ${Math.round(capacity.rate)} replies/s (5 s, window 1024); soaking at ${rate}/s`,
    );
  } else console.log(`soaking at ${rate}/s (given)`);

  await sleep(1000);
  const before = await target.serverStats();
  const drops0 = target.udpDrops();
  const honest = startHonestNtpClient(target.ntpPort, { intervalMs: 1000 });
  const rssByMinute: number[] = [];
  let sent = 0;
  let valid = 0;
  let lost = 0;
  let invalid = 0;
  const rss0 = target.rss().rssKiB;
  console.log(`minute  sent      valid     lost   rate/s   rss_KiB`);
  for (let m = 1; m <= minutes && target.alive(); m++) {
    const r = await runLoadgen(bin, {
      port: target.ntpPort,
      durationMs: 60_000,
      window: 1024,
      batch: 16,
      timeoutMs: 1000,
      rate,
    });
    sent += r.sent;
    valid += r.valid;
    lost += r.lost;
    invalid += r.invalid;
    const rss = target.rss().rssKiB;
    rssByMinute.push(rss);
    console.log(
      `${String(m).padStart(6)}  ${String(r.sent).padEnd(9)} ${String(r.valid).padEnd(9)} ` +
        `${String(r.lost).padEnd(6)} ${String(Math.round(r.rate)).padEnd(8)} ${rss}`,
    );
  }
  const h = await honest.stop();
  await sleep(500);
  const alive = target.alive();
  const after = alive ? await target.serverStats() : before;
  const d = statsDelta(before, after);
  const drops = target.udpDrops() - drops0;
  const mem = target.rss();
  const warm = rssByMinute[0] ?? rss0;
  const last = rssByMinute[rssByMinute.length - 1] ?? rss0;
  const fates = fatesAddUp(after);
  const offered = sent + h.sent;
  const report = {
    scenario: `soak ${minutes} min at ${rate}/s`,
    offered: { requests: sent, rate, honest: h.sent, capacity: capacity?.rate.toFixed(0) ?? "-" },
    received: { valid, lost, invalid, honest_answered: h.answered, honest_max_rtt_ms: h.maxRttMs },
    counters: {
      received: d.received_packets,
      accepted: d.accepted_packets,
      ignored: d.ignored_packets,
      send_errors: d.response_send_errors,
      kernel_drops: drops,
    },
    rssKiB: { before: rss0, after: mem.rssKiB, peak: mem.peakKiB },
    checks: [
      check("0 crashes", alive, alive ? "the daemon ran throughout" : "the daemon exited"),
      check(
        "RSS flat",
        last - warm < RSS_FLAT_KIB,
        `RSS after minute 1 ${warm} KiB, at the end ${last} KiB (allowed +${RSS_FLAT_KIB} KiB); ` +
          `by minute: ${rssByMinute.join(" ")}`,
      ),
      check(
        "no lost replies at this load",
        lost <= sent * LOST_MAX_SHARE && h.timedOut <= h.sent * LOST_MAX_SHARE + 1,
        `${lost} of ${sent} requests lost (allowed ${LOST_MAX_SHARE * 100}%); honest ${h.timedOut} of ${h.sent} timed out`,
      ),
      check(
        "every datagram accounted for",
        d.received_packets + drops === offered,
        `offered ${offered}; daemon received ${d.received_packets} + kernel drops ${drops}`,
      ),
      check("each received datagram has one fate", fates.ok, fates.detail),
    ],
  };
  console.log(formatReport(report));
  ok = passed(report);
} finally {
  await target.stop();
}
process.exit(ok ? 0 : 1);
