// The control socket's messages (`ntp-ctl source ...`, an ntpd-ts extension).
// Framing as the observation socket's: a u64 big-endian length, then that
// many bytes of UTF-8 JSON, one request and one reply per connection.
// Requests are small and bounded (MAX_CONTROL_REQUEST_BYTES); a request that
// is not one of these shapes is answered with an error and counted, never
// acted on.
//
//   {"command":"source-list"}
//   {"command":"source-add","source":"[[source]]\nmode = \"server\"\n..."}
//   {"command":"source-remove","source":"3" | "time.example.com:123"}
//
// A source to add is TOML text of one [[source]] table, checked by the same
// schema as ntp.toml (proto/config/single-source.ts).
// Replies: {"ok":true,...} or {"ok":false,"error":"..."}.

import { MAX_SOURCE_TABLE_BYTES } from "../proto/config/single-source.js";

/** A request's JSON is at most this long: a source table and some quoting. */
export const MAX_CONTROL_REQUEST_BYTES = 2 * MAX_SOURCE_TABLE_BYTES + 1024;
/** Replies list every source; far below this. */
export const MAX_CONTROL_REPLY_BYTES = 1 << 20;

export type ControlRequest =
  | { command: "source-list" }
  | { command: "source-add"; source: string }
  | { command: "source-remove"; source: string };

/** One configured or added source, as `source list` shows it. */
export interface ControlSourceEntry {
  /** Mode and address as written: "server", "127.0.0.1:123". */
  mode: string;
  address: string;
  /** From the configuration file, or added at run time through the control socket. */
  origin: "config" | "runtime";
  /** Its running sources now (a pool has several, a source between retries none). */
  sources: {
    id: number;
    address: string;
    /** NTS accepted out of its certificate dates (no-certificate-time-check), not checked yet. */
    certificate_dates_unchecked?: true;
  }[];
}

/** The control socket's own counters, in the `source list` reply. */
export interface ControlCounters {
  requests: number;
  malformed_requests: number;
  refused_connections: number;
}

export type ControlReply =
  | { ok: true; sources: ControlSourceEntry[]; control: ControlCounters }
  | { ok: true; added: ControlSourceEntry }
  | { ok: true; removed: ControlSourceEntry }
  | { ok: false; error: string };

export class ControlRequestError extends Error {}

/**
 * Which of `entries` `what` names: a running source's id (as `ntp-ctl status`
 * shows it) or an entry's address as written, with or without its port. The
 * index, or a message when none or several match. The daemon and ntp-ctl
 * (before `remove --save` touches the file) decide the same way.
 */
export function matchSourceEntry(
  entries: readonly ControlSourceEntry[],
  what: string,
): number | string {
  if (/^[0-9]+$/.test(what)) {
    const id = Number(what);
    const i = entries.findIndex((e) => e.sources.some((s) => s.id === id));
    return i >= 0 ? i : `no running source has id ${id} (see ntp-ctl source list)`;
  }
  const matches: number[] = [];
  entries.forEach((e, i) => {
    if (e.address === what || hostOf(e.address) === what) matches.push(i);
  });
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) return `no source has the address "${what}" (see ntp-ctl source list)`;
  return `${matches.length} sources have the address "${what}": name one by its id (see ntp-ctl source list)`;
}

/** "time.example:123" → "time.example", "[2001:db8::1]:123" → "2001:db8::1". */
function hostOf(address: string): string {
  const m = /^\[(.*)\]:\d+$/.exec(address) ?? /^([^:]*):\d+$/.exec(address);
  return m?.[1] ?? address;
}

/** The request in `text`, or ControlRequestError saying what is wrong with it. */
export function decodeControlRequest(text: string): ControlRequest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ControlRequestError("the request is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ControlRequestError("the request is not a JSON object");
  }
  const request = value as Record<string, unknown>;
  const command = request["command"];
  const allowed = command === "source-list" ? ["command"] : ["command", "source"];
  for (const key of Object.keys(request)) {
    if (!allowed.includes(key)) throw new ControlRequestError(`unknown request field "${key}"`);
  }
  switch (command) {
    case "source-list":
      return { command };
    case "source-add":
    case "source-remove": {
      const source = request["source"];
      if (typeof source !== "string" || source === "") {
        throw new ControlRequestError(`"${command}" needs a non-empty "source" string`);
      }
      return { command, source };
    }
    default:
      throw new ControlRequestError(
        typeof command === "string"
          ? `unknown command "${command.slice(0, 40)}"`
          : 'the request has no "command" string',
      );
  }
}

/** The u64 big-endian length and the JSON of `message`. */
export function encodeControlMessage(message: ControlRequest | ControlReply): Buffer {
  const body = Buffer.from(JSON.stringify(message), "utf8");
  const header = Buffer.alloc(8);
  header.writeBigUInt64BE(BigInt(body.length));
  return Buffer.concat([header, body]);
}
