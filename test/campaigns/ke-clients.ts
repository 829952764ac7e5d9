// NTS-KE clients for the floods and faults: honest key exchanges (our own
// NTS-KE client, certificate checked), and abusive raw TCP clients that hold a
// connection without finishing the exchange. Each abusive client reports how
// long the server let it live (connect to close), which is what the
// connection cap and the key-exchange timeout are about.
import { connect as tcpConnect, createServer, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { performKeyExchange, type TrustStore } from "../../src/daemon/nts-ke-client.js";

export interface HonestKe {
  ok: boolean;
  ms: number;
  error?: string;
}

export async function honestKeyExchange(
  port: number,
  trust: TrustStore,
  timeoutMs = 5000,
): Promise<HonestKe> {
  const started = performance.now();
  try {
    const r = await performKeyExchange({ host: "127.0.0.1", port, trust, timeoutMs });
    r.c2s.fill(0);
    r.s2c.fill(0);
    return { ok: r.cookies.length > 0, ms: Math.round(performance.now() - started) };
  } catch (e) {
    return { ok: false, ms: Math.round(performance.now() - started), error: (e as Error).message };
  }
}

export interface HeldConnection {
  /** ms from connect until the server closed it (or until `release`). */
  lifetime: Promise<{ ms: number; closedByServer: boolean; connected: boolean }>;
  /** Closes it from our side. */
  release(): void;
}

export type AbuseKind =
  /** Connects and sends nothing ("half-open" from the server's point of view). */
  | "idle"
  /** Connects and half-closes at once (FIN, keeps reading). */
  | "half-closed"
  /** Sends a TLS ClientHello one byte a second. */
  | "slowloris"
  /** Sends a truncated ClientHello and then nothing. */
  | "truncated-hello"
  /** Sends a truncated ClientHello and closes. */
  | "hello-then-close"
  /** Sends plain text (not TLS). */
  | "not-tls"
  /** Sends a full ClientHello, waits for the ServerHello, and resets. */
  | "reset-mid-handshake";

/** A real TLS 1.3 ClientHello (ALPN ntske/1), captured from node's TLS client. */
export async function captureClientHello(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = createServer((s) => {
      s.once("data", (d) => {
        resolve(Buffer.from(d));
        s.destroy();
        server.close();
      });
    });
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") return reject(new Error("no port"));
      const c = tlsConnect({
        host: "127.0.0.1",
        port: address.port,
        ALPNProtocols: ["ntske/1"],
        minVersion: "TLSv1.3",
        rejectUnauthorized: false,
      });
      c.on("error", () => {});
    });
  });
}

export function holdConnection(port: number, kind: AbuseKind, hello: Buffer): HeldConnection {
  const started = performance.now();
  let connected = false;
  let releasedByUs = false;
  let drip: NodeJS.Timeout | null = null;
  const socket: Socket = tcpConnect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  socket.on("data", () => {
    if (kind === "reset-mid-handshake") socket.resetAndDestroy();
  });
  socket.once("connect", () => {
    connected = true;
    switch (kind) {
      case "idle":
        break;
      case "half-closed":
        socket.end();
        break;
      case "slowloris": {
        let i = 0;
        const next = () => {
          if (i < hello.length && !socket.destroyed) socket.write(hello.subarray(i, ++i));
        };
        next();
        drip = setInterval(next, 1000);
        break;
      }
      case "truncated-hello":
        socket.write(hello.subarray(0, Math.floor(hello.length / 2)));
        break;
      case "hello-then-close":
        socket.end(hello.subarray(0, Math.floor(hello.length / 2)));
        break;
      case "not-tls":
        socket.write("GET / HTTP/1.1\r\nHost: ntske\r\n\r\n");
        break;
      case "reset-mid-handshake":
        socket.write(hello);
        break;
    }
  });
  const lifetime = new Promise<{ ms: number; closedByServer: boolean; connected: boolean }>(
    (resolve) => {
      socket.once("close", () => {
        if (drip) clearInterval(drip);
        resolve({
          ms: Math.round(performance.now() - started),
          closedByServer: !releasedByUs,
          connected,
        });
      });
    },
  );
  return {
    lifetime,
    release: () => {
      releasedByUs = true;
      socket.destroy();
    },
  };
}
