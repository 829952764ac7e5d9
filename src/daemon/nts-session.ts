// From an `nts` source to everything its NTP requests need: the NTS-KE with
// the configured server, the address of the NTP server it names, and the
// request protector holding the negotiated keys and the cookies. The daemon's
// NtsSpawner starts one for every (re)start of an NTS source; ntp-ctl
// force-sync starts one per NTS source for its single round of measurements.

import { randomBytes } from "node:crypto";
import type { NtsSourceConfig } from "../proto/config/types.js";
import type { AeadId } from "../proto/crypto/aead.js";
import { CookieStash } from "../proto/nts/cookie/stash.js";
import { NtsProtector } from "../proto/nts/packet/client-protector.js";
import { performKeyExchange, type KeyExchangeResult, type TrustStore } from "./nts-ke-client.js";
import type { ResolvedAddress, Resolver } from "./resolve.js";
import { errorText } from "./source-task.js";
import { ntsNextProtocols, versionOfNextProtocol } from "../proto/source/v5-client.js";

const random = (n: number) => new Uint8Array(randomBytes(n));

export interface NtsSession {
  /** What the key exchange agreed on (AEAD, keys, cookies, NTP server and port). */
  keyExchange: KeyExchangeResult;
  /** The NTP server's first address. */
  address: ResolvedAddress;
  port: number;
  /** The source's cookies; the protector takes one per request and adds the new ones. */
  stash: CookieStash;
  protector: NtsProtector;
}

/** The key exchange worked, but the NTP server it named has no usable address. */
export class NtsResolveError extends Error {}

export interface NtsSessionOptions {
  /** Trust anchors for the NTS-KE server: the system's plus `certificate-authority`. */
  trust: TrustStore;
  resolve: Resolver;
  keyExchange?: typeof performKeyExchange;
  /** Bound on the key exchange (default: the client's own, 5 s). */
  keyExchangeTimeoutMs?: number;
  /** Gives the key exchange up when aborted. */
  signal?: AbortSignal;
  /** The NTS-KE server to use instead of the configured address (an SRV target). */
  target?: KeTarget;
  /** NTP Server Deny records for an NTS pool (the servers already in use). */
  denyServers?: readonly string[];
  /** `no-certificate-time-check` is in force: accept a chain out of its dates. */
  ignoreCertificateDates?: boolean;
}

/** Where to do the key exchange: a name (checked by TLS) and port, maybe a resolved address. */
export interface KeTarget {
  host: string;
  port: number;
  /** Connect here instead of resolving `host`. */
  address?: string;
  /** The SRV target name this came from (an nts-pool's identity of the server). */
  srvName?: string;
}

/**
 * Runs the key exchange and resolves the NTP server. Rejects with the key
 * exchange's error, or with NtsResolveError when the NTP server cannot be
 * resolved.
 */
export async function startNtsSession(
  config: Pick<NtsSourceConfig, "address" | "ntpVersion">,
  options: NtsSessionOptions,
): Promise<NtsSession> {
  const keyExchange = options.keyExchange ?? performKeyExchange;
  const target = options.target ?? config.address;
  const result = await keyExchange({
    host: target.host,
    port: target.port,
    ...(options.target?.address === undefined ? {} : { address: options.target.address }),
    ...(options.denyServers === undefined ? {} : { denyServers: options.denyServers }),
    trust: options.trust,
    signal: options.signal,
    ...(options.ignoreCertificateDates === true ? { ignoreCertificateDates: true } : {}),
    nextProtocols: ntsNextProtocols(config.ntpVersion),
    ...(options.keyExchangeTimeoutMs === undefined
      ? {}
      : { timeoutMs: options.keyExchangeTimeoutMs }),
  });
  let address: ResolvedAddress | undefined;
  try {
    address = (await options.resolve(result.ntpServer))[0];
  } catch (error) {
    throw new NtsResolveError(errorText(error));
  }
  if (!address) throw new NtsResolveError(`${result.ntpServer} has no address`);
  const stash = new CookieStash();
  for (const cookie of result.cookies) stash.add(cookie);
  const protector = new NtsProtector({
    ntpVersion: versionOfNextProtocol(result.protocol),
    aead: result.aead as AeadId,
    c2s: result.c2s,
    s2c: result.s2c,
    stash,
    random,
  });
  return { keyExchange: result, address, port: result.ntpPort, stash, protector };
}
