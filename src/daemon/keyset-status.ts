// What the daemon says about its NTS cookie key set in the observation
// (`keyset`, an ntpd-ts addition) and the exporter's ntp_keyset_* metrics:
// enough for an operator of a fleet (docs/nts-fleet.md) to see that every
// follower has the primary's keys, and when one does not.

export interface KeysetStatus {
  /** `[keyset] role`: the primary rotates and stores, a follower reads. */
  role: "primary" | "follower";
  /** Key id new cookies are sealed with. */
  primaryKeyId: number;
  /** Keys held: the stale ones, the primary and the one published ahead. */
  keys: number;
  /** Unix seconds of the last rotation: the time stored in the key file. */
  storedAt: number;
  /** Times a follower took a changed key file (0 for the primary). */
  reloads: number;
  /** Failed uses of the key file: a follower's unusable reads, the primary's failed stores. */
  fileErrors: number;
  /** A follower's key file is older than it may be (KeySetFollower.lateAfter). */
  late: boolean;
}
