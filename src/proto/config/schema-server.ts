// [[server]], [[nts-ke-server]] and [keyset]. Each key is declared once, here: its TOML name,
// value type (validation), default (ntpd-rs 1.9's) and one-line doc. The TypeScript types
// (types.ts) and docs/ntp.toml.md (npm run docs:config) are derived from these declarations.
import { INVALID, list, optional, parseValue, required, table, withDefault } from "./fields.js";
import {
  bool,
  cidr,
  filePath,
  filterAction,
  integer,
  ntpServerTargets,
  oneOf,
  oneOfIntegers,
  requireNts,
  socketAddress,
  string,
  u16,
  usize,
} from "./value-types.js";

/**
 * Largest `rate-limiting-cache-size`: 16 Mi slots of 25 octets (400 MiB). ntpd-rs takes any
 * usize; a larger table is a typo, not a tuning choice.
 */
export const MAX_RATE_LIMITING_CACHE_SIZE = 1 << 24;

export const filterList = table({
  expected: 'a table { filter = ["192.0.2.0/24", ...], action = "ignore" or "deny" }',
  fields: {
    filter: required(
      "filter",
      list(cidr, { expected: 'an array of subnets like ["192.168.1.0/24", "2001:db8::/32"]' }),
      "Subnets in CIDR notation.",
    ),
    action: required("action", filterAction, '"ignore" (drop) or "deny" (DENY kiss-o\'-death).'),
  },
});

export const serverTable = table({
  doc: "An NTP server on one UDP socket.",
  fields: {
    listen: required("listen", socketAddress, 'UDP address to serve on, e.g. "[::]:123".'),
    rateLimitingCacheSize: withDefault(
      "rate-limiting-cache-size",
      integer(0, MAX_RATE_LIMITING_CACHE_SIZE, "a non-negative integer"),
      0,
      `Slots of the per-client-IP rate limiting table (at most ${MAX_RATE_LIMITING_CACHE_SIZE}); 0 disables rate limiting.`,
    ),
    rateLimitingCutoffMs: withDefault(
      "rate-limiting-cutoff-ms",
      usize,
      0,
      "Minimum milliseconds between two requests of one client IP; 0 disables rate limiting.",
    ),
    allowlist: withDefault(
      "allowlist",
      filterList,
      parseValue(filterList, { filter: ["::/0", "0.0.0.0/0"], action: "ignore" }),
      "Only clients in these subnets are served; others get `action`.",
    ),
    denylist: withDefault(
      "denylist",
      filterList,
      { filter: [], action: "deny" },
      "Clients in these subnets get `action`; checked before the allowlist.",
    ),
    requireNts: withDefault(
      "require-nts",
      requireNts,
      false,
      'Non-NTS requests: false = served, true or "ignore" = dropped, "deny" = DENY.',
    ),
    acceptNtpVersions: withDefault(
      "accept-ntp-versions",
      list(oneOfIntegers<3 | 4 | 5>([3, 4, 5]), {
        expected: "an array of NTP versions (3, 4 or 5)",
      }),
      [3, 4],
      "NTP versions answered; others are ignored. 5 is the NTPv5 draft ntpd-rs 1.9 speaks " +
        "(docs/ntpv5.md).",
    ),
    leapSmear: withDefault(
      "leap-smear",
      bool,
      false,
      "Serve time smeared over the 24 h around a leap second, with LI 0 (an ntpd-ts extension; " +
        "smeared time is not UTC: never mix smeared and unsmeared servers). See docs/leap-seconds.md.",
    ),
  },
});

export const ntsKeServerTable = table({
  doc: "An NTS key exchange server (TLS 1.3 over TCP).",
  fields: {
    listen: required("listen", socketAddress, 'TCP address, e.g. "[::]:4460".', {
      aliases: ["key-exchange-listen"],
    }),
    certificateChainPath: required(
      "certificate-chain-path",
      filePath,
      "PEM certificate chain, leaf first.",
    ),
    privateKeyPath: required(
      "private-key-path",
      filePath,
      "PEM private key (unencrypted PKCS#8, PKCS#1 or SEC1).",
    ),
    keyExchangeTimeoutMs: withDefault(
      "key-exchange-timeout-ms",
      usize,
      1000,
      "Deadline in milliseconds for a whole connection (TLS handshake and exchange).",
    ),
    concurrentConnections: withDefault(
      "concurrent-connections",
      usize,
      512,
      "Maximum key exchange connections in progress.",
    ),
    longlivedConnections: optional(
      "longlived-connections",
      usize,
      "Connections kept alive for NTS pools; default concurrent-connections / 10.",
      { defaultDoc: "`concurrent-connections` / 10" },
    ),
    ntpPort: optional("ntp-port", u16, "NTP port sent to clients (Port record)."),
    ntpServer: optional(
      "ntp-server",
      ntpServerTargets,
      "NTP server name or IP sent to clients (Server record); ntpd-ts also takes an array " +
        '(["ntp1.example.com", "ntp2.example.com:1123"]) and sends clients to each in turn.',
    ),
    acceptNtpVersions: withDefault(
      "accept-ntp-versions",
      list(
        oneOfIntegers<4 | 5>([4, 5], (n) =>
          n === 3 ? "NTP version 3 does not support NTS; use 4 or 5" : undefined,
        ),
        { expected: "an array of NTP versions (4 or 5)" },
      ),
      [4],
      "NTP versions offered in the key exchange.",
    ),
    acceptedPoolAuthenticationTokens: withDefault(
      "accepted-pool-authentication-tokens",
      list(string, { expected: "an array of strings" }),
      [],
      "Tokens that let an NTS pool request fixed keys and the supported lists.",
    ),
  },
  finish: (raw) => ({
    ...raw,
    longlivedConnections: raw.longlivedConnections ?? Math.floor(raw.concurrentConnections / 10),
  }),
});

export const keysetTable = table({
  doc: "Keys that seal NTS cookies.",
  fields: {
    staleKeyCount: withDefault(
      "stale-key-count",
      usize,
      7,
      "Old keys kept so that cookies made with them stay valid.",
    ),
    keyRotationInterval: withDefault(
      "key-rotation-interval",
      usize,
      86400,
      "Seconds between key rotations.",
    ),
    keyStoragePath: optional(
      "key-storage-path",
      filePath,
      "File the keys are kept in across restarts (mode 0600); none: keys are ephemeral.",
    ),
    role: withDefault(
      "role",
      oneOf(["primary", "follower"] as const),
      "primary",
      "primary: this daemon rotates the keys and stores them; follower: it reads the key " +
        "file another daemon (the primary) writes, reloads it when it changes, never writes it " +
        "(ntpd-ts only; docs/nts-fleet.md).",
    ),
  },
  finish: (raw, ctx) => {
    if (raw.role === "follower" && raw.keyStoragePath === null) {
      ctx.keyError(
        "role",
        'role = "follower" reads the keys from key-storage-path: give the path of the key file the primary writes',
      );
      return INVALID;
    }
    return raw;
  },
});
