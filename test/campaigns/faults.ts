// npm run faults -- [SCENARIO...|all]
// Faults injected under our daemon on loopback; see docs/campaigns.md.
import { connect as unixConnect } from "node:net";
import { readdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { TrustStore } from "../../src/daemon/nts-ke-client.js";
import { readObservation } from "../../src/cli/observation-client.js";
import { findScenario } from "../../sim/scenarios.js";
import { simulate } from "../../sim/simulation.js";
import { ntpQuery } from "../helpers/ntp-probe.js";
import { freeUdpPort } from "../helpers/ports.js";
import { which } from "../helpers/process.js";
import { makeTempDir } from "../helpers/tmp.js";
import { sleep, waitFor } from "../helpers/wait.js";
import { keyFileFault } from "./faults-keys.js";
import { RSS_GROWTH_LIMIT_KIB } from "./flood-udp.js";
import {
  captureClientHello,
  holdConnection,
  honestKeyExchange,
  type AbuseKind,
} from "./ke-clients.js";
import { keAccounting, settledKeStats } from "./ke-accounting.js";
import { check, type Check, type ScenarioReport } from "./report.js";
import { runCampaign } from "./runner.js";
import { startTarget, type Target } from "./target.js";

const alive = (t: Target): Check =>
  check("daemon alive", t.alive(), t.alive() ? "still running" : "it exited");

const memory = (rss0: number, t: Target): Check => {
  const now = t.rss().rssKiB;
  return check("memory bounded", now - rss0 < RSS_GROWTH_LIMIT_KIB, `RSS ${rss0} -> ${now} KiB`);
};

/** "measurement" log lines of a client daemon, with their timestamps (ms). */
function measurementTimes(output: string): number[] {
  return output
    .split("\n")
    .filter((l) => / measurement /.test(l))
    .map((l) => Date.parse(l.split(/\s+/)[0] ?? ""));
}

/** A client of one source (the default needs three agreeing). */
const CLIENT_SYNC = "minimum-agreeing-sources = 1";

const sourceToml = (address: string) => `
[[source]]
mode = "server"
address = "${address}"
poll-interval-limits = { min = 0, max = 0 }
`;

/** A source's host name fails to resolve, then resolves (a hosts file the scenario owns). */
async function dnsFault(): Promise<ScenarioReport> {
  const why =
    process.getuid?.() !== 0
      ? "needs root (a private mount namespace)"
      : !which("unshare")
        ? "needs unshare"
        : undefined;
  if (why) return skipped("dns", why);
  const upstream = await startTarget({ name: "dns-upstream" });
  const dir = await makeTempDir("ntpd-ts-campaign-dns-");
  const hosts = dir.file("hosts");
  const resolv = dir.file("resolv.conf");
  const NAME = "campaign-source.test";
  await writeFile(hosts, "127.0.0.1 localhost\n");
  // Nothing answers DNS on loopback port 53 in the daemon's view: lookups fail fast.
  await writeFile(resolv, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
  try {
    const client = await startTarget({
      name: "dns-client",
      dir,
      synchronization: CLIENT_SYNC,
      extraToml: sourceToml(`${NAME}:${upstream.ntpPort}`),
      // The daemon sees our hosts file and resolv.conf (bind mounts in its own
      // mount namespace); rewriting the file in place changes what it resolves.
      wrap: (cmd, args) => [
        "unshare",
        [
          "-m",
          "--propagation",
          "private",
          "sh",
          "-c",
          `mount --bind ${hosts} /etc/hosts && mount --bind ${resolv} /etc/resolv.conf && exec "$0" "$@"`,
          cmd,
          ...args,
        ],
      ],
    });
    try {
      const rss0 = client.rss().rssKiB;
      await sleep(6000);
      const failures = (client.proc.output().match(/could not resolve source address/g) ?? [])
        .length;
      const before = measurementTimes(client.proc.output()).length;
      const fixedAt = Date.now();
      await writeFile(hosts, `127.0.0.1 localhost\n127.0.0.1 ${NAME}\n`);
      let recoveredMs = Infinity;
      await waitFor(
        () => {
          const after = measurementTimes(client.proc.output()).filter((t) => t >= fixedAt);
          if (after.length === 0) return undefined;
          recoveredMs = after[0]! - fixedAt;
          return true;
        },
        { timeoutMs: 70_000, intervalMs: 250, what: "a measurement after DNS recovered" },
      ).catch(() => undefined);
      const obs = await client.observe();
      return {
        scenario: "dns",
        offered: { failing_for_s: 6, name: NAME },
        received: { resolve_failures_logged: failures, measurements_while_failing: before },
        counters: { sources: obs.sources.length },
        rssKiB: { before: rss0, after: client.rss().rssKiB },
        checks: [
          alive(client),
          check(
            "the failure is logged and retried",
            failures >= 2,
            `${failures} "could not resolve" warnings in 6 s`,
          ),
          check(
            "nothing measured while the name does not resolve",
            before === 0,
            `${before} measurements`,
          ),
          check(
            "measures once the name resolves (retry backoff <= 64 s)",
            recoveredMs <= 70_000,
            `first measurement ${recoveredMs === Infinity ? "never" : `${recoveredMs} ms`} after the hosts entry appeared`,
          ),
        ],
      };
    } finally {
      await client.stop();
    }
  } finally {
    await upstream.stop();
    await dir.cleanup();
  }
}

/** The daemon's source stops answering, then comes back on the same port. */
async function sourceVanishes(): Promise<ScenarioReport> {
  const port = await freeUdpPort();
  let upstream = await startTarget({ name: "vanish-upstream", ntpPort: port });
  const client = await startTarget({
    name: "vanish-client",
    synchronization: CLIENT_SYNC,
    extraToml: sourceToml(`127.0.0.1:${port}`),
  });
  try {
    const rss0 = client.rss().rssKiB;
    await waitFor(() => (measurementTimes(client.proc.output()).length >= 3 ? true : undefined), {
      timeoutMs: 30_000,
      what: "measurements",
    });
    await upstream.stop();
    const goneAt = Date.now();
    await sleep(12_000);
    const output = client.proc.output();
    const whileGone = measurementTimes(output).filter((t) => t > goneAt + 1500).length;
    const unreachable = /source unreachable/.test(output);
    const obsGone = await client.observe();
    const unanswered = Math.max(0, ...obsGone.sources.map((s) => s.unanswered_polls));
    upstream = await startTarget({ name: "vanish-upstream", ntpPort: port });
    const backAt = Date.now();
    let recoveredMs = Infinity;
    await waitFor(
      () => {
        const t = measurementTimes(client.proc.output()).find((x) => x >= backAt);
        if (t === undefined) return undefined;
        recoveredMs = t - backAt;
        return true;
      },
      { timeoutMs: 70_000, intervalMs: 250, what: "a measurement after the source returned" },
    ).catch(() => undefined);
    return {
      scenario: "source-vanish",
      offered: { gone_for_s: 12 },
      received: { measurements_while_gone: whileGone, unreachable_logged: String(unreachable) },
      counters: { unanswered_polls_while_gone: unanswered, sources: obsGone.sources.length },
      rssKiB: { before: rss0, after: client.rss().rssKiB },
      checks: [
        alive(client),
        check(
          "no measurement from a vanished source",
          whileGone === 0,
          `${whileGone} measurements`,
        ),
        check(
          "the loss is seen",
          unreachable || unanswered > 0,
          `unanswered_polls ${unanswered}; "source unreachable" logged: ${unreachable}`,
        ),
        check(
          "measures again once the source returns",
          recoveredMs <= 70_000,
          `first measurement ${recoveredMs === Infinity ? "never" : `${recoveredMs} ms`} after it returned`,
        ),
      ],
    };
  } finally {
    await client.stop();
    await upstream.stop();
  }
}

/** Broken TLS: truncated ClientHellos, closes and resets mid-handshake, plain text. */
async function tlsErrors(): Promise<ScenarioReport> {
  const target = await startTarget({
    name: "tls-errors",
    nts: true,
    keExtra: "key-exchange-timeout-ms = 2000",
  });
  try {
    const trust = await TrustStore.fromFile(target.pki!.caCertPath);
    const hello = await captureClientHello();
    const rss0 = target.rss().rssKiB;
    const before = await settledKeStats(target, 3500);
    const kinds: AbuseKind[] = [
      "truncated-hello",
      "hello-then-close",
      "not-tls",
      "reset-mid-handshake",
    ];
    const lifetimes: Record<string, number> = {};
    let connected = 0;
    const honest: boolean[] = [];
    for (let round = 0; round < 5; round++) {
      for (const kind of kinds) {
        const held = Array.from({ length: 5 }, () => holdConnection(target.kePort, kind, hello));
        const timer = setTimeout(() => held.forEach((h) => h.release()), 5000);
        const l = await Promise.all(held.map((h) => h.lifetime));
        clearTimeout(timer);
        lifetimes[kind] = Math.max(lifetimes[kind] ?? 0, ...l.map((x) => x.ms));
        connected += l.filter((x) => x.connected).length;
        honest.push((await honestKeyExchange(target.kePort, trust, 5000)).ok);
      }
    }
    const ok = honest.filter(Boolean).length;
    const accounting = keAccounting(before, await settledKeStats(target, 3500), {
      connections: connected + honest.length,
      keyExchanges: ok,
    });
    return {
      scenario: "tls-errors",
      offered: { connections: 5 * 4 * 5, kinds: kinds.join(","), honest_exchanges: honest.length },
      received: Object.fromEntries(
        Object.entries(lifetimes).map(([k, v]) => [`${k}_longest_ms`, v]),
      ),
      counters: accounting.counters,
      rssKiB: { before: rss0, after: target.rss().rssKiB },
      checks: [
        alive(target),
        ...accounting.checks,
        check(
          "honest exchanges succeed between the broken ones",
          ok === honest.length,
          `${ok}/${honest.length}`,
        ),
        check(
          "no broken connection outlives the timeout",
          Object.values(lifetimes).every((v) => v <= 3500),
          Object.entries(lifetimes)
            .map(([k, v]) => `${k} ${v} ms`)
            .join(", "),
        ),
        memory(rss0, target),
      ],
    };
  } finally {
    await target.stop();
  }
}

/** Someone else steps the clock under the discipline (simulated clock, never the real one). */
function clockStepReport(): ScenarioReport {
  const base = findScenario("clean-lan");
  if (!base) throw new Error("sim scenario clean-lan is missing");
  const STEP_AT = 3600;
  const STEP_BY = 30;
  const r = simulate(
    { ...base, hours: 3, clock: { ...base.clock, meddling: [{ at: STEP_AT, by: STEP_BY }] } },
    { seed: 1 },
  );
  const i = (t: number) => Math.min(r.offsets.length - 1, Math.floor(t / r.sampleInterval));
  const justAfter = Math.abs(r.offsets[i(STEP_AT + r.sampleInterval)] ?? NaN);
  let backAt = Infinity;
  for (let k = i(STEP_AT) + 1; k < r.offsets.length; k++) {
    if (Math.abs(r.offsets[k]!) < 0.001) {
      backAt = k * r.sampleInterval - STEP_AT;
      break;
    }
  }
  const correctiveSteps = r.steps.filter((s) => s.at > STEP_AT);
  return {
    scenario: "clock-step",
    offered: { simulated_hours: 3, meddling_at_s: STEP_AT, meddling_by_s: STEP_BY },
    received: {
      offset_after_meddling_s: justAfter.toFixed(3),
      back_under_1ms_after_s: backAt,
      corrective_steps: correctiveSteps.map((s) => s.offset.toFixed(3)).join(",") || "none",
      final_offset_s: r.finalOffset.toExponential(2),
    },
    counters: { meddling_detected: r.meddling, panics: r.panics.length, updates: r.updates },
    rssKiB: { before: 0, after: 0 },
    checks: [
      check("the meddling is detected", r.meddling >= 1, `${r.meddling} meddling reports`),
      check("no panic", r.panics.length === 0, `${r.panics.length} panics`),
      check(
        "the clock is brought back (step back, offset < 1 ms)",
        backAt <= 1800,
        `|offset| < 1 ms again ${backAt} s after the step; steps after it: ${correctiveSteps.length}`,
      ),
      check(
        "synchronized at the end",
        Math.abs(r.finalOffset) < 1e-4,
        `final offset ${r.finalOffset.toExponential(2)} s`,
      ),
    ],
  };
}

const clockStep = (): Promise<ScenarioReport> => Promise.resolve(clockStepReport());

/** Hundreds of SIGHUPs while clients are served. */
async function sighupStorm(): Promise<ScenarioReport> {
  const target = await startTarget({ name: "sighup-storm", nts: true });
  try {
    const trust = await TrustStore.fromFile(target.pki!.caCertPath);
    const rss0 = target.rss().rssKiB;
    const SIGNALS = 300;
    let sent = 0;
    const storm = (async () => {
      for (; sent < SIGNALS && target.alive(); sent++) {
        process.kill(target.proc.pid, "SIGHUP");
        await sleep(10);
      }
    })();
    const ke: boolean[] = [];
    const ntp: boolean[] = [];
    while (sent < SIGNALS && target.alive()) {
      ke.push((await honestKeyExchange(target.kePort, trust, 5000)).ok);
      ntp.push((await ntpQuery(target.ntpPort, "127.0.0.1", 1000))?.mode === 4);
    }
    await storm;
    await sleep(500);
    const after = await honestKeyExchange(target.kePort, trust, 5000);
    const errors = target.proc
      .output()
      .split("\n")
      .filter((l) => /\b(ERROR|error)\b/.test(l) && /SIGHUP|reload|certificate/i.test(l));
    return {
      scenario: "sighup-storm",
      offered: { sighups: sent, every_ms: 10 },
      received: {
        ke_ok: ke.filter(Boolean).length,
        ke_tried: ke.length,
        ntp_ok: ntp.filter(Boolean).length,
        ntp_tried: ntp.length,
      },
      counters: { reload_errors_logged: errors.length },
      rssKiB: { before: rss0, after: target.rss().rssKiB },
      checks: [
        alive(target),
        check(
          "NTS-KE served through the storm",
          ke.every(Boolean) && after.ok,
          `${ke.filter(Boolean).length}/${ke.length} during, after: ${after.ok}`,
        ),
        check(
          "NTP served through the storm",
          ntp.every(Boolean),
          `${ntp.filter(Boolean).length}/${ntp.length}`,
        ),
        check("no reload errors", errors.length === 0, errors[0] ?? "none"),
        memory(rss0, target),
      ],
    };
  } finally {
    await target.stop();
  }
}

/** The observation socket: clients that never read, write garbage, or connect and vanish. */
async function observationAbuse(): Promise<ScenarioReport> {
  const target = await startTarget({ name: "observation-abuse" });
  try {
    const rss0 = target.rss().rssKiB;
    const fds = () => readdirSync(`/proc/${target.proc.pid}/fd`).length;
    const fds0 = fds();
    const path = target.observationPath;
    const open = (behaviour: "idle" | "garbage" | "hangup") =>
      new Promise<void>((resolve) => {
        const s = unixConnect(path);
        s.on("error", () => resolve());
        s.on("close", () => resolve());
        s.on("connect", () => {
          if (behaviour === "garbage") s.write(Buffer.alloc(64 * 1024, 0x41));
          if (behaviour === "hangup") s.destroy();
          if (behaviour === "idle") s.pause(); // never reads what the daemon writes
          setTimeout(() => s.destroy(), 3000);
        });
      });
    const started = performance.now();
    const ABUSERS = 800;
    const abusers = [
      ...Array.from({ length: 200 }, () => open("idle")),
      ...Array.from({ length: 100 }, () => open("garbage")),
      ...Array.from({ length: 500 }, () => open("hangup")),
    ];
    // Honest readers while the abusers are connected.
    let honestOk = 0;
    let honestTried = 0;
    let peakFds = 0;
    while (performance.now() - started < 2500) {
      honestTried++;
      peakFds = Math.max(peakFds, fds());
      if (
        await readObservation(path, { timeoutMs: 3000 }).then(
          () => true,
          () => false,
        )
      )
        honestOk++;
      await sleep(100);
    }
    await Promise.all(abusers);
    await sleep(1000);
    const fdsAfter = fds();
    let afterOk = 0;
    for (let i = 0; i < 5; i++) {
      if (
        await readObservation(path, { timeoutMs: 3000 }).then(
          () => true,
          () => false,
        )
      )
        afterOk++;
    }
    const ntp = await ntpQuery(target.ntpPort, "127.0.0.1", 1000);
    return {
      scenario: "observation-abuse",
      offered: { idle_clients: 200, garbage_writers: 100, hangups: 500, honest_reads: honestTried },
      received: { honest_ok_during: honestOk, honest_ok_after: `${afterOk}/5` },
      counters: { fds_before: fds0, fds_peak: peakFds, fds_after: fdsAfter },
      rssKiB: { before: rss0, after: target.rss().rssKiB },
      checks: [
        alive(target),
        // The observer serves 8 at once and queues 32; beyond that it closes
        // connections at once (observer.ts), so an honest reader may lose a race.
        check(
          "honest readers get through the abuse",
          honestOk > 0 && afterOk === 5,
          `${honestOk}/${honestTried} served during it, ${afterOk}/5 after`,
        ),
        check(
          "descriptors bounded",
          peakFds - fds0 <= ABUSERS / 4,
          `peak ${peakFds} open with ${ABUSERS} clients connecting (before: ${fds0}; allowed +${ABUSERS / 4})`,
        ),
        check(
          "no descriptor leak",
          fdsAfter <= fds0 + 2,
          `${fds0} open before, ${fdsAfter} after (peak ${peakFds})`,
        ),
        check("NTP still served", ntp?.mode === 4, ntp ? "answered" : "no reply"),
        memory(rss0, target),
      ],
    };
  } finally {
    await target.stop();
  }
}

function skipped(scenario: string, why: string): ScenarioReport {
  return {
    scenario,
    offered: {},
    received: {},
    counters: {},
    rssKiB: { before: 0, after: 0 },
    checks: [check("can run here", false, why)],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runCampaign(
    {
      command: "faults",
      defaultSeconds: 10,
      scenarios: {
        dns: { about: "a source's name fails to resolve, then resolves", run: dnsFault },
        "source-vanish": { about: "the source stops answering and returns", run: sourceVanishes },
        "tls-errors": {
          about: "TLS broken mid-handshake; honest exchanges between",
          run: tlsErrors,
        },
        "key-disk-full": {
          about: "the key file's disk is full at rotations",
          run: () => keyFileFault("full"),
        },
        "key-read-only": {
          about: "the key file's disk is read-only at rotations",
          run: () => keyFileFault("read-only"),
        },
        "clock-step": { about: "someone else steps the clock (simulator)", run: clockStep },
        "sighup-storm": { about: "300 SIGHUPs in 3 s while serving", run: sighupStorm },
        "observation-abuse": {
          about: "idle, garbage and vanishing observation clients",
          run: observationAbuse,
        },
      },
    },
    process.argv.slice(2),
  );
}

export { clockStep, observationAbuse, sighupStorm, tlsErrors };
