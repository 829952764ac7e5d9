// The observation format: built from daemon state, written with exact 64-bit
// timestamps, valid against docs/observation.schema.json, and read back (ours
// and ntpd-rs's) with every field checked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultConfig } from "../proto/config/index.js";
import { ServerStats } from "../proto/server/stats.js";
import { initialSystemState, linearRootDispersion } from "../proto/system/system-state.js";
import type { Measurement, SourceSnapshot } from "../proto/source/types.js";
import { NtpTimestamp } from "../proto/time.js";
import { loadSchema, parseJsonExact, validate } from "../../test/helpers/json-schema.js";
import { newCsptpServerStats } from "../proto/csptp/server.js";
import { Daemon } from "./daemon.js";
import { createLogger, MemorySink } from "./log.js";
import { NtsKeStats } from "./nts-ke-stats.js";
import {
  buildObservation,
  encodeObservationMessage,
  ObservationFormatError,
  parseObservation,
  serializeObservation,
  systemRootDispersion,
  toJson,
  type ObservationInput,
  type SourceInput,
} from "./observation.js";

const schema = loadSchema(new URL("../../docs/observation.schema.json", import.meta.url).pathname);
// Above 2^53 and not a double: JSON.parse would round it.
const NOW = NtpTimestamp.fromBits(0xeb00_0000_8000_0001n);

function measurement(overrides: Partial<Measurement> = {}): Measurement {
  return {
    offset: 0.00125,
    delay: 0.004,
    t1: NOW,
    t2: NOW,
    t3: NOW,
    t4: NOW.addSeconds(-1),
    version: 4,
    leap: 0,
    stratum: 2,
    referenceId: 0x0a000001,
    rootDelay: 0.0123,
    rootDispersion: 0.0045,
    poll: 4,
    precision: -20,
    ...overrides,
  };
}

function snapshot(overrides: Partial<SourceSnapshot> = {}): SourceSnapshot {
  return {
    reach: 0xff,
    reachable: true,
    unansweredPolls: 0,
    polls: 8,
    pollInterval: 4,
    desiredPollInterval: 4,
    remoteMinPollInterval: 0,
    stratum: 2,
    referenceId: 0x0a000001,
    rootDelay: 0.0123,
    rootDispersion: 0.0045,
    lastMeasurement: measurement(),
    lastKissCode: null,
    denied: false,
    demobilized: false,
    ...overrides,
  };
}

function source(overrides: Partial<SourceInput> = {}): SourceInput {
  return {
    id: 3,
    name: "time.example:123",
    address: "192.0.2.1:123",
    ntsCookies: null,
    snapshot: snapshot(),
    ...overrides,
  };
}

function input(overrides: Partial<ObservationInput> = {}): ObservationInput {
  const stats = new ServerStats();
  stats.receivedPackets = 10;
  stats.acceptedPackets = 9;
  stats.ignoredPackets = 1;
  return {
    program: { version: "0.1.0", buildCommit: "abc1234", buildCommitDate: "2026-11-26" },
    uptimeSeconds: 12.5,
    now: NOW,
    system: initialSystemState(),
    accumulatedStepsThreshold: null,
    sources: [source(), source({ id: 4, ntsCookies: 7, address: "192.0.2.2:123" })],
    servers: [{ address: "0.0.0.0:123", stats }],
    ...overrides,
  };
}

function schemaErrors(json: string): string[] {
  return validate(schema, parseJsonExact(json));
}

test("a built observation is valid against the schema and has ntpd-rs's field names", () => {
  const json = serializeObservation(buildObservation(input()));
  assert.deepEqual(schemaErrors(json), []);
  const raw = parseJsonExact(json) as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(raw), ["program", "system", "sources", "servers"]);
  assert.deepEqual(Object.keys(raw.system!), [
    "stratum",
    "reference_id",
    "accumulated_steps_threshold",
    "precision",
    "root_delay",
    "root_variance_base_time",
    "root_variance_base",
    "root_variance_linear",
    "root_variance_quadratic",
    "root_variance_cubic",
    "leap_indicator",
    "accumulated_steps",
  ]);
  const sources = raw.sources as unknown as Record<string, unknown>[];
  assert.deepEqual(Object.keys(sources[0]!), [
    "offset",
    "uncertainty",
    "delay",
    "remote_delay",
    "remote_uncertainty",
    "last_update",
    "unanswered_polls",
    "poll_interval",
    "nts_cookies",
    "name",
    "address",
    "id",
  ]);
});

test("timestamps are written as exact 64-bit integers", () => {
  const json = serializeObservation(buildObservation(input()));
  const bits = 0xeb00_0000_8000_0001n;
  assert.notEqual(BigInt(Number(bits)), bits);
  assert.ok(json.includes(`"now":{"timestamp":16933534601060548609}`));
  assert.equal(bits, 16933534601060548609n);
  assert.equal(parseObservation(json).program.now.timestamp, bits);
  const max = NtpTimestamp.fromBits(0xffff_ffff_ffff_ffffn);
  const top = serializeObservation(buildObservation(input({ now: max })));
  assert.match(top, /"now":\{"timestamp":18446744073709551615\}/);
  assert.deepEqual(schemaErrors(top), []);
  assert.equal(parseObservation(top).program.now.timestamp, 0xffff_ffff_ffff_ffffn);
  // Over 64 bits is out of the schema.
  const over = top.replace("18446744073709551615", "18446744073709551616");
  assert.equal(schemaErrors(over).length, 1);
  assert.throws(() => parseObservation(over), /larger than 64 bits/);
});

test("source fields: last measurement, delay/2 stand-in for uncertainty, NTS cookies", () => {
  const o = buildObservation(input());
  const [plain, nts] = o.sources;
  assert.equal(plain!.offset, 0.00125);
  assert.equal(plain!.delay, 0.004);
  assert.equal(plain!.uncertainty, 0.002);
  assert.equal(plain!.remote_delay, 0.0123);
  assert.equal(plain!.remote_uncertainty, 0.0045);
  assert.equal(plain!.last_update.timestamp, NOW.addSeconds(-1).toBits());
  assert.equal(plain!.poll_interval, 4);
  assert.equal(plain!.nts_cookies, null);
  assert.equal(plain!.selected, undefined);
  assert.equal(nts!.nts_cookies, 7);
});

test("a source without a measurement yet shows zeros", () => {
  const o = buildObservation(
    input({
      sources: [
        source({
          snapshot: snapshot({
            lastMeasurement: null,
            rootDelay: 0,
            rootDispersion: 0,
            unansweredPolls: 2,
          }),
        }),
      ],
    }),
  );
  const s = o.sources[0]!;
  assert.deepEqual(
    [s.offset, s.delay, s.uncertainty, s.last_update.timestamp, s.unanswered_polls],
    [0, 0, 0, 0n, 2],
  );
  assert.deepEqual(schemaErrors(serializeObservation(o)), []);
});

test("the clock discipline's estimates replace the stand-ins and add selected/offset/frequency", () => {
  const o = buildObservation(
    input({
      sources: [
        source({ estimate: { offset: -1e-4, uncertainty: 3e-5, delay: 0.0035, selected: true } }),
      ],
      systemEstimate: { accumulatedSteps: 0.25, offset: 2e-6, frequency: -1.5e-6 },
    }),
  );
  const s = o.sources[0]!;
  assert.deepEqual([s.offset, s.uncertainty, s.delay, s.selected], [-1e-4, 3e-5, 0.0035, true]);
  assert.equal(o.system.accumulated_steps, 0.25);
  assert.equal(o.system.offset, 2e-6);
  assert.equal(o.system.frequency, -1.5e-6);
  const json = serializeObservation(o);
  assert.deepEqual(schemaErrors(json), []);
  const back = parseObservation(json);
  assert.equal(back.sources[0]!.selected, true);
  assert.equal(back.system.frequency, -1.5e-6);
});

test("system fields: leap names, precision in seconds, threshold, root variance", () => {
  const unsync = buildObservation(input());
  assert.equal(unsync.system.leap_indicator, "Unsynchronized");
  assert.equal(unsync.system.stratum, 16);
  assert.equal(unsync.system.reference_id, 0x584e4f4e); // "XNON"
  assert.equal(unsync.system.precision, 2 ** -18);
  assert.equal(unsync.system.accumulated_steps_threshold, null);

  const base = NOW.addSeconds(-100);
  const primary = {
    ...initialSystemState({ localStratum: 1, referenceId: "GPS" }),
    rootDelay: 0.001,
    ...linearRootDispersion(0.002, base, 1e-5),
  };
  const o = buildObservation(input({ system: primary, accumulatedStepsThreshold: 1800 }));
  assert.equal(o.system.leap_indicator, "NoWarning");
  assert.equal(o.system.accumulated_steps_threshold, 1800);
  assert.equal(o.system.root_variance_base_time.timestamp, base.toBits());
  // d(t) = 0.002 + 1e-5 * 100 s
  assert.ok(Math.abs(systemRootDispersion(o) - 0.003) < 1e-9);
  for (const [leap, name] of [
    [1, "Leap61"],
    [2, "Leap59"],
  ] as const) {
    const l = buildObservation(input({ system: { ...primary, leap } }));
    assert.equal(l.system.leap_indicator, name);
  }
});

test("servers: listen address, ntpd-rs's counter names and ntpd-ts's interleaved_packets", () => {
  const o = buildObservation(input());
  assert.deepEqual(o.servers, [
    {
      address: "0.0.0.0:123",
      stats: {
        received_packets: 10,
        accepted_packets: 9,
        denied_packets: 0,
        ignored_packets: 1,
        rate_limited_packets: 0,
        response_send_errors: 0,
        nts_received_packets: 0,
        nts_accepted_packets: 0,
        nts_denied_packets: 0,
        nts_rate_limited_packets: 0,
        nts_nak_packets: 0,
        interleaved_packets: 0,
      },
    },
  ]);
});

test("a message is the u64 big-endian byte length, then the JSON", () => {
  const json = '{"a":"é"}';
  const message = encodeObservationMessage(json);
  assert.equal(message.readBigUInt64BE(0), 10n); // é is two bytes
  assert.equal(message.subarray(8).toString("utf8"), json);
});

test("toJson writes what JSON.stringify writes, bigints exactly and non-finite as null", () => {
  const value = { a: [1, 0.5, 'x\n"', true, null], b: undefined, c: { d: -0 }, e: 1e-7 };
  assert.equal(toJson(value), JSON.stringify(value));
  assert.equal(
    toJson({ t: 2n ** 64n - 1n, n: NaN, i: -Infinity }),
    '{"t":18446744073709551615,"n":null,"i":null}',
  );
});

test("the round trip through text keeps every field", () => {
  const o = buildObservation(input());
  assert.deepEqual(parseObservation(serializeObservation(o)), o);
});

test("an ntpd-rs 1.9 message is read, unknown fields ignored, whitespace allowed", () => {
  const text = `{"program":{"version":"1.9.0","build_commit":"f00","build_commit_date":"2026-06-12",
    "uptime_seconds":173.02,"now":{"timestamp": 16992191376115884894}},
   "system":{"stratum":3,"reference_id":3245285499,"accumulated_steps_threshold":null,
    "precision":3.8e-6,"root_delay":0.0107,"root_variance_base_time":{"timestamp":16992191300000000000},
    "root_variance_base":1.78e-7,"root_variance_linear":5.3e-10,
    "root_variance_quadratic":3.6e-11,"root_variance_cubic":1e-16,
    "leap_indicator":"NoWarning","accumulated_steps":0.0517,"future_field":[1,2]},
   "sources":[{"offset":-0.0033,"uncertainty":0.0026,"delay":0.0111,
    "remote_delay":0.00022,"remote_uncertainty":0.00003,"last_update":{"timestamp":16992191370000000000},
    "unanswered_polls":0,"poll_interval":4,"nts_cookies":null,
    "name":"ntpd-rs.pool.ntp.org:123","address":"178.239.19.59:123","id":4}],
   "servers":[{"address":"0.0.0.0:123","stats":{"received_packets":0,"accepted_packets":0,
    "denied_packets":0,"ignored_packets":0,"rate_limited_packets":0,"response_send_errors":0,
    "nts_received_packets":0,"nts_accepted_packets":0,"nts_denied_packets":0,
    "nts_rate_limited_packets":0,"nts_nak_packets":0}}]}`;
  const o = parseObservation(text);
  assert.equal(o.program.now.timestamp, 16992191376115884894n);
  assert.equal(o.system.reference_id, 3245285499);
  assert.equal(o.sources[0]!.last_update.timestamp, 16992191370000000000n);
  assert.equal(o.sources[0]!.name, "ntpd-rs.pool.ntp.org:123");
  assert.ok(!("future_field" in o.system));
});

test("a source named like a timestamp key stays a string", () => {
  const o = buildObservation(input({ sources: [source({ name: '"timestamp":123' })] }));
  assert.equal(parseObservation(serializeObservation(o)).sources[0]!.name, '"timestamp":123');
});

test("malformed observations are refused with the field's path", () => {
  const good = JSON.parse(
    serializeObservation(buildObservation(input())).replace(
      /"timestamp":(\d+)/g,
      '"timestamp":"$1"',
    ),
  ) as Record<string, Record<string, unknown>>;
  const variant = (edit: (o: Record<string, Record<string, unknown>>) => void) => {
    const copy = structuredClone(good);
    edit(copy);
    return JSON.stringify(copy).replace(/"timestamp":"(\d+)"/g, '"timestamp":$1');
  };
  const cases: [string, (o: Record<string, Record<string, unknown>>) => void, RegExp][] = [
    [
      "no program",
      (o) => delete (o as Record<string, unknown>).program,
      /^program: expected an object/,
    ],
    ["stratum string", (o) => (o.system!.stratum = "3"), /^system\.stratum: expected an integer/],
    [
      "interleaved count",
      (o) => {
        const servers = (o as unknown as { servers: { stats: Record<string, unknown> }[] }).servers;
        servers[0]!.stats.interleaved_packets = 1.5;
      },
      /stats\.interleaved_packets: expected an integer/,
    ],
    ["leap", (o) => (o.system!.leap_indicator = "Maybe"), /leap_indicator: unknown value "Maybe"/],
    [
      "timestamp negative",
      (o) => (o.program!.now = { timestamp: -1 }),
      /program\.now\.timestamp: expected an unsigned integer/,
    ],
    [
      "source id",
      (o) => ((o.sources as unknown as Record<string, unknown>[])[1]!.id = 1.5),
      /^sources\[1\]\.id: expected an integer/,
    ],
    [
      "server counter",
      (o) =>
        delete (o.servers as unknown as Record<string, Record<string, unknown>>[])[0]!.stats!
          .nts_nak_packets,
      /^servers\[0\]\.stats\.nts_nak_packets: expected an integer/,
    ],
  ];
  for (const [what, edit, message] of cases) {
    assert.throws(
      () => parseObservation(variant(edit)),
      (e: unknown) => {
        assert.ok(e instanceof ObservationFormatError, what);
        assert.match(e.message, message, what);
        return true;
      },
    );
  }
  assert.throws(() => parseObservation("{"), /not JSON/);
  assert.throws(() => parseObservation("42"), /\$: expected an object/);
});

// Fuzz finding (npm run fuzz -- observation-client): JSON.parse reads 1e999 as
// Infinity, which was accepted and could not be written back (it serializes as null).
test("a number beyond the double range is refused, as serde_json does", () => {
  const json = serializeObservation(buildObservation(input()));
  for (const [field, literal] of [
    ["root_delay", "1e999"],
    ["root_variance_base", "-1e999"],
  ] as const) {
    const text = json.replace(new RegExp(`"${field}":[^,}]+`), `"${field}":${literal}`);
    assert.notEqual(text, json, field);
    assert.throws(
      () => parseObservation(text),
      (e: unknown) =>
        e instanceof ObservationFormatError &&
        e.message === `system.${field}: expected a finite number`,
    );
  }
  assert.equal(
    parseObservation(json).system.root_delay,
    buildObservation(input()).system.root_delay,
  );
});

test("Daemon.observe(): program, system from the config, no sources or servers before start", () => {
  const config = defaultConfig();
  const daemon = new Daemon({
    config: {
      ...config,
      synchronization: {
        ...config.synchronization,
        localStratum: 1,
        referenceId: "TEST",
        accumulatedStepPanicThreshold: 100,
      },
    },
    log: createLogger("error", new MemorySink()),
    program: { version: "9.9.9", buildCommit: "c0ffee", buildCommitDate: "2026-11-26" },
  });
  const o = daemon.observe();
  assert.equal(o.program.version, "9.9.9");
  assert.ok(o.program.uptime_seconds >= 0 && o.program.uptime_seconds < 10);
  assert.equal(o.system.stratum, 1);
  assert.equal(o.system.reference_id, 0x54455354); // "TEST"
  assert.equal(o.system.accumulated_steps_threshold, 100);
  assert.deepEqual([o.sources, o.servers], [[], []]);
  assert.deepEqual(schemaErrors(serializeObservation(o)), []);
  daemon.discipline = {
    source: () => undefined,
    system: () => ({ accumulatedSteps: 1.5, frequency: 1e-6 }),
  };
  assert.equal(daemon.observe().system.accumulated_steps, 1.5);
  assert.equal(daemon.observe().system.frequency, 1e-6);
});

test("NTS-KE servers: listen address, certificate expiry (Unix seconds) and counters, valid and read back", () => {
  const notAfter = new Date("2027-03-01T12:00:00Z");
  const stats = new NtsKeStats();
  Object.assign(stats, {
    connections: 20,
    served: 9,
    refused: 4,
    timeouts: 3,
    failed: 2,
    keyExchanges: 8,
    rejected: 1,
    noAlpn: 1,
  });
  const o = buildObservation(
    input({ ntsKeServers: [{ address: "[::]:4460", certificateNotAfter: notAfter, stats }] }),
  );
  assert.deepEqual(o.nts_ke_servers, [
    {
      address: "[::]:4460",
      certificate_not_after: notAfter.getTime() / 1000,
      stats: {
        accepted_connections: 20,
        served_connections: 9,
        refused_connections: 4,
        timed_out_connections: 3,
        failed_connections: 2,
        key_exchanges: 8,
        error_responses: 1,
        no_alpn_connections: 1,
      },
    },
  ]);
  const json = serializeObservation(o);
  assert.deepEqual(schemaErrors(json), []);
  assert.deepEqual(parseObservation(json).nts_ke_servers, o.nts_ke_servers);
  // A message without the counters (ntpd-ts before they were published) still reads.
  const older = json.replace(/,"stats":\{"accepted_connections"[^}]*\}/, "");
  assert.notEqual(older, json);
  assert.deepEqual(parseObservation(older).nts_ke_servers, [
    { address: "[::]:4460", certificate_not_after: notAfter.getTime() / 1000 },
  ]);
  assert.throws(
    () => parseObservation(json.replace('"key_exchanges":8', '"key_exchanges":"8"')),
    /nts_ke_servers\[0\]\.stats\.key_exchanges/,
  );
  // Without NTS-KE servers the field is left out, as ntpd-rs's readers expect.
  assert.equal(buildObservation(input()).nts_ke_servers, undefined);
});

test("NTS pool fronts: counters and back ends, valid against the schema and read back", () => {
  const stats = { connections: 30, delegated: 25, rejected: 3, failed: 2, backendFailures: 4 };
  const o = buildObservation(
    input({ ntsPoolKeServers: [{ address: "[::]:4460", stats, backends: 3, backendsUp: 2 }] }),
  );
  assert.deepEqual(o.nts_pool_ke_servers, [
    {
      address: "[::]:4460",
      backends: 3,
      backends_up: 2,
      stats: { connections: 30, delegated: 25, rejected: 3, failed: 2, backend_failures: 4 },
    },
  ]);
  const json = serializeObservation(o);
  assert.deepEqual(schemaErrors(json), []);
  assert.deepEqual(parseObservation(json).nts_pool_ke_servers, o.nts_pool_ke_servers);
  assert.throws(
    () => parseObservation(json.replace('"delegated":25', '"delegated":-0.5')),
    /nts_pool_ke_servers\[0\]\.stats\.delegated/,
  );
  assert.equal(buildObservation(input()).nts_pool_ke_servers, undefined);
});

test("the CSPTP server: address and counters, drops by reason; valid and read back", () => {
  const stats = newCsptpServerStats();
  stats.received = 12;
  stats.responded = 9;
  stats.dropped.set("too-short", 2);
  stats.dropped.set("tlv", 1);
  const o = buildObservation(input({ csptpServers: [{ address: "[::]:319", stats }] }));
  assert.deepEqual(o.csptp_servers, [
    {
      address: "[::]:319",
      received: 12,
      responded: 9,
      dropped: { "too-short": 2, tlv: 1 },
      send_errors: 0,
    },
  ]);
  const json = serializeObservation(o);
  assert.deepEqual(schemaErrors(json), []);
  assert.deepEqual(parseObservation(json).csptp_servers, o.csptp_servers);
  assert.throws(
    () => parseObservation(json.replace('"tlv":1', '"tlv":"1"')),
    /csptp_servers\[0\]\.dropped\.tlv/,
  );
  assert.equal(buildObservation(input()).csptp_servers, undefined);
});

test("uptime is rounded to the millisecond; the frequency is s/s as the schema says", () => {
  const o = buildObservation(
    input({
      uptimeSeconds: 51.743112886999995,
      systemEstimate: { accumulatedSteps: 0, frequency: -1.25e-6 },
    }),
  );
  assert.equal(o.program.uptime_seconds, 51.743);
  assert.equal(o.system.frequency, -1.25e-6);
});
