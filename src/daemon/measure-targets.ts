// One round of measurements of configured sources, with the daemon's own
// source code (measure-source.ts, nts-session.ts): `ntp-ctl force-sync` and the
// library's queryTime (src/lib/query.ts) ask each `server` address, `pool`
// address and `nts` source a few times and keep the reply with the least delay.

import type {
  Config,
  NtsPoolSourceConfig,
  NtsSourceConfig,
  PoolSourceConfig,
  ServerSourceConfig,
} from "../proto/config/types.js";
import type { RequestProtector } from "../proto/source/request-protector.js";
import type { Measurement } from "../proto/source/types.js";
import { leastDelay, measureSource } from "./measure-source.js";
import { NTS_KE_TIMEOUT_MS, TrustStore } from "./nts-ke-client.js";
import { NtsResolveError, startNtsSession } from "./nts-session.js";
import { formatHostPort, resolveHost, type ResolvedAddress } from "./resolve.js";
import { errorText } from "./source-task.js";

/** Requests per address: the least-delay reply of a few is plenty for one decision. */
const EXCHANGES_PER_ADDRESS = 3;
const EXCHANGE_TIMEOUT_MS = 1_500;

/** One thing to measure: an address of a server or pool source, or an NTS source. */
export type Target =
  | {
      kind: "plain";
      config: ServerSourceConfig | PoolSourceConfig;
      /** The configured host name (or address). */
      name: string;
      address: ResolvedAddress;
      port: number;
    }
  /** Its NTP server's address comes from the key exchange. */
  | { kind: "nts"; config: NtsSourceConfig | NtsPoolSourceConfig; name: string };

export interface TargetResult {
  /** "pool.ntp.org 192.0.2.1:123", "192.0.2.1:123", "nts.example [NTS] 192.0.2.2:123". */
  label: string;
  /** The least-delay offset, s, or null with `problem` saying why. */
  offset: number | null;
  /** That measurement's delay, s (null with the offset). */
  delay: number | null;
  problem: string | null;
  /** The least-delay measurement itself (null with the offset). */
  measurement: Measurement | null;
  /** The reply was authenticated by NTS. */
  authenticated: boolean;
  /** Reception times came from the kernel (the native addon's socket). */
  kernelTimestamps: boolean;
}

/** The targets: a server's first address, a pool's first `count`, each NTS source, one server of each NTS pool. */
export async function collectTargets(
  config: Config,
  note: (line: string) => void,
  deadline: number,
): Promise<Target[]> {
  const lists = await Promise.all(
    config.sources.map(async (source): Promise<Target[]> => {
      // An nts-pool gives one server here: one key exchange with the pool.
      if (source.mode === "nts" || source.mode === "nts-pool")
        return [{ kind: "nts", config: source, name: source.address.host }];
      if (source.mode !== "server" && source.mode !== "pool") return [];
      const { host, port } = source.address;
      try {
        const left = Math.max(1, deadline - Date.now());
        let addresses = await resolveHost(host, Math.min(5_000, left));
        if (source.mode === "server") addresses = addresses.slice(0, 1);
        else
          addresses = addresses
            .filter((a) => !source.ignore.includes(a.address))
            .slice(0, source.count);
        if (addresses.length === 0) note(`${host}: no addresses`);
        return addresses.map((address): Target => ({
          kind: "plain",
          config: source,
          name: host,
          address,
          port,
        }));
      } catch (error) {
        note(`${host}: could not resolve: ${errorText(error)}`);
        return [];
      }
    }),
  );
  return lists.flat();
}

function addressLabel(name: string, address: ResolvedAddress, port: number): string {
  const where = formatHostPort(address.address, port);
  return name === address.address ? where : `${name} ${where}`;
}

/** Measures one target a few times by `deadline` (ms since the epoch); never rejects. */
export async function measureTarget(
  target: Target,
  config: Config,
  deadline: number,
  signal?: AbortSignal,
): Promise<TargetResult> {
  const localStratum = config.synchronization.localStratum;
  const measure = async (
    label: string,
    address: ResolvedAddress,
    port: number,
    protector?: RequestProtector,
  ): Promise<TargetResult> => {
    const sample = await measureSource({
      config: target.config,
      localStratum,
      name: target.name,
      address,
      port,
      protector,
      exchanges: EXCHANGES_PER_ADDRESS,
      exchangeTimeoutMs: EXCHANGE_TIMEOUT_MS,
      timeLimitMs: Math.max(1, deadline - Date.now()),
      signal,
    });
    const best = leastDelay(sample.measurements);
    const common = {
      label,
      authenticated: protector !== undefined,
      kernelTimestamps: sample.kernelTimestamps,
    };
    return best !== null
      ? { ...common, offset: best.offset, delay: best.delay, problem: null, measurement: best }
      : {
          ...common,
          offset: null,
          delay: null,
          problem: sample.problem ?? "no answer",
          measurement: null,
        };
  };

  if (target.kind === "plain") {
    const label = addressLabel(target.name, target.address, target.port);
    return measure(label, target.address, target.port);
  }
  const { host, port } = target.config.address;
  const keLabel = `${formatHostPort(host, port)} [NTS]`;
  let session;
  try {
    session = await startNtsSession(target.config, {
      trust: await TrustStore.fromFile(target.config.certificateAuthority),
      resolve: (name) => resolveHost(name, Math.max(1, Math.min(5_000, deadline - Date.now()))),
      keyExchangeTimeoutMs: Math.max(1, Math.min(NTS_KE_TIMEOUT_MS, deadline - Date.now())),
      signal,
    });
  } catch (error) {
    const stage = error instanceof NtsResolveError ? "NTP server" : "NTS key exchange";
    return {
      label: keLabel,
      offset: null,
      delay: null,
      problem: `${stage}: ${errorText(error)}`,
      measurement: null,
      authenticated: false,
      kernelTimestamps: false,
    };
  }
  const label = `${target.name} [NTS] ${formatHostPort(session.address.address, session.port)}`;
  return measure(label, session.address, session.port, session.protector);
}
