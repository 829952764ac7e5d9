// A small JSON Schema checker for tests: the subset docs/*.schema.json use
// (type, required, properties, additionalProperties, items, enum, minimum,
// maximum, $ref to "#/$defs/..."), plus a JSON parser that keeps integers
// beyond 2^53 exact (as bigint), so 64-bit values can be checked against
// their bounds. No dependency; not a general validator.
import { readFileSync } from "node:fs";

export type Json = null | boolean | number | bigint | string | Json[] | { [key: string]: Json };

/** JSON.parse, except that integers outside the safe range come back as bigint. */
export function parseJsonExact(text: string): Json {
  let i = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`JSON: ${what} at offset ${i}`);
  };
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i]!)) i++;
  };
  const value = (): Json => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const out: { [key: string]: Json } = {};
      ws();
      if (text[i] === "}") {
        i++;
        return out;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected a key");
        const key = str();
        ws();
        if (text[i++] !== ":") fail("expected ':'");
        out[key] = value();
        ws();
        const sep = text[i++];
        if (sep === "}") return out;
        if (sep !== ",") fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const out: Json[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return out;
      }
      for (;;) {
        out.push(value());
        ws();
        const sep = text[i++];
        if (sep === "]") return out;
        if (sep !== ",") fail("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    for (const [word, v] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) return fail("unexpected character");
    i += m[0].length;
    if (m[2] === undefined && m[3] === undefined) {
      const big = BigInt(m[0]);
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(big)
        : big;
    }
    return Number(m[0]);
  };
  const str = (): string => {
    const start = i;
    i++;
    for (; i < text.length; i++) {
      if (text[i] === "\\") i++;
      else if (text[i] === '"') break;
    }
    if (text[i] !== '"') fail("unterminated string");
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const result = value();
  ws();
  if (i !== text.length) fail("trailing characters");
  return result;
}

export type Schema = { [key: string]: Json };

export function loadSchema(path: string): Schema {
  return parseJsonExact(readFileSync(path, "utf8")) as Schema;
}

function typeOf(v: Json): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "bigint") return "integer";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function matchesType(v: Json, type: string): boolean {
  const t = typeOf(v);
  return t === type || (type === "number" && t === "integer");
}

const SUPPORTED = new Set([
  "$schema",
  "$id",
  "$defs",
  "$ref",
  "title",
  "description",
  "type",
  "required",
  "properties",
  "additionalProperties",
  "items",
  "enum",
  "minimum",
  "maximum",
]);

const compare = (a: number | bigint, b: number | bigint): number =>
  typeof a === "bigint" || typeof b === "bigint"
    ? Number(BigInt(a) - BigInt(b) > 0n) - Number(BigInt(a) - BigInt(b) < 0n)
    : a - b;

/** Every violation as "path: message"; an empty list when `value` conforms. */
export function validate(schema: Schema, value: Json, root: Schema = schema, path = "$"): string[] {
  for (const key of Object.keys(schema)) {
    if (!SUPPORTED.has(key)) throw new Error(`schema keyword ${key} not supported (${path})`);
  }
  if (typeof schema.$ref === "string") {
    const m = /^#\/\$defs\/(.+)$/.exec(schema.$ref);
    const defs = root.$defs as Schema | undefined;
    const target = m && defs ? (defs[m[1]!] as Schema | undefined) : undefined;
    if (!target) throw new Error(`unresolvable $ref ${schema.$ref}`);
    return validate(target, value, root, path);
  }
  const errors: string[] = [];
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((t) => matchesType(value, t))) {
      return [`${path}: expected ${types.join(" or ")}, got ${typeOf(value)}`];
    }
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) {
    errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (typeof value === "number" || typeof value === "bigint") {
    const min = schema.minimum;
    const max = schema.maximum;
    if ((typeof min === "number" || typeof min === "bigint") && compare(value, min) < 0) {
      errors.push(`${path}: ${value} < minimum ${min}`);
    }
    if ((typeof max === "number" || typeof max === "bigint") && compare(value, max) > 0) {
      errors.push(`${path}: ${value} > maximum ${max}`);
    }
  }
  if (typeOf(value) === "object") {
    const obj = value as { [key: string]: Json };
    const props = (schema.properties ?? {}) as { [key: string]: Schema };
    for (const key of (schema.required ?? []) as string[]) {
      if (!(key in obj)) errors.push(`${path}: missing required property ${key}`);
    }
    for (const [key, v] of Object.entries(obj)) {
      const sub = props[key];
      if (sub) errors.push(...validate(sub, v, root, `${path}.${key}`));
      else if (schema.additionalProperties === false) {
        errors.push(`${path}: unexpected property ${key}`);
      } else if (typeof schema.additionalProperties === "object") {
        errors.push(...validate(schema.additionalProperties as Schema, v, root, `${path}.${key}`));
      }
    }
  }
  if (Array.isArray(value) && schema.items && typeof schema.items === "object") {
    value.forEach((item, i) =>
      errors.push(...validate(schema.items as Schema, item, root, `${path}[${i}]`)),
    );
  }
  return errors;
}
