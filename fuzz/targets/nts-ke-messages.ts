// NTS-KE message handling on any byte stream, both sides, streamed in
// input-dependent chunks:
//   * server (ServerRequestDecoder → handleKeRequest): always a decision;
//     a rejection's response is a well-formed NTS-KE message; a key exchange
//     picks a protocol and AEAD the server accepts;
//   * client (ClientResponseDecoder → parseKeResponse), with and without the
//     offered lists: a response or a typed error; a response has 1..8 cookies
//     and, when lists were offered, a protocol and AEAD from them.

import { ClientResponseDecoder } from "../../src/proto/nts/ke/client-messages.js";
import {
  ServerRequestDecoder,
  type KeServerConfig,
} from "../../src/proto/nts/ke/server-messages.js";
import { decodeKeMessage } from "../../src/proto/nts/ke/records.js";
import { check, type FuzzTarget } from "../engine/target.js";
import { seedsWhere } from "../seeds.js";
import { chunks } from "./common.js";
import { KE_TYPES } from "./layouts.js";

const CONFIG: KeServerConfig = {
  acceptNtpVersions: [4, 5],
  aeadAlgorithms: [17, 15, 30],
  acceptedPoolAuthenticationTokens: ["pool-token"],
};
const OFFERED = { nextProtocols: [0, 0x8001], aeadAlgorithms: [30, 17, 15] };
const KINDS = new Set(["key-exchange", "fixed-key", "supported-lists", "reject"]);

function server(input: Uint8Array, authenticated: boolean): void {
  const decoder = new ServerRequestDecoder(CONFIG, { context: { authenticated } });
  let decision = null;
  for (const chunk of chunks(input)) {
    decision = decoder.push(chunk);
    if (decision !== null) break;
  }
  decision ??= decoder.end();
  check(KINDS.has(decision.kind), `unknown decision ${decision.kind}`);
  switch (decision.kind) {
    case "reject": {
      const reply = decodeKeMessage(decision.response);
      check(reply.ok, "rejection response is not a well-formed message");
      break;
    }
    case "key-exchange":
      check([0, 0x8001].includes(decision.protocol), `protocol ${decision.protocol} not accepted`);
      check(CONFIG.aeadAlgorithms.includes(decision.aead), `AEAD ${decision.aead} not implemented`);
      break;
    case "fixed-key":
      check(CONFIG.aeadAlgorithms.includes(decision.aead), `fixed-key AEAD ${decision.aead}`);
      break;
    default:
      break;
  }
}

function client(input: Uint8Array, offered: boolean): void {
  const decoder = new ClientResponseDecoder(offered ? { offered: OFFERED } : {});
  let result = null;
  for (const chunk of chunks(input)) {
    result = decoder.push(chunk);
    if (result !== null) break;
  }
  result ??= decoder.end();
  if (!result.ok) {
    check(
      typeof result.error.code === "string" && result.error.message.length > 0,
      "untyped error",
    );
    return;
  }
  const r = result.value;
  check(r.cookies.length >= 1 && r.cookies.length <= 8, `${r.cookies.length} cookies kept`);
  if (offered) {
    check(OFFERED.nextProtocols.includes(r.protocol), `protocol ${r.protocol} was not offered`);
    check(OFFERED.aeadAlgorithms.includes(r.aead), `AEAD ${r.aead} was not offered`);
  }
  check(
    r.port === undefined || (Number.isInteger(r.port) && r.port >= 0 && r.port <= 0xffff),
    "port",
  );
}

export const ntsKeMessages: FuzzTarget = {
  name: "nts-ke-messages",
  description:
    "ServerRequestDecoder/ClientResponseDecoder: a decision or typed error; rejections well-formed; choices offered",
  kind: "bytes",
  maxLength: 4500,
  layout: { start: 0, headerLength: 4, lengthIncludesHeader: false, align: 1, types: KE_TYPES },
  dictionary: [new TextEncoder().encode("pool-token")],
  seeds: () => seedsWhere(/records|messages|response|request|nts_ke|sessions|hex/),
  run(input) {
    server(input, false);
    server(input, true);
    client(input, false);
    client(input, true);
  },
};
