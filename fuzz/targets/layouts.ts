// Type values the record-aware mutations try.

/** NTP extension field types: NTS (0x0104, 0x0204, 0x0304, 0x0404), their variants, others. */
export const EF_TYPES = [
  0x0104, 0x0204, 0x0304, 0x0404, 0x0000, 0x0002, 0x2005, 0xf5ff, 0x7777, 0xffff,
];

/** NTS-KE record types 0..7, pool records 8..14, chrony's 1024, unknown ones. */
export const KE_TYPES = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0x4000, 1024, 0x7fff,
];
