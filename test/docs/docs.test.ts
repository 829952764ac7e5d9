// The documentation and the packaging files stay true to the code:
//   - docs/ntp.toml.md is what scripts/gen-config-doc.ts makes from the schema, and names
//     every key;
//   - every ```toml block in docs/** and pkg/ntp.toml is accepted by the real parser
//     (a block may opt out with `<!-- not-validated: reason -->` on the line before it);
//   - each program's `-h` text appears verbatim on its reference page;
//   - the Grafana dashboard queries only metrics the exporter emits;
//   - the systemd units carry the directives the service guide relies on;
//   - relative links between the pages resolve.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { configSchema, formatDiagnostic, parseConfig } from "../../src/proto/config/index.js";
import { SOURCE_MODE_TABLES } from "../../src/proto/config/schema-sources.js";
import { METRICS } from "../../src/cli/metrics.js";
import {
  CONFIG_DOC_PATH,
  configSections,
  renderConfigReference,
} from "../../scripts/gen-config-doc.js";
import { runCommand } from "../helpers/process.js";
import { CTL_ENTRY, DAEMON_ENTRY, EXPORTER_ENTRY } from "../daemon/run-daemon.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const docsDir = join(root, "docs");
const pkgDir = join(root, "pkg");

function filesUnder(dir: string, suffix: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path, suffix));
    else if (name.endsWith(suffix)) out.push(path);
  }
  return out.sort();
}

const markdownFiles = filesUnder(docsDir, ".md");
const read = (path: string) => readFileSync(path, "utf8");

// ---------------------------------------------------------------------------------------------
// The ntp.toml reference.

test("docs/ntp.toml.md is up to date with the schema (npm run docs:config)", () => {
  assert.equal(
    read(CONFIG_DOC_PATH),
    renderConfigReference(),
    "docs/ntp.toml.md differs from the schema: run `npm run docs:config`",
  );
});

test("docs/ntp.toml.md names every section, source mode and key of the schema", () => {
  const page = read(CONFIG_DOC_PATH);
  for (const spec of Object.values(configSchema.fields)) {
    assert.ok(page.includes(`\`${spec.displayName ?? spec.key}`), `section ${spec.key}`);
  }
  for (const mode of Object.keys(SOURCE_MODE_TABLES)) {
    assert.ok(page.includes(`\`[[source]] mode = "${mode}"\``), `source mode ${mode}`);
  }
  const tableKeys = (t: { fields: Record<string, { key: string; aliases: readonly string[] }> }) =>
    Object.values(t.fields).flatMap((f) => [f.key, ...f.aliases]);
  const expected = new Set<string>();
  for (const t of Object.values(SOURCE_MODE_TABLES)) for (const k of tableKeys(t)) expected.add(k);
  for (const s of configSections()) for (const r of s.rows) expected.add(r.key.split(".").at(-1)!);
  assert.ok(expected.size > 60, `only ${expected.size} keys found in the schema`);
  for (const key of expected) {
    assert.ok(new RegExp("`([a-z_-]+\\.)?" + key + "`").test(page), `key ${key} is not documented`);
  }
});

// ---------------------------------------------------------------------------------------------
// TOML examples.

interface TomlBlock {
  file: string;
  line: number;
  text: string;
  /** The reason given in `<!-- not-validated: reason -->`, or null when the block is checked. */
  skipReason: string | null;
}

const NOT_VALIDATED = /^<!--\s*not-validated(?::\s*(.*?))?\s*-->$/;

function tomlBlocks(file: string): TomlBlock[] {
  const lines = read(file).split("\n");
  const blocks: TomlBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)(`{3,}|~{3,})\s*toml\s*$/.exec(lines[i]!);
    if (!fence) continue;
    const [, indent, marker] = fence;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && lines[j]!.trim() !== marker; j++) {
      body.push(lines[j]!.startsWith(indent!) ? lines[j]!.slice(indent!.length) : lines[j]!);
    }
    let k = i - 1;
    while (k >= 0 && lines[k]!.trim() === "") k--;
    const marked = k >= 0 ? NOT_VALIDATED.exec(lines[k]!.trim()) : null;
    blocks.push({
      file: relative(root, file),
      line: i + 1,
      text: body.join("\n") + "\n",
      skipReason: marked ? (marked[1] ?? "") : null,
    });
    i = j;
  }
  return blocks;
}

const allBlocks = markdownFiles.flatMap(tomlBlocks);

test("docs have TOML examples to check", () => {
  assert.ok(allBlocks.length >= 20, `only ${allBlocks.length} toml blocks found`);
  const checked = allBlocks.filter((b) => b.skipReason === null).length;
  assert.ok(checked >= allBlocks.length - 5, "most examples must be validated");
});

test("every ```toml block in docs/ is accepted by the configuration parser", () => {
  const failures: string[] = [];
  for (const block of allBlocks) {
    if (block.skipReason !== null) continue;
    const result = parseConfig(block.text, block.file);
    if (!result.ok) {
      // Positions in the Markdown file: the block's first line follows the fence.
      const where = (line: number, column: number) =>
        line === 0 ? block.file : `${block.file}:${block.line + line}:${column}`;
      failures.push(
        result.errors.map((e) => `${where(e.line, e.column)}: ${e.message}`).join("\n") +
          "\n" +
          block.text,
      );
    }
  }
  assert.deepEqual(failures, []);
});

test("a block marked not-validated gives a reason, and really does not validate", () => {
  for (const block of allBlocks) {
    if (block.skipReason === null) continue;
    assert.ok(
      block.skipReason.trim().length >= 10,
      `${block.file}:${block.line}: <!-- not-validated: ... --> needs a reason`,
    );
    // A marker left behind after the feature landed hides a checkable example.
    assert.ok(
      !parseConfig(block.text, block.file).ok,
      `${block.file}:${block.line}: this block parses now; remove its not-validated marker`,
    );
  }
});

test("pkg/ntp.toml is a complete configuration: no errors and no warnings", () => {
  const result = parseConfig(read(join(pkgDir, "ntp.toml")), "pkg/ntp.toml");
  assert.ok(result.ok, result.ok ? "" : result.errors.map((e) => formatDiagnostic(e)).join("\n"));
  assert.deepEqual(result.warnings.map(formatDiagnostic), []);
  assert.ok(
    result.config.observability.observationPath !== null,
    "the packaged config should enable the observation socket (ntp-ctl status, the exporter)",
  );
});

// ---------------------------------------------------------------------------------------------
// Program reference pages: the usage text is the one the program prints.

const programs: [string, string][] = [
  ["ntp-daemon", DAEMON_ENTRY],
  ["ntp-ctl", CTL_ENTRY],
  ["ntp-metrics-exporter", EXPORTER_ENTRY],
];

for (const [name, entry] of programs) {
  test(`docs/${name}.md shows the usage text \`${name} -h\` prints, exit codes and signals`, async () => {
    const page = read(join(docsDir, `${name}.md`));
    const r = await runCommand(process.execPath, ["--import", "tsx", entry, "-h"], {
      timeoutMs: 20_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes("usage:"), r.stdout);
    assert.ok(
      page.includes("```\n" + r.stdout + "```"),
      `docs/${name}.md must contain the -h output in a code block:\n${r.stdout}`,
    );
    if (name !== "ntp-ctl") {
      for (const s of ["SIGHUP", "SIGTERM", "SIGINT"]) assert.ok(page.includes(s), s);
    }
    if (name === "ntp-daemon") {
      for (const code of ["70", "77", "78"]) assert.match(page, new RegExp(`\\b${code}\\b`));
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Metrics: the dashboard and the docs use the exporter's names.

const metricNames = new Set(METRICS.map((m) => m.name));

function collectStrings(value: unknown, key: string, out: string[]): void {
  if (Array.isArray(value)) for (const v of value) collectStrings(v, key, out);
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === key && typeof v === "string") out.push(v);
      else collectStrings(v, key, out);
    }
  }
}

const metricRefs = (text: string) =>
  [...text.matchAll(/\bntp_[a-z0-9_]*[a-z0-9]\b/g)].map((m) => m[0]);

test("the Grafana dashboard parses and queries only metrics the exporter emits", () => {
  const dashboard = JSON.parse(read(join(pkgDir, "grafana", "ntpd-ts-dashboard.json"))) as {
    panels: { id: number; type: string; datasource?: { uid: string } }[];
    templating: { list: { name: string; type: string; query: unknown }[] };
  };
  const exprs: string[] = [];
  collectStrings(dashboard, "expr", exprs);
  const used = new Set(exprs.flatMap(metricRefs));
  for (const name of used) assert.ok(metricNames.has(name), `unknown metric ${name}`);
  const vars: string[] = [];
  collectStrings(dashboard.templating, "definition", vars);
  for (const name of vars.flatMap(metricRefs)) {
    assert.ok(metricNames.has(name), `variable uses unknown metric ${name}`);
  }
  // The panels the dashboard promises.
  for (const name of [
    "ntp_source_offset_seconds",
    "ntp_source_uncertainty_seconds",
    "ntp_source_delay_seconds",
    "ntp_source_poll_interval_seconds",
    "ntp_source_nts_cookies_available",
    "ntp_system_stratum",
    "ntp_system_root_delay_seconds",
    "ntp_system_root_dispersion_seconds",
    "ntp_server_received_packets_total",
    "ntp_server_accepted_packets_total",
    "ntp_server_denied_packets_total",
    "ntp_server_ignored_packets_total",
    "ntp_server_rate_limited_packets_total",
    "ntp_server_nts_received_packets_total",
  ]) {
    assert.ok(used.has(name), `no panel shows ${name}`);
  }
  // Counters are only ever shown as rates.
  for (const expr of exprs) {
    for (const name of metricRefs(expr).filter((n) => n.endsWith("_total"))) {
      assert.match(expr, new RegExp(`rate\\(${name}\\{`), expr);
    }
  }
  const datasource = dashboard.templating.list.find((v) => v.type === "datasource");
  assert.equal(datasource?.query, "prometheus");
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, "panel ids are unique");
  const datasourceRef = `\${${datasource?.name ?? "datasource"}}`;
  for (const p of dashboard.panels.filter((p) => p.type !== "row")) {
    assert.equal(p.datasource?.uid, datasourceRef, `panel ${p.id} datasource`);
  }
});

test("metric names in docs/ are the exporter's", () => {
  for (const file of markdownFiles) {
    for (const name of metricRefs(read(file))) {
      // `ntp_server_received_packets` is how OpenMetrics names the counter family.
      assert.ok(
        metricNames.has(name) || metricNames.has(`${name}_total`),
        `${relative(root, file)}: unknown metric ${name}`,
      );
    }
  }
});

// ---------------------------------------------------------------------------------------------
// systemd units.

function unitDirectives(path: string): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const raw of read(path).split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";") || line.startsWith("[")) {
      continue;
    }
    const eq = line.indexOf("=");
    assert.ok(eq > 0, `${path}: not a directive: ${line}`);
    const key = line.slice(0, eq).trim();
    directives.set(key, [...(directives.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return directives;
}

const words = (d: Map<string, string[]>, key: string) =>
  new Set((d.get(key) ?? []).flatMap((v) => v.split(/\s+/)).filter((w) => w !== ""));

test("pkg/systemd/ntpd-ts.service: notify, unprivileged user with two capabilities, no restart", () => {
  const path = join(pkgDir, "systemd", "ntpd-ts.service");
  const d = unitDirectives(path);
  const one = (key: string) => {
    const v = d.get(key);
    assert.equal(v?.length, 1, `${key} given once`);
    return v[0];
  };
  assert.equal(one("Type"), "notify");
  assert.equal(one("User"), "ntpd-ts");
  assert.equal(one("Restart"), "no");
  assert.equal(one("NoNewPrivileges"), "yes");
  assert.match(one("ExecStart")!, /ntp-daemon\b/);
  const caps = ["CAP_NET_BIND_SERVICE", "CAP_SYS_TIME"];
  assert.deepEqual([...words(d, "AmbientCapabilities")].sort(), caps);
  assert.deepEqual([...words(d, "CapabilityBoundingSet")].sort(), caps);
  for (const c of ["systemd-timesyncd.service", "ntp.service", "chrony.service"]) {
    assert.ok(words(d, "Conflicts").has(c), `Conflicts=${c}`);
  }
  assert.ok(d.has("RuntimeDirectory"), "RuntimeDirectory (the observation socket)");
  assert.ok(d.has("StateDirectory"), "StateDirectory (the NTS key file)");
  assert.equal(one("StateDirectoryMode"), "0700");
  assert.ok(d.has("ConfigurationDirectory"));
  // V8 aborts under MemoryDenyWriteExecute; ProtectClock forbids steering the clock.
  assert.ok(!d.has("MemoryDenyWriteExecute"));
  assert.ok(!d.has("ProtectClock"));
  assert.match(read(path), /#.*MemoryDenyWriteExecute.*\n#.*(V8|JIT)/);

  // The packaged config puts the observation socket in the RuntimeDirectory.
  const config = parseConfig(read(join(pkgDir, "ntp.toml")), "pkg/ntp.toml");
  assert.ok(config.ok);
  const runtime = one("RuntimeDirectory");
  assert.equal(dirname(config.config.observability.observationPath!), `/run/${runtime}`);
  // ... and lives where the unit tells the daemon to read it.
  assert.ok(one("ExecStart")!.includes(`/etc/${one("ConfigurationDirectory")}/ntp.toml`));
});

test("pkg/systemd/ntpd-ts-metrics.service: the exporter as ntpd-ts-observe, no capabilities", () => {
  const d = unitDirectives(join(pkgDir, "systemd", "ntpd-ts-metrics.service"));
  assert.deepEqual(d.get("User"), ["ntpd-ts-observe"]);
  assert.match(d.get("ExecStart")?.[0] ?? "", /ntp-metrics-exporter\b/);
  assert.equal(words(d, "AmbientCapabilities").size, 0);
  assert.deepEqual(d.get("CapabilityBoundingSet"), [""]);
  assert.deepEqual(d.get("NoNewPrivileges"), ["yes"]);
  assert.ok(words(d, "After").has("ntpd-ts.service"));
  assert.ok(!d.has("MemoryDenyWriteExecute"));
});

test("pkg/sysusers.d/ntpd-ts.conf creates both service users", () => {
  const users = read(join(pkgDir, "sysusers.d", "ntpd-ts.conf"))
    .split("\n")
    .filter((l) => l.startsWith("u "))
    .map((l) => l.split(/\s+/)[1]);
  assert.deepEqual(users.sort(), ["ntpd-ts", "ntpd-ts-observe"]);
});

// ---------------------------------------------------------------------------------------------
// Links.

test("relative links in docs/ resolve to files", () => {
  const broken: string[] = [];
  for (const file of markdownFiles) {
    for (const m of read(file).matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!.split("#")[0]!;
      if (target === "" || /^[a-z]+:/.test(target)) continue;
      if (!existsSync(resolve(dirname(file), target))) {
        broken.push(`${relative(root, file)}: ${m[1]}`);
      }
    }
  }
  assert.deepEqual(broken, []);
});
