// parseConfig: TOML text → typed Config, or every error with its position. Pure: no file
// system, no clock. Never throws.
import { parse, TomlError } from "smol-toml";
import { sortDiagnostics } from "./diagnostics.js";
import type { ConfigDiagnostic, ConfigResult } from "./diagnostics.js";
import { findUnimplemented } from "./feature-gate.js";
import { Ctx, INVALID } from "./fields.js";
import type { Issue } from "./fields.js";
import { TomlLocator } from "./locator.js";
import { configSchema } from "./schema.js";
import { checkConfig, checkPollLimits } from "./semantic.js";
import { formatPath } from "./toml-value.js";
import type { TomlTable } from "./toml-value.js";
import type { Config } from "./types.js";
import { UNIMPLEMENTED } from "./unimplemented.js";
import type { UnimplementedFeature } from "./unimplemented.js";

export interface ParseOptions {
  /** Features refused as not implemented; default UNIMPLEMENTED. Tests pass [] to see them parse. */
  unimplemented?: readonly UnimplementedFeature[];
}

/** Far more than ntp.toml needs; keeps hostile input from nesting deeply. */
const MAX_DEPTH = 32;

function syntaxError(e: TomlError, file: string, source: string): ConfigDiagnostic {
  const first = e.message.split("\n")[0] ?? "";
  const message = first.replace(/^Invalid TOML document: /, "");
  // smol-toml reads the line end of an unterminated string as a control
  // character in it: point at the string and name the missing quote instead.
  const lineText = source.split("\n")[e.line - 1] ?? "";
  if (/^control characters/.test(message) && /^\r?$/.test(lineText.slice(e.column - 1))) {
    const open = unclosedString(lineText);
    if (open !== null) {
      return {
        file,
        line: e.line,
        column: open.column,
        path: "",
        message:
          "invalid TOML: the string that starts here is not closed: " +
          `add the closing ${open.quote} before the end of the line`,
      };
    }
  }
  return { file, line: e.line, column: e.column, path: "", message: `invalid TOML: ${message}` };
}

/** The 1-based column and quote of a one-line string left open at the end of `line`, if any. */
function unclosedString(line: string): { column: number; quote: string } | null {
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === null) {
      if (c === "#") return null;
      if (c === '"' || c === "'") {
        if (line.startsWith(c.repeat(3), i)) return null; // multi-line: smol-toml says so
        quote = c;
        start = i;
      }
    } else if (quote === '"' && c === "\\") {
      i++; // an escaped character, a quote included
    } else if (c === quote) {
      quote = null;
    }
  }
  return quote === null ? null : { column: start + 1, quote };
}

function parseUnchecked(
  text: string,
  file: string,
  unimplemented: readonly UnimplementedFeature[],
): ConfigResult {
  const source = text.startsWith("\uFEFF") ? text.slice(1) : text;
  let document: TomlTable;
  try {
    document = parse(source, { integersAsBigInt: true, maxDepth: MAX_DEPTH });
  } catch (e) {
    if (e instanceof TomlError) {
      return { ok: false, errors: [syntaxError(e, file, source)], warnings: [] };
    }
    throw e;
  }

  const issues: Issue[] = [];
  const config = configSchema.parse(document, new Ctx(issues, [], ""));
  issues.push(...findUnimplemented(document, unimplemented));
  if (config !== INVALID) issues.push(...checkPollLimits(config));

  let locator: TomlLocator | undefined;
  const toDiagnostic = (issue: Issue): ConfigDiagnostic => {
    locator ??= new TomlLocator(source);
    const { line, column } = locator.locate(issue.path, issue.at);
    return { file, line, column, path: formatPath(issue.path), message: issue.message };
  };
  const errors = sortDiagnostics(issues.map(toDiagnostic));
  const warnings =
    config === INVALID ? [] : sortDiagnostics(checkConfig(config, document).map(toDiagnostic));
  if (config === INVALID || errors.length > 0) return { ok: false, errors, warnings };
  return { ok: true, config, warnings };
}

/**
 * Parses and validates ntp.toml text. `fileName` is only used in the diagnostics.
 * Errors: syntax, unknown keys, wrong types and values, unimplemented features.
 * Warnings: the `ntp-ctl validate` checks (the daemon would still start).
 */
export function parseConfig(
  text: string,
  fileName: string,
  options: ParseOptions = {},
): ConfigResult {
  try {
    return parseUnchecked(text, fileName, options.unimplemented ?? UNIMPLEMENTED);
  } catch (e) {
    // A bug of ours, not of the file: say so instead of throwing at the caller.
    const detail = e instanceof Error ? e.message : String(e);
    const error = { file: fileName, line: 0, column: 0, path: "" };
    return {
      ok: false,
      errors: [{ ...error, message: `internal error while reading the configuration: ${detail}` }],
      warnings: [],
    };
  }
}

/** The configuration of an empty file. */
export function defaultConfig(): Config {
  const result = parseConfig("", "<defaults>");
  if (!result.ok) throw new Error("the default configuration does not parse");
  return result.config;
}
