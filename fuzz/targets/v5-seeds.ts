// NTPv5 seeds shared by the ntp-v5-packet and server-handle targets: the
// requests our client sends (plain, and NTS over v5 with a cookie of the
// fuzz key set), the ntpd-rs-shaped request of the v5 tests, and a reply.

import { AeadId } from "../../src/proto/crypto/aead.js";
import { encodeCookie } from "../../src/proto/nts/cookie/cookie.js";
import { CookieStash } from "../../src/proto/nts/cookie/stash.js";
import { aeadKeyLength } from "../../src/proto/nts/ke/key-export.js";
import { NtsProtector } from "../../src/proto/nts/packet/client-protector.js";
import { finishReply } from "../../src/proto/server/finish.js";
import { NtpServerCore } from "../../src/proto/server/server.js";
import { initialSystemState, SystemStateCell } from "../../src/proto/system/system-state.js";
import { NtpTimestamp } from "../../src/proto/time.js";
import { buildV5Request } from "../../src/proto/source/v5-client.js";
import { fixedKeySet, seededRandom } from "./common.js";

/** An NTS-over-v5 request whose cookie the fuzz key set opens. */
export function ntsV5Request(aead: AeadId): Uint8Array {
  const k = aeadKeyLength(aead)!;
  const session = { aead, c2s: new Uint8Array(k).fill(1), s2c: new Uint8Array(k).fill(2) };
  const stash = new CookieStash();
  stash.add(encodeCookie(fixedKeySet(), session, seededRandom(9)));
  const protector = new NtsProtector({ ...session, stash, random: seededRandom(3), ntpVersion: 5 });
  return protector.finishRequest(buildV5Request(4, new NtpTimestamp(1, 2), 0))!;
}

export function V5_SEEDS(): Uint8Array[] {
  const plain = buildV5Request(6, new NtpTimestamp(0x01234567, 0x89abcdef), 16);
  const core = new NtpServerCore({
    policy: { acceptNtpVersions: [5] },
    systemState: new SystemStateCell(initialSystemState()),
    random: seededRandom(1),
  });
  const out = new Uint8Array(2048);
  const d = core.handle(plain, plain.length, "192.0.2.1", new NtpTimestamp(5, 6), out);
  if (d.action === "reply") finishReply(out, d.finish, new NtpTimestamp(5, 7));
  return [
    plain,
    ntsV5Request(AeadId.AES_SIV_CMAC_256),
    ntsV5Request(AeadId.AES_SIV_CMAC_512),
    out.slice(0, d.action === "reply" ? d.length : 48),
  ];
}
