// The client side of the observation socket (ntp-ctl, ntp-metrics-exporter):
// the u64-length framing (ObservationFrameReader, fed input-dependent chunks)
// and parseObservation of the text. Outcome: an Observation, a framing error
// or an ObservationFormatError, never another throw; a parsed observation
// serializes to JSON that parses and serializes to the same text.

import { ObservationFrameReader } from "../../src/daemon/message-frame.js";
import {
  buildObservation,
  encodeObservationMessage,
  ObservationFormatError,
  parseObservation,
  serializeObservation,
} from "../../src/daemon/observation.js";
import { ServerStats } from "../../src/proto/server/stats.js";
import { initialSystemState } from "../../src/proto/system/system-state.js";
import { NtpTimestamp } from "../../src/proto/time.js";
import { check, utf8, type FuzzTarget } from "../engine/target.js";
import { chunks } from "./common.js";
import type { Rng } from "../engine/rng.js";

const MAX_BYTES = 8192;

/** An ntpd-rs 1.9 message (shape from its observation output). */
const NTPD_RS = `{"program":{"version":"1.9.0","build_commit":"f00","build_commit_date":"2026-06-12",
 "uptime_seconds":173.02,"now":{"timestamp": 16992191376115884894}},
 "system":{"stratum":3,"reference_id":3245285499,"accumulated_steps_threshold":null,
 "precision":3.8e-6,"root_delay":0.0107,"root_variance_base_time":{"timestamp":16992191300000000000},
 "root_variance_base":1.78e-7,"root_variance_linear":5.3e-10,"root_variance_quadratic":3.6e-11,
 "root_variance_cubic":1e-16,"leap_indicator":"NoWarning","accumulated_steps":0.0517},
 "sources":[{"offset":-0.0033,"uncertainty":0.0026,"delay":0.0111,"remote_delay":0.00022,
 "remote_uncertainty":0.00003,"last_update":{"timestamp":16992191370000000000},"unanswered_polls":0,
 "poll_interval":4,"nts_cookies":null,"name":"ntpd-rs.pool.ntp.org:123","address":"178.239.19.59:123","id":4}],
 "servers":[{"address":"0.0.0.0:123","stats":{"received_packets":0,"accepted_packets":0,
 "denied_packets":0,"ignored_packets":0,"rate_limited_packets":0,"response_send_errors":0,
 "nts_received_packets":0,"nts_accepted_packets":0,"nts_denied_packets":0,
 "nts_rate_limited_packets":0,"nts_nak_packets":0}}]}`;

function ours(): string {
  const stats = new ServerStats();
  stats.receivedPackets = 10;
  return serializeObservation(
    buildObservation({
      program: { version: "0.1.0", buildCommit: "abc1234", buildCommitDate: "2026-11-26" },
      uptimeSeconds: 12.5,
      now: NtpTimestamp.fromBits(0xeb00_0000_8000_0001n),
      system: initialSystemState(),
      accumulatedStepsThreshold: null,
      sources: [],
      servers: [{ address: "0.0.0.0:123", stats }],
    }),
  );
}

const KEYS = [
  "program",
  "system",
  "sources",
  "servers",
  "timestamp",
  "null",
  "true",
  "-1e309",
  "1e-400",
  "18446744073709551616",
  '"NoWarning"',
  '"Leap59"',
  '"Leap61"',
  '"Unknown"',
  "{",
  "}",
  "[",
  "]",
  ",",
  ":",
];

/** Raw JSON number texts JSON.stringify cannot produce (integers past 2^53, huge exponents). */
const RAW_NUMBERS = [
  "18446744073709551615",
  "18446744073709551616",
  "9007199254740993",
  "-1",
  "1e999",
  "-0",
];
const VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  1,
  -1,
  0.5,
  255,
  256,
  65536,
  2 ** 32,
  "",
  "x",
  "NoWarning",
  "Leap61",
  "Unknown",
  [],
  {},
];

type Slot = { parent: Record<string, unknown> | unknown[]; key: string | number };

function slots(value: unknown, out: Slot[]): Slot[] {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push({ parent: value, key: i });
      slots(v, out);
    });
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      out.push({ parent: value as Record<string, unknown>, key: k });
      slots(v, out);
    }
  }
  return out;
}

/**
 * Edits one value of the JSON message (new value of another type, a raw
 * number, deletion, a copy of another value) and re-frames it with the right
 * length: byte-level mutations alone rarely keep the JSON valid.
 */
function mutateJson(input: Uint8Array, rng: Rng): Uint8Array | null {
  if (input.length < 9) return null;
  let root: unknown;
  try {
    root = JSON.parse(Buffer.from(input.subarray(8)).toString("utf8"));
  } catch {
    return null;
  }
  const all = slots(root, []);
  if (all.length === 0) return null;
  const { parent, key } = rng.pick(all);
  const set = (v: unknown) => ((parent as Record<string | number, unknown>)[key] = v);
  let raw: string | null = null;
  switch (rng.below(5)) {
    case 0:
      set(structuredClone(rng.pick(VALUES)));
      break;
    case 1:
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
      break;
    case 2: {
      const other = rng.pick(all);
      set(structuredClone((other.parent as Record<string | number, unknown>)[other.key]));
      break;
    }
    case 3:
      raw = rng.pick(RAW_NUMBERS);
      set("\u0000RAW\u0000");
      break;
    default:
      if (Array.isArray(parent)) parent.push(structuredClone(parent[key as number]));
      else parent[`${String(key)}_extra`] = structuredClone(parent[key as string]);
  }
  let text = JSON.stringify(root);
  if (raw !== null) text = text.replace(JSON.stringify("\u0000RAW\u0000"), raw);
  return Uint8Array.from(encodeObservationMessage(text));
}

function frame(input: Uint8Array): string | null {
  const reader = new ObservationFrameReader(MAX_BYTES);
  let progress = null;
  for (const chunk of chunks(input)) {
    progress = reader.push(chunk);
    if (progress.status !== "incomplete") break;
  }
  if (progress === null || progress.status === "incomplete") progress = reader.end();
  if (progress.status === "error") {
    check(progress.message.length > 0, "empty framing error");
    return null;
  }
  check(progress.status === "complete", "end() left the frame incomplete");
  return progress.status === "complete" ? progress.text : null;
}

export const observationClient: FuzzTarget = {
  name: "observation-client",
  description:
    "ObservationFrameReader + parseObservation: observation, framing error or ObservationFormatError; round trip",
  kind: "bytes",
  maxLength: MAX_BYTES + 8,
  dictionary: KEYS.map(utf8),
  mutate: mutateJson,
  seeds: () =>
    [encodeObservationMessage(ours()), encodeObservationMessage(NTPD_RS)].map((b) =>
      Uint8Array.from(b),
    ),
  run(input) {
    const text = frame(input);
    if (text === null) return;
    let observation;
    try {
      observation = parseObservation(text);
    } catch (error) {
      check(
        error instanceof ObservationFormatError,
        `not an ObservationFormatError: ${String(error)}`,
      );
      return;
    }
    // Compared as text: -0 and 0 are the same value to every reader.
    const text1 = serializeObservation(observation);
    const text2 = serializeObservation(parseObservation(text1));
    check(text1 === text2, "serialize∘parse∘serialize differs from serialize");
  },
};
