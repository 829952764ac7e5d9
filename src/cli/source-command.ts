// ntp-ctl source list | add MODE ADDRESS [KEY=VALUE ...] [--save] | remove ID|ADDRESS [--save]
// Changes the running daemon's sources through its control socket
// (`[observability] control-path`). A change lasts until the daemon stops
// unless --save also writes it to the configuration file (saved-sources.ts).

import { appendFile, readFile, writeFile } from "node:fs/promises";
import { parse } from "smol-toml";
import { formatDiagnostic, parseConfig } from "../proto/config/index.js";
import type { Config } from "../proto/config/types.js";
import {
  matchSourceEntry,
  type ControlReply,
  type ControlRequest,
  type ControlSourceEntry,
} from "../daemon/control-protocol.js";
import { ControlClientError, sendControlRequest } from "./control-client.js";
import {
  addressOf,
  appendBlock,
  findSavedTables,
  savedBlock,
  withoutTable,
} from "./saved-sources.js";

export interface SourceCommandOptions {
  configPath: string;
  save: boolean;
  /** Where messages go (tests capture them). */
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Runs `ntp-ctl source ARGS...`; the exit status. */
export async function sourceCommand(
  args: string[],
  options: SourceCommandOptions,
): Promise<number> {
  const { err } = options;
  const [action, ...rest] = args;
  const file = await loadConfigText(options.configPath, err);
  if (file === null) return 1;
  const path = file.config.observability.controlPath;
  if (path === null) {
    err(
      `${options.configPath} sets no [observability] control-path: the daemon has no control socket\n`,
    );
    return 1;
  }
  try {
    switch (action) {
      case "list":
        if (rest.length !== 0 || options.save) return usage(err, "source list takes no arguments");
        return await list(path, options);
      case "add": {
        const [mode, address, ...settings] = rest;
        if (mode === undefined || address === undefined) {
          return usage(err, "source add needs a mode and an address");
        }
        const table = sourceTable(mode, address, settings);
        if (typeof table !== "string") return usage(err, table.error);
        return await add(path, table, file, options);
      }
      case "remove":
        if (rest.length !== 1) return usage(err, "source remove needs one id or address");
        return await remove(path, rest[0]!, file, options);
      default:
        return usage(
          err,
          action === undefined
            ? "source needs list, add or remove"
            : `unknown source action "${action}"`,
        );
    }
  } catch (error) {
    if (!(error instanceof ControlClientError)) throw error;
    err(`${error.message}\n`);
    return 1;
  }
}

function usage(err: (text: string) => void, message: string): number {
  err(`ntp-ctl: ${message}\n`);
  return 1;
}

interface ConfigText {
  text: string;
  config: Config;
}

async function loadConfigText(path: string, err: (t: string) => void): Promise<ConfigText | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    err(`cannot read ${path}: ${(error as Error).message}\n`);
    return null;
  }
  const result = parseConfig(text, path);
  if (!result.ok) {
    err(`Error: Could not load configuration:\n`);
    for (const e of result.errors) err(`${formatDiagnostic(e)}\n`);
    return null;
  }
  return { text, config: result.config };
}

/**
 * The TOML of one [[source]] from the command line. A setting's value is TOML
 * (`interleaved=true`, `poll-interval-limits={min=4,max=6}`, `count=2`), or
 * else taken as a string (`certificate-authority=/etc/ca.pem`).
 */
export function sourceTable(
  mode: string,
  address: string,
  settings: string[],
): string | { error: string } {
  const lines = ["[[source]]", `mode = ${JSON.stringify(mode)}`];
  lines.push(
    `${mode === "sock" || mode === "pps" ? "path" : "address"} = ${JSON.stringify(address)}`,
  );
  for (const setting of settings) {
    const eq = setting.indexOf("=");
    const key = setting.slice(0, eq);
    if (eq <= 0 || !/^[A-Za-z0-9_-]+$/.test(key)) {
      return { error: `"${setting}" is not KEY=VALUE` };
    }
    const value = setting.slice(eq + 1);
    lines.push(`${key} = ${isTomlValue(value) ? value : JSON.stringify(value)}`);
  }
  return `${lines.join("\n")}\n`;
}

function isTomlValue(text: string): boolean {
  if (text.includes("\n")) return false;
  try {
    parse(`v = ${text}`);
    return true;
  } catch {
    return false;
  }
}

async function request(path: string, req: ControlRequest): Promise<ControlReply> {
  return sendControlRequest(path, req);
}

function describeEntry(e: ControlSourceEntry): string {
  const running =
    e.sources.length === 0
      ? "no running source yet"
      : e.sources
          .map(
            (s) =>
              `id ${s.id} ${s.address}` +
              (s.certificate_dates_unchecked ? " (certificate dates not checked yet)" : ""),
          )
          .join(", ");
  return `${e.mode.padEnd(8)} ${e.address.padEnd(30)} ${e.origin.padEnd(8)} ${running}`;
}

async function list(path: string, options: SourceCommandOptions): Promise<number> {
  const reply = await request(path, { command: "source-list" });
  if (!reply.ok) return failed(reply, options);
  if (!("sources" in reply)) return failed({ ok: false, error: "unexpected reply" }, options);
  options.out(`${"MODE".padEnd(8)} ${"ADDRESS".padEnd(30)} ${"ORIGIN".padEnd(8)} RUNNING\n`);
  for (const e of reply.sources) options.out(`${describeEntry(e)}\n`);
  const c = reply.control;
  options.out(
    `control socket: ${c.requests} requests, ${c.malformed_requests} malformed, ${c.refused_connections} connections refused (busy)\n`,
  );
  return 0;
}

async function add(
  path: string,
  table: string,
  file: ConfigText,
  options: SourceCommandOptions,
): Promise<number> {
  let saved: string | null = null;
  if (options.save) {
    // Checked before the daemon is asked: nothing changes if the file would break.
    saved = appendBlock(file.text, savedBlock(table, new Date()));
    const check = parseConfig(saved, options.configPath);
    if (!check.ok) {
      options.err(`not added: ${options.configPath} would not load with this table:\n`);
      for (const e of check.errors) options.err(`${formatDiagnostic(e)}\n`);
      return 1;
    }
  }
  const reply = await request(path, { command: "source-add", source: table });
  if (!reply.ok) return failed(reply, options);
  if (!("added" in reply)) return failed({ ok: false, error: "unexpected reply" }, options);
  options.out(`added ${reply.added.mode} source ${reply.added.address}\n`);
  if (saved !== null) {
    // Appended, not rewritten: whatever else is in the file stays as it is.
    await appendFile(options.configPath, saved.slice(file.text.length));
    options.out(`saved to ${options.configPath}\n`);
  }
  return 0;
}

async function remove(
  path: string,
  what: string,
  file: ConfigText,
  options: SourceCommandOptions,
): Promise<number> {
  let rewritten: string | null = null;
  if (options.save) {
    const listed = await request(path, { command: "source-list" });
    if (!listed.ok || !("sources" in listed)) return failed(listed, options);
    const i = matchSourceEntry(listed.sources, what);
    if (typeof i === "string") return failed({ ok: false, error: i }, options);
    const entry = listed.sources[i]!;
    const defaults = file.config.sourceDefaults;
    const ours = findSavedTables(file.text, defaults).find(
      (t) => t.mode === entry.mode && t.address === entry.address,
    );
    if (ours) {
      rewritten = withoutTable(file.text, ours);
    } else if (
      file.config.sources.some((s) => s.mode === entry.mode && addressOf(s) === entry.address)
    ) {
      options.err(
        `not removed: the ${entry.mode} source ${entry.address} is a [[source]] table written in ` +
          `${options.configPath}, not one ntp-ctl added; ntp-ctl does not rewrite tables you wrote. ` +
          `Delete it from the file yourself, or remove it from the running daemon only (without --save).\n`,
      );
      return 1;
    }
    what = entry.sources[0] ? String(entry.sources[0].id) : what;
  }
  const reply = await request(path, { command: "source-remove", source: what });
  if (!reply.ok) return failed(reply, options);
  if (!("removed" in reply)) return failed({ ok: false, error: "unexpected reply" }, options);
  options.out(`removed ${reply.removed.mode} source ${reply.removed.address}\n`);
  if (options.save) {
    if (rewritten !== null) {
      await writeFile(options.configPath, rewritten);
      options.out(`removed from ${options.configPath}\n`);
    } else {
      options.out(`${options.configPath} did not have it: nothing to save\n`);
    }
  }
  return 0;
}

function failed(reply: ControlReply, options: SourceCommandOptions): number {
  options.err(`${reply.ok ? "unexpected reply from the daemon" : reply.error}\n`);
  return 1;
}
