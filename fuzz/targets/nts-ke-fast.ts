// The NTS-KE listener's fast path in C (native/nts_ke_response.cc, through the addon's
// ntsKeFastResponse) against the TypeScript server, on any request: either no answer
// (TypeScript decides) or exactly the octets TypeScript answers for the same exported
// keys, master key and nonces; never a crash, never a read outside the request (the
// request is handed over in a buffer of its own length). The coverage that guides it is
// the TypeScript decoder's; the C parser sees every input the TypeScript one does.

import { getAddon } from "../../src/daemon/native/addon.js";
import { defaultAeadProvider, preparedKey } from "../../src/daemon/native/aead.js";
import { fastPathConfig, keyExchangeResponse, testExporter } from "../../src/daemon/nts-ke-fast.js";
import { SUPPORTED_AEADS } from "../../src/proto/crypto/registry.js";
import { KeySet } from "../../src/proto/nts/keyset/keyset.js";
import { buildClientRequest } from "../../src/proto/nts/ke/client-messages.js";
import { encodeRecords } from "../../src/proto/nts/ke/records.js";
import {
  ServerRequestDecoder,
  type KeServerConfig,
} from "../../src/proto/nts/ke/server-messages.js";
import { check, sameBytes, type FuzzTarget } from "../engine/target.js";
import { seedsWhere } from "../seeds.js";
import { KE_TYPES } from "./layouts.js";

const CONFIG: KeServerConfig = {
  acceptNtpVersions: [4, 5],
  aeadAlgorithms: SUPPORTED_AEADS,
  acceptedPoolAuthenticationTokens: ["pool-token"],
};
const SERVER = { server: "ntp.example", port: 123 };
const NONCES = Uint8Array.from({ length: 128 }, (_, i) => (i * 37 + 11) & 0xff);

let keys: KeySet | undefined;
function keySet(): KeySet {
  keys ??= KeySet.fromParts({
    keys: [1, 2].map((i) => new Uint8Array(64).fill(i * 29)),
    idOffset: 41,
    primary: 1,
  });
  return keys;
}

function run(input: Uint8Array): void {
  const addon = getAddon();
  if (addon === null) throw new Error("nts-ke-fast needs the native addon (npm run build:addon)");
  const keyset = keySet();
  const handle = preparedKey(keyset.primaryCipher(defaultAeadProvider()));
  if (handle === null) throw new Error("nts-ke-fast: the master key is not a prepared native key");
  // A copy of exactly the input's length: a read past it would be past the allocation.
  const request = Uint8Array.from(input);
  const native = addon.ntsKeFastResponse(
    request,
    fastPathConfig(CONFIG, SERVER, 4096),
    keyset.primaryId,
    handle,
    NONCES,
  );
  if (native === null) return;
  const decoder = new ServerRequestDecoder(CONFIG);
  const decision = decoder.push(request) ?? decoder.end();
  check(decision.kind === "key-exchange", `the fast path answered a ${decision.kind} request`);
  check(decoder.trailing.length === 0, "the fast path answered a request with trailing octets");
  let used = 0;
  const random = (n: number) => NONCES.slice(used, (used += n));
  const expected = keyExchangeResponse(
    decision,
    testExporter,
    keyset,
    random,
    SERVER,
    defaultAeadProvider(),
  );
  check(sameBytes(native, expected), "the fast path's response differs from TypeScript's");
}

export const ntsKeFast: FuzzTarget = {
  name: "nts-ke-fast",
  description:
    "the NTS-KE listener's C fast path (ntsKeFastResponse): no answer, or TypeScript's response octet for octet",
  kind: "bytes",
  maxLength: 4500,
  layout: { start: 0, headerLength: 4, lengthIncludesHeader: false, align: 1, types: KE_TYPES },
  seeds: () => [
    ...seedsWhere(/records|messages|request|nts_ke|hex/),
    buildClientRequest({ nextProtocols: [0], aeadAlgorithms: [17, 15, 30] }),
    buildClientRequest({ nextProtocols: [0x8001, 0], aeadAlgorithms: [30] }),
    encodeRecords([
      { kind: "next-protocol", protocols: [0] },
      { kind: "aead-algorithm", algorithms: [30, 15] },
      { kind: "compliant-128gcmsiv-context" },
      { kind: "unknown", type: 0x4000, critical: false, body: Uint8Array.of(1) },
      { kind: "end-of-message" },
    ]),
  ],
  run,
};
