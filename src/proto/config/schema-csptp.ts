// [[csptp-server]] and [csptp] (ntpd-rs main, Linux, experimental; undocumented there).
// Keys of [csptp] are snake_case as in ntpd-rs. `event_port` and `general_port` are
// ntpd-ts extensions (ntpd-rs always binds 319 and 320): they let CSPTP run without
// privileges, e.g. in tests. Each key is declared once, here; types.ts and
// docs/ntp.toml.md are derived from these declarations.
import { INVALID, list, mismatch, required, table, withDefault } from "./fields.js";
import type { ValueType } from "./fields.js";
import { didYouMean } from "./suggest.js";
import { describeValue, getOwn, isTable, tableKeys } from "./toml-value.js";
import { bool, integer, oneOf, u16, u8 } from "./value-types.js";

/** The PTP event and general ports (IANA). */
export const PTP_EVENT_PORT = 319;
export const PTP_GENERAL_PORT = 320;

export const csptpServerTable = table({
  doc: "A client-server PTP server on the `[csptp]` event port.",
  fields: {
    interface: required(
      "interface",
      oneOf(["any"] as const),
      '"any": every address (the only value).',
    ),
  },
});

/** ntpd-rs's ClockAccuracy names (IEEE 1588-2019 Table 5) and their codes. */
const CLOCK_ACCURACY: Readonly<Record<string, number>> = {
  Reserved: 0x00,
  PS1: 0x17,
  PS2_5: 0x18,
  PS10: 0x19,
  PS25: 0x1a,
  PS100: 0x1b,
  PS250: 0x1c,
  NS1: 0x1d,
  NS2_5: 0x1e,
  NS10: 0x1f,
  NS25: 0x20,
  NS100: 0x21,
  NS250: 0x22,
  US1: 0x23,
  US2_5: 0x24,
  US10: 0x25,
  US25: 0x26,
  US100: 0x27,
  US250: 0x28,
  MS1: 0x29,
  MS2_5: 0x2a,
  MS10: 0x2b,
  MS25: 0x2c,
  MS100: 0x2d,
  MS250: 0x2e,
  S1: 0x2f,
  S10: 0x30,
  SGT10: 0x31,
  Unknown: 0xfe,
};
const ACCURACY_EXPECTED =
  'an accuracy name ("US1", "MS10", "Unknown", ...) or { ProfileSpecific = 0..125 }';
const profileSpecific = integer(0, 0xfd - 0x80);

/** A clock accuracy as ntpd-rs writes it: a variant name, or { ProfileSpecific = n } (code 0x80 + n). */
const clockAccuracy: ValueType<number> = {
  expected: ACCURACY_EXPECTED,
  parse(raw, ctx) {
    if (typeof raw === "string") {
      const code = CLOCK_ACCURACY[raw];
      if (code !== undefined) return code;
      const advice = didYouMean(raw, Object.keys(CLOCK_ACCURACY));
      return ctx.valueError(`expected ${ACCURACY_EXPECTED}, got ${describeValue(raw)}${advice}`);
    }
    if (
      isTable(raw) &&
      tableKeys(raw).length === 1 &&
      getOwn(raw, "ProfileSpecific") !== undefined
    ) {
      const n = profileSpecific.parse(
        getOwn(raw, "ProfileSpecific")!,
        ctx.child("ProfileSpecific"),
      );
      return n === INVALID ? INVALID : 0x80 + n;
    }
    return mismatch(ctx, ACCURACY_EXPECTED, raw);
  },
};

const clockQualityTable = table({
  expected: "a table { clock_class, clock_accuracy, offset_scaled_log_variance }",
  fields: {
    clockClass: required("clock_class", u8, "PTP clockClass."),
    clockAccuracy: required("clock_accuracy", clockAccuracy, "PTP clockAccuracy."),
    offsetScaledLogVariance: required(
      "offset_scaled_log_variance",
      u16,
      "PTP offsetScaledLogVariance.",
    ),
  },
});

const port = integer(1, 65535);

export const csptpTable = table({
  doc: "What this host's CSPTP says about its clock, and the ports CSPTP uses (experimental).",
  fields: {
    identity: withDefault(
      "identity",
      list(u8, { expected: "an array of 8 integers from 0 to 255" }),
      [0, 0, 0, 0, 0, 0, 0, 0],
      "Clock identity (8 octets) sent as the grandmaster identity in status TLVs.",
    ),
    priority1: withDefault("priority_1", u8, 128, "Grandmaster priority1 sent in status TLVs."),
    priority2: withDefault("priority_2", u8, 128, "Grandmaster priority2 sent in status TLVs."),
    clockQuality: withDefault(
      "clock_quality",
      clockQualityTable,
      { clockClass: 248, clockAccuracy: 0xfe, offsetScaledLogVariance: 0x6900 },
      "Grandmaster clock quality sent in status TLVs; all three keys required when given.",
      {
        defaultDoc:
          '`{ clock_class = 248, clock_accuracy = "Unknown", offset_scaled_log_variance = 0x6900 }`',
      },
    ),
    ptpTimescale: withDefault("ptp_timescale", bool, true, "The ptpTimescale flag of responses."),
    timeTraceable: withDefault(
      "time_traceable",
      bool,
      false,
      "The timeTraceable flag of responses.",
    ),
    frequencyTraceable: withDefault(
      "frequency_traceable",
      bool,
      false,
      "The frequencyTraceable flag of responses.",
    ),
    eventPort: withDefault(
      "event_port",
      port,
      PTP_EVENT_PORT,
      "ntpd-ts extension: UDP port of CSPTP requests and responses (servers listen, sources send from it).",
    ),
    generalPort: withDefault(
      "general_port",
      port,
      PTP_GENERAL_PORT,
      "ntpd-ts extension: UDP port on which sources receive two-step follow-ups.",
    ),
  },
  finish: (raw, ctx) => {
    if (raw.identity.length !== 8) {
      return ctx.keyError("identity", `expected 8 octets, got ${raw.identity.length}`);
    }
    if (raw.eventPort === raw.generalPort) {
      return ctx.keyError("general_port", "must differ from event_port");
    }
    return raw;
  },
});
