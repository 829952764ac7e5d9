// npm run fuzz -- TARGET|all [--runs N] [--seed S] [--fresh] [--uncovered] [--list]
//
// Coverage-guided fuzzing of one target (or all, one after another). Prints
// inputs, executions, inputs/s, coverage points (blocks of src/ reached, of
// those seen), corpus size. The corpus is kept in .fuzz/corpus/TARGET/ and
// reused by the next run (--fresh ignores it). On a crasher: the input (and a
// minimized one) and the error go to .fuzz/crashers/TARGET/, exit status 1.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inspect } from "node:util";
import { BlockCoverage } from "./engine/coverage.js";
import { fuzz, minimize, type FuzzStats } from "./engine/fuzzer.js";
import type { FuzzTarget } from "./engine/target.js";
import { TARGETS, targetByName } from "./targets/index.js";

const root = new URL("..", import.meta.url).pathname;
const srcUrl = new URL("../src/", import.meta.url).href;

function usage(): never {
  console.error(
    `usage: npm run fuzz -- TARGET|all [--runs N] [--seed S] [--fresh] [--uncovered]\ntargets: ${TARGETS.map((t) => t.name).join(", ")}`,
  );
  process.exit(2);
}

function parseArgs(argv: string[]) {
  const opts = {
    names: [] as string[],
    runs: 100_000,
    seed: 1,
    fresh: false,
    list: false,
    uncovered: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || !/^\d+$/.test(v)) usage();
      return Number(v);
    };
    if (a === "--runs" || a === "-runs") opts.runs = value();
    else if (a === "--seed") opts.seed = value();
    else if (a === "--fresh") opts.fresh = true;
    else if (a === "--list") opts.list = true;
    else if (a === "--uncovered") opts.uncovered = true;
    else if (a.startsWith("-")) usage();
    else opts.names.push(a);
  }
  return opts;
}

function line(s: FuzzStats, done: boolean): string {
  const secs = s.elapsedMs / 1000;
  return (
    `${done ? "DONE" : "    "} ${s.target}: inputs ${s.inputs} execs ${s.executions} ` +
    `${Math.round(s.inputs / Math.max(secs, 1e-3))}/s time ${secs.toFixed(1)}s ` +
    `cov ${s.points}/${s.knownPoints} points corpus ${s.corpus} (seeds ${s.seeds}) slowest ${s.slowestMs.toFixed(2)}ms`
  );
}

function loadCorpus(dir: string): Uint8Array[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((f) => Uint8Array.from(readFileSync(join(dir, f))));
}

function saveCorpus(dir: string, corpus: Uint8Array[]): void {
  mkdirSync(dir, { recursive: true });
  for (const input of corpus) {
    const name = createHash("sha1").update(input).digest("hex");
    const path = join(dir, name);
    if (!existsSync(path)) writeFileSync(path, input);
  }
}

function runOne(target: FuzzTarget, opts: ReturnType<typeof parseArgs>): boolean {
  // Fresh coverage per target: each reports what it reached itself.
  const coverage = new BlockCoverage((url) => url.startsWith(srcUrl));
  coverage.start();
  try {
    return fuzzOne(target, coverage, opts);
  } finally {
    coverage.stop();
  }
}

function fuzzOne(
  target: FuzzTarget,
  coverage: BlockCoverage,
  opts: ReturnType<typeof parseArgs>,
): boolean {
  const corpusDir = join(root, ".fuzz", "corpus", target.name);
  const saved = opts.fresh ? [] : loadCorpus(corpusDir);
  console.log(`fuzz ${target.name}: ${target.description}`);
  const result = fuzz(target, coverage, {
    runs: opts.runs,
    seed: opts.seed,
    corpus: saved,
    onProgress: (s) => console.log(line(s, false)),
  });
  saveCorpus(corpusDir, result.corpus);
  console.log(line(result.stats, true));
  if (opts.uncovered) {
    for (const [fn, n] of coverage.uncovered()) console.log(`  uncovered: ${n} in ${fn}`);
  }
  if (result.crasher === null) return true;
  const dir = join(root, ".fuzz", "crashers", target.name);
  mkdirSync(dir, { recursive: true });
  const small = minimize(target, result.crasher);
  const name = createHash("sha1").update(result.crasher.input).digest("hex").slice(0, 16);
  writeFileSync(join(dir, `${name}.bin`), result.crasher.input);
  writeFileSync(join(dir, `${name}.min.bin`), small);
  const report =
    `target ${target.name}, seed ${opts.seed}\n` +
    `input (hex): ${Buffer.from(result.crasher.input).toString("hex")}\n` +
    `minimized (hex): ${Buffer.from(small).toString("hex")}\n` +
    `${inspect(result.crasher.error)}\n`;
  writeFileSync(join(dir, `${name}.txt`), report);
  console.log(`CRASHER in ${target.name}, saved to ${join(dir, name)}.*\n${report}`);
  return false;
}

const opts = parseArgs(process.argv.slice(2));
if (opts.list) {
  for (const t of TARGETS) console.log(`${t.name}: ${t.description}`);
  process.exit(0);
}
if (opts.names.length === 0) usage();
const targets = opts.names.includes("all")
  ? TARGETS
  : opts.names.map((n) => targetByName(n) ?? usage());
let ok = true;
for (const target of targets) {
  if (!runOne(target, opts)) ok = false;
}
process.exit(ok ? 0 : 1);
