// Finds uses of the features listed in unimplemented.ts in the parsed document.
import type { Issue } from "./fields.js";
import type { LocateKind } from "./locator.js";
import { getOwn, isTable } from "./toml-value.js";
import type { PathSegment, TomlValue } from "./toml-value.js";
import { UNIMPLEMENTED } from "./unimplemented.js";
import type { UnimplementedFeature } from "./unimplemented.js";

interface Step {
  key: string;
  each: boolean;
}

function steps(pattern: string): Step[] {
  return pattern.split(".").map((part) => {
    const each = part.endsWith("[]");
    return { key: each ? part.slice(0, -2) : part, each };
  });
}

function* walk(
  value: TomlValue,
  rest: readonly Step[],
  path: PathSegment[],
): Generator<{ path: PathSegment[]; value: TomlValue }> {
  const [step, ...tail] = rest;
  if (step === undefined) {
    yield { path, value };
    return;
  }
  if (!isTable(value)) return;
  const v = getOwn(value, step.key);
  if (v === undefined) return;
  if (!step.each) {
    yield* walk(v, tail, [...path, step.key]);
  } else if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) yield* walk(v[i]!, tail, [...path, step.key, i]);
  }
}

function sameValue(actual: TomlValue, wanted: string | number | boolean): boolean {
  return typeof actual === "bigint" ? Number(actual) === wanted : actual === wanted;
}

export function findUnimplemented(
  document: TomlValue,
  features: readonly UnimplementedFeature[] = UNIMPLEMENTED,
): Issue[] {
  const issues: Issue[] = [];
  for (const feature of features) {
    const pattern = steps(feature.path);
    const at: LocateKind = pattern.at(-1)?.each ? "table" : "key";
    for (const hit of walk(document, pattern, [])) {
      if (feature.value !== undefined && !sameValue(hit.value, feature.value)) continue;
      issues.push({
        path: hit.path,
        at,
        message: `${feature.what} is not implemented yet in this version of ntpd-ts`,
      });
    }
  }
  return issues;
}
