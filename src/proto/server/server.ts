// One request in, one decision out: the NTP server core, as ntpd-rs
// `ntp-proto/src/server.rs` (reference §6.1, §6.2; NTP.md §7).
//
// Pipeline, in ntpd-rs order (cheapest rejections first):
//   1. client address → denylist (action), else not allowlisted (action), else
//      rate limiter. "ignore" drops here, before a byte of the packet is read.
//   2. mode must be 3 (client): everything else, control (6) and private (7)
//      included, is dropped without reading further.
//   3. length and RFC 7822 framing (the rules of parsePacket) → else malformed.
//   4. version must be in `acceptNtpVersions`.
//   5. NTS (with a key set, NTPv4, an authenticator in the request; nts.ts):
//      a valid request gets an NTS reply (UID echoed in the authenticated
//      part, fresh cookies in the encrypted part, S2C), or an NTS-signed DENY
//      when the policy says deny; a bad cookie or authenticator an NTS NAK
//      (stratum 0, NTSN, UIDs echoed unauthenticated), or a plain DENY when
//      the policy says deny anyway. A cookie without an authenticator is
//      plain NTP (ntpd-rs).
//   6. require-nts, for non-NTS requests only: drop or DENY.
//   7. reply: time (fields of §6.2) or DENY kiss; Unique Identifier fields are
//      echoed (untrusted, plain NTP), nothing else is; never larger than the
//      request.
//   7b. interleaved mode (interleave.ts), for time replies when the daemon
//      gives the core its replies' TX timestamps: a request that names a
//      reply of ours gets that reply's wire T3 (else a basic reply), and its
//      own reply is stamped for the next one.
//   8. T3 last: handle() lays the whole reply out but for T3 (and, for NTS,
//      the S2C seal over it) and says in `decision.finish` what is left; the
//      caller reads its clock and applies it (finishReply, finish.ts) or has
//      the socket do that right before the send. The core reads no clock.
//
// Hot path: no parse objects, closures, promises or logging. The request is
// read in place (byte 0, poll, transmit timestamp, the UID field offsets);
// the reply is written straight into `out`; the decision is one reused
// object. Plain requests allocate nothing here; NTS requests pay for their
// AEAD work (nts.ts).

import { randomInt } from "node:crypto";
import { MAX_LEGACY_MAC_LENGTH } from "../packet/extension-fields.js";
import { readU32, writeU32 } from "../packet/header.js";
import { kissCodes } from "../packet/kiss.js";
import { checkPacketLength, MAX_EXTENSION_FIELDS } from "../packet/parse.js";
import { NTP_HEADER_LENGTH, NtpMode } from "../packet/types.js";
import { UPGRADE_FRACTION, UPGRADE_SECONDS } from "../packet/v5.js";
import { addServerId, emptyBloomFilter, newServerId } from "../packet/v5-bloom.js";
import {
  encodeShortFormat,
  fractionFromNanos,
  NTP_UNIX_OFFSET_SECONDS,
  type NtpTimestamp,
} from "../time.js";
import { FinishStep, ReplyFinish } from "./finish.js";
import { INTERLEAVE_SLOTS, SERVER_RECEIVE_MARK, TransmitTimestampTable } from "./interleave.js";
import { parseIpInto } from "../ip-address.js";
import type { AeadProvider } from "../crypto/aead.js";
import { fillFrom, type RandomBytes, type RandomFill } from "../nts/keyset/keyset.js";
import { NtsFieldScanner } from "../nts/packet/scan.js";
import { IpFilter } from "./ip-filter.js";
import { NtsRequestHandler, pooledRandomFill, type KeySetProvider } from "./nts.js";
import { serverPolicy, SUPPORTED_NTP_VERSIONS, type ServerPolicy } from "./policy.js";
import { RateLimiter } from "./rate-limiter.js";
import { ServerStats, type DropReason } from "./stats.js";
import { asksForUpgrade, V5Responder, type V5Outcome } from "./v5.js";
import {
  leapIndicatorAt,
  rootDispersionAt,
  type SystemStateProvider,
} from "../system/system-state.js";

/**
 * What to do with one datagram. One object per core, reused by every handle()
 * call: read it (and finish the reply) before the next.
 */
export class ServerDecision {
  action: "reply" | "drop" = "drop";
  /** Drops: why. */
  reason: DropReason = "malformed";
  /** Replies: "time": a normal reply; "deny": a DENY kiss-o'-death; "nak": an NTS NAK (NTSN). */
  kind: "time" | "deny" | "nak" = "time";
  /** Replies: NTS-protected (time or DENY) or an NTS NAK. */
  nts = false;
  /** Replies: bytes laid out in `out` from offset 0; never more than the request length. */
  length = 0;
  /** Replies: what is left to do once T3 is known (finish.ts); kind 0 for drops. */
  readonly finish = new ReplyFinish();
}

export interface NtpServerCoreOptions {
  /** The parsed `[[server]]` table; keys left out take their declared defaults (serverPolicy). */
  policy?: Partial<ServerPolicy>;
  systemState: SystemStateProvider;
  /** Key of the rate limiter's hash; random by default. */
  rateLimitSeed?: number;
  /**
   * The NTS cookie master keys (read once per NTS request, so rotation is
   * seen at once). Without it the server speaks no NTS: requests with NTS
   * fields get plain replies (or the require-nts treatment).
   */
  keySet?: KeySetProvider;
  /** Randomness for new cookies and reply nonces; default: node:crypto, pooled. */
  random?: RandomBytes;
  /** Where the NTS ciphers come from; default: the TypeScript ones (the daemon injects native ones). */
  aead?: AeadProvider;
  /**
   * The NTPv5 reference-ID Bloom filter this server publishes (512 octets,
   * packet/v5-bloom.ts); default: one holding a random server ID of its own.
   */
  referenceIdFilter?: Uint8Array;
  /**
   * Interleaved mode: the daemon sends the replies whose finish has
   * FinishStep.TxStamp with a kernel TX timestamp request and passes each
   * timestamp to saveTransmitTimestamp. Default false: every reply is basic.
   */
  interleaved?: boolean;
  /**
   * `[[server]] leap-smear`: the caller hands handle() smeared receive times and
   * stamps smeared transmit times (src/proto/leap/smear.ts); the core only keeps
   * the leap indicator at 0, as a smearing server's clients never see a leap.
   */
  leapSmear?: boolean;
}

/** Low 7 bits of the seconds are cleared in the reference timestamp (ntpd-rs 1.5). */
const REFERENCE_SECONDS_MASK = 0xffffff80;

/**
 * A kiss-o'-death header (ntpd-rs deny_response / nts_nak_response): LI 0, VN
 * copied, mode 4, stratum 0, the code as reference id, origin = request
 * transmit, everything else zero.
 */
function writeKissHeader(
  out: Uint8Array,
  version: number,
  code: number,
  originSeconds: number,
  originFraction: number,
): void {
  out[0] = (version << 3) | NtpMode.Server;
  out.fill(0, 1, 12);
  writeU32(out, 12, code);
  out.fill(0, 16, 24);
  writeU32(out, 24, originSeconds);
  writeU32(out, 28, originFraction);
  out.fill(0, 32, 48);
}

/** A Bloom filter holding only a fresh random server ID (no upstream v5 filters known). */
function ownBloomFilter(randomFill: RandomFill): Uint8Array {
  const filter = emptyBloomFilter();
  addServerId(
    filter,
    newServerId((n) => {
      const b = new Uint8Array(n);
      randomFill(b, 0, n);
      return b;
    }),
  );
  return filter;
}

export class NtpServerCore {
  readonly stats = new ServerStats();
  readonly policy: ServerPolicy;

  private readonly systemState: SystemStateProvider;
  private readonly allowlist: IpFilter;
  private readonly denylist: IpFilter;
  private readonly allowlistDeny: boolean;
  private readonly denylistDeny: boolean;
  private readonly rateLimiter: RateLimiter;
  private readonly acceptVersion = new Uint8Array(8);
  private readonly requireNts: ServerPolicy["requireNts"];
  private readonly keySet: KeySetProvider | null;
  private readonly nts: NtsRequestHandler | null;
  private readonly leapSmear: boolean;
  /** NTPv5 replies; null when 5 is not in accept-ntp-versions. */
  private readonly v5: V5Responder | null;

  // Scratch reused by every handle() call.
  private readonly address = new Uint32Array(4);
  private readonly scan = new NtsFieldScanner(MAX_EXTENSION_FIELDS);
  private readonly decision = new ServerDecision();
  /** The TX timestamps of interleaved clients' replies; null: basic mode only. */
  private transmitTimes: TransmitTimestampTable | null = null;

  /** The policy is the configuration's, validated there: nothing is checked again here. */
  constructor(options: NtpServerCoreOptions) {
    this.policy = serverPolicy(options.policy);
    this.systemState = options.systemState;
    const p = this.policy;
    this.allowlist = new IpFilter(p.allowlist.filter);
    this.denylist = new IpFilter(p.denylist.filter);
    this.allowlistDeny = p.allowlist.action === "deny";
    this.denylistDeny = p.denylist.action === "deny";
    this.rateLimiter = new RateLimiter(
      p.rateLimitingCacheSize,
      p.rateLimitingCutoffMs,
      options.rateLimitSeed ?? randomInt(0, 2 ** 32 - 1),
    );
    for (const v of p.acceptNtpVersions) {
      if (SUPPORTED_NTP_VERSIONS.includes(v)) this.acceptVersion[v] = 1;
    }
    this.requireNts = p.requireNts;
    this.keySet = options.keySet ?? null;
    this.leapSmear = options.leapSmear === true;
    this.setInterleaved(options.interleaved === true);
    const randomFill = options.random === undefined ? pooledRandomFill() : fillFrom(options.random);
    this.nts =
      this.keySet === null ? null : new NtsRequestHandler(randomFill, this.stats, options.aead);
    this.v5 =
      this.acceptVersion[5] === 1
        ? new V5Responder(options.referenceIdFilter ?? ownBloomFilter(randomFill), randomFill)
        : null;
  }

  /**
   * Decides what to do with one datagram: `request[0..length)` from
   * `clientAddress` (as the socket reports it; IPv4-mapped IPv6 is treated as
   * IPv4), received at `rxTimestamp` (T2, as early as possible). A reply is
   * laid out in `out[0..decision.length)`, complete once `decision.finish` is
   * applied to it (finish.ts); `out` should be a reused buffer of
   * at least MAX_NTP_PACKET_LENGTH octets and may be `request` itself. Never
   * throws for any datagram; counts everything in `stats`.
   */
  handle(
    request: Uint8Array,
    length: number,
    clientAddress: string,
    rxTimestamp: NtpTimestamp,
    out: Uint8Array,
  ): ServerDecision {
    const stats = this.stats;
    stats.receivedPackets++;
    this.decision.finish.clear();

    // 1. Policy, before parsing.
    const address = this.address;
    const family = parseIpInto(clientAddress, address);
    if (family === 0) return this.drop("invalid-address");
    let deny = false;
    if (this.denylist.matchesParsed(family, address)) {
      if (!this.denylistDeny) return this.drop("denylist");
      deny = true;
    } else if (!this.allowlist.matchesParsed(family, address)) {
      if (!this.allowlistDeny) return this.drop("allowlist");
      deny = true;
    } else if (
      !this.rateLimiter.allow(family, address, rxTimestamp.seconds, rxTimestamp.fraction)
    ) {
      stats.rateLimitedPackets++;
      return this.drop("rate-limited");
    }

    // 2. Mode.
    if (!(length >= 1 && length <= request.length)) return this.drop("malformed");
    const byte0 = request[0] ?? 0;
    if ((byte0 & 7) !== NtpMode.Client) return this.drop("wrong-mode");

    // 3. Length and framing; note the Unique Identifier and NTS fields.
    if (checkPacketLength(length, request.length) !== null) return this.drop("malformed");
    const version = (byte0 >>> 3) & 7;
    const scan = this.scan;
    if (version === 5) return this.handleV5(request, length, rxTimestamp, out, deny);
    if (version === 3) {
      // NTPv3 has no extension fields: anything after the header is a MAC.
      if (length - NTP_HEADER_LENGTH > MAX_LEGACY_MAC_LENGTH) return this.drop("malformed");
      scan.clear();
    } else if (!scan.scan(request, NTP_HEADER_LENGTH, length)) {
      return this.drop("malformed");
    }

    // 4. Version.
    if (this.acceptVersion[version] !== 1) return this.drop("version-not-accepted");

    // 5. NTS.
    if (scan.authenticatorCount > 0 && this.nts !== null && version === 4) {
      return this.handleNts(request, length, rxTimestamp, out, deny);
    }

    // 6. NTS requirement, for requests that are not NTS.
    if (!deny && this.requireNts !== false) {
      if (this.requireNts === "ignore") return this.drop("nts-required");
      deny = true;
    }

    // 7. Reply.
    const replyLength = NTP_HEADER_LENGTH + scan.uidBytes;
    if (replyLength > length || replyLength > out.length) return this.drop("response-too-large");
    const poll = request[2] ?? 0;
    const originSeconds = readU32(request, 40);
    const originFraction = readU32(request, 44);
    this.echoUids(request, out, scan.uidCount);

    if (deny) {
      writeKissHeader(out, version, kissCodes.DENY, originSeconds, originFraction);
      stats.deniedPackets++;
      return this.reply("deny", false, replyLength);
    }
    this.writeTimeHeader(out, request, version, poll, originSeconds, originFraction, rxTimestamp);
    stats.acceptedPackets++;
    return this.reply("time", false, replyLength);
  }

  /**
   * Step 5: a v4 request with an authenticator, the server having a key set.
   * The request is read completely (cookie, AEAD check) before `out`, which
   * may be `request`, is written.
   */
  private handleNts(
    request: Uint8Array,
    length: number,
    rxTimestamp: NtpTimestamp,
    out: Uint8Array,
    deny: boolean,
  ): ServerDecision {
    const stats = this.stats;
    const scan = this.scan;
    const nts = this.nts!;
    const check = nts.check(request, scan, this.keySet!.current());
    if (check === "malformed") return this.drop("malformed");
    // The UID echo never outgrows the request; only a too small `out` can fail.
    if (NTP_HEADER_LENGTH + scan.uidBytes > out.length) {
      nts.release();
      return this.drop("response-too-large");
    }
    const poll = request[2] ?? 0;
    const originSeconds = readU32(request, 40);
    const originFraction = readU32(request, 44);

    if (check === "nak") {
      // Every UID outside the encrypted part is echoed, unauthenticated. A
      // client the policy denies gets a plain DENY instead (ntpd-rs: "don't
      // care about decryption errors when denying anyway").
      const end = this.echoUids(request, out, scan.uidCount);
      if (deny) {
        writeKissHeader(out, 4, kissCodes.DENY, originSeconds, originFraction);
        stats.deniedPackets++;
        return this.reply("deny", false, end);
      }
      writeKissHeader(out, 4, kissCodes.NTSN, originSeconds, originFraction);
      stats.ntsReceivedPackets++;
      stats.ntsNakPackets++;
      return this.reply("nak", true, end);
    }

    stats.ntsReceivedPackets++;
    const offset = this.echoUids(request, out, scan.authenticatedUidCount);
    if (deny) writeKissHeader(out, 4, kissCodes.DENY, originSeconds, originFraction);
    else this.writeTimeHeader(out, request, 4, poll, originSeconds, originFraction, rxTimestamp);
    const end = nts.layoutAuthenticator(out, offset, length, !deny, this.decision.finish);
    if (end < 0) return this.drop("response-too-large");
    if (deny) {
      stats.deniedPackets++;
      stats.ntsDeniedPackets++;
      return this.reply("deny", true, end);
    }
    stats.acceptedPackets++;
    stats.ntsAcceptedPackets++;
    return this.reply("time", true, end);
  }

  /** Steps 3-7 for a version-5 request (v5.ts). */
  private handleV5(
    request: Uint8Array,
    length: number,
    rxTimestamp: NtpTimestamp,
    out: Uint8Array,
    deny: boolean,
  ): ServerDecision {
    const v5 = this.v5;
    if (v5 === null) return this.drop("version-not-accepted");
    const scan = this.scan;
    if (!v5.read(request, length, scan)) return this.drop("malformed");
    const current = this.systemState.current();
    // The leap is announced until it happens (LI 0 after, as in v4 replies); v5
    // replies are never smeared, so they announce it even on a smearing server.
    const leap = leapIndicatorAt(current, rxTimestamp.seconds, false);
    const state = leap === current.leap ? current : { ...current, leap };
    const finish = this.decision.finish;
    let outcome: V5Outcome;
    if (scan.authenticatorCount > 0 && this.nts !== null) {
      outcome = v5.nts(
        out,
        length,
        scan,
        this.nts,
        this.keySet!.current(),
        state,
        rxTimestamp,
        finish,
        deny,
      );
    } else {
      if (!deny && this.requireNts !== false) {
        if (this.requireNts === "ignore") return this.drop("nts-required");
        deny = true;
      }
      outcome = v5.plain(out, length, scan, state, rxTimestamp, finish, deny);
    }
    const stats = this.stats;
    switch (outcome) {
      case "malformed":
        return this.drop("malformed");
      case "too-large":
        finish.clear();
        return this.drop("response-too-large");
      case "time":
        stats.acceptedPackets++;
        return this.reply("time", false, v5.length);
      case "deny":
        stats.deniedPackets++;
        return this.reply("deny", false, v5.length);
      case "nak":
        stats.ntsReceivedPackets++;
        stats.ntsNakPackets++;
        return this.reply("nak", true, v5.length);
      case "nts-time":
        stats.ntsReceivedPackets++;
        stats.acceptedPackets++;
        stats.ntsAcceptedPackets++;
        return this.reply("time", true, v5.length);
      default: // "nts-deny"
        stats.ntsReceivedPackets++;
        stats.deniedPackets++;
        stats.ntsDeniedPackets++;
        return this.reply("deny", true, v5.length);
    }
  }

  /**
   * Copies the first `count` scanned UID fields to `out` from offset 48;
   * returns the offset after them. They sit at ≥ 48 in the request and move
   * to lower or equal offsets, so this is safe when `out` is `request`.
   */
  private echoUids(request: Uint8Array, out: Uint8Array, count: number): number {
    const scan = this.scan;
    let off = NTP_HEADER_LENGTH;
    for (let i = 0; i < count; i++) {
      const from = scan.uidOffsets[i] ?? 0;
      const n = scan.uidLengths[i] ?? 0;
      if (out === request) out.copyWithin(off, from, from + n);
      else for (let j = 0; j < n; j++) out[off + j] = request[from + j]!; // no view per UID
      off += n;
    }
    return off;
  }

  /**
   * The header of a time reply (§6.2) but T3, which the finish stamps; in
   * interleaved mode with T3 (interleave.ts). `request` is read before `out`
   * (which may be the same buffer) is written.
   */
  private writeTimeHeader(
    out: Uint8Array,
    request: Uint8Array,
    version: number,
    poll: number,
    originSeconds: number,
    originFraction: number,
    rxTimestamp: NtpTimestamp,
  ): void {
    const finish = this.decision.finish;
    let interleaved = false;
    const table = this.transmitTimes;
    if (table !== null && version === 4) {
      // Interleaved form: the origin is one of our T2s (mark bit set) and the
      // receive field differs from the transmit field (chrony's test).
      const requestOriginSeconds = readU32(request, 24);
      const requestOriginFraction = readU32(request, 28);
      const echoSeconds = readU32(request, 32);
      const echoFraction = readU32(request, 36);
      if (
        (requestOriginFraction & SERVER_RECEIVE_MARK) !== 0 &&
        (echoSeconds !== originSeconds || echoFraction !== originFraction)
      ) {
        finish.kind |= FinishStep.TxStamp;
        if (table.take(requestOriginSeconds, requestOriginFraction)) {
          interleaved = true;
          originSeconds = echoSeconds;
          originFraction = echoFraction;
        }
      }
    }
    // "auto" clients ask for NTPv5 with "NTP5DRFT" as reference timestamp; a
    // server that accepts v5 echoes it (v5.ts). Read before `out` is written.
    const upgrade = this.v5 !== null && asksForUpgrade(request);
    const state = this.systemState.current();
    const leap = leapIndicatorAt(state, rxTimestamp.seconds, this.leapSmear);
    out[0] = (leap << 6) | (version << 3) | NtpMode.Server;
    out[1] = state.stratum & 0xff;
    out[2] = poll;
    out[3] = state.precisionLog2 & 0xff;
    writeU32(out, 4, encodeShortFormat(state.rootDelay));
    writeU32(out, 8, encodeShortFormat(rootDispersionAt(state, rxTimestamp)));
    writeU32(out, 12, state.referenceId >>> 0);
    if (upgrade) {
      writeU32(out, 16, UPGRADE_SECONDS);
      writeU32(out, 20, UPGRADE_FRACTION);
    } else {
      writeU32(out, 16, (rxTimestamp.seconds & REFERENCE_SECONDS_MASK) >>> 0);
      writeU32(out, 20, 0);
    }
    writeU32(out, 24, originSeconds);
    writeU32(out, 28, originFraction);
    writeU32(out, 32, rxTimestamp.seconds >>> 0);
    writeU32(out, 36, (rxTimestamp.fraction | SERVER_RECEIVE_MARK) >>> 0);
    if (interleaved) {
      // T3 of the reply the request named, as it left: complete now.
      writeU32(out, 40, table!.seconds);
      writeU32(out, 44, table!.fraction);
      this.stats.interleavedPackets++;
      return;
    }
    writeU32(out, 40, 0);
    writeU32(out, 44, 0);
    finish.kind |= FinishStep.Stamp;
  }

  /**
   * Turns interleaved mode on (the caller will pass the TX timestamps of the
   * replies that ask for them to saveTransmitTimestamp) or off (basic replies
   * only; the table is dropped). `shared`: the table's memory, shared with the
   * other serving threads of this server (TransmitTimestampTable.sharedBuffer).
   */
  setInterleaved(on: boolean, shared?: SharedArrayBuffer): void {
    if (!on) this.transmitTimes = null;
    else {
      this.transmitTimes ??=
        shared === undefined
          ? new TransmitTimestampTable()
          : new TransmitTimestampTable(INTERLEAVE_SLOTS, shared);
    }
  }

  /** Whether interleaved requests get interleaved replies. */
  get interleaved(): boolean {
    return this.transmitTimes !== null;
  }

  /**
   * The kernel's TX timestamp (Unix seconds, nanoseconds) of the reply whose
   * receive timestamp was (t2Seconds, t2Fraction): kept for the client's next
   * request (interleaved mode). Ignored without `interleaved`.
   */
  saveTransmitTimestamp(
    t2Seconds: number,
    t2Fraction: number,
    unixSeconds: number,
    nanoseconds: number,
  ): void {
    const table = this.transmitTimes;
    if (table === null || (t2Fraction & SERVER_RECEIVE_MARK) === 0) return;
    const seconds = (unixSeconds + NTP_UNIX_OFFSET_SECONDS) >>> 0;
    const fraction = (fractionFromNanos(nanoseconds) & ~SERVER_RECEIVE_MARK) >>> 0;
    table.save(t2Seconds, t2Fraction, seconds, fraction);
  }

  /** The daemon calls this when sending a reply failed. */
  countSendError(): void {
    this.stats.responseSendErrors++;
  }

  /**
   * Counts `count` datagrams the socket dropped unread because they were longer
   * than it reads (the daemon's 1024 octets; longer than any request this core
   * answers): received, and ignored as malformed.
   */
  countTruncated(count: number): void {
    this.stats.receivedPackets += count;
    this.stats.ignoredPackets += count;
    this.stats.ignoredByReason.malformed += count;
  }

  private drop(reason: DropReason): ServerDecision {
    this.stats.ignoredPackets++;
    this.stats.ignoredByReason[reason]++;
    const d = this.decision;
    d.action = "drop";
    d.reason = reason;
    d.finish.clear();
    return d;
  }

  private reply(kind: "time" | "deny" | "nak", nts: boolean, length: number): ServerDecision {
    const d = this.decision;
    d.action = "reply";
    d.kind = kind;
    d.nts = nts;
    d.length = length;
    return d;
  }
}
