// The daemon's side of the control socket (`ntp-ctl source ...`): bytes as a
// client sends them, in input-dependent chunks, through the u64-length
// framing (at most MAX_CONTROL_REQUEST_BYTES), decodeControlRequest, and for
// `source-add` parseSourceTable. Outcome: a framing error, a
// ControlRequestError, or a request; a source table gives a source or errors
// with a message, never a throw and never the "internal error" diagnostic.

import { ObservationFrameReader } from "../../src/daemon/message-frame.js";
import {
  ControlRequestError,
  decodeControlRequest,
  encodeControlMessage,
  MAX_CONTROL_REQUEST_BYTES,
} from "../../src/daemon/control-protocol.js";
import { defaultConfig } from "../../src/proto/config/parse.js";
import { parseSourceTable } from "../../src/proto/config/single-source.js";
import { check, utf8, type FuzzTarget } from "../engine/target.js";
import { chunks } from "./common.js";

const defaults = defaultConfig().sourceDefaults;

const TABLES = [
  '[[source]]\nmode = "server"\naddress = "127.0.0.1:123"\npoll-interval-limits = { min = 0, max = 0 }\n',
  '[[source]]\nmode = "nts"\naddress = "nts.example"\ncertificate-authority = "/ca.pem"\n',
  '[[source]]\nmode = "pool"\naddress = "pool.example"\ncount = 2\nignore = ["192.0.2.1"]\n',
];

const KEYS = [
  '"command"',
  '"source-list"',
  '"source-add"',
  '"source-remove"',
  '"source"',
  "[[source]]",
  "mode",
  "address",
  "\\n",
  "{",
  "}",
  ":",
  ",",
];

export const controlRequest: FuzzTarget = {
  name: "control-request",
  description:
    "control socket requests: framing, decodeControlRequest, parseSourceTable; typed outcomes only",
  kind: "bytes",
  maxLength: 2048,
  dictionary: KEYS.map((k) => utf8(k)),
  seeds: () => [
    encodeControlMessage({ command: "source-list" }),
    encodeControlMessage({ command: "source-remove", source: "3" }),
    encodeControlMessage({ command: "source-remove", source: "time.example:123" }),
    ...TABLES.map((source) => encodeControlMessage({ command: "source-add", source })),
  ],
  run(input) {
    const frame = new ObservationFrameReader(MAX_CONTROL_REQUEST_BYTES);
    let progress = frame.push(new Uint8Array(0));
    for (const chunk of chunks(input)) {
      progress = frame.push(chunk);
      if (progress.status !== "incomplete") break;
    }
    if (progress.status === "incomplete") progress = frame.end();
    if (progress.status === "error") {
      check(progress.message.length > 0, "empty framing error");
      return;
    }
    check(progress.status === "complete", "framing neither complete nor an error");
    let request;
    try {
      request = decodeControlRequest(progress.text);
    } catch (error) {
      check(error instanceof ControlRequestError, `not a ControlRequestError: ${String(error)}`);
      check(error.message.length > 0, "empty request error");
      return;
    }
    if (request.command !== "source-add") return;
    const result = parseSourceTable(request.source, defaults);
    if (result.ok) {
      check(typeof result.source.mode === "string", "a source without a mode");
      return;
    }
    check(result.errors.length > 0, "rejected without a reason");
    for (const e of result.errors) {
      check(e.length > 0, "empty error");
      check(!e.includes("internal error"), `a swallowed bug: ${e}`);
    }
  },
};
