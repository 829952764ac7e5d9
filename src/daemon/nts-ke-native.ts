// Which TLS an `[[nts-ke-server]]` serves with, and the addon's GnuTLS listener.
//
// node:tls (node's OpenSSL 3.0) costs about twice chrony's CPU per key exchange: its
// handshake alone costs 1.6 times chrony's whole exchange, and node's JavaScript socket
// and stream machinery adds as much again. The addon's NtsKeListener (built when
// libgnutls28-dev is installed; native/nts_ke_listener.h) drives GnuTLS, chrony's TLS
// library, from libuv and hands each connection's request and exported keys to
// JavaScript in one call; the protocol stays in src/proto/nts/ke (docs/nts.md).
//
// NTPD_TS_NTS_KE_TLS picks one: "auto" (default: GnuTLS when the addon has it, else
// node:tls), "gnutls" (fail to start without it) or "node" (always node:tls; how tests
// keep the fallback covered on a machine that has GnuTLS).

import { getAddon } from "./native/addon.js";
import type {
  NativeNtsKeListener,
  NativeNtsKeListenerOptions,
  NativeNtsKeOutcome,
} from "./native/types.js";

export const NTS_KE_TLS_ENV = "NTPD_TS_NTS_KE_TLS";

/** The TLS of NTS-KE: see above. */
export type NtsKeTls = "auto" | "gnutls" | "node";

/** NTPD_TS_NTS_KE_TLS's value; unset or empty is "auto". Throws for anything else. */
export function ntsKeTlsFromEnv(env: NodeJS.ProcessEnv = process.env): NtsKeTls {
  const value = env[NTS_KE_TLS_ENV] ?? "";
  if (value === "") return "auto";
  if (value === "auto" || value === "gnutls" || value === "node") return value;
  throw new Error(`${NTS_KE_TLS_ENV}=${value}: expected auto, gnutls or node`);
}

/** Whether this build of the addon serves NTS-KE on GnuTLS (and why not). */
export function gnutlsAvailability(): { available: true } | { available: false; reason: string } {
  const addon = getAddon();
  if (addon === null) return { available: false, reason: "the native addon is not loaded" };
  if (addon.NtsKeListener === undefined) {
    return { available: false, reason: "the native addon was built without GnuTLS" };
  }
  return { available: true };
}

/** What the listener calls: the one call per answered connection, and the other endings. */
export interface NativeKeHandlers {
  request(
    listener: NativeNtsKeListener,
    request: Buffer,
    ended: boolean,
    peer: string | undefined,
  ): Uint8Array | undefined;
  outcome(outcome: NativeNtsKeOutcome, detail: string, peer: string | undefined): void;
}

/**
 * A GnuTLS listener on `fd` (which it owns from now on), or null when the addon has none.
 * The handlers must not throw (an exception would count nothing).
 */
export function createNativeKeListener(
  fd: number,
  options: NativeNtsKeListenerOptions,
  handlers: NativeKeHandlers,
): NativeNtsKeListener | null {
  const Listener = getAddon()?.NtsKeListener;
  if (Listener === undefined) return null;
  const listener: NativeNtsKeListener = new Listener(
    fd,
    options,
    (request, ended, peer) => handlers.request(listener, request, ended, peer),
    (outcome, detail, peer) => handlers.outcome(outcome, detail, peer),
  );
  return listener;
}
