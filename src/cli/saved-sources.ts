// `--save`: the [[source]] tables ntp-ctl appends to the configuration file.
// Each is preceded by a marker comment, which is how `ntp-ctl source remove
// --save` knows a table is one it wrote and may take out again; tables the
// operator wrote are never rewritten (remove --save refuses and says why).
// A saved block is the marker line, the table's lines, and ends at the first
// blank line, comment or other table.

import { parseSourceTable } from "../proto/config/single-source.js";
import type { SourceConfig, SourceDefaultsConfig } from "../proto/config/types.js";
import { formatHostPort } from "../daemon/resolve.js";

export const SAVE_MARKER = "# Added by `ntp-ctl source add --save`";

/** The text to append for `table` (TOML of one [[source]]), with its marker. */
export function savedBlock(table: string, now: Date): string {
  const when = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  return `\n${SAVE_MARKER} on ${when}; \`ntp-ctl source remove --save\` takes it out.\n${table.trimEnd()}\n`;
}

/** `existing` with `block` appended, a line break between them if needed. */
export function appendBlock(existing: string, block: string): string {
  return existing === "" || existing.endsWith("\n") ? existing + block : `${existing}\n${block}`;
}

export interface SavedTable {
  /** Lines [first, end) of the file, the blank line before the marker included. */
  first: number;
  end: number;
  mode: string;
  /** "host:port" as `ntp-ctl source list` shows it. */
  address: string;
}

/** The saved blocks of `text` whose table parses (others are left alone). */
export function findSavedTables(text: string, defaults: SourceDefaultsConfig): SavedTable[] {
  const lines = text.split("\n");
  const found: SavedTable[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith(SAVE_MARKER)) continue;
    let end = i + 1;
    if (lines[end]?.trim() !== "[[source]]") continue;
    end++;
    while (end < lines.length && !/^\s*($|#|\[)/.test(lines[end]!)) end++;
    const parsed = parseSourceTable(lines.slice(i + 1, end).join("\n"), defaults);
    if (!parsed.ok) continue;
    const first = i > 0 && lines[i - 1]!.trim() === "" ? i - 1 : i;
    found.push({ first, end, mode: parsed.source.mode, address: addressOf(parsed.source) });
  }
  return found;
}

/** `text` without the lines of `table`. */
export function withoutTable(text: string, table: SavedTable): string {
  const lines = text.split("\n");
  lines.splice(table.first, table.end - table.first);
  return lines.join("\n");
}

export function addressOf(source: SourceConfig): string {
  return "address" in source
    ? formatHostPort(source.address.host, source.address.port)
    : "path" in source
      ? source.path
      : "";
}
