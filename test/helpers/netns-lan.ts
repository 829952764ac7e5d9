// Several test hosts on one Ethernet segment: a network namespace per host
// (test/helpers/netns.ts), each with an `eth0` on a bridge that lives in a
// namespace of its own, addresses 10.89.0.1, .2, ... in host order. Nothing
// outside can reach them, and they reach nothing outside. `delete()` removes
// the hosts (ending their processes) and then the bridge, whose veth ends go
// with it.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { createNetns, type Netns } from "./netns.js";
import { runCommand } from "./process.js";

export const LAN_PREFIX = "10.89.0";

export interface LanHost {
  readonly name: string;
  readonly ns: Netns;
  /** Its eth0 address. */
  readonly address: string;
}

export interface Lan {
  readonly hosts: ReadonlyMap<string, LanHost>;
  host(name: string): LanHost;
  /**
   * Gives the host's processes an /etc/hosts of their own (`ip netns exec`
   * bind-mounts /etc/netns/NS/hosts over /etc/hosts), so names resolve to
   * LAN addresses there; removed by delete().
   */
  setHostsFile(host: string, entries: Readonly<Record<string, string>>): Promise<void>;
  delete(): Promise<void>;
}

async function ip(args: string[]): Promise<void> {
  const r = await runCommand("ip", args, { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`ip ${args.join(" ")} failed: ${r.stderr.trim()}`);
}

/** Makes the hosts (at most 250) and their segment; throws with ip's message when it cannot. */
export async function createLan(names: readonly string[]): Promise<Lan> {
  const made: Netns[] = [];
  const etcDirs: string[] = [];
  const hosts = new Map<string, LanHost>();
  const remove = async () => {
    for (const dir of etcDirs) await rm(dir, { recursive: true, force: true });
    // Hosts first, while the bridge still holds the other veth ends.
    for (const ns of made.reverse()) await ns.delete();
  };
  try {
    const bridge = await createNetns("ntpdts-lan");
    made.push(bridge);
    await ip(["-n", bridge.name, "link", "add", "br0", "type", "bridge"]);
    await ip(["-n", bridge.name, "link", "set", "br0", "up"]);
    for (const [i, name] of names.entries()) {
      const ns = await createNetns(`ntpdts-${name}`);
      made.push(ns);
      const port = `p${i}`;
      await ip([
        "-n",
        bridge.name,
        "link",
        "add",
        port,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        ns.name,
      ]);
      await ip(["-n", bridge.name, "link", "set", port, "master", "br0", "up"]);
      const address = `${LAN_PREFIX}.${i + 1}`;
      await ip(["-n", ns.name, "addr", "add", `${address}/24`, "dev", "eth0"]);
      await ip(["-n", ns.name, "link", "set", "eth0", "up"]);
      hosts.set(name, { name, ns, address });
    }
  } catch (e) {
    await remove();
    throw e;
  }
  const host = (name: string): LanHost => {
    const h = hosts.get(name);
    if (!h) throw new Error(`no host ${name} on this LAN`);
    return h;
  };
  return {
    hosts,
    host,
    async setHostsFile(name, entries) {
      const dir = `/etc/netns/${host(name).ns.name}`;
      await mkdir(dir, { recursive: true });
      etcDirs.push(dir);
      const lines = [
        "127.0.0.1 localhost",
        ...Object.entries(entries).map(([n, a]) => `${a} ${n}`),
      ];
      await writeFile(`${dir}/hosts`, lines.join("\n") + "\n");
    },
    delete: remove,
  };
}
