// What the config parser reports: errors (the config is refused) and warnings (the daemon
// starts, `ntp-ctl validate` fails), each with a position in the file.
import type { Config } from "./types.js";

export interface ConfigDiagnostic {
  file: string;
  /** 1-based; 0 when the diagnostic is about the whole file (e.g. it cannot be read). */
  line: number;
  /** 1-based, in UTF-16 code units; 0 with line 0. */
  column: number;
  /**
   * The key path in the document, e.g. `source[1].address`, `server[0].allowlist.filter[2]`,
   * `synchronization.algorithm.step-threshold`; "" for the document itself (syntax errors).
   */
  path: string;
  /**
   * The complete human-readable text, starting with the place in TOML terms, e.g.
   * `[[source]] mode "nts": unknown key "certificate-autority" (did you mean ...?)`.
   */
  message: string;
}

export type ConfigResult =
  | { ok: true; config: Config; warnings: ConfigDiagnostic[] }
  | { ok: false; errors: ConfigDiagnostic[]; warnings: ConfigDiagnostic[] };

/** `FILE:LINE:COL: message`, the form compilers use, so editors can jump to it. */
export function formatDiagnostic(d: ConfigDiagnostic): string {
  if (d.line === 0) return `${d.file}: ${d.message}`;
  return `${d.file}:${d.line}:${d.column}: ${d.message}`;
}

/** Sorts in place by position (stable for equal positions) and returns the array. */
export function sortDiagnostics(list: ConfigDiagnostic[]): ConfigDiagnostic[] {
  return list.sort((a, b) => a.line - b.line || a.column - b.column);
}
