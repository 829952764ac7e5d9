// Generates docs/ntp.toml.md, the reference of every ntp.toml section and key, from the
// declarative schema (src/proto/config/schema*.ts): key names, aliases, value types, defaults
// and the one-line meanings all come from there, and the keys this build refuses as "not
// implemented yet" from src/proto/config/unimplemented.ts. Only the prose around the tables
// is written here.
//
//   npm run docs:config                 rewrite docs/ntp.toml.md
//   npm run docs:config -- --check      exit 1 if docs/ntp.toml.md is out of date
//
// test/docs/docs.test.ts fails when the page and the schema disagree.

import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { configSchema, UNIMPLEMENTED } from "../src/proto/config/index.js";
import type { FieldSpec, TableType, ValueType } from "../src/proto/config/fields.js";
import { SOURCE_MODE_TABLES } from "../src/proto/config/schema-sources.js";
import { keysetTable, ntsKeServerTable, serverTable } from "../src/proto/config/schema-server.js";
import { ntsPoolKeServerTable } from "../src/proto/config/schema-pool-front.js";
import { csptpServerTable, csptpTable } from "../src/proto/config/schema-csptp.js";
import {
  clockTable,
  daemonTable,
  observabilityTable,
  sourceDefaultsTable,
  synchronizationTable,
} from "../src/proto/config/schema-system.js";

export const CONFIG_DOC_PATH = fileURLToPath(new URL("../docs/ntp.toml.md", import.meta.url));

/** One row of a reference table. */
export interface KeyRow {
  /** The key as written in its table, e.g. `allowlist.filter`. */
  key: string;
  aliases: readonly string[];
  type: string;
  default: string;
  meaning: string;
}

export interface SectionDoc {
  /** `[[source]] mode = "nts"`, `[synchronization.algorithm]`, ... */
  heading: string;
  /** Dotted key path of the section's table in the document, for the "not implemented" list. */
  path: string;
  intro: string;
  rows: KeyRow[];
}

function isTableType(type: ValueType<unknown>): type is TableType<unknown> {
  return "fields" in type && typeof (type as { fields?: unknown }).fields === "object";
}

// ---------------------------------------------------------------------------------------------
// Defaults as a user would write them in TOML (the schema keeps parsed values).

function tomlString(s: string): string {
  return JSON.stringify(s);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function formatHost(address: string, family: unknown): string {
  return family === 6 ? `[${address}]` : address;
}

function tomlValue(value: unknown, key: string): string {
  if (value === null || value === undefined) return "none";
  if (typeof value === "string") return tomlString(value);
  if (typeof value === "boolean") return String(value);
  if (typeof value === "number") {
    if (value === Infinity) return '"inf"';
    if (key === "observation-permissions") return `0o${value.toString(8)}`;
    if (Math.abs(value) > 0 && Math.abs(value) < 1e-3) return value.toExponential();
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => tomlValue(v, key)).join(", ")}]`;
  if (isRecord(value)) {
    // Parsed forms of string values: CIDR subnets and socket addresses.
    if (typeof value.address === "string" && typeof value.prefixLength === "number") {
      return tomlString(`${value.address}/${value.prefixLength}`);
    }
    if (typeof value.address === "string" && typeof value.port === "number") {
      return tomlString(`${formatHost(value.address, value.family)}:${value.port}`);
    }
    // Step thresholds: one number when both directions agree.
    if ("forward" in value && "backward" in value && value.forward === value.backward) {
      return tomlValue(value.forward, key);
    }
    const parts = Object.entries(value).map(([k, v]) => `${k} = ${tomlValue(v, key)}`);
    return `{ ${parts.join(", ")} }`;
  }
  return typeof value === "bigint" ? value.toString() : (JSON.stringify(value) ?? "?");
}

function defaultText(spec: FieldSpec<unknown>): string {
  switch (spec.presence) {
    case "required":
      return "required";
    case "optional":
      return "none";
    case "section":
      return "(table)";
    case "default":
      return `\`${tomlValue(spec.defaultValue, spec.key)}\``;
  }
}

// ---------------------------------------------------------------------------------------------
// Rows and sections.

function rowsOf(t: TableType<unknown>, prefix = ""): KeyRow[] {
  const rows: KeyRow[] = [];
  for (const spec of Object.values(t.fields)) {
    if (spec.presence === "section" && isTableType(spec.type)) continue; // its own section
    const key = prefix + spec.key;
    rows.push({
      key,
      aliases: spec.aliases.map((a) => prefix + a),
      type: isTableType(spec.type)
        ? `table { ${Object.values(spec.type.fields)
            .map((f) => f.key)
            .join(", ")} }`
        : spec.type.expected,
      default: spec.defaultDoc ?? defaultText(spec),
      meaning: spec.doc,
    });
    if (isTableType(spec.type)) rows.push(...rowsOf(spec.type, `${key}.`));
  }
  return rows;
}

const SOURCE_INTRO: Record<string, string> = {
  server: "",
  pool: "",
  nts: "ntpd-ts extensions: `address` may be a raw IPv4 or IPv6 address (checked against the certificate's IP SANs), and `certificate-authority` may hold the server's own self-signed certificate, which is then trusted for that server. See [the NTS guide](nts.md).",
  "nts-pool":
    "Each of the `count` members is one key exchange with the pool, sending an NTP Server Deny record for every server already in use; a server handed out twice is discarded, members that end are replaced. `enable-srv-resolution` (here and for `nts`) uses only DNSSEC-validated answers of a resolver on this machine and the SRV record's port. See [the NTS pool guide](nts-pool.md).",
  sock: "Keys of this mode are snake_case, as in ntpd-rs. `precision` (or the deprecated `measurement_noise_estimate`, not both) is required.",
  pps: "Keys of this mode are snake_case, as in ntpd-rs. `precision` (or the deprecated `measurement_noise_estimate`, not both) is required. A PPS source counts as no source for `minimum-agreeing-sources`.",
  csptp:
    "Keys of this mode are snake_case, as in ntpd-rs. Experimental in ntpd-rs (its development branch only). Requests go from the `[csptp]` `event_port` to `address` (a port given there is an ntpd-ts extension: ntpd-rs always uses 319). Counts as one source for `minimum-agreeing-sources`. See [the CSPTP guide](csptp.md).",
};

const SECTION_INTRO: Record<string, string> = {
  "source-defaults":
    "Applies to every `server`, `pool`, `nts` and `nts-pool` source that does not set the key itself.",
  server:
    "One table per UDP socket; repeat it to listen on several addresses. NTS requests are answered once an `[[nts-ke-server]]` hands out cookies. Rate limiting is on only when both `rate-limiting-cache-size` and `rate-limiting-cutoff-ms` are non-zero; rate-limited requests are dropped silently. When `allowlist` or `denylist` is given, both its `filter` and its `action` are required.",
  "nts-ke-server":
    "TLS 1.3 with ALPN `ntske/1`. The certificate chain and key are loaded again when either file changes (checked every 5 s) and on SIGHUP; a reload that fails keeps the old ones and logs why. Without `ntp-server`, `ntp-ctl validate` wants a `[[server]]` on `ntp-port` (default 123) that accepts each of `accept-ntp-versions`.",
  "nts-pool-ke-server":
    "Not in ntpd-rs. TLS 1.3 with ALPN `ntske/1` for the pool's name; each back end is an NTS-KE server (ours, or ntpd-rs 1.9+) that lists the table's `authentication-token` in its `accepted-pool-authentication-tokens`. Back ends are used in turn, skipping those a client denies (NTP Server Deny) and, for 30 s, those that failed. The certificate is reloaded like an `[[nts-ke-server]]`'s. See [the NTS pool guide](nts-pool.md).",
  "csptp-server":
    "Experimental, as in ntpd-rs (its development branch only). One server answers on every address at the `[csptp]` `event_port`; a second table adds nothing (`ntp-ctl validate` warns). One-step responses, never larger than the request: ntpd-rs's unpadded 52-octet requests are not answered. See [the CSPTP guide](csptp.md).",
  csptp:
    'Keys are snake_case, as in ntpd-rs; unlike ntpd-rs, unknown keys are errors. `identity`, the priorities and `clock_quality` go into the status TLV of responses; the three flags into their headers. `event_port` and `general_port` are ntpd-ts extensions (ntpd-rs always binds 319 and 320): the sources and the server of one daemon share them. `clock_accuracy` is a name as ntpd-rs\'s serde writes it (`"NS25"`, `"US1"`, `"MS10"`, `"Unknown"`, ...) or `{ ProfileSpecific = n }`.',
  keyset:
    "With `key-storage-path`, a restart keeps every client's cookies valid; the file is written atomically with mode 0600, its missing directories are created with mode 0700, and a file that cannot be written at all is a warning (NTS is served; cookies then do not survive a restart). A file that exists but cannot be read or parsed is never replaced: the daemon exits 70 and says why.",
  observability:
    "Read by all three programs: `ntp-daemon` logs and serves the observation socket, `ntp-ctl status` and `ntp-metrics-exporter` find the socket through `observation-path`.",
  synchronization:
    'A step larger than a panic threshold is not made: the daemon logs an error and exits 70. A threshold is a number of seconds, `"inf"`, or `{ forward = ..., backward = ... }`. `accumulated-step-panic-threshold` takes a finite number only.',
  "synchronization.algorithm":
    "The Kalman filter, source selection and steering, with ntpd-rs's keys and defaults; the defaults suit almost everyone.",
  daemon:
    'With `server-threads` above 1 (needs the native addon; without it the daemon serves from one thread and says so), every thread has its own sockets on each `[[server]]` and `[[nts-ke-server]]` address, bound with SO_REUSEPORT so that the kernel spreads requests over them; the main thread keeps the sources, the clock, the observation socket and the NTS key set, which every thread shares (a cookie from any thread is accepted by all). The default, 1, serves from the main thread: it suits a machine with one or two cores, where one thread answers far more requests than a small server gets and a second serving thread would compete with the sources, the clock discipline and the rest of the machine for the only other core. Use "auto" (one thread per available core) on a dedicated server with more cores. Each thread costs some memory (a V8 isolate, roughly 10-20 MB).',
  clock:
    "Without the section: the system clock (`CLOCK_REALTIME`), no interface binding, kernel receive and transmit timestamps (`kernel-all`), as ntpd-rs on Linux. With `clock`, the daemon steers that device instead of the system clock (the system clock is then not touched, and the servers serve it without claiming synchronization); the kernel's software timestamps are translated to the device's time. `interface` binds the sources' sockets to one interface (SO_BINDTODEVICE; needs the native addon). `\"hardware\"` needs `interface`, a driver with hardware timestamping and `clock` set to that interface's PHC; anything else fails the start (exit 78) with a message naming the interface. The kernel modes without the native addon fall back to user-space timestamps with a warning. `ntp-ctl validate` checks that the device is a clock and that the interface exists. See docs/clock.md.",
};

/** Every section of ntp.toml with its keys, in document order. */
export function configSections(): SectionDoc[] {
  const sections: SectionDoc[] = [];
  for (const [mode, t] of Object.entries(SOURCE_MODE_TABLES)) {
    const intro = [t.doc, SOURCE_INTRO[mode] ?? ""].filter((s) => s !== "").join(" ");
    sections.push({
      heading: `[[source]] mode = "${mode}"`,
      path: "source[]",
      intro,
      rows: rowsOf(t),
    });
  }
  const plain: [string, string, TableType<unknown>][] = [
    ["[source-defaults]", "source-defaults", sourceDefaultsTable],
    ["[[server]]", "server", serverTable],
    ["[[nts-ke-server]]", "nts-ke-server", ntsKeServerTable],
    ["[[nts-pool-ke-server]]", "nts-pool-ke-server", ntsPoolKeServerTable],
    ["[[csptp-server]]", "csptp-server", csptpServerTable],
    ["[csptp]", "csptp", csptpTable],
    ["[keyset]", "keyset", keysetTable],
    ["[observability]", "observability", observabilityTable],
    ["[synchronization]", "synchronization", synchronizationTable],
  ];
  for (const [heading, path, t] of plain) {
    sections.push({ heading, path, intro: introOf(t, path), rows: rowsOf(t) });
  }
  const algorithm = synchronizationTable.fields.algorithm?.type;
  if (algorithm && isTableType(algorithm)) {
    const path = "synchronization.algorithm";
    sections.push({
      heading: "[synchronization.algorithm]",
      path,
      intro: introOf(algorithm, path),
      rows: rowsOf(algorithm),
    });
  }
  sections.push({
    heading: "[clock]",
    path: "clock",
    intro: introOf(clockTable, "clock"),
    rows: rowsOf(clockTable),
  });
  sections.push({
    heading: "[daemon]",
    path: "daemon",
    intro: introOf(daemonTable, "daemon"),
    rows: rowsOf(daemonTable),
  });
  return sections;
}

function introOf(t: TableType<unknown>, path: string): string {
  return [t.doc, SECTION_INTRO[path] ?? ""].filter((s) => s !== "").join(" ");
}

// ---------------------------------------------------------------------------------------------
// "Not implemented yet" notes, from UNIMPLEMENTED.

function unimplementedNote(section: SectionDoc, row: KeyRow | null): string {
  const hits = UNIMPLEMENTED.filter((f) => {
    if (row === null) return f.path === section.path && f.value === undefined;
    if (f.path !== `${section.path}.${row.key}`) return false;
    if (section.heading.startsWith("[[source]]") && row.key === "mode") {
      return section.heading === `[[source]] mode = "${String(f.value)}"`;
    }
    return true;
  });
  if (hits.length === 0) return "";
  return hits
    .map((f) =>
      f.value === undefined
        ? " **Not implemented yet in ntpd-ts** (refused with an error)."
        : ` **Not implemented yet:** \`${row?.key} = ${tomlValue(f.value, "")}\` is refused with an error.`,
    )
    .join("");
}

// ---------------------------------------------------------------------------------------------
// Markdown.

function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function codeIfQuoted(type: string): string {
  return cell(type);
}

function renderSection(s: SectionDoc): string {
  const lines: string[] = [`### \`${s.heading}\``, ""];
  const sectionNote = unimplementedNote(s, null);
  // A source mode that is not implemented yet is noted on its `mode` row, said here too.
  const modeRow = s.rows.find((r) => r.key === "mode");
  const modeNote = modeRow ? unimplementedNote(s, modeRow) : "";
  const intro =
    s.intro +
    sectionNote +
    (modeNote ? " **Not implemented yet in ntpd-ts** (refused with an error)." : "");
  if (intro.trim() !== "") lines.push(intro.trim(), "");
  lines.push("| key | type | default | meaning |", "|---|---|---|---|");
  for (const r of s.rows) {
    const aliases =
      r.aliases.length > 0 ? ` (alias ${r.aliases.map((a) => `\`${a}\``).join(", ")})` : "";
    const note = r.key === "mode" ? "" : unimplementedNote(s, r);
    lines.push(
      `| \`${r.key}\`${aliases} | ${codeIfQuoted(r.type)} | ${cell(r.default)} | ${cell(r.meaning + note)} |`,
    );
  }
  lines.push("");
  return lines.join("\n");
}

export function renderConfigReference(): string {
  const sections = configSections();
  const sourceSections = sections.filter((s) => s.heading.startsWith("[[source]]"));
  const otherSections = sections.filter((s) => !s.heading.startsWith("[[source]]"));
  const topDoc = configSchema.doc;
  const out: string[] = [
    "<!-- Generated by scripts/gen-config-doc.ts from src/proto/config/schema*.ts. Do not edit: run `npm run docs:config`. -->",
    "",
    "# `ntp.toml` reference",
    "",
    `The configuration file of \`ntp-daemon\`, \`ntp-ctl\` and \`ntp-metrics-exporter\`: ${topDoc.charAt(0).toLowerCase()}${topDoc.slice(1)} ` +
      "A file written for ntpd-rs 1.9 works unchanged. The programs read `/etc/ntpd-rs/ntp.toml` unless `-c PATH` names another file.",
    "",
    "General rules:",
    "",
    "- Every section is optional; an empty file is a valid configuration (no sources, no servers: the daemon does nothing useful, and never touches the clock).",
    "- Keys are kebab-case, except inside `sock`, `pps` and `csptp` sources, whose keys are snake_case as in ntpd-rs.",
    '- Unknown or mistyped keys are errors, reported with file, line, column, key path and a "did you mean" when a known key is close. Every problem of the file is reported at once.',
    "- Every key of ntpd-rs's schema is implemented. Should a future version parse a feature it does not implement yet, it is refused with `... is not implemented yet in this version of ntpd-ts`, never silently ignored, and marked below.",
    "- Poll intervals are log2 seconds: `4` means 16 s, `10` means 1024 s.",
    "- `ntp-ctl validate -c FILE` checks a file the way the daemon reads it, and also fails on the warnings ntpd-rs's validate fails on (fewer sources than `minimum-agreeing-sources`, an NTS-KE server without a matching `[[server]]`, ...).",
    "",
    "This page is generated from the schema the parser uses, so the types and defaults below are the ones the code applies.",
    "",
    "## Contents",
    "",
    "- [`[[source]]`](#source): `server`, `pool`, `nts`, `nts-pool`, `sock`, `pps`, `csptp`",
    ...otherSections.map((s) => `- [\`${s.heading}\`](#${anchor(s.heading)})`),
    "",
    "## `[[source]]`",
    "",
    "A time source; repeat the table for each. `mode` selects the kind of source and which other keys are allowed. " +
      "The address syntax is `host`, `host:port`, an IPv6 literal with or without port (`2001:db8::1`, `[2001:db8::1]:123`). " +
      "Without any `[[source]]` the daemon never changes the clock and needs no `CAP_SYS_TIME`.",
    "",
    "Example:",
    "",
    "```toml",
    "[[source]]",
    'mode = "pool"',
    'address = "pool.ntp.org"',
    "count = 4",
    "",
    "[[source]]",
    'mode = "nts"',
    'address = "time.cloudflare.com"',
    "poll-interval-limits = { max = 8 }",
    "```",
    "",
    ...sourceSections.map(renderSection),
    "## Other sections",
    "",
    ...otherSections.map(renderSection),
  ];
  return out.join("\n").replace(/\n+$/, "\n");
}

/** GitHub's heading anchor for `### \`[keyset]\``. */
function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, "")
    .replace(/ /g, "-");
}

function main(argv: string[]): number {
  const text = renderConfigReference();
  if (argv.includes("--check")) {
    let current = "";
    try {
      current = readFileSync(CONFIG_DOC_PATH, "utf8");
    } catch {
      // missing: out of date
    }
    if (current !== text) {
      process.stderr.write("docs/ntp.toml.md is out of date: run `npm run docs:config`\n");
      return 1;
    }
    return 0;
  }
  writeFileSync(CONFIG_DOC_PATH, text);
  process.stdout.write(`wrote ${CONFIG_DOC_PATH}\n`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = main(process.argv.slice(2));
}
