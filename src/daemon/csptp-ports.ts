// The two UDP sockets CSPTP uses, shared by the server and every csptp source of
// the daemon, as in ntpd-rs: the event port (319, `[csptp] event_port`) carries
// requests and responses, the general port (320, `general_port`) two-step
// follow-ups. A source sends its requests from the event port because ntpd-rs's
// server answers only requests from port 319 or 320.
//
// Each socket is one dual-stack IPv6 socket on [::] (IPv4 peers appear as
// ::ffff:a.b.c.d), or an IPv4 one on 0.0.0.0 where the host has no IPv6.
// Every datagram is parsed once here and routed: a request to the server (when
// there is a [[csptp-server]]), a response or follow-up to the source whose
// server sent it. Anything else is dropped and counted: by the source when its
// server sent it, else by the server (or in `unrouted` without one).

import type { CsptpConfig } from "../proto/config/types.js";
import type { CsptpServerDrop } from "../proto/csptp/server.js";
import { parseCsptp, type CsptpDropReason, type CsptpMessage } from "../proto/csptp/wire.js";
import type { Logger } from "./log.js";
import { createUdpSocket, type TimestampedUdpSocket, type UdpError } from "./native/udp.js";

/** Receives the messages of one peer (a csptp source's server). */
export interface CsptpPeerHandler {
  onMessage(message: CsptpMessage, rxSec: number, rxNsec: number): void;
  /** A datagram from this peer that is not a CSPTP message. */
  onMalformed(reason: CsptpDropReason): void;
}

/** Receives requests (the server). */
export interface CsptpRequestHandler {
  /** `bytes[0, length)` is a request from address:port, received at rx. */
  onRequest(
    bytes: Uint8Array,
    length: number,
    address: string,
    port: number,
    rxSec: number,
    rxNsec: number,
  ): void;
  /** A datagram from a peer that is not a source's server: not a message, or not a request. */
  onDropped(reason: CsptpServerDrop): void;
}

/** "::ffff:192.0.2.1" → "192.0.2.1": peers are keyed by their plain address. */
export function plainAddress(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

export class CsptpPorts {
  event: TimestampedUdpSocket | null = null;
  general: TimestampedUdpSocket | null = null;
  server: CsptpRequestHandler | null = null;
  readonly #peers = new Map<string, CsptpPeerHandler>();
  /** Datagrams nobody wanted: responses from unknown peers, requests without a server. */
  unrouted = 0;
  #opening: Promise<void> | null = null;

  constructor(
    private readonly config: Pick<CsptpConfig, "eventPort" | "generalPort">,
    private readonly log: Logger,
  ) {}

  /** Binds both sockets (once; later calls wait for the first). Rejects if either fails. */
  open(): Promise<void> {
    this.#opening ??= this.#bind().catch((error: unknown) => {
      // Closed again, so that the next open() tries afresh.
      this.close();
      throw error;
    });
    return this.#opening;
  }

  async #bind(): Promise<void> {
    this.event = await bindAny(this.config.eventPort);
    this.event.onMessage((data, length, address, port, rxSec, rxNsec) =>
      this.#dispatch(data, length, address, port, rxSec, rxNsec),
    );
    this.event.onError((error) => this.#socketError("event", error));
    this.general = await bindAny(this.config.generalPort);
    this.general.onMessage((data, length, address, port, rxSec, rxNsec) =>
      this.#dispatch(data, length, address, port, rxSec, rxNsec),
    );
    this.general.onError((error) => this.#socketError("general", error));
    this.log.info("CSPTP ports open", {
      event_port: this.config.eventPort,
      general_port: this.config.generalPort,
      family: this.event.family,
    });
  }

  /** Routes the messages of `address` to `handler` until removed. */
  addPeer(address: string, handler: CsptpPeerHandler): void {
    this.#peers.set(plainAddress(address), handler);
  }

  removePeer(address: string, handler: CsptpPeerHandler): void {
    const key = plainAddress(address);
    if (this.#peers.get(key) === handler) this.#peers.delete(key);
  }

  /** Sends from the event port. Throws (errno error) if the send fails at once. */
  send(bytes: Uint8Array, length: number, address: string, port: number): void {
    if (this.event === null) throw new Error("the CSPTP ports are not open");
    this.event.sendTo(bytes, length, address, port);
  }

  close(): void {
    this.event?.close();
    this.general?.close();
    this.event = null;
    this.general = null;
    this.#opening = null;
  }

  #dispatch(
    data: Uint8Array,
    length: number,
    address: string,
    port: number,
    rxSec: number,
    rxNsec: number,
  ): void {
    const parsed = parseCsptp(data, length);
    const peer = this.#peers.get(plainAddress(address));
    if (!parsed.ok) {
      if (peer) peer.onMalformed(parsed.reason);
      else if (this.server) this.server.onDropped(parsed.reason);
      else this.unrouted++;
      return;
    }
    if (parsed.message.kind === "request") {
      if (this.server) this.server.onRequest(data, length, address, port, rxSec, rxNsec);
      else this.unrouted++;
      return;
    }
    if (peer) peer.onMessage(parsed.message, rxSec, rxNsec);
    else if (this.server) this.server.onDropped("not-request");
    else this.unrouted++;
  }

  #socketError(which: string, error: UdpError): void {
    this.log.debug("CSPTP socket error", { socket: which, error: error.message });
  }
}

/** A socket on every address: [::] (dual stack), or 0.0.0.0 without IPv6. */
async function bindAny(port: number): Promise<TimestampedUdpSocket> {
  const v6 = createUdpSocket(6);
  try {
    await v6.bind("::", port);
    return v6;
  } catch (error) {
    v6.close();
    const code = (error as UdpError).code;
    if (code !== "EAFNOSUPPORT" && code !== "EADDRNOTAVAIL") throw error;
  }
  const v4 = createUdpSocket(4);
  try {
    await v4.bind("0.0.0.0", port);
  } catch (error) {
    v4.close();
    throw error;
  }
  return v4;
}
