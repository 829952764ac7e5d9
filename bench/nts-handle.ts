// Microbenchmark of NtpServerCore.handle(): CPU nanoseconds per request for a
// plain NTPv4 request and for NTS requests with AEAD 15, 17 and 30 asking for
// 1 and 4 cookies (one Cookie, then 0 or 3 Placeholders; empty encrypted
// part, as ntpd-rs and chrony clients send them). Every reply is checked once
// to be a full NTS time reply before timing.
//
// Two client mixes per NTS case:
//   "1 session":  one client repeating a request (every request carries the
//                 same C2S/S2C keys: the best case for per-session caches);
//   "N sessions": requests cycling through --sessions distinct key pairs
//                 (default 8192, more than the server's session cipher cache
//                 holds, so every request sets up its ciphers: the worst case).
//
// --baseline DIR loads a second copy of the server (DIR/src/proto, e.g. a
// `git worktree` of the previous commit) into this process and alternates
// between the two burst by burst, so both see the same machine state; the
// table then shows both and their ratio. On a noisy machine that is far
// steadier than comparing two runs.
//
// Bounded: --rounds bursts of --ms milliseconds per row and implementation
// (default 7 × 60 ms; about 15 s alone, 30 s with --baseline); the median is
// printed. CPU time of this process (steadier than wall time on a shared
// machine). The one-session cases run first, with a small heap; the N-session
// sets are then built one case at a time, since a larger heap makes garbage
// collection, a real share of the per-request cost, dearer for every case.
//
//   node --import tsx bench/nts-handle.ts [--ms 60] [--rounds 7] [--sessions 8192]
//        [--only plain,15-1,15-4,17-1,17-4,30-1,30-4] [--baseline DIR] [--aead native|ts]
//        [--siv aesni|openssl] [--finish js|wire] [--json]
//
// --finish: how a reply is finished after handle(). js (default): finishReply, T3 and
// the S2C seal in JavaScript (the fallback without the native socket); wire: as the
// daemon's server task does with the native socket, the finish handed to the socket's
// description (NativeReplyFinish.take) and not carried out, since the socket seals at
// the flush (the seal's AES work is then not in the figure; its argument conversions
// are not either, as the socket needs none).
//
// --siv: which native AES-SIV code this tree's addon runs (default: AES-NI where the
// CPU has it); a --baseline tree keeps its own addon's default.
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

type AeadModule = typeof import("../src/proto/crypto/aead.js");
type RegistryModule = typeof import("../src/proto/crypto/registry.js");
type CookieModule = typeof import("../src/proto/nts/cookie/cookie.js");
type KeySetModule = typeof import("../src/proto/nts/keyset/keyset.js");
type FieldsModule = typeof import("../src/proto/nts/packet/fields.js");
type ServerModule = typeof import("../src/proto/server/server.js");
type FinishModule = typeof import("../src/proto/server/finish.js");
type StateModule = typeof import("../src/proto/system/system-state.js");
type TimeModule = typeof import("../src/proto/time.js");
type AeadId = import("../src/proto/crypto/aead.js").AeadId;

const { values: args } = parseArgs({
  options: {
    ms: { type: "string", default: "60" },
    rounds: { type: "string", default: "7" },
    sessions: { type: "string", default: "8192" },
    only: { type: "string" },
    baseline: { type: "string" },
    aead: { type: "string", default: "native" },
    siv: { type: "string" },
    finish: { type: "string", default: "js" },
    json: { type: "boolean", default: false },
  },
  strict: true,
});

function bounded(name: string, v: string | undefined, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) {
    console.error(`--${name} must be a number in [${min}, ${max}], not ${v}`);
    process.exit(2);
  }
  return n;
}
const burstMs = bounded("ms", args.ms, 5, 5000);
const rounds = Math.round(bounded("rounds", args.rounds, 1, 99));
const sessionCount = Math.round(bounded("sessions", args.sessions, 1, 65536));
const only = args.only?.split(",") ?? null;
if (args.finish !== "js" && args.finish !== "wire") {
  console.error(`--finish must be js or wire, not ${args.finish}`);
  process.exit(2);
}
const wanted = (tag: string): boolean => only === null || only.includes(tag);

const ADDRESS = "192.0.2.10";

/** One copy of the server code and a server core built from it. */
interface Impl {
  name: string;
  handle(request: Uint8Array): number;
  plainRequest(): Uint8Array;
  ntsRequest(aead: AeadId, cookies: number): Uint8Array;
  /** Throws unless `request` gets a full (NTS when `nts`) time reply. */
  validate(request: Uint8Array, nts: boolean): void;
}

/**
 * --aead native (default): the daemon's ciphers from `root` (native AES-SIV when
 * its addon is built; a tree without src/daemon/native/aead.ts, such as a
 * baseline from before it, gets its server's default); --aead ts: the
 * TypeScript ones.
 */
async function aeadProvider(root: string, selectSiv: boolean): Promise<unknown> {
  if (args.aead === "ts") return undefined;
  if (selectSiv && args.siv !== undefined) {
    const { getAddon } = (await import(
      pathToFileURL(resolve(root, "src/daemon/native/addon.ts")).href
    )) as typeof import("../src/daemon/native/addon.js");
    const wanted = args.siv as "aesni" | "openssl";
    const got = getAddon()?.sivImplementation(wanted);
    if (got !== wanted) {
      console.error(`--siv ${args.siv}: not available here (addon: ${got ?? "not loaded"})`);
      process.exit(2);
    }
  }
  try {
    const mod = (await import(pathToFileURL(resolve(root, "src/daemon/native/aead.ts")).href)) as {
      defaultAeadProvider?: () => unknown;
    };
    return mod.defaultAeadProvider?.();
  } catch {
    return undefined;
  }
}

async function loadImpl(name: string, root: string, selectSiv: boolean): Promise<Impl> {
  const load = async <T>(path: string): Promise<T> =>
    (await import(pathToFileURL(resolve(root, "src/proto", path)).href)) as T;
  const { AeadId } = await load<AeadModule>("crypto/aead.ts");
  void AeadId;
  const { aeadKeyLength, createAead } = await load<RegistryModule>("crypto/registry.ts");
  const { encodeCookie } = await load<CookieModule>("nts/cookie/cookie.ts");
  const { KeySet } = await load<KeySetModule>("nts/keyset/keyset.ts");
  const fields = await load<FieldsModule>("nts/packet/fields.ts");
  const { NtpServerCore } = await load<ServerModule>("server/server.ts");
  // Since T3 moved out of the core (issue #8) a reply is handle() + finishReply();
  // a baseline from before that has no finish.ts and does it all in handle().
  const jsFinish = await load<FinishModule>("server/finish.ts").then(
    (m) => m.finishReply,
    () => null,
  );
  // --finish wire: hand the finish over as the daemon does (falls back to finishReply
  // for what the socket cannot seal, AEAD 30, as the daemon does too).
  const wire =
    args.finish === "wire"
      ? new (
          (await import(
            pathToFileURL(resolve(root, "src/daemon/native/reply-finish.ts")).href
          )) as typeof import("../src/daemon/native/reply-finish.js")
        ).NativeReplyFinish()
      : null;
  const finishReply =
    jsFinish === null
      ? null
      : wire === null
        ? jsFinish
        : (o: Uint8Array, f: Parameters<typeof jsFinish>[1], t: Parameters<typeof jsFinish>[2]) => {
            if (!wire.take(f)) jsFinish(o, f, t);
          };
  // SystemState moved from server/ to system/ (issue #10); a baseline may predate that.
  const { SystemStateCell, initialSystemState } = await load<StateModule>(
    "system/system-state.ts",
  ).catch(() => load<StateModule>("server/system-state.ts"));
  const { NtpTimestamp } = await load<TimeModule>("time.ts");

  const rx = new NtpTimestamp(0xe84948b2, 0xb640d701);
  const tx = new NtpTimestamp(0xe84948b2, 0xb644bff8);
  const keySet = KeySet.generate((n) => randomBytes(n));
  const core = new NtpServerCore({
    // Read by a baseline core only (the option is gone since T3 moved out).
    ...{ clock: { now: () => tx } },
    systemState: new SystemStateCell({ ...initialSystemState(), stratum: 2 }),
    keySet: { current: () => keySet },
    aead: (await aeadProvider(root, selectSiv)) as ConstructorParameters<
      typeof NtpServerCore
    >[0]["aead"],
  });
  const out = new Uint8Array(2048);

  const plainRequest = (): Uint8Array => {
    const h = new Uint8Array(48);
    h[0] = (4 << 3) | 3; // VN 4, mode 3
    h[2] = 6;
    h.set(randomBytes(8), 40);
    return h;
  };
  return {
    name,
    handle(request) {
      const d = core.handle(request, request.length, ADDRESS, rx, out);
      if (d.action !== "reply") return -1;
      if (finishReply !== null) finishReply(out, d.finish, tx);
      return d.length;
    },
    plainRequest,
    ntsRequest(aead, cookies) {
      // As ntpd-rs builds it: header, UID, cookie, cookies - 1 placeholders, authenticator.
      const k = aeadKeyLength(aead)!;
      const c2sKey = Uint8Array.from(randomBytes(k));
      const contents = { aead, c2s: c2sKey, s2c: Uint8Array.from(randomBytes(k)) };
      const cookie = encodeCookie(keySet, contents, (n) => randomBytes(n));
      const c2s = createAead(aead, c2sKey);
      const length =
        48 +
        fields.uniqueIdentifierFieldLength(fields.UNIQUE_IDENTIFIER_LENGTH) +
        fields.cookieFieldLength(cookie.length, false) +
        (cookies - 1) * fields.placeholderFieldLength(cookie.length) +
        fields.authenticatorFieldLength(c2s.nonceLength, c2s.tagLength);
      const req = new Uint8Array(length);
      req.set(plainRequest());
      let off = 48;
      off += fields.writeUniqueIdentifier(req, off, randomBytes(fields.UNIQUE_IDENTIFIER_LENGTH));
      off += fields.writeCookie(req, off, cookie, false);
      for (let i = 1; i < cookies; i++) off += fields.writePlaceholder(req, off, cookie.length);
      fields.writeAuthenticator(req, off, c2s, randomBytes(c2s.nonceLength), new Uint8Array(0));
      return req;
    },
    validate(request, nts) {
      const d = core.handle(request, request.length, ADDRESS, rx, out);
      if (d.action !== "reply" || d.kind !== "time" || d.nts !== nts) {
        throw new Error(`${name}: unexpected decision ${d.action} ${d.kind} nts=${d.nts}`);
      }
      // Every slot is answered: an NTS reply is as long as its request.
      if (nts && d.length !== request.length) {
        throw new Error(`${name}: reply of ${d.length} octets to ${request.length}`);
      }
    },
  };
}

let sink = 0;

/** CPU ns per handle() over about `burstMs`, cycling through `requests`. */
function measure(impl: Impl, requests: readonly Uint8Array[]): number {
  const n = requests.length;
  const batch = 32;
  let i = 0;
  let ops = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  while (performance.now() - start < burstMs) {
    for (let b = 0; b < batch; b++) {
      sink ^= impl.handle(requests[i]!);
      i = i + 1 === n ? 0 : i + 1;
    }
    ops += batch;
  }
  const used = process.cpuUsage(cpu);
  return ((used.user + used.system) * 1000) / ops;
}

interface Case {
  name: string;
  nts: boolean;
  build: (impl: Impl) => Uint8Array[];
}

const AEADS = [15, 17, 30] as const satisfies readonly AeadId[];
const onePhase: Case[] = [];
const manyPhase: Case[] = [];
if (wanted("plain")) onePhase.push({ name: "plain", nts: false, build: (m) => [m.plainRequest()] });
for (const aead of AEADS) {
  for (const cookies of [1, 4]) {
    const tag = `${aead}-${cookies}`;
    if (!wanted(tag)) continue;
    onePhase.push({
      name: `${tag} 1 session`,
      nts: true,
      build: (m) => [m.ntsRequest(aead, cookies)],
    });
    manyPhase.push({
      name: `${tag} ${sessionCount} sessions`,
      nts: true,
      build: (m) => Array.from({ length: sessionCount }, () => m.ntsRequest(aead, cookies)),
    });
  }
}

const impls = [await loadImpl("this", resolve(import.meta.dirname, ".."), true)];
if (args.baseline !== undefined) impls.unshift(await loadImpl("baseline", args.baseline, false));

/** results[case][impl] = ns per request, one per round. */
const results = new Map<string, number[][]>();

/** Validates, warms up and times `cases` (their sets all resident), interleaving bursts. */
function run(cases: readonly Case[]): void {
  const sets = cases.map((c) => impls.map((m) => c.build(m)));
  cases.forEach((c, ci) =>
    impls.forEach((m, mi) => sets[ci]![mi]!.forEach((r) => m.validate(r, c.nts))),
  );
  // Warm-up: every path reaches its optimized tier before timing.
  cases.forEach((_, ci) => impls.forEach((m, mi) => measure(m, sets[ci]![mi]!)));
  for (const c of cases)
    results.set(
      c.name,
      impls.map(() => []),
    );
  for (let r = 0; r < rounds; r++) {
    cases.forEach((c, ci) => {
      // Alternate which implementation goes first, so neither always follows the other.
      const order =
        r % 2 === 0 ? impls.map((_, i) => i) : impls.map((_, i) => impls.length - 1 - i);
      for (const mi of order) results.get(c.name)![mi]!.push(measure(impls[mi]!, sets[ci]![mi]!));
    });
  }
}

run(onePhase);
for (const c of manyPhase) run([c]);

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >>> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

if (args.json) {
  const obj: Record<string, Record<string, number>> = {};
  for (const [name, byImpl] of results) {
    obj[name] = Object.fromEntries(impls.map((m, i) => [m.name, Math.round(median(byImpl[i]!))]));
  }
  console.log(JSON.stringify(obj));
} else {
  console.log(
    `node ${process.version}, openssl ${process.versions.openssl}; ` +
      `median of ${rounds} bursts of ${burstMs} ms; CPU ns per request`,
  );
  const head = impls.map((m) => `${m.name.padStart(10)}  ${"(min-max)".padEnd(15)}`).join(" ");
  console.log(`${"case (AEAD-cookies)".padEnd(22)} ${head}${impls.length > 1 ? " ratio" : ""}`);
  for (const [name, byImpl] of results) {
    const cells = byImpl.map((xs) => {
      const range = `(${Math.round(Math.min(...xs))}-${Math.round(Math.max(...xs))})`;
      return `${Math.round(median(xs)).toString().padStart(10)}  ${range.padEnd(15)}`;
    });
    const ratio =
      byImpl.length > 1 ? ` ${(median(byImpl[1]!) / median(byImpl[0]!)).toFixed(2)}` : "";
    console.log(`${name.padEnd(22)} ${cells.join(" ")}${ratio}`);
  }
}
if (sink === 0.5) console.log(sink); // keep the results alive
