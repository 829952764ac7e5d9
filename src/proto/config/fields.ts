// The machinery of the declarative schema: value types, fields with their defaults and docs,
// tables that reject unknown keys, lists. Parsing never stops at the first problem: each
// one is recorded as an Issue (key path + what to point at + message) and the value becomes
// INVALID, so the caller gets every error of the file at once.
// A table's TypeScript type is read from its fields (FieldsValue, ParsedValue): declare a key
// once, in schema*.ts, and its property type follows.
import type { LocateKind } from "./locator.js";
import { didYouMean } from "./suggest.js";
import { describeValue, formatKey, getOwn, isTable, tableKeys } from "./toml-value.js";
import type { PathSegment, TomlValue } from "./toml-value.js";

export const INVALID: unique symbol = Symbol("invalid");
export type Invalid = typeof INVALID;

export interface Issue {
  path: PathSegment[];
  at: LocateKind;
  message: string;
}

/** Where a value is (for positions) and what to call it (for messages). */
export class Ctx {
  constructor(
    readonly issues: Issue[],
    readonly path: readonly PathSegment[],
    /** Human name of this value, e.g. `[[server]].listen`; "" for the document. */
    readonly name: string,
    /** Name used for messages about this table's keys, e.g. `[[source]] mode "nts"`. */
    readonly tableName: string = name,
  ) {}

  child(segment: PathSegment, name?: string): Ctx {
    const derived =
      typeof segment === "number"
        ? `${this.name}[${segment}]`
        : this.name === ""
          ? formatKey(segment)
          : `${this.name}.${formatKey(segment)}`;
    return new Ctx(this.issues, [...this.path, segment], name ?? derived);
  }

  withTableName(tableName: string): Ctx {
    return new Ctx(this.issues, this.path, this.name, tableName);
  }

  /** A problem with this value; points at the value. */
  valueError(message: string): Invalid {
    this.issues.push({ path: [...this.path], at: "value", message: prefix(this.name) + message });
    return INVALID;
  }

  /** A problem with this table as a whole (a missing key); points at its header or `{`. */
  tableError(message: string): Invalid {
    this.issues.push({
      path: [...this.path],
      at: "table",
      message: prefix(this.tableName) + message,
    });
    return INVALID;
  }

  /** A problem with one key of this table; points at the key. */
  keyError(key: string, message: string): Invalid {
    this.issues.push({
      path: [...this.path, key],
      at: "key",
      message: prefix(this.tableName) + message,
    });
    return INVALID;
  }
}

function prefix(name: string): string {
  return name === "" ? "" : `${name}: `;
}

export interface ValueType<T> {
  /** What a valid value looks like ("an integer from 0 to 255"), for messages and docs. */
  readonly expected: string;
  parse(raw: TomlValue, ctx: Ctx): T | Invalid;
}

export function mismatch(ctx: Ctx, expected: string, raw: TomlValue): Invalid {
  return ctx.valueError(`expected ${expected}, got ${describeValue(raw)}`);
}

type Presence = "required" | "default" | "optional" | "section";

export interface FieldSpec<T> {
  readonly key: string;
  /** Other accepted spellings of the key (giving two of them is an error). */
  readonly aliases: readonly string[];
  readonly type: ValueType<unknown>;
  readonly presence: Presence;
  readonly defaultValue?: unknown;
  readonly doc: string;
  /** Human name of the value when it is a table of its own, e.g. `[synchronization]`. */
  readonly displayName?: string;
  /** What leaving the key out means, when that is not its default value or "none" (for the docs). */
  readonly defaultDoc?: string;
  /** Ties the spec to the property type it produces; never set. */
  readonly _type?: (t: T) => T;
}

interface FieldOptions {
  aliases?: readonly string[];
  displayName?: string;
  defaultDoc?: string;
}

function field<T>(
  key: string,
  type: ValueType<unknown>,
  presence: Presence,
  doc: string,
  options: FieldOptions,
  defaultValue?: unknown,
): FieldSpec<T> {
  return { key, aliases: options.aliases ?? [], type, presence, defaultValue, doc, ...options };
}

/**
 * A value written as in the file (`"127.0.0.1:9975"`), parsed by a key's own type: for defaults
 * whose parsed form is not a plain literal, and for tests. Throws if the value is invalid.
 */
export function parseValue<T>(type: ValueType<T>, raw: TomlValue): T {
  const issues: Issue[] = [];
  const value = type.parse(raw, new Ctx(issues, [], "default"));
  if (value === INVALID) throw new Error(issues.map((i) => i.message).join("; "));
  return value;
}

/** A key that must be given. */
export function required<T>(
  key: string,
  type: ValueType<T>,
  doc: string,
  options: FieldOptions = {},
): FieldSpec<T> {
  return field<T>(key, type, "required", doc, options);
}

/** A key with a default value (copied for each use). */
export function withDefault<T>(
  key: string,
  type: ValueType<T>,
  value: NoInfer<T>,
  doc: string,
  options: FieldOptions = {},
): FieldSpec<T> {
  return field<T>(key, type, "default", doc, options, value);
}

/** A key that may be absent; then the property is null. */
export function optional<T>(
  key: string,
  type: ValueType<T>,
  doc: string,
  options: FieldOptions = {},
): FieldSpec<T | null> {
  return field<T | null>(key, type, "optional", doc, options);
}

/** A table whose absence means "all its defaults": it is then parsed as an empty table. */
export function section<T>(
  key: string,
  type: ValueType<T>,
  doc: string,
  options: FieldOptions = {},
): FieldSpec<T> {
  return field<T>(key, type, "section", doc, options);
}

/** The value a field gives its property. */
export type FieldValue<F> = F extends FieldSpec<infer T> ? T : never;

/** What a table's fields give before `finish`: one property per field. */
export type FieldsValue<Fields> = Expand<{ -readonly [K in keyof Fields]: FieldValue<Fields[K]> }>;

/** Shows an object type by its properties in messages and hovers, not by the alias that made it. */
export type Expand<T> = T extends infer O ? { [K in keyof O]: O[K] } : never;

/** What a value type parses to; for a table, its output. The config types are these. */
export type ParsedValue<V> = V extends ValueType<infer T> ? T : never;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any field; its value type is read back by FieldValue
type AnyFields = Record<string, FieldSpec<any>>;

export interface TableSpec<Fields extends AnyFields, Out> {
  /** What the table is, for messages ("a table"). */
  expected?: string;
  doc?: string;
  /** One spec per property; the TOML key is in the spec. The property types follow from them. */
  fields: Fields;
  /** Cross-key checks and derived values, after every key parsed. */
  finish?: (raw: FieldsValue<Fields>, ctx: Ctx) => Out | Invalid;
  /** Extra advice for an unknown key that is not a near-miss of a known one. */
  unknownKeyHint?: (key: string) => string | undefined;
}

export interface TableType<Out> extends ValueType<Out> {
  readonly doc: string;
  readonly fields: Readonly<Record<string, FieldSpec<unknown>>>;
  /** Every accepted key, aliases included. */
  readonly keys: readonly string[];
}

export function table<Fields extends AnyFields, Out = FieldsValue<Fields>>(
  spec: TableSpec<Fields, Out>,
): TableType<Out> {
  const fields = spec.fields as Record<string, FieldSpec<unknown>>;
  const keys = Object.values(fields).flatMap((f) => [f.key, ...f.aliases]);
  const expected = spec.expected ?? "a table";
  return {
    expected,
    doc: spec.doc ?? "",
    fields,
    keys,
    parse(raw, ctx) {
      if (!isTable(raw)) return mismatch(ctx, expected, raw);
      let bad = false;
      for (const key of tableKeys(raw)) {
        if (keys.includes(key)) continue;
        const what = ctx.tableName === "" ? "unknown top-level key" : "unknown key";
        const advice = didYouMean(key, keys) || (spec.unknownKeyHint?.(key) ?? "");
        ctx.keyError(key, `${what} "${key}"${advice}`);
        bad = true;
      }
      const out: Record<string, unknown> = {};
      for (const [prop, f] of Object.entries(fields)) {
        const given = [f.key, ...f.aliases].filter((k) => getOwn(raw, k) !== undefined);
        if (given.length > 1) {
          ctx.keyError(
            given[1]!,
            `"${given[1]}" and "${given[0]}" are the same setting; give only one`,
          );
          bad = true;
          continue;
        }
        const used = given[0];
        if (used === undefined) {
          if (f.presence === "required") {
            ctx.tableError(`missing required key "${f.key}"`);
            bad = true;
          } else if (f.presence === "default") out[prop] = structuredClone(f.defaultValue);
          else if (f.presence === "optional") out[prop] = null;
          else {
            const v = f.type.parse({}, ctx.child(f.key, f.displayName));
            if (v === INVALID) bad = true;
            else out[prop] = v;
          }
          continue;
        }
        const v = f.type.parse(getOwn(raw, used)!, ctx.child(used, f.displayName));
        if (v === INVALID) bad = true;
        else out[prop] = v;
      }
      if (bad) return INVALID;
      const parsed = out as FieldsValue<Fields>;
      return spec.finish ? spec.finish(parsed, ctx) : (parsed as Out);
    },
  };
}

interface ListOptions {
  expected?: string;
  /** Elements are tables named like the list itself (`[[source]]`, not `[[source]][2]`). */
  tables?: boolean;
}

export function list<T>(item: ValueType<T>, options: ListOptions = {}): ValueType<T[]> {
  const expected = options.expected ?? `an array of ${item.expected}`;
  return {
    expected,
    parse(raw, ctx) {
      if (!Array.isArray(raw)) return mismatch(ctx, expected, raw);
      const out: T[] = [];
      let bad = false;
      raw.forEach((element, index) => {
        const v = item.parse(element, ctx.child(index, options.tables ? ctx.name : undefined));
        if (v === INVALID) bad = true;
        else out.push(v);
      });
      return bad ? INVALID : out;
    },
  };
}
