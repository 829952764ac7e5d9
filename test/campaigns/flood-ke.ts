// NTS-KE floods: more simultaneous key exchanges than `concurrent-connections`,
// slowloris clients (a ClientHello one byte a second), idle and half-closed
// TCP connections. The cap must hold (a connection beyond it is closed at
// once), every held connection must be cut at `key-exchange-timeout-ms`, and
// an honest client must get its key exchange once the abusers are cut.
//
// Accounting from both sides: the clients' (every connection offered ends, served
// or closed, and none lives longer than the timeout allows) and the daemon's
// (observation `nts_ke_servers[0].stats`): it accepted as many connections as the
// clients opened, counted each in exactly one outcome, and served as many key
// exchanges as the clients completed.
import { TrustStore } from "../../src/daemon/nts-ke-client.js";
import { sleep } from "../helpers/wait.js";
import { keAccounting, settledKeStats } from "./ke-accounting.js";
import {
  captureClientHello,
  holdConnection,
  honestKeyExchange,
  type AbuseKind,
  type HonestKe,
} from "./ke-clients.js";
import { check, type Check, type ScenarioReport } from "./report.js";
import type { ScenarioOptions } from "./runner.js";
import { RSS_GROWTH_LIMIT_KIB } from "./flood-udp.js";
import { startTarget, type Target } from "./target.js";

const CAP = 8;
const TIMEOUT_MS = 2000;
/** Slack on top of the key-exchange timeout for a loaded, shared machine. */
const SLACK_MS = 1500;

async function keTarget(name: string): Promise<{ target: Target; trust: TrustStore }> {
  const target = await startTarget({
    name,
    nts: true,
    keExtra: `concurrent-connections = ${CAP}\nkey-exchange-timeout-ms = ${TIMEOUT_MS}`,
  });
  const trust = await TrustStore.fromFile(target.pki!.caCertPath);
  return { target, trust };
}

/** Honest key exchanges every 250 ms until `untilMs` (performance.now()). */
async function honestProbes(
  port: number,
  trust: TrustStore,
  untilMs: number,
): Promise<(HonestKe & { endedAt: number })[]> {
  const results: (HonestKe & { endedAt: number })[] = [];
  while (performance.now() < untilMs) {
    const started = performance.now();
    const r = await honestKeyExchange(port, trust, 5000);
    results.push({ ...r, endedAt: performance.now() });
    await sleep(Math.max(0, 250 - (performance.now() - started)));
  }
  return results;
}

interface Wave {
  kind: AbuseKind;
  count: number;
  lifetimes: { ms: number; closedByServer: boolean; connected: boolean }[];
}

/**
 * Opens waves of `perWave` abusive connections of each kind for `seconds`,
 * a new wave once the last is cut, with honest exchanges alongside.
 */
async function abuse(
  target: Target,
  trust: TrustStore,
  kinds: AbuseKind[],
  perWave: number,
  seconds: number,
): Promise<{ waves: Wave[]; honest: HonestKe[]; firstHonestOkMs: number[] }> {
  const hello = await captureClientHello();
  const waves: Wave[] = [];
  const honest: HonestKe[] = [];
  const firstHonestOkMs: number[] = [];
  const end = performance.now() + seconds * 1000;
  do {
    const kind = kinds[waves.length % kinds.length]!;
    const started = performance.now();
    const held = Array.from({ length: perWave }, () => holdConnection(target.kePort, kind, hello));
    // Honest exchanges once the wave has taken the slots, until the timeout must have cut it:
    // the first to succeed says how long an honest client waited for a slot.
    await sleep(300);
    const deadline = started + TIMEOUT_MS + SLACK_MS;
    const probes = await honestProbes(target.kePort, trust, deadline);
    honest.push(...probes);
    const firstOk = probes.find((p) => p.ok);
    firstHonestOkMs.push(firstOk === undefined ? Infinity : Math.round(firstOk.endedAt - started));
    // Anything the server did not cut by now we cut ourselves (counted as not cut).
    const timer = setTimeout(() => held.forEach((h) => h.release()), 1000);
    const lifetimes = await Promise.all(held.map((h) => h.lifetime));
    clearTimeout(timer);
    waves.push({ kind, count: perWave, lifetimes });
  } while (performance.now() < end);
  return { waves, honest, firstHonestOkMs };
}

function abuseReport(
  name: string,
  target: Target,
  rss0: number,
  r: Awaited<ReturnType<typeof abuse>>,
  accounting: { counters: Record<string, number>; checks: Check[] },
  extra: Check[] = [],
): ScenarioReport {
  const all = r.waves.flatMap((w) => w.lifetimes);
  const connected = all.filter((l) => l.connected);
  const notCut = all.filter((l) => !l.closedByServer);
  const overTimeout = all.filter((l) => l.ms > TIMEOUT_MS + SLACK_MS);
  // Per wave: the connections that lived past 1 s were held by the server (within the cap).
  const heldPerWave = r.waves.map((w) => w.lifetimes.filter((l) => l.ms > 1000).length);
  const honestOk = r.honest.filter((h) => h.ok).length;
  const mem = target.rss();
  const worstFirstOk = Math.max(...r.firstHonestOkMs);
  return {
    scenario: name,
    offered: {
      abusive_connections: all.length,
      kinds: [...new Set(r.waves.map((w) => w.kind))].join(","),
      waves: r.waves.length,
      per_wave: r.waves[0]?.count ?? 0,
      cap: CAP,
      timeout_ms: TIMEOUT_MS,
      honest_exchanges: r.honest.length,
    },
    received: {
      connected: connected.length,
      closed_by_server: all.length - notCut.length,
      held_per_wave_max: Math.max(...heldPerWave),
      longest_ms: Math.max(...all.map((l) => l.ms)),
      honest_ok: honestOk,
      honest_failed: r.honest.length - honestOk,
      // From the wave's start: about the timeout when the wave held every slot.
      first_honest_ok_ms_worst: worstFirstOk,
    },
    counters: accounting.counters,
    rssKiB: { before: rss0, after: mem.rssKiB, peak: mem.peakKiB },
    checks: [
      check("daemon alive", target.alive(), target.alive() ? "still running" : "it exited"),
      ...accounting.checks,
      check(
        "the cap holds",
        Math.max(...heldPerWave) <= CAP,
        `at most ${Math.max(...heldPerWave)} connections of a wave lived past 1 s (cap ${CAP})`,
      ),
      check(
        "every abusive connection is cut by the server within the timeout",
        notCut.length === 0 && overTimeout.length === 0,
        `${notCut.length} not cut by the server, ${overTimeout.length} lived longer than ` +
          `${TIMEOUT_MS}+${SLACK_MS} ms (longest ${Math.max(...all.map((l) => l.ms))} ms)`,
      ),
      check(
        "honest client served within the timeout",
        worstFirstOk <= TIMEOUT_MS + SLACK_MS,
        `worst wave: first successful honest exchange after ${worstFirstOk} ms ` +
          `(need <= ${TIMEOUT_MS + SLACK_MS}); ${honestOk}/${r.honest.length} honest exchanges succeeded`,
      ),
      check(
        "memory bounded",
        mem.rssKiB - rss0 < RSS_GROWTH_LIMIT_KIB,
        `RSS ${rss0} -> ${mem.rssKiB} KiB (limit +${RSS_GROWTH_LIMIT_KIB} KiB)`,
      ),
      ...extra,
    ],
  };
}

async function abuseScenario(
  name: string,
  kinds: AbuseKind[],
  perWave: number,
  o: ScenarioOptions,
): Promise<ScenarioReport> {
  const { target, trust } = await keTarget(name);
  try {
    const rss0 = target.rss().rssKiB;
    const before = await settledKeStats(target, TIMEOUT_MS + SLACK_MS);
    const r = await abuse(target, trust, kinds, perWave, o.seconds);
    const after = await honestKeyExchange(target.kePort, trust, 5000);
    const abusive = r.waves.flatMap((w) => w.lifetimes).filter((l) => l.connected).length;
    const accounting = keAccounting(before, await settledKeStats(target, TIMEOUT_MS + SLACK_MS), {
      connections: abusive + r.honest.length + 1,
      keyExchanges: r.honest.filter((h) => h.ok).length + (after.ok ? 1 : 0),
    });
    return abuseReport(name, target, rss0, r, accounting, [
      check(
        "an honest exchange right after the flood succeeds",
        after.ok,
        after.ok ? `${after.ms} ms` : (after.error ?? "failed"),
      ),
    ]);
  } finally {
    await target.stop();
  }
}

export const keSlowloris = (o: ScenarioOptions) =>
  abuseScenario("ke-slowloris", ["slowloris"], 2 * CAP, o);

export const keHalfOpen = (o: ScenarioOptions) =>
  abuseScenario("ke-half-open", ["idle", "half-closed"], 2 * CAP, o);

/** Bursts of simultaneous full key exchanges, 4x the cap each. */
export async function keExcess(o: ScenarioOptions): Promise<ScenarioReport> {
  const { target, trust } = await keTarget("ke-excess");
  try {
    const rss0 = target.rss().rssKiB;
    const before = await settledKeStats(target, TIMEOUT_MS + SLACK_MS);
    const end = performance.now() + o.seconds * 1000;
    let offered = 0;
    let ok = 0;
    let slowest = 0;
    const errors = new Map<string, number>();
    do {
      const burst = await Promise.all(
        Array.from({ length: 4 * CAP }, () => honestKeyExchange(target.kePort, trust, 5000)),
      );
      offered += burst.length;
      for (const b of burst) {
        slowest = Math.max(slowest, b.ms);
        if (b.ok) ok++;
        else {
          const kind = (b.error ?? "?").replace(/[0-9.:]+/g, "#").slice(0, 80);
          errors.set(kind, (errors.get(kind) ?? 0) + 1);
        }
      }
    } while (performance.now() < end);
    const after = await honestKeyExchange(target.kePort, trust, 5000);
    const accounting = keAccounting(before, await settledKeStats(target, TIMEOUT_MS + SLACK_MS), {
      connections: offered + 1,
      keyExchanges: ok + (after.ok ? 1 : 0),
    });
    const mem = target.rss();
    const failed = offered - ok;
    return {
      scenario: "ke-excess",
      offered: { key_exchanges: offered, burst: 4 * CAP, cap: CAP },
      received: {
        ok,
        refused_or_failed: failed,
        slowest_ms: slowest,
        errors: [...errors].map(([k, v]) => `${v}x "${k}"`).join("; ") || "none",
      },
      counters: accounting.counters,
      rssKiB: { before: rss0, after: mem.rssKiB, peak: mem.peakKiB },
      checks: [
        check("daemon alive", target.alive(), target.alive() ? "still running" : "it exited"),
        ...accounting.checks,
        check(
          "every exchange ends within the timeout",
          slowest <= TIMEOUT_MS + SLACK_MS,
          `slowest ${slowest} ms (limit ${TIMEOUT_MS + SLACK_MS})`,
        ),
        check("some exchanges are served", ok > 0, `${ok}/${offered} succeeded`),
        check(
          "an honest exchange right after the flood succeeds",
          after.ok,
          after.ok ? `${after.ms} ms` : (after.error ?? "failed"),
        ),
        check(
          "memory bounded",
          mem.rssKiB - rss0 < RSS_GROWTH_LIMIT_KIB,
          `RSS ${rss0} -> ${mem.rssKiB} KiB (limit +${RSS_GROWTH_LIMIT_KIB} KiB)`,
        ),
      ],
    };
  } finally {
    await target.stop();
  }
}
