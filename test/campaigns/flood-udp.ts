// UDP floods against the NTP server: valid requests beyond capacity, garbage,
// and a flood from one address against the rate limiter, each with an honest
// client (127.0.0.2) polling alongside. Every datagram offered must be
// accounted for: received by the daemon (its received_packets) or dropped by
// the kernel for a full receive buffer (/proc/net/udp), and each received one
// must have exactly one fate (accepted, denied, ignored, NTS NAK).
import { buildLoadgen, runLoadgen, type LoadgenResult } from "../../bench/loadgen.js";
import { buildNtsTemplates } from "../../bench/nts.js";
import { sleep } from "../helpers/wait.js";
import { startHonestNtpClient, type HonestResult } from "./honest.js";
import { check, type Check, type ScenarioReport } from "./report.js";
import type { ScenarioOptions } from "./runner.js";
import { fatesAddUp, startTarget, statsDelta, type Target } from "./target.js";

/** RSS may grow this much under a flood (JIT, buffers) before it counts as unbounded. */
export const RSS_GROWTH_LIMIT_KIB = 64 * 1024;
/**
 * The honest client must get at least this share of its requests answered. Beyond
 * capacity the kernel drops datagrams from a full receive buffer whoever sent them, so
 * there the bar is the flood's own share, less a margin for the client's small sample:
 * the honest client must not fare worse than the flood.
 */
const HONEST_ANSWERED_MIN = 0.9;
const FAIR_SHARE_MARGIN = 0.15;

interface FloodRun {
  load: LoadgenResult;
  honest: HonestResult;
  target: Target;
  before: Awaited<ReturnType<Target["serverStats"]>>;
  after: Awaited<ReturnType<Target["serverStats"]>>;
  drops: number;
  rss: { before: number; after: number; peak: number };
}

async function flood(
  target: Target,
  seconds: number,
  load: {
    garbage?: boolean;
    window?: number;
    rate?: number;
    templates?: { file: string; requestLength: number };
  },
): Promise<FloodRun> {
  const bin = await buildLoadgen();
  const before = await target.serverStats();
  const drops0 = target.udpDrops();
  const rss0 = target.rss().rssKiB;
  const honest = startHonestNtpClient(target.ntpPort);
  const result = await runLoadgen(bin, {
    port: target.ntpPort,
    durationMs: seconds * 1000,
    window: load.window ?? 1024,
    batch: 32,
    timeoutMs: 500,
    garbage: load.garbage,
    rate: load.rate,
    requestsFile: load.templates?.file,
    requestLength: load.templates?.requestLength,
    nts: load.templates !== undefined,
  });
  const honestResult = await honest.stop();
  // Whatever is still queued in the socket is read before the counters are.
  await sleep(500);
  const after = await target.serverStats();
  const mem = target.rss();
  return {
    load: result,
    honest: honestResult,
    target,
    before,
    after,
    drops: target.udpDrops() - drops0,
    rss: { before: rss0, after: mem.rssKiB, peak: mem.peakKiB },
  };
}

/** The checks every UDP flood shares. */
function commonChecks(r: FloodRun): Check[] {
  const d = statsDelta(r.before, r.after);
  const offered = r.load.sent + r.honest.sent;
  const seen = d.received_packets + r.drops;
  const fates = fatesAddUp(r.after);
  const honestShare = r.honest.sent === 0 ? 0 : r.honest.answered / r.honest.sent;
  const dropShare = offered === 0 ? 0 : r.drops / offered;
  const need = Math.min(HONEST_ANSWERED_MIN, 1 - dropShare - FAIR_SHARE_MARGIN);
  return [
    check("daemon alive", r.target.alive(), r.target.alive() ? "still running" : "it exited"),
    check(
      "every datagram accounted for",
      seen === offered,
      `offered ${offered} (flood ${r.load.sent} + honest ${r.honest.sent}); ` +
        `daemon received ${d.received_packets} + kernel drops ${r.drops} = ${seen}`,
    ),
    check("each received datagram has one fate", fates.ok, fates.detail),
    check(
      "honest client served within its timeout",
      honestShare >= need,
      `${r.honest.answered}/${r.honest.sent} answered within 1 s (need >= ${(need * 100).toFixed(0)}%` +
        (need < HONEST_ANSWERED_MIN
          ? `: the kernel dropped ${(dropShare * 100).toFixed(1)}% of all datagrams`
          : "") +
        `), median ${r.honest.medianRttMs} ms, max ${r.honest.maxRttMs} ms`,
    ),
    check(
      "memory bounded",
      r.rss.after - r.rss.before < RSS_GROWTH_LIMIT_KIB,
      `RSS ${r.rss.before} -> ${r.rss.after} KiB (limit +${RSS_GROWTH_LIMIT_KIB} KiB)`,
    ),
  ];
}

function report(name: string, r: FloodRun, checks: Check[], notes?: string[]): ScenarioReport {
  const d = statsDelta(r.before, r.after);
  return {
    scenario: name,
    offered: {
      flood_sent: r.load.sent,
      flood_rate: Math.round(r.load.sent / r.load.elapsed_s),
      honest_sent: r.honest.sent,
      ...(r.load.garbage_sent.some((x) => x > 0)
        ? { garbage_by_kind: r.load.garbage_sent.join("/") }
        : {}),
    },
    received: {
      flood_valid: r.load.valid,
      flood_kod: r.load.kod,
      flood_invalid: r.load.invalid,
      flood_lost: r.load.lost,
      honest_answered: r.honest.answered,
      honest_timed_out: r.honest.timedOut,
    },
    counters: {
      received: d.received_packets,
      accepted: d.accepted_packets,
      denied: d.denied_packets,
      ignored: d.ignored_packets,
      rate_limited: d.rate_limited_packets,
      send_errors: d.response_send_errors,
      kernel_drops: r.drops,
    },
    rssKiB: r.rss,
    checks,
    notes,
  };
}

export async function udpOverload(o: ScenarioOptions): Promise<ScenarioReport> {
  const target = await startTarget({ name: "udp-overload" });
  try {
    const r = await flood(target, o.seconds, { window: 2048 });
    const d = statsDelta(r.before, r.after);
    return report("udp-overload", r, [
      ...commonChecks(r),
      check(
        "replies only to requests the daemon accepted",
        r.load.valid + r.load.late <= d.accepted_packets,
        `flood got ${r.load.valid} valid + ${r.load.late} late replies; daemon accepted ${d.accepted_packets}`,
      ),
      check(
        "no malformed replies",
        r.load.invalid === 0,
        `${r.load.invalid} replies matched no request or were not mode 4`,
      ),
    ]);
  } finally {
    await target.stop();
  }
}

export async function udpGarbage(o: ScenarioOptions): Promise<ScenarioReport> {
  const target = await startTarget({ name: "udp-garbage" });
  try {
    const r = await flood(target, o.seconds, { garbage: true, rate: o.rate });
    const d = statsDelta(r.before, r.after);
    return report(
      "udp-garbage",
      r,
      [
        ...commonChecks(r),
        check("no reply to garbage", r.load.invalid === 0, `${r.load.invalid} replies`),
        check(
          "garbage counted as ignored",
          d.accepted_packets === r.honest.answered || d.accepted_packets <= r.honest.sent,
          `accepted ${d.accepted_packets} (only the honest client's ${r.honest.sent} may be), ignored ${d.ignored_packets}`,
        ),
      ],
      [
        "datagrams longer than the server's 1024-byte read buffer are dropped unread by the addon " +
          "and counted as received and ignored (malformed) all the same",
      ],
    );
  } finally {
    await target.stop();
  }
}

const CUTOFF_MS = 100;

export async function udpRateLimit(o: ScenarioOptions): Promise<ScenarioReport> {
  const target = await startTarget({
    name: "udp-ratelimit",
    serverExtra: `rate-limiting-cache-size = 4096\nrate-limiting-cutoff-ms = ${CUTOFF_MS}`,
  });
  try {
    // A wide window: the dropped requests hold their slots for the 500 ms timeout.
    const r = await flood(target, o.seconds, { window: 16384 });
    const d = statsDelta(r.before, r.after);
    // One request per cutoff from 127.0.0.1 may pass, plus one per cutoff at the edges.
    const maxPassing = Math.ceil((r.load.elapsed_s * 1000) / CUTOFF_MS) + 2;
    return report("udp-ratelimit", r, [
      ...commonChecks(r),
      check(
        "the flood's address is held to one request per cutoff",
        r.load.valid + r.load.kod <= maxPassing,
        `the flood got ${r.load.valid + r.load.kod} answers in ${r.load.elapsed_s.toFixed(1)} s ` +
          `(at most ${maxPassing} at one per ${CUTOFF_MS} ms)`,
      ),
      check(
        "the rate limiter counted the rest",
        d.rate_limited_packets >= d.received_packets - maxPassing - r.honest.sent,
        `rate_limited ${d.rate_limited_packets} of received ${d.received_packets}`,
      ),
    ]);
  } finally {
    await target.stop();
  }
}

/** Valid NTS requests (one key exchange, replayed as the bench does) beyond capacity. */
export async function udpNtsOverload(o: ScenarioOptions): Promise<ScenarioReport> {
  const target = await startTarget({ name: "udp-nts-overload", nts: true });
  try {
    // Wider than the socket's receive buffer holds: the kernel drops some.
    const window = 4096;
    const templates = await buildNtsTemplates({
      host: "127.0.0.1",
      kePort: target.kePort,
      ntpPort: target.ntpPort,
      caPath: target.pki!.caCertPath,
      aead: 15,
      count: window,
      file: target.dir.file("nts-requests.bin"),
    });
    const r = await flood(target, o.seconds, { window, templates });
    const d = statsDelta(r.before, r.after);
    return report("udp-nts-overload", r, [
      ...commonChecks(r),
      check(
        "every flood reply is an authenticated NTS reply",
        r.load.nts_bad === 0 && r.load.invalid === 0 && r.load.kod === 0,
        `${r.load.valid} valid, ${r.load.nts_bad} without UID or authenticator, ` +
          `${r.load.kod} kiss-o'-death, ${r.load.invalid} unmatched`,
      ),
      check(
        "the NTS counters add up",
        d.nts_received_packets >= d.received_packets - r.honest.sent &&
          d.nts_received_packets <= d.received_packets - r.honest.answered &&
          d.nts_accepted_packets + d.nts_denied_packets + d.nts_nak_packets ===
            d.nts_received_packets,
        `nts_received ${d.nts_received_packets} of received ${d.received_packets} (the rest are ` +
          `the honest client's plain requests: ${r.honest.answered}..${r.honest.sent}); ` +
          `nts_accepted ${d.nts_accepted_packets} + nts_denied ${d.nts_denied_packets} + ` +
          `nts_nak ${d.nts_nak_packets}`,
      ),
    ]);
  } finally {
    await target.stop();
  }
}
