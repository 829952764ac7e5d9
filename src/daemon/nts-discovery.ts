// Which NTS-KE servers an `nts` or `nts-pool` source tries: the configured
// address, or with `enable-srv-resolution = true` the targets of the
// validated `_ntske._tcp.<address>` SRV records (in RFC 2782 order, each
// resolved, its name used for TLS), falling back to the configured address
// when there is no usable SRV answer, as ntpd-rs does.
//
// The SRV record's port is used (the pool's SRV specification: "at the port
// and domain name indicated by the SRV record"); ntpd-rs ignores it and
// always connects to 4460. docs/nts-pool.md records this choice.

import type { Logger } from "./log.js";
import type { KeTarget } from "./nts-session.js";
import { errorText } from "./source-task.js";
import type { SrvDiscovery } from "./srv-resolve.js";

export interface DiscoverySource {
  address: { host: string; port: number };
  enableSrvResolution: boolean;
}

export async function keTargets(
  config: DiscoverySource,
  discovery: SrvDiscovery | undefined,
  log: Logger,
  sourceName: string,
): Promise<KeTarget[]> {
  const direct: KeTarget = { host: config.address.host, port: config.address.port };
  if (!config.enableSrvResolution || discovery === undefined) return [direct];
  let servers;
  try {
    servers = await discovery.keServers(config.address.host);
  } catch (error) {
    log.warn("no usable SRV records, using the name itself", {
      source: sourceName,
      error: errorText(error),
    });
    return [direct];
  }
  const targets: KeTarget[] = [];
  for (const server of servers) {
    try {
      const [first] = await discovery.addresses(server.target);
      if (first === undefined) continue;
      targets.push({
        host: server.target,
        port: server.port,
        address: first.address,
        srvName: server.target,
      });
    } catch (error) {
      log.info("SRV target has no address, skipped", {
        source: sourceName,
        target: server.target,
        error: errorText(error),
      });
    }
  }
  return targets.length > 0 ? targets : [direct];
}
