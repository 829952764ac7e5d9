// One NTS-KE round trip from a pool front to a back end: TLS 1.3 with ALPN
// ntske/1, the back end's certificate checked against its configured name
// (system roots plus the front's `certificate-authority`), one request
// written in one write, the response read up to End of Message (4096 octets
// at most), then the connection closed. Bounded by `timeoutMs`.

import { checkServerIdentity, connect } from "node:tls";
import { isIP } from "node:net";
import { KeMessageDecoder, type KeRecord } from "../proto/nts/ke/records.js";
import { NTS_KE_ALPN } from "../proto/nts/ke/key-export.js";
import type { TrustStore } from "./nts-ke-client.js";

export class UpstreamError extends Error {}

export interface UpstreamTarget {
  host: string;
  port: number;
  trust: TrustStore;
  timeoutMs: number;
}

export function keRoundTrip(target: UpstreamTarget, request: Uint8Array): Promise<KeRecord[]> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const decoder = new KeMessageDecoder();
    const socket = connect({
      host: target.host,
      port: target.port,
      // SNI must be a DNS name (RFC 6066); an IP literal is checked against IP SANs.
      servername: isIP(target.host) !== 0 ? undefined : target.host,
      ALPNProtocols: [NTS_KE_ALPN],
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
      secureContext: target.trust.context,
      checkServerIdentity: (host, certificate) =>
        target.trust.isPinned(certificate) ? undefined : checkServerIdentity(host, certificate),
    });
    const timer = setTimeout(
      () => fail(`no complete answer within ${target.timeoutMs} ms`),
      target.timeoutMs,
    );
    function fail(message: string): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(new UpstreamError(message));
    }
    function take(progress: ReturnType<KeMessageDecoder["push"]>): void {
      if (settled || progress.status === "incomplete") return;
      if (progress.status === "error") {
        fail(`bad answer: ${progress.error.message}`);
        return;
      }
      settled = true;
      clearTimeout(timer);
      socket.end();
      resolve(progress.records);
    }
    socket.setNoDelay(true);
    socket.once("secureConnect", () => {
      if (socket.alpnProtocol !== NTS_KE_ALPN) {
        fail(`did not select ALPN ${NTS_KE_ALPN}`);
        return;
      }
      socket.write(request);
    });
    socket.on("data", (chunk: Buffer) => take(decoder.push(new Uint8Array(chunk))));
    socket.once("end", () => {
      take(decoder.end());
      fail("closed before End of Message");
    });
    socket.once("error", (error: Error) => fail(error.message));
  });
}
