// One remote NTP source, sans IO (ntpd-rs `ntp-proto/src/source.rs` is the
// model): builds requests, validates responses, produces measurements, keeps
// reachability and the poll interval. It never reads a clock or starts a
// timer: the daemon passes in every time and arms every timer.
//
// Driving it:
//   1. poll(now) right after construction (the first poll is immediate), and
//      again whenever the timer fires. On { kind: "request" } send the bytes,
//      then report the send time with sent(t1) (kernel TX timestamp, or the
//      clock read just before send), and arm the timer for
//      nextPollDelaySeconds(). On "unreachable" / "demobilize" / "reset" send
//      nothing and replace the source (see PollResult).
//   2. handleResponse(bytes, length, t4) for every datagram from the server's
//      address, t4 being the receive timestamp. A "measurement" goes to the
//      clock filter; a kiss with action "reduce-rate" may re-arm the timer.
//   3. clockStepped() whenever the clock the times come from is stepped.
//
// Interleaved mode (option `interleaved`; draft-ietf-ntp-interleaved-modes,
// chrony's `xleave`; the server's side is src/proto/server/interleave.ts):
// after a reply, the next request carries that reply's T2 as origin and a
// random token as receive timestamp (≠ the random transmit timestamp). A
// server that keeps the TX timestamps of its replies answers with the token
// as origin and, as T3, the time its previous reply to us left the wire; the
// measurement is then the previous exchange's (our T1 of the previous
// request, its T2, that wire T3, our T4 of the previous reply), with a T3
// that no longer includes the server's send path. A server that does not
// answers as in basic mode (origin = our transmit timestamp), and that reply
// is measured as in basic mode. An exchange is measured once: the first
// interleaved reply after a basic one gives no sample (its exchange was
// measured already); after MAX_INTERLEAVED_TRIES requests without a reply, or
// after a clock step, the next request is basic again. Chrony puts its own T4
// in the receive field; a random token is worth as much to the server (it
// only echoes it) and keeps the reply as hard to forge as a basic one.

import { randomBytes } from "node:crypto";

import { kissCode } from "../packet/kiss.js";
import { encodeHeader, readU32 } from "../packet/header.js";
import { parsePacket } from "../packet/parse.js";
import { NTP_HEADER_LENGTH, NtpMode, type NtpHeader, type NtpPacket } from "../packet/types.js";
import { filterHasServerId, RemoteBloomFilter } from "../packet/v5-bloom.js";
import { extensionFieldTypes } from "../packet/extension-fields.js";
import { NtpTimestamp, offsetAndDelay } from "../time.js";
import {
  clampPoll,
  DEFAULT_POLL_LIMITS,
  incrementPoll,
  jitteredPollSeconds,
  validatePollLimits,
  type PollIntervalLimits,
} from "./poll-interval.js";
import { PLAIN_NTP, type RequestProtector } from "./request-protector.js";
import { Reach } from "./reach.js";
import {
  buildV5Request,
  echoesUpgrade,
  parseV5Reply,
  UPGRADE_TIMESTAMP,
  VersionNegotiation,
  type NtpVersionSetting,
  type ProtocolState,
  type V5Reply,
} from "./v5-client.js";
import type {
  IgnoreReason,
  KissAction,
  Measurement,
  PollResult,
  SourceEvent,
  SourceSnapshot,
  UnusableReason,
} from "./types.js";

export type * from "./types.js";
export type { PollIntervalLimits } from "./poll-interval.js";
export type { RequestProtector, ResponseVerdict } from "./request-protector.js";
export { PLAIN_NTP } from "./request-protector.js";
export type { NtpVersionSetting, ProtocolState } from "./v5-client.js";

/** A reply must arrive within this many seconds of its request (ntpd-rs POLL_WINDOW). */
export const POLL_WINDOW_SECONDS = 5;
/** Without any reply yet, the source is unreachable after this many polls. */
export const STARTUP_TRIES_THRESHOLD = 3;
/** Replies with a higher stratum are dropped (17..255 are reserved). */
export const MAX_STRATUM = 16;
/** The start-up burst polls at most this often (log2 s): every 2 s. */
export const MIN_BURST_POLL = 1;
/** Measured delays are clamped to at least this (ntpd-rs: 2^-18 s). */
export const MIN_DELAY_SECONDS = 2 ** -18;
/**
 * Interleaved requests sent on one previous exchange without a reply, after which
 * the next request is basic (chrony: 4): a late answer would carry an old T3.
 */
export const MAX_INTERLEAVED_TRIES = 4;
/** An interleaved T3 more than this after its T2 is not believed (chrony: 4 s). */
export const MAX_SERVER_INTERVAL_SECONDS = 4;

export type RandomSource = (n: number) => Uint8Array;

export interface NtpSourceOptions {
  /** Poll exponent bounds, log2 s. Default { min: 4, max: 10 }. */
  pollLimits?: PollIntervalLimits;
  /**
   * `initial-poll-interval` (log2 s), clamped into the limits; default: the
   * minimum. Kept for the clock algorithm, which switches to it after its
   * start-up phase through setDesiredPollInterval; until then the source
   * polls at the minimum.
   */
  initialPollInterval?: number;
  /**
   * `ntp-version`: 4 (default; replies of version 3 are accepted too), 5
   * (draft NTPv5 only) or "auto" (v4, upgrading to v5 when the server offers
   * it): v5-client.ts. NTS sources get the version NTS-KE chose (4 or 5).
   */
  version?: NtpVersionSetting;
  /**
   * Our own NTPv5 server ID (packet/v5-bloom.ts): a v5 source whose
   * reference-ID Bloom filter holds it synchronizes to us (a loop) and is
   * unusable. Default: no loop check.
   */
  serverId?: Uint16Array;
  /** Cryptographic randomness: n octets. Default node:crypto randomBytes. */
  random?: RandomSource;
  /**
   * Our own stratum limit (`local-stratum`, 1..16; default 16): replies whose
   * stratum is not below it are unusable. handleResponse may override it.
   */
  localStratum?: number;
  /** Request/response protection; default plain NTP. NTS plugs in here. */
  protector?: RequestProtector;
  /** Ask in interleaved mode (see the top of this file); default false. */
  interleaved?: boolean;
}

/** The last answered exchange, for an interleaved reply to measure. */
interface Exchange {
  /** Our T1 of the request (kernel TX timestamp when there was one). */
  t1: NtpTimestamp;
  /** The reply's receive timestamp, as it came (the server's key to its T3). */
  t2: NtpTimestamp;
  /** Our receive time of the reply. */
  t4: NtpTimestamp;
  /** It already gave a measurement (basic mode): never measured twice. */
  measured: boolean;
  /** Interleaved requests sent on it so far. */
  tries: number;
}

interface Outstanding {
  /** The random transmit timestamp of the request, expected back as origin. */
  origin: NtpTimestamp;
  /** Interleaved requests: the random receive field, expected back as origin. */
  token: NtpTimestamp | null;
  /** Interleaved requests: the exchange the request named (null after a clock step). */
  previous: Exchange | null;
  /** Local send time; the poll() time until sent() reports the real one. */
  t1: NtpTimestamp;
  /** A kiss for this request was already acted on. */
  kissSeen: boolean;
  /** v5 requests: the offset of the Bloom chunk asked for; -1 otherwise. */
  bloomOffset: number;
}

interface Retired {
  origin: NtpTimestamp;
  token: NtpTimestamp | null;
  answered: boolean;
}

const defaultRandom: RandomSource = (n) => randomBytes(n);
const NTS_AUTHENTICATOR = extensionFieldTypes.NtsAuthenticator;

export class NtpSource {
  readonly pollLimits: Readonly<PollIntervalLimits>;
  readonly initialPollInterval: number;
  readonly version: NtpVersionSetting;

  readonly #random: RandomSource;
  readonly #protector: RequestProtector;
  readonly #localStratum: number;
  readonly #interleaved: boolean;
  readonly #negotiation: VersionNegotiation;
  readonly #serverId: Uint16Array | null;
  readonly #bloom = new RemoteBloomFilter();
  /** The last answered exchange (interleaved mode only). */
  #previous: Exchange | null = null;

  readonly #reach = new Reach();
  #polls = 0;

  #desiredPoll: number;
  /** The start-up burst may poll below the configured minimum (see setDesiredPollInterval). */
  #burst = false;
  #remoteMinPoll: number;
  #lastPoll: number;

  #outstanding: Outstanding | null = null;
  /** The request before, to tell a duplicate or late reply from a bogus one. */
  #retired: Retired | null = null;

  /** Unauthenticated DENY/RSTR since the last valid reply. */
  #deniedCode: string | null = null;
  /** Set once we decided to demobilize: sticky. */
  #demobilizedCode: string | null = null;

  /**
   * Unusable replies in a row (LI 3, or a stratum not below ours). Each one
   * raises the poll exponent by one from the minimum, up to the maximum: a
   * server that cannot give us time is asked less and less often, like ntpd's
   * and chrony's back-off for a source they cannot use, and not every 2 s of
   * a start-up burst forever.
   */
  #unusableStreak = 0;
  /** Why the last unusable reply was unusable (a new reason is worth a log line too). */
  #unusableReason: UnusableReason | null = null;

  #stratum = MAX_STRATUM;
  #referenceId = 0;
  #rootDelay = 0;
  #rootDispersion = 0;
  #lastMeasurement: Measurement | null = null;
  #lastKissCode: string | null = null;

  constructor(options: NtpSourceOptions = {}) {
    const limits = options.pollLimits ?? DEFAULT_POLL_LIMITS;
    validatePollLimits(limits);
    this.pollLimits = Object.freeze({ min: limits.min, max: limits.max });
    const initial = options.initialPollInterval ?? limits.min;
    if (!Number.isFinite(initial)) {
      throw new RangeError(`initial poll interval must be a number (got ${initial})`);
    }
    this.initialPollInterval = clampPoll(initial, limits);
    const version = options.version ?? 4;
    if (version !== 4 && version !== 5 && version !== "auto") {
      throw new RangeError(`unsupported NTP version ${String(version)}`);
    }
    this.version = version;
    this.#protector = options.protector ?? PLAIN_NTP;
    this.#negotiation = new VersionNegotiation(this.#protector.ntpVersion ?? version);
    this.#serverId = options.serverId ?? null;
    const localStratum = options.localStratum ?? MAX_STRATUM;
    validateLocalStratum(localStratum);
    this.#localStratum = localStratum;
    this.#random = options.random ?? defaultRandom;
    this.#interleaved = options.interleaved === true;

    this.#desiredPoll = limits.min;
    this.#remoteMinPoll = limits.min;
    this.#lastPoll = limits.min;
  }

  /**
   * The poll exponent the next request will use: the desired one (within the
   * limits) raised to the minimum the server imposed with RATE kisses.
   */
  effectivePollInterval(): number {
    if (this.#unusableStreak > 0) {
      const backOff = Math.min(this.pollLimits.min + this.#unusableStreak - 1, this.pollLimits.max);
      return Math.max(backOff, this.#remoteMinPoll);
    }
    if (this.#burst) {
      // A server that sent RATE is never polled faster than it asked.
      return this.#remoteMinPoll > this.pollLimits.min
        ? this.#remoteMinPoll
        : Math.min(this.#desiredPoll, this.pollLimits.max);
    }
    return Math.max(clampPoll(this.#desiredPoll, this.pollLimits), this.#remoteMinPoll);
  }

  /**
   * The clock algorithm's wish (log2 s), clamped into the limits. Below the
   * minimum only for the start-up burst (`burst`: like ntpd's iburst, a few
   * quick polls, never faster than every 2 s), and never below a minimum the
   * server imposed with RATE.
   */
  setDesiredPollInterval(log2: number, burst = false): void {
    if (!Number.isFinite(log2)) {
      throw new RangeError(`desired poll interval must be a number (got ${log2})`);
    }
    this.#burst = burst && log2 < this.pollLimits.min;
    this.#desiredPoll = this.#burst
      ? Math.max(Math.round(log2), MIN_BURST_POLL)
      : clampPoll(log2, this.pollLimits);
  }

  /**
   * Seconds until the next poll: 2^effective poll × a random factor in
   * [1.01, 1.05), so that request times are hard to predict. Call it after
   * each poll() to arm the timer (and again after a "reduce-rate" kiss to poll
   * less often at once).
   */
  nextPollDelaySeconds(): number {
    return jitteredPollSeconds(this.effectivePollInterval(), this.#random);
  }

  /**
   * Whether the source should keep polling. "unreachable": no reply to the
   * last 8 polls, or none at all to the first 3. "demobilize": an
   * authenticated DENY/RSTR, or an unauthenticated one and then unreachable.
   */
  status(): "ok" | "unreachable" | "demobilize" {
    if (this.#demobilizedCode !== null) return "demobilize";
    if (!this.#reach.isReachable() && this.#polls >= STARTUP_TRIES_THRESHOLD) {
      return this.#deniedCode !== null ? "demobilize" : "unreachable";
    }
    return "ok";
  }

  /**
   * Builds the next request (or says the source must go). `now` is the local
   * time, taken as the send time until sent() reports a better one.
   */
  poll(now: NtpTimestamp): PollResult {
    switch (this.status()) {
      case "demobilize":
        this.#demobilizedCode ??= this.#deniedCode ?? "DENY";
        this.#retireOutstanding(false);
        return { kind: "demobilize", code: this.#demobilizedCode };
      case "unreachable":
        this.#retireOutstanding(false);
        return { kind: "unreachable", unansweredPolls: this.#unansweredPolls() };
      case "ok":
        break;
    }

    this.#retireOutstanding(false);
    this.#negotiation.beforePoll(this.#unansweredPolls());
    this.#reach.poll();
    this.#polls++;
    const poll = this.effectivePollInterval();
    const origin = this.#randomTimestamp();
    if (this.#negotiation.requestVersion === 5) {
      const bloomOffset = this.#bloom.nextOffset();
      return this.#send(
        buildV5Request(poll, origin, bloomOffset),
        origin,
        null,
        now,
        poll,
        bloomOffset,
      );
    }
    let token: NtpTimestamp | null = null;
    const previous = this.#previous;
    if (previous !== null && previous.tries < MAX_INTERLEAVED_TRIES) {
      previous.tries++;
      do token = this.#randomTimestamp();
      while (token.equals(origin));
    }
    const header: NtpHeader = {
      leap: 0,
      version: 4,
      mode: NtpMode.Client,
      stratum: 0,
      poll,
      precision: 0,
      rootDelay: 0,
      rootDispersion: 0,
      referenceId: 0,
      referenceTimestamp: this.#negotiation.asksUpgrade ? UPGRADE_TIMESTAMP : NtpTimestamp.ZERO,
      originTimestamp: token !== null ? previous!.t2 : NtpTimestamp.ZERO,
      receiveTimestamp: token ?? NtpTimestamp.ZERO,
      transmitTimestamp: origin,
    };
    const bytes = new Uint8Array(NTP_HEADER_LENGTH);
    encodeHeader(header, bytes);
    return this.#send(bytes, origin, token, now, poll, -1);
  }

  /** Has the protector finish `bytes` and records the request as outstanding. */
  #send(
    bytes: Uint8Array,
    origin: NtpTimestamp,
    token: NtpTimestamp | null,
    now: NtpTimestamp,
    poll: number,
    bloomOffset: number,
  ): PollResult {
    const request = this.#protector.finishRequest(bytes);
    if (request === null) return { kind: "reset", reason: "protector" };
    this.#outstanding = {
      origin,
      token,
      previous: token !== null ? this.#previous : null,
      t1: now,
      kissSeen: false,
      bloomOffset,
    };
    this.#lastPoll = poll;
    return { kind: "request", request, poll };
  }

  /** Where the source stands in the NTPv4/NTPv5 negotiation (v5-client.ts). */
  get protocolState(): ProtocolState {
    return this.#negotiation.state;
  }

  /**
   * The clock the times come from was stepped: the last exchange's times no longer
   * compare with new ones, so no interleaved reply is measured against them.
   */
  clockStepped(): void {
    this.#previous = null;
    if (this.#outstanding !== null) this.#outstanding.previous = null;
  }

  /** The real send time of the latest request (kernel TX timestamp or clock read before send). */
  sent(t1: NtpTimestamp): void {
    if (this.#outstanding !== null) this.#outstanding.t1 = t1;
  }

  /**
   * Handles one datagram from the server. `bytes[0..length)` is the datagram,
   * `t4` the local receive time. Never throws on any input bytes.
   */
  handleResponse(
    bytes: Uint8Array,
    length: number,
    t4: NtpTimestamp,
    localStratum: number = this.#localStratum,
  ): SourceEvent {
    const wireVersion = length >= 1 ? ((bytes[0] ?? 0) >>> 3) & 7 : 0;
    if (!this.#negotiation.accepts(wireVersion)) {
      return ignored("version", `version ${wireVersion}`);
    }
    let bloomChunks: V5Reply["bloomChunks"] | null = null;
    let packet: NtpPacket;
    if (wireVersion === 5) {
      const parsed = parseV5Reply(bytes, length, this.#lastPoll);
      if (!parsed.ok) return ignored("parse-error", parsed.error.message);
      packet = parsed.value.packet;
      bloomChunks = parsed.value.bloomChunks;
    } else {
      const parsed = parsePacket(bytes, length);
      if (!parsed.ok) return ignored("parse-error", parsed.error.code);
      packet = parsed.value;
    }
    const h = packet.header;

    if (h.mode !== NtpMode.Server) return ignored("mode", `mode ${h.mode}`);

    // Origin ("bogus") and one-reply-per-request ("duplicate") checks: first,
    // so nothing unsolicited, kisses included, has any effect.
    const out = this.#outstanding;
    const interleaved = out !== null && out.token !== null && h.originTimestamp.equals(out.token);
    if (out === null || (!interleaved && !h.originTimestamp.equals(out.origin))) {
      const retired = this.#retired;
      if (
        retired !== null &&
        (h.originTimestamp.equals(retired.origin) ||
          (retired.token !== null && h.originTimestamp.equals(retired.token)))
      ) {
        return ignored(retired.answered ? "duplicate" : "late");
      }
      return ignored("bogus");
    }
    const elapsed = t4.diffSeconds(out.t1);
    if (elapsed > POLL_WINDOW_SECONDS || elapsed < -POLL_WINDOW_SECONDS) {
      this.#retireOutstanding(false);
      return ignored("late", `${elapsed.toFixed(3)} s after the request`);
    }

    const verdict = this.#protector.checkResponse(packet, bytes, length);
    if (!verdict.ok) return ignored("unauthenticated", verdict.reason);
    this.#negotiation.validReply(wireVersion === 4 && echoesUpgrade(h));

    if (h.stratum === 0) {
      const code = kissCode(h) ?? (h.referenceId >>> 0).toString(16).padStart(8, "0");
      return this.#handleKiss(out, code, verdict.authenticated);
    }
    if (h.stratum > MAX_STRATUM) return ignored("excessive-stratum", `stratum ${h.stratum}`);
    if (h.receiveTimestamp.isZero() || h.transmitTimestamp.isZero()) {
      return ignored("zero-timestamp");
    }

    // Accepted: the server answered this request.
    this.#retireOutstanding(true);
    this.#reach.receivedPacket();
    this.#deniedCode = null;
    this.#stratum = h.stratum;
    this.#referenceId = h.referenceId;
    this.#rootDelay = h.rootDelay;
    this.#rootDispersion = h.rootDispersion;
    if (bloomChunks !== null) this.#takeV5Reply(h, bloomChunks, packet, out.bloomOffset);

    // The exchange measured: this one (basic), or the one the request named
    // (interleaved), with the T3 this reply brings.
    const previous = out.previous;
    const exchange = interleaved
      ? previous !== null && !previous.measured && isPlausibleT3(previous.t2, h.transmitTimestamp)
        ? previous
        : null
      : { t1: out.t1, t2: h.receiveTimestamp, t4 };
    if (this.#interleaved) {
      this.#previous = {
        t1: out.t1,
        t2: h.receiveTimestamp,
        t4,
        measured: exchange !== null && !interleaved,
        tries: 0,
      };
    }
    if (exchange === null) {
      const reason =
        previous === null ? "clock-stepped" : previous.measured ? "measured" : "implausible";
      return { kind: "no-sample", reason };
    }

    const { offset, delay } = offsetAndDelay(
      exchange.t1,
      exchange.t2,
      h.transmitTimestamp,
      exchange.t4,
    );
    const measurement: Measurement = {
      offset,
      delay: Math.max(delay, MIN_DELAY_SECONDS),
      t1: exchange.t1,
      t2: exchange.t2,
      t3: h.transmitTimestamp,
      t4: exchange.t4,
      version: h.version,
      leap: h.leap,
      stratum: h.stratum,
      referenceId: h.referenceId,
      rootDelay: h.rootDelay,
      rootDispersion: h.rootDispersion,
      poll: h.poll,
      precision: h.precision,
    };
    if (interleaved) measurement.interleaved = true;
    this.#lastMeasurement = measurement;

    // A loop first: it says more than the stratum it also causes.
    const unusable: UnusableReason | null = this.#isLoop()
      ? "loop"
      : h.leap === 3
        ? "unsynchronized"
        : h.stratum >= localStratum
          ? "stratum"
          : null;
    if (unusable !== null) {
      this.#unusableStreak++;
      const first = this.#unusableStreak === 1 || unusable !== this.#unusableReason;
      this.#unusableReason = unusable;
      return { kind: "unusable", reason: unusable, measurement, first };
    }
    const usableAgain = this.#unusableStreak > 0;
    this.#unusableStreak = 0;
    this.#unusableReason = null;
    return { kind: "measurement", measurement, usableAgain };
  }

  snapshot(): SourceSnapshot {
    return {
      reach: this.#reach.bits,
      reachable: this.#reach.isReachable(),
      unansweredPolls: this.#unansweredPolls(),
      polls: this.#polls,
      pollInterval: this.#polls === 0 ? this.effectivePollInterval() : this.#lastPoll,
      desiredPollInterval: this.#desiredPoll,
      remoteMinPollInterval: this.#remoteMinPoll,
      stratum: this.#stratum,
      referenceId: this.#referenceId,
      rootDelay: this.#rootDelay,
      rootDispersion: this.#rootDispersion,
      lastMeasurement: this.#lastMeasurement,
      lastKissCode: this.#lastKissCode,
      denied: this.#deniedCode !== null,
      demobilized: this.#demobilizedCode !== null,
      protocolState: this.#negotiation.state,
    };
  }

  /**
   * A v5 time reply: a poll above the one we use is the server asking us to
   * slow down (ntpd-rs), up to our maximum; the Bloom chunk answering our
   * request is kept (under NTS only one before the authenticator counts).
   */
  #takeV5Reply(
    h: NtpHeader,
    chunks: V5Reply["bloomChunks"],
    packet: NtpPacket,
    bloomOffset: number,
  ): void {
    if (h.poll > this.#remoteMinPoll) {
      this.#remoteMinPoll = Math.min(h.poll, this.pollLimits.max);
    }
    if (bloomOffset < 0) return;
    let authenticatorOffset = Infinity;
    if (this.#protector !== PLAIN_NTP) {
      const auth = packet.extensionFields.find((f) => f.type === NTS_AUTHENTICATOR);
      authenticatorOffset = auth === undefined ? -1 : auth.offset;
    }
    for (const chunk of chunks) {
      if (chunk.fieldOffset < authenticatorOffset && this.#bloom.accept(bloomOffset, chunk.bytes)) {
        return;
      }
    }
  }

  /** The source's whole NTPv5 reference-ID Bloom filter, once fetched (PolledSource); null before and for v4. */
  referenceIdFilter(): Uint8Array | null {
    return this.#bloom.full();
  }

  /** A complete v5 Bloom filter of the source holds our own server ID. */
  #isLoop(): boolean {
    const filter = this.#bloom.full();
    return this.#serverId !== null && filter !== null && filterHasServerId(filter, this.#serverId);
  }

  #handleKiss(out: Outstanding, code: string, authenticated: boolean): SourceEvent {
    // A kiss does not answer the request (ntpd-rs): the real reply may still
    // come, and a forged kiss cannot suppress it. But only the first kiss per
    // request counts, so a repeated RATE cannot raise the poll twice.
    if (out.kissSeen) return ignored("duplicate-kiss", code);
    out.kissSeen = true;
    this.#lastKissCode = code;

    let action: KissAction = "none";
    switch (code) {
      case "RATE":
        this.#remoteMinPoll = Math.max(
          incrementPoll(this.#remoteMinPoll, this.pollLimits),
          this.#lastPoll,
        );
        action = "reduce-rate";
        break;
      case "DENY":
      case "RSTR":
        if (authenticated) {
          this.#demobilizedCode = code;
          action = "demobilize";
        } else {
          this.#deniedCode = code;
          action = "deny-remembered";
        }
        break;
      default:
        // NTSN: forgeable, wait for the next poll (ntpd-rs). Others: informational.
        break;
    }
    return { kind: "kiss", code, action, minPoll: this.#remoteMinPoll };
  }

  #retireOutstanding(answered: boolean): void {
    if (this.#outstanding === null) return;
    this.#retired = {
      origin: this.#outstanding.origin,
      token: this.#outstanding.token,
      answered,
    };
    this.#outstanding = null;
  }

  #unansweredPolls(): number {
    return Math.min(this.#reach.unansweredPolls(), this.#polls);
  }

  /** A uniformly random non-zero 64-bit timestamp (data minimisation, RFC 8915 §9). */
  #randomTimestamp(): NtpTimestamp {
    const b = this.#random(8);
    const seconds = readU32(b, 0);
    const fraction = readU32(b, 4);
    // Zero means "no timestamp" to some servers; 2^-64 odds, but stay valid.
    return seconds === 0 && fraction === 0
      ? new NtpTimestamp(0, 1)
      : new NtpTimestamp(seconds, fraction);
  }
}

function ignored(reason: IgnoreReason, detail?: string): SourceEvent {
  return detail === undefined ? { kind: "ignored", reason } : { kind: "ignored", reason, detail };
}

/**
 * An interleaved T3 must follow the T2 of the same exchange, by at most
 * MAX_SERVER_INTERVAL_SECONDS (what a server holds a reply; chrony's test).
 */
function isPlausibleT3(t2: NtpTimestamp, t3: NtpTimestamp): boolean {
  const held = t3.diffSeconds(t2);
  return held >= 0 && held <= MAX_SERVER_INTERVAL_SECONDS;
}

function validateLocalStratum(stratum: number): void {
  if (!Number.isInteger(stratum) || stratum < 1 || stratum > MAX_STRATUM) {
    throw new RangeError(`local stratum must be an integer in 1..16 (got ${stratum})`);
  }
}
