// The values smol-toml produces with `integersAsBigInt: true` (so integers and floats stay
// distinct), and how to name them and their paths in messages.

export type TomlValue = string | bigint | number | boolean | Date | TomlValue[] | TomlTable;
export interface TomlTable {
  [key: string]: TomlValue;
}

/** One step of a key path: a key, or an index into an array (of tables). */
export type PathSegment = string | number;

export function isTable(v: unknown): v is TomlTable {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Own keys of a parsed table (smol-toml tables have a null prototype). */
export function tableKeys(t: TomlTable): string[] {
  return Object.keys(t);
}

export function getOwn(t: TomlTable, key: string): TomlValue | undefined {
  return Object.prototype.hasOwnProperty.call(t, key) ? t[key] : undefined;
}

export function formatFloat(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (n === Infinity) return "inf";
  if (n === -Infinity) return "-inf";
  return Number.isInteger(n) && Math.abs(n) < 1e21 ? `${n}.0` : String(n);
}

/** A short rendering of a value for "got ..." in messages. */
export function describeValue(v: TomlValue): string {
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return formatFloat(v);
  if (typeof v === "boolean") return String(v);
  if (v instanceof Date) return "a date-time";
  if (Array.isArray(v)) return "an array";
  return "a table";
}

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

export function formatKey(key: string): string {
  return BARE_KEY.test(key) ? key : JSON.stringify(key);
}

/** `source[1].poll-interval-limits.min` */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = "";
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else out += out === "" ? formatKey(s) : `.${formatKey(s)}`;
  }
  return out;
}
