// Types of the native addon's exports (build/Release/ntpd_native.node, sources in
// native/). Keep in step with native/addon.cc; bump ABI_VERSION on both sides when
// anything here changes shape.

/** The addon's `abiVersion` this code was written against. */
export const ABI_VERSION = 13;

/** `clock_adjtime(CLOCK_REALTIME, {modes: 0})`: the kernel's `struct timex`, unscaled. */
export interface NativeTimex {
  /** Return value: TIME_OK 0, TIME_INS 1, TIME_DEL 2, TIME_OOP 3, TIME_WAIT 4, TIME_ERROR 5. */
  state: number;
  /** Remaining offset to slew: µs, or ns when `status` has STA_NANO (0x2000). */
  offset: number;
  /** Frequency offset in units of 2^-16 ppm (ppm = freq / 65536). */
  freq: number;
  /** Maximum error, µs. */
  maxerror: number;
  /** Estimated error, µs. */
  esterror: number;
  /** STA_* flags (STA_UNSYNC 0x40, STA_NANO 0x2000, STA_INS 0x10, STA_DEL 0x20, ...). */
  status: number;
  /** PLL time constant. */
  constant: number;
  /** Clock precision, µs. */
  precision: number;
  /** Maximum frequency error, 2^-16 ppm. */
  tolerance: number;
  /** Microseconds between clock ticks. */
  tick: number;
  /** TAI - UTC offset, s. */
  tai: number;
}

/**
 * One explicit change of the system clock, for `adjtimeWrite`: each present field adds
 * its mode to ONE `struct timex`, passed to ONE `clock_adjtime(CLOCK_REALTIME)`.
 * Writing needs CAP_SYS_TIME.
 */
export interface NativeAdjtimeRequest {
  /** ADJ_FREQUENCY: freq = round(ppm * 65536), clamped to ±(32768000 − 1) (500 ppm). */
  frequencyPpm?: number;
  /**
   * ADJ_SETOFFSET | ADJ_NANO: add this many seconds to CLOCK_REALTIME (positive = forward).
   * Sent as time.tv_sec = floor(s), time.tv_usec = the rest in ns, in [0, 1e9).
   * |s| < 2^31.
   */
  stepSeconds?: number;
  /**
   * ADJ_STATUS: status = (current & ~clear) | set; the addon reads `current` (modes = 0)
   * just before the write. Masks are integers in [0, 0xffff] and must not overlap.
   */
  status?: { set: number; clear: number };
  /** ADJ_ESTERROR, µs: rounded, clamped to [0, 16_000_000]; must not be negative. */
  esterrorUs?: number;
  /** ADJ_MAXERROR, µs: rounded, clamped to [0, 16_000_000]; must not be negative. */
  maxerrorUs?: number;
  /** true: call nothing (not even a read); return the timex that would be passed. */
  dryRun?: boolean;
  /**
   * The clock to change: CLOCK_REALTIME (default) or a clock device's id
   * (clock-device.ts); anything else is refused (ERR_INVALID_ARG_VALUE).
   */
  clockId?: number;
  /** dryRun only (rejected otherwise): the `current` status for `status` (default 0). */
  baseStatus?: number;
}

/** What `adjtimeWrite({..., dryRun: true})` returns: the `struct timex` it would pass. */
export interface NativeTimexRequest {
  /**
   * ADJ_* bits: ADJ_FREQUENCY 0x2, ADJ_MAXERROR 0x4, ADJ_ESTERROR 0x8, ADJ_STATUS 0x10,
   * ADJ_SETOFFSET 0x100, ADJ_NANO 0x2000.
   */
  modes: number;
  /** 2^-16 ppm. */
  freq: number;
  /** time.tv_sec of the step. */
  timeSec: number;
  /** time.tv_usec of the step: nanoseconds (ADJ_NANO), in [0, 1e9). */
  timeUsec: number;
  status: number;
  /** µs. */
  esterror: number;
  /** µs. */
  maxerror: number;
}

/**
 * The arguments of a message handler, one call per received datagram: bytes
 * [0, length) of `data` are the datagram (how long they stay valid: NativeUdpSocket);
 * rxSec/rxNsec the kernel receive time, CLOCK_REALTIME.
 */
export type DatagramArgs = [
  data: Buffer,
  length: number,
  address: string,
  port: number,
  rxSec: number,
  rxNsec: number,
];

export type NativeMessageHandler = (...datagram: DatagramArgs) => void;

/** A NativeMessageHandler that returns the length of its reply (0 or undefined: none). */
export type NativeRequestHandler = (...datagram: DatagramArgs) => number | undefined;

/** A Node-style system error: code "ECONNREFUSED", errno -111, syscall "recvmmsg". */
export type NativeErrnoError = Error & {
  code: string;
  errno?: number;
  syscall?: string;
  address?: string;
  port?: number;
};

export interface NativeUdpSocketOptions {
  /** recvmmsg batch size, 1..1024 (default 32). */
  batchSize?: number;
  /** Receive slot size in bytes, 48..65535 (default 2048); longer datagrams are dropped. */
  maxDatagramSize?: number;
  /** Reply mode: send queue slots (of maxDatagramSize bytes), 1..1024 (default 8). */
  sendBatchSize?: number;
  /**
   * Clients only: SO_TIMESTAMPING software TX timestamps, read from the error queue and
   * given to the setOnTxTimestamp handler (default false; never on a server socket).
   */
  txTimestamps?: boolean;
  /**
   * Servers (reply mode): replies whose finish asks for it (FinishStep.TxStamp) are sent
   * with a per-message request for their software TX timestamp, which the handler gets
   * with the reply's receive timestamp (interleaved mode). Default false; not with
   * txTimestamps.
   */
  replyTxTimestamps?: boolean;
  /** No SO_TIMESTAMPNS: receive times are read in user space (`[clock]` "software"). */
  noRxTimestamps?: boolean;
  /**
   * The NIC's hardware stamps (SOF_TIMESTAMPING_RAW_HARDWARE, RX and TX) instead of the
   * kernel's software ones: times of the NIC's PHC, not CLOCK_REALTIME. The interface must
   * have hardware timestamping on (hardwareTimestampingEnable).
   */
  hardwareTimestamps?: boolean;
  /** SO_BINDTODEVICE: the socket sends and receives only through this interface. */
  bindDevice?: string;
  /**
   * The clock read for a datagram that came without a stamp: CLOCK_REALTIME (default) or
   * a clock device's id (hardware stamps against that device's time).
   */
  fallbackClockId?: number;
}

/**
 * A kernel software transmit timestamp (CLOCK_REALTIME) of the `id`-th datagram sent on
 * the socket (0-based, SOF_TIMESTAMPING_OPT_ID). On a replyTxTimestamps socket, `id` is
 * 0 and (t2Seconds, t2Fraction) are the NTP receive timestamp written in the reply
 * (octets 32..39) that was sent then.
 */
export type NativeTxTimestampHandler = (
  seconds: number,
  nanoseconds: number,
  id: number,
  t2Seconds?: number,
  t2Fraction?: number,
) => void;

/**
 * The addon's UDP socket (native/udp_socket.h). Buffer lifetimes, stated in full once in
 * native/udp_socket.h ("BUFFER LIFETIMES"):
 * - A message handler's `data` is one of the socket's own receive slots: bytes
 *   [0, length) are valid only during the call (a later batch overwrites them). Copy
 *   what you keep; never write to it, never detach (transfer) its ArrayBuffer.
 * - Reply mode's `reply` and `finish` stay JS-owned: when the handler returns n, the
 *   socket copies reply[0, n) into its own send queue and takes the finish description
 *   (wiping its key in `finish`), so both may be reused at once and the flush never
 *   reads them. A reply longer than maxDatagramSize is instead finished in place in
 *   `reply` and sent before the next handler call.
 * - send/sendTo read `data` only during the call.
 */
export interface NativeUdpSocket {
  /** Whether SO_TIMESTAMPNS could be enabled. */
  readonly kernelTimestamps: boolean;
  /** Whether the txTimestamps option was given and SO_TIMESTAMPING could be enabled. */
  readonly txTimestamps: boolean;
  /** Receive and TX stamps are the NIC's hardware stamps (option hardwareTimestamps). */
  readonly hardwareTimestamps?: boolean;
  /** Whether the replyTxTimestamps option was given and SO_TIMESTAMPING could be enabled. */
  readonly replyTxTimestamps: boolean;
  /** POLLERR wakeups so far (pending socket errors, error-queue entries). */
  readonly pollErrorWakeups: number;
  /** Datagrams longer than maxDatagramSize, dropped unread (MSG_TRUNC). */
  readonly truncatedDatagrams: number;
  /** sendmmsg calls so far (reply mode's queue; for tests). */
  readonly sendCalls: number;
  readonly fd: number;
  readonly closed: boolean;
  /** reusePort: SO_REUSEPORT before the bind (one socket per serving thread). */
  bind(address: string, port: number, options?: { reusePort?: boolean }): void;
  connect(address: string, port: number): void;
  /** Writes the CLOCK_REALTIME reading taken just before send(2) to t1Out[0] (s), [1] (ns). */
  send(data: Uint8Array, length?: number, t1Out?: Float64Array): void;
  sendTo(data: Uint8Array, length: number, address: string, port: number): void;
  localAddress(): { address: string; port: number; family: 4 | 6 };
  /**
   * With `reply` (reply mode), the handler's return value n > 0 queues reply[0, n) to
   * the datagram's source; the queue is flushed with sendmmsg when full and after each
   * receive batch, and failed replies go to the error handler (syscall "sendmmsg", or
   * "sendto" for a reply longer than maxDatagramSize; "seal" for one whose finish
   * failed). With `finish` (REPLY_FINISH_BYTES, reply-finish.ts), each reply is finished
   * as described there (T3, NTS seal) right before it is sent.
   */
  setOnMessage(
    handler: NativeMessageHandler | NativeRequestHandler | null,
    reply?: Uint8Array,
    finish?: Uint8Array,
  ): void;
  setOnError(handler: ((error: NativeErrnoError) => void) | null): void;
  /** Called from the poll callback (never inside send) for each TX timestamp. */
  setOnTxTimestamp(handler: NativeTxTimestampHandler | null): void;
  setReceiveBufferSize(bytes: number): void;
  getReceiveBufferSize(): number;
  close(): void;
}

/**
 * What sivSeal / sivOpen (and their Prepared forms) take after the key: associated data
 * ad[adOff, +adLen), nonce[nonceOff, +nonceLen), the input text[textOff, +textLen)
 * (plaintext to seal, V ‖ C to open) and where the output goes, out[outOff, ...).
 */
export type SivOperands = [
  ad: Uint8Array,
  adOff: number,
  adLen: number,
  nonce: Uint8Array,
  nonceOff: number,
  nonceLen: number,
  text: Uint8Array,
  textOff: number,
  textLen: number,
  out: Uint8Array,
  outOff: number,
];

export interface NativeNtsKeListenerOptions {
  /** Further connections are closed at once (reported "refused"). */
  maxConnections: number;
  /** One deadline for handshake and exchange (reported "timeouts"). */
  timeoutMs: number;
  /** The request's octet limit (the decoder's): native reads at most this + 4. */
  maxRequest: number;
  /** Pass the client's address to the callbacks (for logs). */
  peers: boolean;
}

/** What the NTS-KE fast path accepts and adds to a response (native/nts_ke_response.h). */
export interface NativeNtsKeFastConfig {
  /** Next Protocol ids accepted. */
  protocols: number[];
  /** AEADs a cookie can carry, with their session key lengths (same order). */
  aeads: number[];
  keyLengths: number[];
  /** The Server and Port records of every response (may be empty). */
  tail: Uint8Array;
  /** New Cookie records per response (1 to 8). */
  cookies: number;
  /** The request's octet limit. */
  maxMessage: number;
}

/** How a connection ended without an answer (an answer is counted by onRequest). */
export type NativeNtsKeOutcome = "refused" | "timeouts" | "failed" | "noAlpn";

export interface NativeNtsKeListener {
  /** The chain and key (PEM) for new connections; throws Error with GnuTLS's reason. */
  setCredentials(chainPem: Uint8Array, keyPem: Uint8Array): void;
  /** C2S ‖ S2C from the TLS exporter (RFC 8915 §5.1); only inside onRequest. Zero it after use. */
  exportKeys(length: number, c2sContext: Uint8Array, s2cContext: Uint8Array): Buffer;
  /** Stops accepting (and closes the listening fd); connections under way finish. */
  close(): void;
  /**
   * Lets the listener answer plain key exchange requests itself (null: never), with the
   * master key of setCookieKey; src/daemon/nts-ke-fast.ts.
   */
  setFastPath(config: NativeNtsKeFastConfig | null): void;
  /** The primary master key for the fast path's cookies: its id and sivPrepareKey handle. */
  setCookieKey(keyId: number, key: object | null): void;
  /** Key exchanges the fast path answered (JS was not called for them). */
  readonly fastKeyExchanges: number;
  readonly accepted: number;
  readonly open: number;
  readonly port: number;
}

export interface NativeAddon {
  readonly abiVersion: number;
  readonly CLOCK_REALTIME: number;
  readonly CLOCK_MONOTONIC: number;
  readonly CLOCK_TAI: number;
  /**
   * Reads the clock into `clockBuffer`: [0] = seconds, [1] = nanoseconds. Allocates
   * nothing; the next call overwrites the values, so read them at once.
   */
  clockGettime(clockId: number): void;
  /** The Float64Array(2) clockGettime writes to (one per thread/environment). */
  readonly clockBuffer: Float64Array;
  /**
   * Read-only: `modes` is hard-wired to 0 in the addon. Of CLOCK_REALTIME, or of the
   * clock device whose id (clock-device.ts) is given.
   */
  adjtimeRead(clockId?: number): NativeTimex;
  /**
   * Dry run: the timex that would be passed; nothing is called. Never throws EPERM.
   */
  adjtimeWrite(request: NativeAdjtimeRequest & { dryRun: true }): NativeTimexRequest;
  /**
   * Changes the system clock (see NativeAdjtimeRequest) and returns the kernel's timex
   * after the call. Throws an errno error: EPERM (message names CAP_SYS_TIME), EINVAL...
   */
  adjtimeWrite(request: NativeAdjtimeRequest & { dryRun?: false }): NativeTimex;
  /** false when there is no socket (argument and $NOTIFY_SOCKET unset/empty). */
  sdNotify(message: string, socketPath?: string): boolean;
  UdpSocket: new (family: 4 | 6, options?: NativeUdpSocketOptions) => NativeUdpSocket;
  /**
   * AES-SIV-CMAC (RFC 5297, NTS's AEAD 15/17; 48-octet keys too) with S2V components
   * [ad, nonce] over the plaintext `text`: out[outOff, +16) = V, out[outOff + 16,
   * + textLen) = C. In place allowed (out === text, textOff === outOff + 16), no other
   * overlap. Allocates nothing. `key`: the key bytes (set up on every call) or a handle
   * from sivPrepareKey. Throws RangeError for a key that is not 32/48/64 octets or a
   * range outside its array, TypeError for a wiped handle; false only if OpenSSL fails.
   */
  sivSeal(key: Uint8Array | object, ...operands: SivOperands): boolean;
  /**
   * The inverse of sivSeal: text[textOff, + textLen) is V ‖ C; the plaintext (textLen −
   * 16 octets) goes to out[outOff, ...) (in place: out === text, outOff === textOff + 16).
   * false when it does not authenticate (output range zeroed) or textLen < 16.
   */
  sivOpen(key: Uint8Array | object, ...operands: SivOperands): boolean;
  /** RFC 5297 SIV-ENCRYPT with 0..126 associated-data components: V ‖ C (allocates). */
  sivSealComponents(key: Uint8Array, components: readonly Uint8Array[], pt: Uint8Array): Uint8Array;
  /** RFC 5297 SIV-DECRYPT: the plaintext, or null when it does not authenticate. */
  sivOpenComponents(
    key: Uint8Array,
    components: readonly Uint8Array[],
    ct: Uint8Array,
  ): Uint8Array | null;
  /**
   * A listening TCP socket (SO_REUSEADDR + SO_REUSEPORT, non-blocking, close-on-exec) on
   * host:port; returns its fd for net.Server.listen({ fd }). Throws an errno error.
   */
  tcpListen(
    family: 4 | 6,
    host: string,
    port: number,
    backlog: number,
    reusePort?: boolean,
  ): number;
  /** NTS-KE's TLS on GnuTLS (native/nts_ke_listener.h); absent from a build without GnuTLS. */
  NtsKeListener?: new (
    fd: number,
    options: NativeNtsKeListenerOptions,
    onRequest: (
      request: Buffer,
      ended: boolean,
      peer: string | undefined,
    ) => Uint8Array | undefined,
    onOutcome: (outcome: NativeNtsKeOutcome, detail: string, peer: string | undefined) => void,
  ) => NativeNtsKeListener;
  /**
   * The NTS-KE listener's fast path on given inputs (tests and the fuzzer only): the
   * response to `request`, or null where the listener would call JavaScript. Keys are
   * a fixed function of the exporter context (nts-ke-fast.ts testExportedKey), nonces
   * are taken from `nonces` in order (null when too few).
   */
  ntsKeFastResponse(
    request: Uint8Array,
    config: NativeNtsKeFastConfig,
    keyId: number,
    key: object,
    nonces: Uint8Array,
  ): Uint8Array | null;
  /**
   * A long-lived key (32, 48 or 64 octets, copied) set up once, for sivSeal / sivOpen
   * and the nts* functions: on AES-NI its schedules are expanded here. The handle's memory is
   * wiped by sivWipeKey or when the handle is collected. Throws RangeError for a bad length.
   */
  sivPrepareKey(key: Uint8Array): object;
  /** Overwrites a prepared key now; using the handle afterwards throws TypeError. */
  sivWipeKey(handle: object): void;
  /**
   * An NTS request's cookie and authenticator in one call (native/aes_siv_binding.cc):
   * opens the cookie with the prepared master key into io's cookie plaintext, then the
   * authenticator with the cookie's C2S key into io's plaintext, the ranges given in
   * io's parameter words (src/daemon/native/nts-crypto.ts). The plaintext length, -1
   * (cookie rejected) or -2 (authenticator rejected). Throws for ranges outside arrays.
   */
  ntsOpenRequest(master: object, request: Uint8Array, io: Uint8Array): number;
  /**
   * Seals io's cookie plaintext into a cookie body in `out` with the prepared primary
   * key, its nonce already in place (nts-crypto.ts). True; throws for bad ranges.
   */
  ntsSealCookie(primary: object, out: Uint8Array, io: Uint8Array): boolean;
  /**
   * The code AES-SIV with 32- and 64-octet keys runs on: "aesni" (the CPU's AES
   * instructions, the default where available) or "openssl" (Node's OpenSSL EVP; always
   * for 48-octet keys). With an argument, switches to it first when this CPU has it
   * (process-wide). For tests and benchmarks.
   */
  sivImplementation(name?: "aesni" | "openssl"): "aesni" | "openssl";
}
