// Free port picking on loopback. Ports come from 20000-32767, below Linux's
// ephemeral range (32768-60999), so a port we pick is not taken a moment later
// by some unrelated client socket's automatic bind; each candidate is checked
// by really binding it. Another process can still race us between the check
// and the real bind: callers that start servers should retry on EADDRINUSE.
import { createSocket } from "node:dgram";
import { createServer } from "node:net";

const LOW = 20000;
const HIGH = 32767;
const handedOut = new Set<number>();

/** True if a UDP socket can be bound to host:port right now. */
export function isUdpPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket(host.includes(":") ? "udp6" : "udp4");
    sock.once("error", () => {
      sock.close();
      resolve(false);
    });
    sock.bind({ port, address: host, exclusive: true }, () => {
      sock.close(() => resolve(true));
    });
  });
}

/** True if a TCP listener can be bound to host:port right now. */
export function isTcpPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

async function pick(
  check: (port: number) => Promise<boolean>,
  what: string,
  attempts = 200,
): Promise<number> {
  for (let i = 0; i < attempts; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (handedOut.has(port)) continue;
    if (await check(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free ${what} port found in ${LOW}-${HIGH} after ${attempts} attempts`);
}

/** A UDP port on host that is free now. */
export function freeUdpPort(host = "127.0.0.1"): Promise<number> {
  return pick((p) => isUdpPortFree(p, host), "UDP");
}

/** A TCP port on host that is free now. */
export function freeTcpPort(host = "127.0.0.1"): Promise<number> {
  return pick((p) => isTcpPortFree(p, host), "TCP");
}

/** A port number free for both UDP and TCP on host (e.g. NTP and NTS-KE side by side). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return pick(
    async (p) => (await isUdpPortFree(p, host)) && (await isTcpPortFree(p, host)),
    "UDP+TCP",
  );
}
