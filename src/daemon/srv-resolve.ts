// `enable-srv-resolution`: finding NTS-KE servers through `_ntske._tcp.<name>`
// SRV records. The SRV target becomes the name TLS checks, so a forged answer
// would hand the client to any server with any valid certificate: the pool's
// specification and ntpd-rs accept only DNSSEC-validated answers. Node's
// resolver cannot validate and does not show the AD bit, so ntpd-ts asks
// the system's resolvers itself (UDP, src/proto/dns/message.ts) and accepts
// an answer only when
//   - the resolver is on this machine (127.0.0.0/8 or ::1: systemd-resolved,
//     unbound, dnsmasq with DNSSEC), because the AD bit is only as
//     trustworthy as the path it travelled (glibc's `trust-ad` reasoning), and
//   - the answer has the AD bit: the resolver validated it.
// Anything else means "no SRV answer" and the caller falls back to the plain
// name, as ntpd-rs does. docs/nts-pool.md explains this to operators.
//
// Tests point the daemon at a test DNS server on loopback with the
// NTPD_TS_TEST_DNS_SERVER environment variable (host:port), honoured only
// when NTPD_TS_FORBID_CLOCK_CONTROL=1 marks a test run.

import { createSocket } from "node:dgram";
import { getServers } from "node:dns";
import { randomInt } from "node:crypto";
import { isIP } from "node:net";
import {
  decodeDnsResponse,
  DnsType,
  encodeDnsQuery,
  normalizeDnsName,
  orderSrvAnswers,
  type DnsQueryType,
  type DnsResponse,
} from "../proto/dns/message.js";
import { FORBID_CLOCK_CONTROL_ENV } from "./clock-choice.js";
import type { ResolvedAddress } from "./resolve.js";

export const TEST_DNS_SERVER_ENV = "NTPD_TS_TEST_DNS_SERVER";
const QUERY_TIMEOUT_MS = 2_000;

/** An NTS-KE server found through SRV: connect to `target`:`port`, check TLS against `target`. */
export interface KeServerTarget {
  target: string;
  port: number;
}

export interface SrvDiscovery {
  /** The SRV targets in RFC 2782 order; rejects when there is no validated answer. */
  keServers(name: string): Promise<KeServerTarget[]>;
  /** The addresses of an SRV target (through the same resolvers). */
  addresses(host: string): Promise<ResolvedAddress[]>;
}

export class SrvError extends Error {}

interface DnsServer {
  address: string;
  port: number;
}

function isLoopback(address: string): boolean {
  return address === "::1" || (isIP(address) === 4 && address.startsWith("127."));
}

/** host:port, [v6]:port or a bare address (port 53). */
function parseServer(text: string): DnsServer | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  const address = m ? m[1]! : text;
  const port = m ? Number(m[2]) : 53;
  if (isIP(address) === 0 || port < 1 || port > 65535) return undefined;
  return { address, port };
}

/** The resolvers whose AD bit we may trust: the test server, or the system's on loopback. */
export function trustedDnsServers(env: NodeJS.ProcessEnv = process.env): DnsServer[] {
  const test = env[TEST_DNS_SERVER_ENV];
  if (test !== undefined && env[FORBID_CLOCK_CONTROL_ENV] === "1") {
    const server = parseServer(test);
    return server ? [server] : [];
  }
  return getServers()
    .map(parseServer)
    .filter((s): s is DnsServer => s !== undefined && isLoopback(s.address));
}

/** One UDP query to one server, bounded by `timeoutMs`. */
export function queryDns(
  server: DnsServer,
  name: string,
  type: DnsQueryType,
  timeoutMs = QUERY_TIMEOUT_MS,
): Promise<DnsResponse> {
  const id = randomInt(0, 0x10000);
  const query = encodeDnsQuery(id, name, type);
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIP(server.address) === 6 ? "udp6" : "udp4");
    const done = (error: Error | null, response?: DnsResponse) => {
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(response!);
    };
    const timer = setTimeout(
      () => done(new SrvError(`no DNS answer from ${server.address} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on("error", (error) => done(new SrvError(`DNS query failed: ${error.message}`)));
    socket.on("message", (message, remote) => {
      // Only the server asked may answer; anything else is ignored, not trusted.
      if (remote.address !== server.address || remote.port !== server.port) return;
      const result = decodeDnsResponse(new Uint8Array(message), id);
      if (!result.ok) return;
      // An answer to another question (a confused or hostile sender) is no answer.
      const q = result.value.question;
      if (q?.name !== normalizeDnsName(name) || q.type !== type) return;
      done(null, result.value);
    });
    socket.send(query, server.port, server.address);
  });
}

/** SRV discovery through the trusted resolvers, DNSSEC-validated answers only. */
export class ValidatingSrvDiscovery implements SrvDiscovery {
  constructor(
    private readonly servers: () => DnsServer[] = () => trustedDnsServers(),
    private readonly random: () => number = Math.random,
  ) {}

  private async ask(name: string, type: DnsQueryType): Promise<DnsResponse> {
    const servers = this.servers();
    if (servers.length === 0) {
      throw new SrvError(
        "no DNS resolver on this machine (127.0.0.0/8 or ::1) in /etc/resolv.conf: " +
          "SRV answers must be DNSSEC-validated by a local resolver",
      );
    }
    let last: unknown;
    for (const server of servers) {
      try {
        return await queryDns(server, name, type);
      } catch (error) {
        last = error;
      }
    }
    throw last instanceof Error ? last : new SrvError(String(last));
  }

  async keServers(name: string): Promise<KeServerTarget[]> {
    const query = `_ntske._tcp.${name}`;
    const response = await this.ask(query, DnsType.SRV);
    if (response.rcode !== 0) throw new SrvError(`${query}: DNS error code ${response.rcode}`);
    if (!response.authenticData) {
      throw new SrvError(`${query}: the answer is not DNSSEC-validated (no AD bit), not used`);
    }
    // "." as target means "no service here" (RFC 2782).
    const usable = response.srv.filter((s) => s.target !== "");
    if (usable.length === 0) throw new SrvError(`${query} has no SRV records`);
    return orderSrvAnswers(usable, this.random).map((s) => ({ target: s.target, port: s.port }));
  }

  async addresses(host: string): Promise<ResolvedAddress[]> {
    const out: ResolvedAddress[] = [];
    for (const [type, family] of [
      [DnsType.A, 4],
      [DnsType.AAAA, 6],
    ] as const) {
      try {
        const response = await this.ask(host, type);
        for (const address of response.addresses) out.push({ address, family });
      } catch {
        // One family missing is normal; none at all is reported below.
      }
    }
    if (out.length === 0) throw new SrvError(`${host} has no address`);
    return out;
  }
}
