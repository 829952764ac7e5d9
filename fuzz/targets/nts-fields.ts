// The server's NTS field pass (NtsFieldScanner) and the authenticator reader
// on any packet: the scan never throws, every offset and length it reports
// lies inside the packet, counts stay within maxFields, and a readable
// authenticator's nonce and ciphertext lie inside its field.

import { MAX_EXTENSION_FIELDS } from "../../src/proto/packet/parse.js";
import {
  AuthenticatorView,
  carriesUniqueIdentifier,
  readAuthenticator,
} from "../../src/proto/nts/packet/fields.js";
import { NtsFieldScanner } from "../../src/proto/nts/packet/scan.js";
import { check, type FuzzTarget } from "../engine/target.js";
import { seedsWhere } from "../seeds.js";
import { EF_TYPES } from "./layouts.js";

const scanner = new NtsFieldScanner(MAX_EXTENSION_FIELDS);
const view = new AuthenticatorView();
const UID = new Uint8Array(32).fill(0x3c);

export const ntsFields: FuzzTarget = {
  name: "nts-fields",
  description:
    "NtsFieldScanner + readAuthenticator: in-bounds offsets, bounded counts, authenticator parts inside the field",
  kind: "bytes",
  maxLength: 2048,
  layout: { start: 48, headerLength: 4, lengthIncludesHeader: true, align: 4, types: EF_TYPES },
  seeds: () => seedsWhere(/./, (b) => b.length >= 48),
  run(input) {
    const end = input.length;
    for (const legacy of [true, false]) {
      const ok = scanner.scan(input, Math.min(48, end), end, legacy);
      check(ok === (scanner.error === null), "scan result and error disagree");
      if (!ok) continue;
      const s = scanner;
      check(
        s.uidCount <= MAX_EXTENSION_FIELDS && s.slotCount <= MAX_EXTENSION_FIELDS,
        "counts over maxFields",
      );
      check(s.authenticatedUidCount <= s.uidCount, "more authenticated UIDs than UIDs");
      check(s.cookieCount <= s.slotCount, "more cookies than slots");
      let uidBytes = 0;
      for (let i = 0; i < s.uidCount; i++) {
        const off = s.uidOffsets[i]!;
        const len = s.uidLengths[i]!;
        check(off >= 48 && off + len <= end, "UID field outside the packet");
        uidBytes += len;
        carriesUniqueIdentifier(input, off + 4, len - 4, UID);
      }
      check(uidBytes === s.uidBytes, "uidBytes is not the sum of the UID fields");
      if (s.cookieCount > 0) {
        check(
          s.cookieValueOffset >= 52 && s.cookieValueOffset + s.cookieValueLength <= end,
          "cookie outside",
        );
      }
      if (s.authenticatorCount > 0) {
        const off = s.authenticatorOffset;
        const len = s.authenticatorValueLength;
        check(off >= 48 && off + 4 + len <= end, "authenticator outside the packet");
        if (readAuthenticator(input, off, len, view)) {
          const fieldEnd = off + 4 + len;
          check(view.nonceOffset === off + 8, "nonce does not follow the lengths");
          check(view.nonceOffset + view.nonceLength <= fieldEnd, "nonce past the field");
          check(
            view.ciphertextOffset + view.ciphertextLength <= fieldEnd,
            "ciphertext past the field",
          );
          check(view.additionalPadding >= 0, "negative padding");
        }
      } else {
        check(s.authenticatorOffset === -1, "authenticator offset without authenticator");
      }
    }
  },
};
