// The client's cookies for one NTS source (ntpd-rs `CookieStash`, ntpd-rs.md
// §4.9): a ring of 8 that always hands out the oldest cookie, and, when full,
// lets a new cookie overwrite the oldest. A cookie is handed out once and then
// forgotten (RFC 8915 §5.7: each cookie is used for one request only, for
// unlinkability).

/** Cookies kept per source (ntpd-rs `MAX_COOKIES`; `ntp-ctl` shows n/8). */
export const MAX_COOKIES = 8;

export class CookieStash {
  readonly #slots: (Uint8Array | null)[];
  /** Index of the oldest cookie. */
  #read = 0;
  #count = 0;

  constructor(capacity = MAX_COOKIES) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`cookie stash capacity ${capacity} is not a positive integer`);
    }
    this.#slots = new Array<Uint8Array | null>(capacity).fill(null);
  }

  /** Most cookies the stash holds. */
  get capacity(): number {
    return this.#slots.length;
  }

  /** Cookies held now. */
  get count(): number {
    return this.#count;
  }

  /** Free slots: how many more cookies to ask for (ntpd-rs `gap`). */
  get missing(): number {
    return this.#slots.length - this.#count;
  }

  /**
   * Stores a cookie as the newest; when the stash is full the oldest one is
   * dropped. The stash keeps the array itself (no copy).
   */
  add(cookie: Uint8Array): void {
    const n = this.#slots.length;
    this.#slots[(this.#read + this.#count) % n] = cookie;
    if (this.#count < n) this.#count++;
    else this.#read = (this.#read + 1) % n;
  }

  /** Removes and returns the oldest cookie, or null when there is none. */
  take(): Uint8Array | null {
    if (this.#count === 0) return null;
    const cookie = this.#slots[this.#read] ?? null;
    this.#slots[this.#read] = null;
    this.#read = (this.#read + 1) % this.#slots.length;
    this.#count--;
    return cookie;
  }

  /** Forgets every cookie (a new key exchange starts a fresh set). */
  clear(): void {
    this.#slots.fill(null);
    this.#read = 0;
    this.#count = 0;
  }
}
