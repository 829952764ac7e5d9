// Property tests: whatever the text, parseConfig returns a well-formed result and never
// throws (nor reports an internal error); what it accepts has the types of the schema.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { stringify } from "smol-toml";
import { formatIpAddress } from "../ip-address.js";
import type { ConfigResult } from "./diagnostics.js";
import { defaultConfig, parseConfig } from "./parse.js";
import { SOURCE_MODE_TABLES, SOURCE_MODES } from "./schema-sources.js";
import { configSchema } from "./schema.js";
import { ntsKeServerTable, serverTable } from "./schema-server.js";
import type { TableType } from "./fields.js";

const SEEDS = [
  `[observability]
log-level = "info"
observation-path = "/var/run/ntpd-rs/observe"

[[source]]
mode = "pool"
address = "ntpd-rs.pool.ntp.org"
count = 4

[synchronization]
single-step-panic-threshold = 1800
startup-step-panic-threshold = { forward="inf", backward = 86400 }
`,
  `[[server]]
listen = "[::]:123"
[server.allowlist]
filter = ["192.0.2.0/24", "::/0"]
action = "deny"

[[nts-ke-server]]
listen = "[::]:4460"
certificate-chain-path = "/c.pem"
private-key-path = "/k.pem"
accept-ntp-versions = [4, 5]

[keyset]
key-storage-path = '/var/lib/keys'
`,
  `source = [ { mode = "server", address = "[::1]:123", poll-interval-limits = { min = 3 } },
  { mode = "sock", path = """/run/s""", precision = 1e-3 } ]
[synchronization.algorithm]
step-threshold = 0.010
"meddling-threshold" = 5
`,
];

const TOKENS = [
  "[",
  "]",
  "[[",
  "]]",
  "{",
  "}",
  "=",
  ".",
  ",",
  "\n",
  "#",
  '"',
  "'",
  '"""',
  "'''",
  "\\",
  "inf",
  "-inf",
  "nan",
  "-1",
  "0x1F",
  "0o777",
  "1e999",
  "3.5",
  "true",
  "false",
  "1979-05-27T07:32:00Z",
  "1979-05-27",
  "07:32:00",
  "\u0000",
  "\uFEFF",
  "é",
  "\r\n",
  "source",
  "mode",
  "server",
  "[[source]]\nmode = ",
  "[synchronization]\n",
  "address = ",
  '"nts"',
  '"pool"',
  '"[::]:123"',
  "count = ",
  "__proto__",
  "constructor",
];

type Mutation =
  | { kind: "delete"; at: number; length: number }
  | { kind: "insert"; at: number; token: string }
  | { kind: "duplicateLine"; line: number }
  | { kind: "swapLines"; a: number; b: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("delete" as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 20 }),
  }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    token: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 4 })),
  }),
  fc.record({ kind: fc.constant("duplicateLine" as const), line: fc.nat() }),
  fc.record({ kind: fc.constant("swapLines" as const), a: fc.nat(), b: fc.nat() }),
);

function mutate(text: string, m: Mutation): string {
  switch (m.kind) {
    case "delete": {
      const at = m.at % (text.length + 1);
      return text.slice(0, at) + text.slice(at + m.length);
    }
    case "insert": {
      const at = m.at % (text.length + 1);
      return text.slice(0, at) + m.token + text.slice(at);
    }
    case "duplicateLine": {
      const lines = text.split("\n");
      const i = m.line % lines.length;
      lines.splice(i, 0, lines[i]!);
      return lines.join("\n");
    }
    case "swapLines": {
      const lines = text.split("\n");
      const a = m.a % lines.length;
      const b = m.b % lines.length;
      [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      return lines.join("\n");
    }
  }
}

/** The result is one of the two documented shapes, with sane positions. */
function checkShape(text: string, r: ConfigResult): void {
  const lineCount = text.split(/\r?\n/).length;
  const diagnostics = r.ok ? r.warnings : [...r.errors, ...r.warnings];
  if (!r.ok) assert.ok(r.errors.length > 0, "a refused config has at least one error");
  for (const d of diagnostics) {
    assert.equal(d.file, "fuzz.toml");
    assert.ok(Number.isInteger(d.line) && d.line >= 1 && d.line <= lineCount + 1, `line ${d.line}`);
    assert.ok(Number.isInteger(d.column) && d.column >= 1, `column ${d.column}`);
    assert.equal(typeof d.path, "string");
    assert.ok(d.message.length > 0);
    assert.doesNotMatch(d.message, /internal error/);
  }
  if (r.ok) checkTypes(defaultConfig(), r.config, "config");
}

/** Every property that is not null in the defaults has the same JS type in `actual`. */
function checkTypes(expected: unknown, actual: unknown, where: string): void {
  if (expected === null || actual === null) return;
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where} should be an array`);
    return;
  }
  assert.equal(typeof actual, typeof expected, where);
  if (typeof expected === "number") assert.ok(!Number.isNaN(actual), `${where} is NaN`);
  if (typeof expected === "object") {
    for (const [k, v] of Object.entries(expected)) {
      checkTypes(v, (actual as Record<string, unknown>)[k], `${where}.${k}`);
    }
  }
}

test("random text never throws", () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: "binary", maxLength: 300 })),
      (text) => {
        checkShape(text, parseConfig(text, "fuzz.toml"));
      },
    ),
    { numRuns: 1000 },
  );
});

test("mutated valid files never throw", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...SEEDS),
      fc.array(mutation, { minLength: 1, maxLength: 6 }),
      (seed, ms) => {
        const text = ms.reduce(mutate, seed);
        checkShape(text, parseConfig(text, "fuzz.toml"));
        checkShape(text, parseConfig(text, "fuzz.toml", { unimplemented: [] }));
      },
    ),
    { numRuns: 1500 },
  );
});

// Documents built from the schema's own keys with values of every TOML type: they reach
// deep into validation instead of stopping at syntax errors.
const sectionKeys = (prop: string): string[] => [
  ...((configSchema.fields[prop]?.type as TableType<unknown> | undefined)?.keys ?? []),
];
const sourceKeys = [...new Set(SOURCE_MODES.flatMap((m) => SOURCE_MODE_TABLES[m].keys))];

const scalar = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.integer({ min: -3, max: 300 }).map(BigInt),
  fc.double(),
  fc.boolean(),
  fc.constantFrom(
    "inf",
    "auto",
    "deny",
    "ignore",
    "info",
    "software",
    "[::]:123",
    "0.0.0.0:123",
    "10.0.0.0/8",
    "::1",
    "example.com:123",
    "/path",
  ),
);
const value = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }) },
  {
    weight: 1,
    arbitrary: fc.dictionary(
      fc.constantFrom("min", "max", "forward", "backward", "filter", "action", "x"),
      scalar,
      {
        maxKeys: 3,
      },
    ),
  },
);
const tableOf = (keys: string[]) =>
  fc.dictionary(fc.constantFrom(...keys, "unknown-key"), value, { maxKeys: 3 });

const documentArb = fc.record(
  {
    source: fc.array(
      tableOf(sourceKeys).chain((t) =>
        fc.constantFrom(...SOURCE_MODES).map((mode) => ({ ...t, mode })),
      ),
      { maxLength: 2 },
    ),
    server: fc.array(tableOf([...serverTable.keys]), { maxLength: 2 }),
    "nts-ke-server": fc.array(tableOf([...ntsKeServerTable.keys]), { maxLength: 1 }),
    "source-defaults": tableOf(sectionKeys("sourceDefaults")),
    synchronization: tableOf(sectionKeys("synchronization")),
    observability: tableOf(sectionKeys("observability")),
    keyset: tableOf(sectionKeys("keyset")),
    clock: tableOf(sectionKeys("clock")).map((t) => ({ "timestamp-mode": "software", ...t })),
  },
  { requiredKeys: [] },
);

test("schema-shaped random documents never throw", () => {
  fc.assert(
    fc.property(documentArb, (doc) => {
      let text: string;
      try {
        text = stringify(doc);
      } catch {
        return; // not representable in TOML
      }
      checkShape(text, parseConfig(text, "fuzz.toml", { unimplemented: [] }));
    }),
    { numRuns: 1500 },
  );
});

// Valid by construction: random values inside the documented ranges must all be accepted,
// come out with the schema's types, and keep their values.
const ipv4 = fc
  .array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 })
  .map((o) => o.join("."));
const seconds = fc.oneof(fc.double({ min: 0, max: 1e7, noNaN: true }), fc.constant("inf"));
const validDocument = fc.record(
  {
    source: fc.array(
      fc.oneof(
        fc.record(
          {
            mode: fc.constant("server"),
            address: fc.oneof(fc.domain(), ipv4),
            "ntp-version": fc.constant(4n),
          },
          { requiredKeys: ["mode", "address"] },
        ),
        fc.record(
          {
            mode: fc.constant("pool"),
            address: fc.domain(),
            count: fc.bigInt({ min: 0n, max: 64n }),
            ignore: fc.array(ipv4, { maxLength: 3 }),
            // Limits whose min is above max (after the defaults 4 and 10
            // fill a missing one) are an error, not a valid document.
            "poll-interval-limits": fc
              .record(
                {
                  min: fc.bigInt({ min: -128n, max: 127n }),
                  max: fc.bigInt({ min: -128n, max: 127n }),
                },
                { requiredKeys: [] },
              )
              .filter((limits) => (limits.min ?? 4n) <= (limits.max ?? 10n)),
          },
          { requiredKeys: ["mode", "address"] },
        ),
      ),
      { maxLength: 3 },
    ),
    server: fc.array(
      fc.record(
        {
          listen: fc.tuple(ipv4, fc.integer({ min: 0, max: 65535 })).map(([a, p]) => `${a}:${p}`),
          "rate-limiting-cache-size": fc.bigInt({ min: 0n, max: 1n << 24n }),
          "require-nts": fc.constantFrom(true, false, "ignore", "deny"),
          "accept-ntp-versions": fc.subarray([3n, 4n, 5n]),
          denylist: fc.record({
            filter: fc.array(
              fc.tuple(ipv4, fc.integer({ min: 0, max: 32 })).map(([a, l]) => `${a}/${l}`),
            ),
            action: fc.constantFrom("ignore", "deny"),
          }),
        },
        { requiredKeys: ["listen"] },
      ),
      { maxLength: 2 },
    ),
    synchronization: fc.record(
      {
        "minimum-agreeing-sources": fc.bigInt({ min: 0n, max: 10n }),
        "single-step-panic-threshold": fc.oneof(
          seconds,
          fc.record({ forward: seconds, backward: seconds }, { requiredKeys: [] }),
        ),
        "accumulated-step-panic-threshold": fc.double({ min: 0, max: 1e7, noNaN: true }),
        "local-stratum": fc.bigInt({ min: 1n, max: 16n }),
        "reference-id": fc.stringMatching(/^[A-Z]{0,4}$/),
        "warn-on-jump": fc.boolean(),
      },
      { requiredKeys: [] },
    ),
    observability: fc.record(
      {
        "log-level": fc.constantFrom("trace", "debug", "info", "warn", "error"),
        "observation-permissions": fc.bigInt({ min: 0n, max: 0o777n }),
        "ansi-colors": fc.boolean(),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);

test("valid random documents are accepted with their values", () => {
  fc.assert(
    fc.property(validDocument, (doc) => {
      const text = stringify(doc);
      const r = parseConfig(text, "fuzz.toml");
      if (!r.ok) assert.fail(`${text}\n${r.errors.map((e) => e.message).join("\n")}`);
      checkShape(text, r);
      assert.equal(r.config.sources.length, doc.source?.length ?? 0);
      assert.equal(r.config.servers.length, doc.server?.length ?? 0);
      const stratum = doc.synchronization?.["local-stratum"];
      assert.equal(
        r.config.synchronization.localStratum,
        stratum === undefined ? 16 : Number(stratum),
      );
      const level = doc.observability?.["log-level"];
      assert.equal(r.config.observability.logLevel, level ?? "info");
    }),
    { numRuns: 500 },
  );
});

test("any IPv4 or IPv6 listen address with any port round-trips", () => {
  const v4 = fc
    .array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 })
    .map((o) => ({
      text: o.join("."),
      address: o.join("."),
      family: 4 as const,
    }));
  const v6 = fc
    .array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 })
    .map((g) => ({
      text: `[${g.map((x) => x.toString(16).toUpperCase()).join(":")}]`,
      address: formatIpAddress({
        family: 6,
        words: Uint32Array.from([0, 1, 2, 3], (i) => ((g[2 * i]! << 16) | g[2 * i + 1]!) >>> 0),
      }),
      family: 6 as const,
    }));
  fc.assert(
    fc.property(fc.oneof(v4, v6), fc.integer({ min: 0, max: 65535 }), (ip, port) => {
      const r = parseConfig(`[[server]]\nlisten = "${ip.text}:${port}"\n`, "fuzz.toml");
      assert.ok(r.ok);
      if (r.ok)
        assert.deepEqual(r.config.servers[0]?.listen, {
          address: ip.address,
          port,
          family: ip.family,
        });
    }),
  );
});
