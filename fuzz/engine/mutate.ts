// Input mutations, AFL/libFuzzer style: a stack of 1..5 random edits per
// input, drawn from byte-level edits, interesting integers, dictionary
// tokens, crossover with another corpus entry, record-aware edits for
// length-prefixed formats (RecordLayout) and line edits for text targets.

import type { Rng } from "./rng.js";
import type { FuzzTarget, RecordLayout } from "./target.js";

const INTERESTING_8 = [0, 1, 2, 3, 4, 0x10, 0x20, 0x3f, 0x40, 0x7f, 0x80, 0x81, 0xfe, 0xff];
const INTERESTING_16 = [
  0, 1, 2, 3, 4, 8, 12, 16, 20, 24, 28, 32, 36, 44, 48, 64, 100, 104, 168, 255, 256, 1023, 1024,
  2048, 4096, 0x7fff, 0x8000, 0x8001, 0xfffc, 0xffff,
];
const INTERESTING_32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x100, 0x10000, 100, 1024];

type Mutation = (input: Uint8Array, rng: Rng, ctx: MutationContext) => Uint8Array;

export interface MutationContext {
  target: FuzzTarget;
  /** Another corpus entry, for crossover. */
  other: () => Uint8Array;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function copy(input: Uint8Array): Uint8Array {
  return input.length === 0 ? new Uint8Array(1) : Uint8Array.from(input);
}

function writeBe(out: Uint8Array, off: number, value: number, octets: number): void {
  for (let i = octets - 1; i >= 0; i--) {
    if (off + i < out.length) out[off + i] = value & 0xff;
    value = Math.floor(value / 256);
  }
}

const flipBit: Mutation = (input, rng) => {
  const out = copy(input);
  out[rng.below(out.length)]! ^= 1 << rng.below(8);
  return out;
};

const setByte: Mutation = (input, rng) => {
  const out = copy(input);
  out[rng.below(out.length)] = rng.oneIn(2) ? rng.pick(INTERESTING_8) : rng.u32() & 0xff;
  return out;
};

const addToByte: Mutation = (input, rng) => {
  const out = copy(input);
  const i = rng.below(out.length);
  out[i] = (out[i]! + rng.below(35) - 17) & 0xff;
  return out;
};

const setInteger: Mutation = (input, rng) => {
  const out = copy(input);
  const wide = rng.oneIn(3);
  const octets = wide ? 4 : 2;
  const off = rng.below(Math.max(1, out.length - octets + 1));
  let value = wide ? rng.pick(INTERESTING_32) : rng.pick(INTERESTING_16);
  // Lengths relative to this input: the most likely values for a length field.
  if (rng.oneIn(3)) value = Math.max(0, out.length - off + rng.below(9) - 4);
  writeBe(out, off, value, octets);
  return out;
};

const insertBytes: Mutation = (input, rng) => {
  const at = rng.below(input.length + 1);
  const n = 1 + rng.below(rng.oneIn(4) ? 64 : 8);
  const block = rng.oneIn(2) ? new Uint8Array(n).fill(rng.pick(INTERESTING_8)) : rng.bytes(n);
  return concat(input.subarray(0, at), block, input.subarray(at));
};

const deleteBytes: Mutation = (input, rng) => {
  if (input.length < 2) return copy(input);
  const at = rng.below(input.length);
  const n = 1 + rng.below(Math.min(input.length - at, rng.oneIn(4) ? 64 : 8));
  return concat(input.subarray(0, at), input.subarray(at + n));
};

const copyRange: Mutation = (input, rng) => {
  if (input.length < 2) return copy(input);
  const from = rng.below(input.length);
  const n = 1 + rng.below(Math.min(input.length - from, 32));
  const block = input.slice(from, from + n);
  const at = rng.below(input.length + 1);
  if (rng.oneIn(2)) return concat(input.subarray(0, at), block, input.subarray(at));
  const out = copy(input);
  out.set(block.subarray(0, Math.max(0, out.length - at)), Math.min(at, out.length));
  return out;
};

const truncate: Mutation = (input, rng) => input.slice(0, rng.below(input.length + 1));

const crossover: Mutation = (input, rng, ctx) => {
  const other = ctx.other();
  const a = rng.below(input.length + 1);
  const b = rng.below(other.length + 1);
  return rng.oneIn(2)
    ? concat(input.subarray(0, a), other.subarray(b))
    : concat(input.subarray(0, a), other.subarray(b, b + 1 + rng.below(64)), input.subarray(a));
};

const insertToken: Mutation = (input, rng, ctx) => {
  const dict = ctx.target.dictionary;
  if (dict === undefined || dict.length === 0) return setInteger(input, rng, ctx);
  const token = rng.pick(dict);
  const at = rng.below(input.length + 1);
  if (rng.oneIn(2)) return concat(input.subarray(0, at), token, input.subarray(at));
  const out = copy(input);
  out.set(token.subarray(0, Math.max(0, out.length - at)), Math.min(at, out.length));
  return out;
};

// ---- record-aware edits -----------------------------------------------------

interface RecordSpan {
  start: number;
  end: number;
}

/** Walks the record chain as far as it is well-formed. */
function records(input: Uint8Array, layout: RecordLayout): RecordSpan[] {
  const out: RecordSpan[] = [];
  let off = layout.start;
  while (off + layout.headerLength <= input.length && out.length < 64) {
    const field =
      (input[off + layout.headerLength - 2]! << 8) | input[off + layout.headerLength - 1]!;
    const length = layout.lengthIncludesHeader ? field : field + layout.headerLength;
    if (length < layout.headerLength || off + length > input.length) break;
    out.push({ start: off, end: off + length });
    off += length;
  }
  return out;
}

function setRecordLength(out: Uint8Array, span: RecordSpan, layout: RecordLayout): void {
  const total = span.end - span.start;
  const field = layout.lengthIncludesHeader ? total : total - layout.headerLength;
  writeBe(out, span.start + layout.headerLength - 2, field, 2);
}

const recordEdit: Mutation = (input, rng, ctx) => {
  const layout = ctx.target.layout!;
  const spans = records(input, layout);
  if (spans.length === 0) {
    // No record yet: append a fresh one after the fixed part.
    const type = rng.pick(layout.types);
    const body = rng.bytes(layout.align * rng.below(9));
    const head = new Uint8Array(layout.headerLength);
    writeBe(head, 0, type, 2);
    const rec = concat(head, body);
    setRecordLength(rec, { start: 0, end: rec.length }, layout);
    const base = input.length >= layout.start ? input.subarray(0, layout.start) : input;
    return concat(base, new Uint8Array(Math.max(0, layout.start - base.length)), rec);
  }
  const span = rng.pick(spans);
  const rec = input.subarray(span.start, span.end);
  const before = input.subarray(0, span.start);
  const after = input.subarray(span.end);
  switch (rng.below(7)) {
    case 0: {
      // Grow or shrink the body, keeping the length field right.
      const delta = layout.align * (rng.below(9) - 4) || layout.align;
      const n = Math.max(layout.headerLength, rec.length + delta);
      const grown = new Uint8Array(n);
      grown.set(rec.subarray(0, Math.min(n, rec.length)));
      if (n > rec.length) grown.set(rng.bytes(n - rec.length), rec.length);
      setRecordLength(grown, { start: 0, end: n }, layout);
      return concat(before, grown, after);
    }
    case 1:
      return concat(before, rec, rec, after); // duplicate
    case 2:
      return concat(before, after); // delete
    case 3: {
      // Swap with another record.
      const other = rng.pick(spans);
      if (other.start === span.start) return concat(before, after, rec);
      const [a, b] = other.start < span.start ? [other, span] : [span, other];
      return concat(
        input.subarray(0, a.start),
        input.subarray(b.start, b.end),
        input.subarray(a.end, b.start),
        input.subarray(a.start, a.end),
        input.subarray(b.end),
      );
    }
    case 4: {
      // Another type in this record's header.
      const out = copy(input);
      writeBe(out, span.start, rng.pick(layout.types) | (rng.oneIn(4) ? 0x8000 : 0), 2);
      return out;
    }
    case 5: {
      // A wrong length field.
      const out = copy(input);
      const field = layout.headerLength - 2;
      const current = (out[span.start + field]! << 8) | out[span.start + field + 1]!;
      const value = rng.oneIn(2) ? rng.pick(INTERESTING_16) : current + rng.below(9) - 4;
      writeBe(out, span.start + field, value & 0xffff, 2);
      return out;
    }
    default: {
      // A record from another corpus entry.
      const donor = ctx.other();
      const theirs = records(donor, layout);
      if (theirs.length === 0) return concat(before, rec, after);
      const t = rng.pick(theirs);
      return concat(
        before,
        donor.subarray(t.start, t.end),
        rng.oneIn(2) ? rec : new Uint8Array(0),
        after,
      );
    }
  }
};

// ---- text edits ---------------------------------------------------------------

function lines(input: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < input.length; i++) {
    if (input[i] === 0x0a) {
      out.push(input.subarray(start, i + 1));
      start = i + 1;
    }
  }
  if (start < input.length) out.push(input.subarray(start));
  return out;
}

const lineEdit: Mutation = (input, rng, ctx) => {
  const ls = lines(input);
  if (ls.length === 0) return insertToken(input, rng, ctx);
  const i = rng.below(ls.length);
  switch (rng.below(4)) {
    case 0:
      ls.splice(i, 1);
      break;
    case 1:
      ls.splice(i, 0, ls[i]!);
      break;
    case 2: {
      const donor = lines(ctx.other());
      if (donor.length > 0) ls.splice(i, 0, rng.pick(donor));
      break;
    }
    default: {
      const j = rng.below(ls.length);
      [ls[i], ls[j]] = [ls[j]!, ls[i]!];
    }
  }
  return concat(...ls);
};

const BYTE_MUTATIONS: Mutation[] = [
  flipBit,
  setByte,
  addToByte,
  setInteger,
  setInteger,
  insertBytes,
  deleteBytes,
  copyRange,
  truncate,
  crossover,
  insertToken,
];

/** A new input derived from `input` by 1..5 stacked mutations, at most maxLength octets. */
export function mutate(input: Uint8Array, rng: Rng, ctx: MutationContext): Uint8Array {
  const target = ctx.target;
  let out = input;
  const n = 1 + rng.below(rng.oneIn(3) ? 5 : 2);
  for (let i = 0; i < n; i++) {
    let m: Mutation;
    const r = rng.below(10);
    if (target.mutate !== undefined && r < 3) {
      out = target.mutate(out, rng) ?? out;
      continue;
    }
    if (target.layout !== undefined && r < 3) m = recordEdit;
    else if (target.kind === "text" && r < 3) m = rng.oneIn(2) ? lineEdit : insertToken;
    else m = rng.pick(BYTE_MUTATIONS);
    out = m(out, rng, ctx);
  }
  return out.length > target.maxLength ? out.subarray(0, target.maxLength) : out;
}
