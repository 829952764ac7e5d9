// "Did you mean ...?" for misspelt keys and enum values.

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d = new Array<number>(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(
        d[(i - 1) * cols + j]! + 1,
        d[i * cols + j - 1]! + 1,
        d[(i - 1) * cols + j - 1]! + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[(i - 2) * cols + j - 2]! + 1);
      }
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1]!;
}

/** Same word modulo case and the kebab-case / snake_case spelling. */
function normalize(s: string): string {
  return s.toLowerCase().replace(/_/g, "-");
}

/**
 * The candidate closest to `input`, if it is close enough to be a plausible typo:
 * equal modulo case and `_`/`-`, or within about one edit per three characters, or
 * else the shortest candidate containing every word of a multi-word input
 * (`accumulated-threshold` → `accumulated-step-panic-threshold`).
 */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  // Long inputs are not typos of config keys; also bounds the work.
  if (input.length > 64) return undefined;
  const norm = normalize(input);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    if (c === input) continue;
    const d = normalize(c) === norm ? 0 : editDistance(norm, normalize(c));
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const limit = Math.max(1, Math.floor(input.length / 3));
  if (bestDistance <= limit) return best;
  const words = norm.split("-").filter((w) => w !== "");
  if (words.length < 2) return undefined;
  const containing = candidates.filter((c) => {
    const cw = normalize(c).split("-");
    return words.every((w) => cw.includes(w));
  });
  return containing.sort((a, b) => a.length - b.length)[0];
}

/** ` (did you mean "x"?)` or "". */
export function didYouMean(input: string, candidates: readonly string[]): string {
  const c = closest(input, candidates);
  return c === undefined ? "" : ` (did you mean "${c}"?)`;
}
