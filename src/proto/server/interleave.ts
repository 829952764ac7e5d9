// Interleaved mode, the server's side (NTPv4 basic interleaved mode,
// draft-ietf-ntp-interleaved-modes; chrony's `xleave`).
//
// In basic mode a reply's T3 is read before the send, so it misses the time
// the reply spends in the socket queue, the kernel and the driver. In
// interleaved mode the server gives the client, in its next reply, the time
// the previous reply really left (the kernel's software TX timestamp).
//
// A client asks by sending, in its request, the previous reply's receive
// timestamp (T2) as origin and anything different from its transmit field as
// receive. The server then answers with origin = the request's receive field
// (which tells the client the reply is interleaved), receive = this request's
// T2 as usual, and transmit = the TX timestamp of the reply whose T2 the
// origin names. It needs those TX timestamps: this table keeps them, keyed by
// the T2 of the reply they belong to.
//
// As chrony does, the server marks the timestamps it writes: its T2 has the
// lowest fraction bit set, its T3 cleared (an error of 2^-32 s). A request
// whose origin has the bit clear echoes no T2 of ours (a zero origin, or a
// client that echoes our T3 as ntpd's does): it is not interleaved, the reply
// is not stamped, the table is not searched. So a client that never uses the
// mode costs nothing, and one that does gets its third reply interleaved at
// the earliest (the second request names a reply that was not stamped).
//
// The table is fixed (INTERLEAVE_SLOTS entries, direct-mapped on a hash of the
// T2, 16 octets each, allocated once): a new entry overwrites whatever shared
// its slot, and an entry is taken (invalidated) when a request uses it, so a
// reply's T3 is given once. With more interleaved clients than slots per poll
// interval, some requests miss and get a basic reply: the mode degrades to
// basic, never to a wrong T3 (a T3 is only given for the exact T2 it belongs
// to).

/** Entries of the table: 2^14, 256 KiB. */
export const INTERLEAVE_SLOTS = 1 << 14;

/** The lowest fraction bit: set in our T2s, clear in our T3s. */
export const SERVER_RECEIVE_MARK = 1;

/** The TX timestamps of recent replies, keyed by their T2. Allocates nothing after construction. */
export class TransmitTimestampTable {
  /** Per slot: T2 seconds, T2 fraction (0, 0: empty), T3 seconds, T3 fraction. */
  readonly #words: Uint32Array;
  readonly #shift: number;
  /** T3 of the last successful take(). */
  seconds = 0;
  fraction = 0;

  constructor(slots: number = INTERLEAVE_SLOTS) {
    if (!Number.isInteger(Math.log2(slots)) || slots < 2 || slots > 1 << 24) {
      throw new RangeError(`interleave table slots must be a power of two (got ${slots})`);
    }
    this.#words = new Uint32Array(slots * 4);
    this.#shift = 32 - Math.log2(slots);
  }

  get slots(): number {
    return this.#words.length / 4;
  }

  /** Remembers that the reply with receive timestamp (t2s, t2f) left at (t3s, t3f). */
  save(t2s: number, t2f: number, t3s: number, t3f: number): void {
    if (t2s === 0 && t2f === 0) return;
    const i = this.#slot(t2s, t2f);
    const w = this.#words;
    w[i] = t2s;
    w[i + 1] = t2f;
    w[i + 2] = t3s;
    w[i + 3] = t3f;
  }

  /**
   * The TX timestamp saved for the reply with receive timestamp (t2s, t2f), into
   * `seconds` and `fraction`, and forgets it; false when there is none.
   */
  take(t2s: number, t2f: number): boolean {
    if (t2s === 0 && t2f === 0) return false;
    const i = this.#slot(t2s, t2f);
    const w = this.#words;
    if (w[i] !== t2s >>> 0 || w[i + 1] !== t2f >>> 0) return false;
    this.seconds = w[i + 2]!;
    this.fraction = w[i + 3]!;
    w[i] = 0;
    w[i + 1] = 0;
    return true;
  }

  #slot(t2s: number, t2f: number): number {
    // The fraction's low bits are the kernel's nanoseconds: well spread. The mark
    // bit is shifted out before the multiply.
    return (Math.imul((t2f >>> 1) ^ Math.imul(t2s, 0x85ebca6b), 0x9e3779b1) >>> this.#shift) << 2;
  }
}
