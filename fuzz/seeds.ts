// The seed corpus builder: byte strings from the protocol test vectors and
// real captures, found by walking the JSON files for hex values. Nothing
// binary is committed; seeds are rebuilt from these files on every run.
//
// Sources: the fixtures copied into the repository (always there) and, when
// present, the shared vector directory (NTPD_TS_VECTORS, default
// /work/shared/protocol/vectors, with its captures/).

import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;

const REPO_FIXTURES = [
  "src/proto/nts/ke/fixtures",
  "src/proto/nts/packet/fixtures",
  "src/proto/nts/cookie/fixtures",
  "src/proto/crypto/fixtures",
];

function sharedVectors(): string | null {
  const dir = process.env.NTPD_TS_VECTORS ?? "/work/shared/protocol/vectors";
  return existsSync(dir) ? dir : null;
}

function jsonFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) jsonFiles(path, out);
    else if (name.endsWith(".json")) out.push(path);
  }
  return out;
}

export interface HexSeed {
  /** JSON path of the value, e.g. "ntp_exchanges[3].request.hex". */
  path: string;
  file: string;
  bytes: Uint8Array;
}

const HEX = /^(?:[0-9a-f]{2})+$/i;

function walk(value: unknown, path: string, file: string, out: HexSeed[]): void {
  if (typeof value === "string") {
    if (value.length >= 8 && HEX.test(value)) {
      out.push({ path, file, bytes: Uint8Array.from(Buffer.from(value, "hex")) });
    }
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => walk(v, `${path}[${i}]`, file, out));
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value))
      walk(v, path === "" ? k : `${path}.${k}`, file, out);
  }
}

let cache: HexSeed[] | null = null;

/** Every hex value of every vector file, deduplicated by content. */
export function hexSeeds(): HexSeed[] {
  if (cache !== null) return cache;
  const dirs = REPO_FIXTURES.map((d) => join(root, d));
  const shared = sharedVectors();
  if (shared !== null) dirs.push(shared);
  const all: HexSeed[] = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const file of jsonFiles(dir)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(file, "utf8"));
      } catch {
        continue;
      }
      walk(parsed, "", file, all);
    }
  }
  const seen = new Set<string>();
  cache = all.filter((s) => {
    const k = Buffer.from(s.bytes).toString("hex");
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return cache;
}

/** Hex seeds whose JSON path matches `pattern` (e.g. /hex$|packet/). */
export function seedsWhere(
  pattern: RegExp,
  filter: (b: Uint8Array) => boolean = () => true,
): Uint8Array[] {
  return hexSeeds()
    .filter((s) => pattern.test(s.path) && filter(s.bytes))
    .map((s) => s.bytes);
}

/** The ```toml blocks of docs/*.md and the example configurations in the repository. */
export function tomlSeeds(): string[] {
  const out: string[] = [];
  const docs = join(root, "docs");
  for (const name of readdirSync(docs).sort()) {
    if (!name.endsWith(".md")) continue;
    const text = readFileSync(join(docs, name), "utf8");
    for (const m of text.matchAll(/```toml\n([\s\S]*?)```/g)) out.push(m[1]!);
  }
  for (const dir of ["pkg", "test/docs", "test/cli"]) {
    const path = join(root, dir);
    if (!existsSync(path)) continue;
    for (const file of listFiles(path))
      if (file.endsWith(".toml")) out.push(readFileSync(file, "utf8"));
  }
  return out;
}

function listFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) listFiles(path, out);
    else out.push(path);
  }
  return out;
}
