// The value types of ntp.toml keys: numbers with their Rust ranges, strings, enums,
// addresses, step thresholds and the few keys that take more than one TOML type.
import { parseCidr, parseIpAddress, parseSocketAddress, parseSourceAddress } from "./addresses.js";
import type { Parsed } from "./addresses.js";
import { INVALID, mismatch } from "./fields.js";
import type { Ctx, Invalid, ValueType } from "./fields.js";
import { didYouMean } from "./suggest.js";
import { describeValue, getOwn, isTable, tableKeys } from "./toml-value.js";
import type { TomlValue } from "./toml-value.js";
import type { NtpServerTarget } from "../nts/ke/ntp-server-choice.js";
import type {
  Cidr,
  FilterAction,
  NtpVersionSetting,
  SocketAddress,
  SourceAddress,
  StepThreshold,
} from "./types.js";

export const bool: ValueType<boolean> = {
  expected: "true or false",
  parse: (raw, ctx) => (typeof raw === "boolean" ? raw : mismatch(ctx, "true or false", raw)),
};

/** A TOML integer (not a float, even 4.0) in [min, max]. */
export function integer(min: number, max: number, expected?: string): ValueType<number> {
  const text =
    expected ??
    (min === 0 && max === Number.MAX_SAFE_INTEGER
      ? "a non-negative integer"
      : `an integer from ${min} to ${max}`);
  return {
    expected: text,
    parse(raw, ctx) {
      if (typeof raw === "bigint" && raw > BigInt(max) && !text.includes(String(max))) {
        return ctx.valueError(`expected ${text} of at most ${max}, got ${raw}`);
      }
      if (typeof raw !== "bigint" || raw < BigInt(min) || raw > BigInt(max)) {
        return mismatch(ctx, text, raw);
      }
      return Number(raw);
    },
  };
}

export const u8 = integer(0, 255);
export const u16 = integer(0, 65535);
export const u32 = integer(0, 0xffffffff);
/** Rust usize/u64, limited to what a JS number holds exactly. */
export const usize = integer(0, Number.MAX_SAFE_INTEGER);
export const i8 = integer(-128, 127);
export const i32 = integer(-0x80000000, 0x7fffffff);

/** A TOML float or integer accepted by `check`. */
export function number(expected: string, check: (n: number) => boolean): ValueType<number> {
  return {
    expected,
    parse(raw, ctx) {
      const n = typeof raw === "bigint" ? Number(raw) : raw;
      return typeof n === "number" && check(n) ? n : mismatch(ctx, expected, raw);
    },
  };
}

export const finiteNumber = number("a finite number", Number.isFinite);
export const nonNegativeNumber = number(
  "a finite number of 0 or more",
  (n) => isFinite(n) && n >= 0,
);
export const positiveNumber = number("a finite number greater than 0", (n) => isFinite(n) && n > 0);

export const string: ValueType<string> = {
  expected: "a string",
  parse: (raw, ctx) => (typeof raw === "string" ? raw : mismatch(ctx, "a string", raw)),
};

export const filePath: ValueType<string> = {
  expected: "a file path",
  parse: (raw, ctx) =>
    typeof raw === "string" && raw !== "" ? raw : mismatch(ctx, "a non-empty file path", raw),
};

const INTERFACE = "a network interface name (1 to 15 bytes, no '/', ':' or white space)";

/**
 * A Linux network interface name as the kernel accepts it (dev_valid_name): shorter
 * than IFNAMSIZ (16, with the NUL), not "." or "..", no '/', ':' or white space.
 */
export const interfaceName: ValueType<string> = {
  expected: INTERFACE,
  parse(raw, ctx) {
    if (
      typeof raw === "string" &&
      raw !== "." &&
      raw !== ".." &&
      /^[^/:\s]+$/.test(raw) &&
      new TextEncoder().encode(raw).length <= 15
    ) {
      return raw;
    }
    return mismatch(ctx, INTERFACE, raw);
  },
};

function quoteList(values: readonly (string | number)[]): string {
  const q = values.map((v) => (typeof v === "string" ? `"${v}"` : String(v)));
  return q.length <= 1 ? q.join("") : `${q.slice(0, -1).join(", ")} or ${q[q.length - 1]}`;
}

export function oneOf<T extends string>(values: readonly T[]): ValueType<T> {
  const expected = values.length > 2 ? `one of ${quoteList(values)}` : quoteList(values);
  return {
    expected,
    parse(raw, ctx) {
      if (typeof raw === "string" && (values as readonly string[]).includes(raw)) return raw as T;
      const hint = typeof raw === "string" ? didYouMean(raw, values) : "";
      return ctx.valueError(`expected ${expected}, got ${describeValue(raw)}${hint}`);
    },
  };
}

/** One of a few integers (NTP versions). */
export function oneOfIntegers<T extends number>(
  values: readonly T[],
  explain?: (n: number) => string | undefined,
): ValueType<T> {
  const expected = quoteList(values);
  return {
    expected,
    parse(raw, ctx) {
      if (typeof raw === "bigint" && (values as readonly number[]).includes(Number(raw))) {
        return Number(raw) as T;
      }
      const why = typeof raw === "bigint" ? explain?.(Number(raw)) : undefined;
      if (why !== undefined) return ctx.valueError(why);
      return mismatch(ctx, expected, raw);
    },
  };
}

function fromParsed<T>(raw: TomlValue, ctx: Ctx, expected: string, p: (s: string) => Parsed<T>) {
  if (typeof raw !== "string") return mismatch(ctx, expected, raw);
  const r = p(raw);
  return r.ok
    ? r.value
    : ctx.valueError(`expected ${expected}, got ${describeValue(raw)}: ${r.reason}`);
}

const SOCKET_ADDRESS = 'a socket address like "[::]:123" or "0.0.0.0:123"';
export const socketAddress: ValueType<SocketAddress> = {
  expected: SOCKET_ADDRESS,
  parse: (raw, ctx) => fromParsed(raw, ctx, SOCKET_ADDRESS, parseSocketAddress),
};

export function sourceAddress(defaultPort: number): ValueType<SourceAddress> {
  const expected = `an address like "time.example.com", "time.example.com:${defaultPort}" or "[2001:db8::1]:${defaultPort}"`;
  return {
    expected,
    parse: (raw, ctx) => fromParsed(raw, ctx, expected, (s) => parseSourceAddress(s, defaultPort)),
  };
}

/** No port in an `ntp-server` entry: parseSourceAddress's default, never a real port. */
const NO_PORT = -1;
const NTP_SERVER =
  'a server name or address, with or without a port, like "ntp1.example.com" or "[2001:db8::1]:123"';
const ntpServerEntry: ValueType<NtpServerTarget> = {
  expected: NTP_SERVER,
  parse: (raw, ctx) =>
    fromParsed(raw, ctx, NTP_SERVER, (s): Parsed<NtpServerTarget> => {
      const r = parseSourceAddress(s, NO_PORT);
      if (!r.ok) return r;
      if (r.value.host === "") return { ok: false, reason: "the server name is empty" };
      return {
        ok: true,
        value: { host: r.value.host, port: r.value.port === NO_PORT ? null : r.value.port },
      };
    }),
};

/**
 * `[[nts-ke-server]] ntp-server`: one server (ntpd-rs's string) or, an ntpd-ts
 * addition, an array of them that key exchanges spread clients over.
 */
export const ntpServerTargets: ValueType<NtpServerTarget[]> = {
  expected: `${NTP_SERVER}, or an array of them`,
  parse(raw, ctx) {
    if (!Array.isArray(raw)) {
      const one = ntpServerEntry.parse(raw, ctx);
      return one === INVALID ? INVALID : [one];
    }
    if (raw.length === 0)
      return ctx.valueError(
        "an empty list of NTP servers: give at least one, or leave ntp-server out",
      );
    const out: NtpServerTarget[] = [];
    let bad = false;
    raw.forEach((element, index) => {
      const v = ntpServerEntry.parse(element, ctx.child(index));
      if (v === INVALID) bad = true;
      else out.push(v);
    });
    return bad ? INVALID : out;
  },
};

const IP_ADDRESS = 'an IP address like "192.0.2.1" or "2001:db8::1"';
export const ipAddress: ValueType<string> = {
  expected: IP_ADDRESS,
  parse: (raw, ctx) =>
    fromParsed(raw, ctx, IP_ADDRESS, (s): Parsed<string> => {
      const r = parseIpAddress(s);
      return r.ok ? { ok: true, value: r.value.address } : r;
    }),
};

const CIDR = 'a subnet in CIDR notation like "192.168.1.0/24" or "2001:db8::/32"';
export const cidr: ValueType<Cidr> = {
  expected: CIDR,
  parse: (raw, ctx) => fromParsed(raw, ctx, CIDR, parseCidr),
};

export const filterAction = oneOf<FilterAction>(["ignore", "deny"]);

const THRESHOLD_PART = 'a number of seconds (0 or more) or "inf"';
const THRESHOLD = `${THRESHOLD_PART}, or a table { forward = ..., backward = ... } of those`;

function thresholdPart(raw: TomlValue, ctx: Ctx, expected: string): number | Invalid {
  if (raw === "inf") return Infinity;
  const n = typeof raw === "bigint" ? Number(raw) : raw;
  if (typeof n === "number" && isFinite(n) && n >= 0) return n;
  return mismatch(ctx, expected, raw);
}

/**
 * `single-step-panic-threshold` and `startup-step-panic-threshold`: a number for both
 * directions, "inf", or `{ forward, backward }`. As in ntpd-rs, a direction left out of the
 * table form is unlimited.
 */
export const stepThreshold: ValueType<StepThreshold> = {
  expected: THRESHOLD,
  parse(raw, ctx) {
    if (!isTable(raw)) {
      const v = thresholdPart(raw, ctx, THRESHOLD);
      return v === INVALID ? v : { forward: v, backward: v };
    }
    let bad = false;
    for (const key of tableKeys(raw)) {
      if (key === "forward" || key === "backward") continue;
      ctx.keyError(key, `unknown key "${key}"${didYouMean(key, ["forward", "backward"])}`);
      bad = true;
    }
    const part = (key: "forward" | "backward"): number | Invalid => {
      const v = getOwn(raw, key);
      return v === undefined ? Infinity : thresholdPart(v, ctx.child(key), THRESHOLD_PART);
    };
    const forward = part("forward");
    const backward = part("backward");
    if (bad || forward === INVALID || backward === INVALID) return INVALID;
    return { forward, backward };
  },
};

/** A finite duration in seconds; "inf" is refused with advice (`offAdvice`). */
export function finiteSeconds(offAdvice?: string): ValueType<number> {
  const expected = "a finite number of seconds (0 or more)";
  const seconds = number(expected, (n) => isFinite(n) && n >= 0);
  return {
    expected,
    parse(raw, ctx) {
      if (raw === "inf" || raw === Infinity) {
        const advice = offAdvice === undefined ? "" : `; ${offAdvice}`;
        return ctx.valueError(`"inf" is not accepted here, expected ${expected}${advice}`);
      }
      return seconds.parse(raw, ctx);
    },
  };
}

const NTP_VERSION = '4, 5 or "auto"';
export const ntpVersionSetting: ValueType<NtpVersionSetting> = {
  expected: NTP_VERSION,
  parse(raw, ctx) {
    if (raw === "auto") return "auto";
    if (raw === 4n || raw === 5n) return Number(raw) as 4 | 5;
    return mismatch(ctx, NTP_VERSION, raw);
  },
};

const REQUIRE_NTS = 'true, false, "ignore" or "deny"';
export const requireNts: ValueType<false | FilterAction> = {
  expected: REQUIRE_NTS,
  parse(raw, ctx) {
    if (raw === false) return false;
    if (raw === true || raw === "ignore") return "ignore";
    if (raw === "deny") return "deny";
    return mismatch(ctx, REQUIRE_NTS, raw);
  },
};

const REFERENCE_ID = 'up to 4 ASCII characters, like "GPS" or "XNON"';
export const referenceId: ValueType<string> = {
  expected: REFERENCE_ID,
  parse: (raw, ctx) =>
    typeof raw === "string" && /^[\x20-\x7e]{0,4}$/.test(raw)
      ? raw
      : mismatch(ctx, REFERENCE_ID, raw),
};

/** The 32-bit reference id ntpd-rs sends: the characters padded with spaces to 4. */
export function referenceIdToNumber(id: string): number {
  const padded = id.padEnd(4, " ");
  return (
    ((padded.charCodeAt(0) << 24) |
      (padded.charCodeAt(1) << 16) |
      (padded.charCodeAt(2) << 8) |
      padded.charCodeAt(3)) >>>
    0
  );
}

/** Most serving threads `[daemon] server-threads` takes (a typo guard, not a tuning limit). */
export const MAX_SERVER_THREADS = 256;
const SERVER_THREADS = `an integer from 1 to ${MAX_SERVER_THREADS}, or "auto"`;
/** `[daemon] server-threads`: a thread count, or "auto" (one per available core). */
export const serverThreads: ValueType<number | "auto"> = {
  expected: SERVER_THREADS,
  parse(raw, ctx) {
    if (raw === "auto") return "auto";
    if (typeof raw === "bigint" && raw >= 1n && raw <= BigInt(MAX_SERVER_THREADS)) {
      return Number(raw);
    }
    return mismatch(ctx, SERVER_THREADS, raw);
  },
};

const GROUP = 'a group name like "ntpd-admin" or a numeric group id';
/** A Unix group: its name (as in /etc/group) or its numeric id. */
export const groupName: ValueType<string | number> = {
  expected: GROUP,
  parse(raw, ctx) {
    if (typeof raw === "bigint" && raw >= 0n && raw <= 0xfffffffen) return Number(raw);
    if (typeof raw === "string" && /^[A-Za-z_][A-Za-z0-9_.-]{0,63}\$?$/.test(raw)) return raw;
    return mismatch(ctx, GROUP, raw);
  },
};
