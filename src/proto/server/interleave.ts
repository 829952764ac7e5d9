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
// T2, 20 octets each, allocated once): a new entry overwrites whatever shared
// its slot, and an entry is taken (invalidated) when a request uses it, so a
// reply's T3 is given once. With more interleaved clients than slots per poll
// interval, some requests miss and get a basic reply: the mode degrades to
// basic, never to a wrong T3 (a T3 is only given for the exact T2 it belongs
// to).
//
// With several serving threads (SO_REUSEPORT), a client's next request may
// reach another thread than the one that sent the reply it names (clients
// send each request from a new port, and the kernel spreads by port), so the
// threads of one [[server]] share one table in a SharedArrayBuffer. Each slot
// has a sequence word, odd while a thread writes it: a writer that finds it
// odd, or loses the compare-and-swap, drops its entry (that reply will get a
// basic successor); a reader takes the entry only if it can move the sequence
// from the value it saw before reading, so it never combines one entry's T2
// with another's T3.

/** Entries of the table: 2^14, 320 KiB. */
export const INTERLEAVE_SLOTS = 1 << 14;

/** The lowest fraction bit: set in our T2s, clear in our T3s. */
export const SERVER_RECEIVE_MARK = 1;

/** Words per slot: sequence, T2 seconds, T2 fraction (0, 0: empty), T3 seconds, T3 fraction. */
const SLOT_WORDS = 5;

/** The TX timestamps of recent replies, keyed by their T2. Allocates nothing after construction. */
export class TransmitTimestampTable {
  readonly #words: Uint32Array;
  readonly #shift: number;
  /** T3 of the last successful take(). */
  seconds = 0;
  fraction = 0;

  /** The memory of a table of `slots` entries that several threads can share. */
  static sharedBuffer(slots: number = INTERLEAVE_SLOTS): SharedArrayBuffer {
    checkSlots(slots);
    return new SharedArrayBuffer(slots * SLOT_WORDS * 4);
  }

  /** A table of `slots` entries (a power of two), in `shared` when given (sharedBuffer). */
  constructor(slots: number = INTERLEAVE_SLOTS, shared?: SharedArrayBuffer) {
    checkSlots(slots);
    if (shared !== undefined && shared.byteLength !== slots * SLOT_WORDS * 4) {
      throw new RangeError(`a shared interleave table of ${slots} slots has the wrong size`);
    }
    this.#words =
      shared === undefined ? new Uint32Array(slots * SLOT_WORDS) : new Uint32Array(shared);
    this.#shift = 32 - Math.log2(slots);
  }

  get slots(): number {
    return this.#words.length / SLOT_WORDS;
  }

  /** Remembers that the reply with receive timestamp (t2s, t2f) left at (t3s, t3f). */
  save(t2s: number, t2f: number, t3s: number, t3f: number): void {
    if (t2s === 0 && t2f === 0) return;
    const w = this.#words;
    const i = this.#slot(t2s, t2f);
    const seq = Atomics.load(w, i);
    if ((seq & 1) !== 0 || Atomics.compareExchange(w, i, seq, (seq + 1) >>> 0) !== seq) return;
    Atomics.store(w, i + 1, t2s);
    Atomics.store(w, i + 2, t2f);
    Atomics.store(w, i + 3, t3s);
    Atomics.store(w, i + 4, t3f);
    Atomics.store(w, i, (seq + 2) >>> 0);
  }

  /**
   * The TX timestamp saved for the reply with receive timestamp (t2s, t2f), into
   * `seconds` and `fraction`, and forgets it; false when there is none.
   */
  take(t2s: number, t2f: number): boolean {
    if (t2s === 0 && t2f === 0) return false;
    const w = this.#words;
    const i = this.#slot(t2s, t2f);
    const seq = Atomics.load(w, i);
    if ((seq & 1) !== 0) return false;
    if (Atomics.load(w, i + 1) !== t2s >>> 0 || Atomics.load(w, i + 2) !== t2f >>> 0) return false;
    const seconds = Atomics.load(w, i + 3);
    const fraction = Atomics.load(w, i + 4);
    // Ours only if nobody wrote the slot since `seq` was read.
    if (Atomics.compareExchange(w, i, seq, (seq + 1) >>> 0) !== seq) return false;
    Atomics.store(w, i + 1, 0);
    Atomics.store(w, i + 2, 0);
    Atomics.store(w, i, (seq + 2) >>> 0);
    this.seconds = seconds;
    this.fraction = fraction;
    return true;
  }

  #slot(t2s: number, t2f: number): number {
    // The fraction's low bits are the kernel's nanoseconds: well spread. The mark
    // bit is shifted out before the multiply.
    const h = Math.imul((t2f >>> 1) ^ Math.imul(t2s, 0x85ebca6b), 0x9e3779b1) >>> this.#shift;
    return h * SLOT_WORDS;
  }
}

function checkSlots(slots: number): void {
  if (!Number.isInteger(Math.log2(slots)) || slots < 2 || slots > 1 << 24) {
    throw new RangeError(`interleave table slots must be a power of two (got ${slots})`);
  }
}
