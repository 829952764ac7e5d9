// Where a key path is in the TOML text. smol-toml gives values, not positions, so this is a
// small scanner over the source that records, for each key path it meets, the position of
// the key, of its value and of a table header. It follows array-of-tables indexes
// ([[source]] #2 is source[2]), nested [[a.b]], inline tables and arrays, dotted keys and
// quoted keys. It is meant for text smol-toml accepted; on anything else it still ends
// (every step consumes input, nesting is capped) and merely knows fewer positions.
import type { PathSegment } from "./toml-value.js";

export interface Position {
  line: number;
  column: number;
}

export type LocateKind = "key" | "value" | "table";

interface Entry {
  key?: Position;
  value?: Position;
  header?: Position;
}

const MAX_DEPTH = 64;

const ORDER: Record<LocateKind, readonly (keyof Entry)[]> = {
  key: ["key", "header", "value"],
  value: ["value", "key", "header"],
  table: ["header", "value", "key"],
};

function entryKey(path: readonly PathSegment[]): string {
  return JSON.stringify(path);
}

export class TomlLocator {
  private readonly entries = new Map<string, Entry>();

  constructor(text: string) {
    new Scanner(text, this.entries).run();
  }

  /** Exact position if recorded, else that of the nearest enclosing table, else 1:1. */
  locate(path: readonly PathSegment[], kind: LocateKind): Position {
    for (let len = path.length; len >= 0; len--) {
      const e = this.entries.get(entryKey(path.slice(0, len)));
      if (e === undefined) continue;
      for (const field of len === path.length ? ORDER[kind] : ORDER.table) {
        const p = e[field];
        if (p !== undefined) return p;
      }
    }
    return { line: 1, column: 1 };
  }

  /** Only the exact entry (tests and callers that want to know whether it was found). */
  find(path: readonly PathSegment[], field: keyof Entry): Position | undefined {
    return this.entries.get(entryKey(path))?.[field];
  }
}

const KEY_STOP = new Set([" ", "\t", "\r", "\n", "=", ".", "[", "]", "#", ",", "{", "}", '"', "'"]);
const SCALAR_STOP = new Set([" ", "\t", "\r", "\n", ",", "]", "}", "#"]);
const SIMPLE_ESCAPES: Record<string, string> = {
  b: "\b",
  t: "\t",
  n: "\n",
  f: "\f",
  r: "\r",
  e: "\x1b",
  '"': '"',
  "\\": "\\",
};

class Scanner {
  private i = 0;
  private line = 1;
  private lineStart = 0;
  private table: PathSegment[] = [];
  /** Resolved path of each array of tables → index of its last element. */
  private readonly arrays = new Map<string, number>();

  constructor(
    private readonly s: string,
    private readonly out: Map<string, Entry>,
  ) {}

  run(): void {
    while (this.i < this.s.length) {
      const start = this.i;
      this.skipSpace(true);
      if (this.i >= this.s.length) break;
      if (this.s[this.i] === "[") this.header();
      else this.keyValue(this.table, 0);
      if (this.i === start) this.advance();
    }
  }

  private pos(): Position {
    return { line: this.line, column: this.i - this.lineStart + 1 };
  }

  private advance(count = 1): void {
    for (let k = 0; k < count && this.i < this.s.length; k++) {
      if (this.s[this.i] === "\n") {
        this.line++;
        this.lineStart = this.i + 1;
      }
      this.i++;
    }
  }

  private record(path: readonly PathSegment[], field: keyof Entry, p: Position): void {
    const k = entryKey(path);
    const e = this.out.get(k);
    if (e === undefined) this.out.set(k, { [field]: p });
    else if (e[field] === undefined) e[field] = p;
  }

  /** Spaces, tabs and comments; also newlines when `newlines`. */
  private skipSpace(newlines: boolean): void {
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      if (c === " " || c === "\t") this.advance();
      else if (newlines && (c === "\n" || c === "\r")) this.advance();
      else if (c === "#") {
        while (this.i < this.s.length && this.s[this.i] !== "\n") this.advance();
      } else break;
    }
  }

  private resolve(keys: readonly string[]): PathSegment[] {
    const path: PathSegment[] = [];
    for (const k of keys) {
      path.push(k);
      const idx = this.arrays.get(entryKey(path));
      if (idx !== undefined) path.push(idx);
    }
    return path;
  }

  private header(): void {
    const at = this.pos();
    this.advance();
    const isArray = this.s[this.i] === "[";
    if (isArray) this.advance();
    const { names } = this.dottedKey();
    this.skipSpace(false);
    for (let k = 0; k < (isArray ? 2 : 1) && this.s[this.i] === "]"; k++) this.advance();
    const last = names[names.length - 1];
    if (last === undefined) return;
    const parent = this.resolve(names.slice(0, -1));
    for (let len = 1; len <= parent.length; len++) this.record(parent.slice(0, len), "header", at);
    const full = [...parent, last];
    this.record(full, "header", at);
    if (isArray) {
      const k = entryKey(full);
      const idx = (this.arrays.get(k) ?? -1) + 1;
      this.arrays.set(k, idx);
      full.push(idx);
      this.record(full, "header", at);
    }
    this.table = full;
  }

  private keyValue(base: readonly PathSegment[], depth: number): void {
    const { names, positions } = this.dottedKey();
    if (names.length === 0) return;
    this.skipSpace(false);
    if (this.s[this.i] === "=") this.advance();
    this.skipSpace(false);
    const path = [...base];
    names.forEach((name, k) => {
      path.push(name);
      this.record(path, "key", positions[k]!);
    });
    this.value(path, depth);
  }

  private dottedKey(): { names: string[]; positions: Position[] } {
    const names: string[] = [];
    const positions: Position[] = [];
    for (;;) {
      this.skipSpace(false);
      const at = this.pos();
      const c = this.s[this.i];
      let name: string;
      if (c === '"') name = this.basicString();
      else if (c === "'") name = this.literalString();
      else {
        const start = this.i;
        while (this.i < this.s.length && !KEY_STOP.has(this.s[this.i]!)) this.advance();
        name = this.s.slice(start, this.i);
        if (name === "") break;
      }
      names.push(name);
      positions.push(at);
      this.skipSpace(false);
      if (this.s[this.i] !== ".") break;
      this.advance();
    }
    return { names, positions };
  }

  private value(path: PathSegment[], depth: number): void {
    this.record(path, "value", this.pos());
    if (depth > MAX_DEPTH) return;
    const c = this.s[this.i];
    if (c === '"') {
      if (this.s.startsWith('"""', this.i)) this.multiline('"');
      else this.basicString();
    } else if (c === "'") {
      if (this.s.startsWith("'''", this.i)) this.multiline("'");
      else this.literalString();
    } else if (c === "[") this.array(path, depth);
    else if (c === "{") this.inlineTable(path, depth);
    else this.scalar();
  }

  private array(path: PathSegment[], depth: number): void {
    let index = 0;
    this.sequence("]", () => this.value([...path, index++], depth + 1));
  }

  private inlineTable(path: PathSegment[], depth: number): void {
    this.sequence("}", () => this.keyValue(path, depth + 1));
  }

  /** The items of a `[...]` or `{...}` up to `close`, each read by `item`; commas skipped. */
  private sequence(close: "]" | "}", item: () => void): void {
    this.advance();
    while (this.i < this.s.length) {
      this.skipSpace(true);
      const c = this.s[this.i];
      if (c === close) {
        this.advance();
        return;
      }
      if (c === ",") {
        this.advance();
        continue;
      }
      const before = this.i;
      item();
      if (this.i === before) this.advance();
    }
  }

  private scalar(): void {
    const start = this.i;
    while (this.i < this.s.length && !SCALAR_STOP.has(this.s[this.i]!)) this.advance();
    // A local date followed by a space and a time is one value: 1979-05-27 07:32:00
    if (
      /^\d{4}-\d{2}-\d{2}$/.test(this.s.slice(start, this.i)) &&
      this.s[this.i] === " " &&
      /\d/.test(this.s[this.i + 1] ?? "")
    ) {
      this.advance();
      while (this.i < this.s.length && !SCALAR_STOP.has(this.s[this.i]!)) this.advance();
    }
  }

  /** Consumes a "..." string and returns its decoded text. */
  private basicString(): string {
    this.advance();
    let out = "";
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (c === '"' || c === "\n") break;
      if (c === "\\") {
        out += this.escape();
        continue;
      }
      out += c;
      this.advance();
    }
    if (this.s[this.i] === '"') this.advance();
    return out;
  }

  private escape(): string {
    const e = this.s[this.i + 1] ?? "";
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      this.advance(2);
      return simple;
    }
    const len = e === "u" ? 4 : e === "U" ? 8 : e === "x" ? 2 : 0;
    const hex = this.s.slice(this.i + 2, this.i + 2 + len);
    if (len > 0 && hex.length === len && /^[0-9A-Fa-f]+$/.test(hex)) {
      this.advance(2 + len);
      const cp = parseInt(hex, 16);
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : "";
    }
    this.advance(e === "\n" ? 1 : 2);
    return "";
  }

  private literalString(): string {
    this.advance();
    const start = this.i;
    while (this.i < this.s.length && this.s[this.i] !== "'" && this.s[this.i] !== "\n") {
      this.advance();
    }
    const out = this.s.slice(start, this.i);
    if (this.s[this.i] === "'") this.advance();
    return out;
  }

  private multiline(quote: '"' | "'"): void {
    const delimiter = quote.repeat(3);
    this.advance(3);
    while (this.i < this.s.length) {
      if (this.s.startsWith(delimiter, this.i)) {
        this.advance(3);
        // Up to two more quotes may close the string: """a"""""
        for (let k = 0; k < 2 && this.s[this.i] === quote; k++) this.advance();
        return;
      }
      this.advance(quote === '"' && this.s[this.i] === "\\" ? 2 : 1);
    }
  }
}
