// `[clock] interface`: the sources' sockets are bound to one interface
// (SO_BINDTODEVICE), whatever the routing table prefers. Two network namespaces
// the test creates and removes: a client with two links (a0, b0) to a server, whose
// address 10.91.9.9 is reachable over both; the client's route through a0 is preferred
// (metric 10 against 20). Our daemon serves in the server namespace; our daemon as a
// client measures it
//   - without [clock]: its requests leave through a0 (the route), none through b0;
//   - with interface = "b0": they leave through b0 only;
//   - with interface = "c0", a link with no route to the server: the kernel then takes
//     the server to be on that link (its rule for a bound socket without a route) and
//     asks for it by ARP there; the server does not answer ARP for its address on c1
//     (arp_ignore = 1), so the source gets no answer, and nothing goes via a0 or b0.
// Traffic is counted by the kernel's per-interface packet counters; IPv6 is off in both
// namespaces and the neighbours on a and b are permanent entries on both sides, so
// nothing else (router solicitations, MLD, ARP probes) uses those links. `ntp-ctl
// status` then says which timestamps the source's socket gave (kernel-recv asked).
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { CTL_ENTRY, DAEMON_ENTRY, clientConfig } from "../daemon/run-daemon.js";
import { createNetns, netnsUnavailable, type Netns } from "../helpers/netns.js";
import { runCommand, type Spawned } from "../helpers/process.js";
import { makeTempDir, type TempDir } from "../helpers/tmp.js";
import { getAddon } from "../../src/daemon/native/addon.js";

const root = new URL("../..", import.meta.url).pathname;
const SERVER = "10.91.9.9";
const unavailable =
  netnsUnavailable() ?? (getAddon() === null ? "the native addon is not built" : undefined);

async function ip(args: string[]): Promise<void> {
  const r = await runCommand("ip", args, { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`ip ${args.join(" ")} failed: ${r.stderr.trim()}`);
}

async function noIpv6(ns: Netns): Promise<void> {
  for (const which of ["all", "default"]) {
    const r = await ns.run("sh", ["-c", `echo 1 > /proc/sys/net/ipv6/conf/${which}/disable_ipv6`]);
    if (r.code !== 0) throw new Error(`disabling IPv6 in ${ns.name}: ${r.stderr}`);
  }
}

async function mac(ns: Netns, link: string): Promise<string> {
  const r = await ns.run("cat", [`/sys/class/net/${link}/address`]);
  if (r.code !== 0) throw new Error(`address of ${link}: ${r.stderr}`);
  return r.stdout.trim();
}

/** The client's transmitted packets per interface. */
async function txPackets(ns: Netns, link: string): Promise<number> {
  const r = await ns.run("cat", [`/sys/class/net/${link}/statistics/tx_packets`]);
  if (r.code !== 0) throw new Error(`tx_packets of ${link}: ${r.stderr}`);
  return Number(r.stdout.trim());
}

describe("[clock] interface binds the sources' sockets", { skip: unavailable ?? false }, () => {
  let client: Netns;
  let server: Netns;
  let dir: TempDir;
  let serverDaemon: Spawned;

  before(async () => {
    dir = await makeTempDir();
    server = await createNetns("ntpdts-clk-srv");
    client = await createNetns("ntpdts-clk-cli");
    await noIpv6(server);
    await noIpv6(client);
    for (const [i, link] of ["a", "b", "c"].entries()) {
      await ip([
        "-n",
        client.name,
        "link",
        "add",
        `${link}0`,
        "type",
        "veth",
        "peer",
        "name",
        `${link}1`,
        "netns",
        server.name,
      ]);
      await ip(["-n", client.name, "addr", "add", `10.91.${i + 1}.1/24`, "dev", `${link}0`]);
      await ip(["-n", server.name, "addr", "add", `10.91.${i + 1}.2/24`, "dev", `${link}1`]);
      await ip(["-n", client.name, "link", "set", `${link}0`, "up"]);
      await ip(["-n", server.name, "link", "set", `${link}1`, "up"]);
    }
    for (const [i, link] of ["a", "b"].entries()) {
      const [clientMac, serverMac] = [await mac(client, `${link}0`), await mac(server, `${link}1`)];
      const neigh = (ns: Netns, addr: string, lladdr: string, dev: string) =>
        ip([
          "-n",
          ns.name,
          "neigh",
          "replace",
          addr,
          "lladdr",
          lladdr,
          "dev",
          dev,
          "nud",
          "permanent",
        ]);
      await neigh(client, `10.91.${i + 1}.2`, serverMac, `${link}0`);
      await neigh(server, `10.91.${i + 1}.1`, clientMac, `${link}1`);
    }
    await ip(["-n", server.name, "addr", "add", `${SERVER}/32`, "dev", "lo"]);
    const arp = await server.run("sh", ["-c", "echo 1 > /proc/sys/net/ipv4/conf/c1/arp_ignore"]);
    if (arp.code !== 0) throw new Error(`arp_ignore on c1: ${arp.stderr}`);
    // Both a0 and b0 lead to the server; a0 is preferred. c0 has no route to it.
    await ip([
      "-n",
      client.name,
      "route",
      "add",
      `${SERVER}/32`,
      "via",
      "10.91.1.2",
      "dev",
      "a0",
      "metric",
      "10",
    ]);
    await ip([
      "-n",
      client.name,
      "route",
      "add",
      `${SERVER}/32`,
      "via",
      "10.91.2.2",
      "dev",
      "b0",
      "metric",
      "20",
    ]);
    const serverToml = dir.file("server.toml");
    await writeFile(
      serverToml,
      `[[server]]\nlisten = "${SERVER}:123"\n\n[synchronization]\nlocal-stratum = 1\nreference-id = "TEST"\n`,
    );
    serverDaemon = await server.spawn(
      process.execPath,
      ["--import", "tsx", DAEMON_ENTRY, "-c", serverToml, "--no-clock-control"],
      { cwd: root, name: "server" },
    );
    await serverDaemon.waitForOutput(/ntp-daemon started/, 30_000);
  });

  after(async () => {
    await client?.delete();
    await server?.delete();
    await dir?.cleanup();
  });

  /** Runs a client with `clockSection` until `until` is in its output (or `ms` pass). */
  async function runClient(name: string, clockSection: string, until: RegExp | null, ms: number) {
    const toml = dir.file(`${name}.toml`);
    const observe = dir.file(`${name}.sock`);
    await writeFile(
      toml,
      `${clientConfig(`${SERVER}:123`, 0).replace(
        "[observability]\n",
        `[observability]\nobservation-path = "${observe}"\n`,
      )}\n${clockSection}`,
    );
    const links = ["a0", "b0", "c0"] as const;
    const before = await Promise.all(links.map((l) => txPackets(client, l)));
    const daemon = await client.spawn(
      process.execPath,
      ["--import", "tsx", DAEMON_ENTRY, "-c", toml, "--no-clock-control"],
      { cwd: root, name },
    );
    try {
      if (until === null) {
        await new Promise((resolve) => setTimeout(resolve, ms));
      } else {
        await daemon.waitForOutput(until, ms).catch((e: unknown) => {
          throw new Error(`${(e as Error).message}\noutput:\n${daemon.output()}`, { cause: e });
        });
      }
      const status = await runCommand(
        process.execPath,
        ["--import", "tsx", CTL_ENTRY, "-c", toml, "status"],
        {
          cwd: root,
          timeoutMs: 20_000,
        },
      );
      const after = await Promise.all(links.map((l) => txPackets(client, l)));
      const [a0, b0, c0] = after.map((n, i) => n - before[i]!) as [number, number, number];
      const sent = { a0, b0, c0 };
      return { output: daemon.output(), status: status.stdout + status.stderr, sent };
    } finally {
      await daemon.stop();
    }
  }

  it("without [clock] the route decides: a0", async () => {
    const r = await runClient("unbound", "", / measurement .*source=10\.91\.9\.9:123/, 30_000);
    assert.ok(r.sent.a0 > 0, `a0 carried the requests (${JSON.stringify(r.sent)})`);
    assert.equal(r.sent.b0, 0, `nothing through b0 (${JSON.stringify(r.sent)})`);
    assert.equal(r.sent.c0, 0, `nothing through c0 (${JSON.stringify(r.sent)})`);
    assert.match(r.status, /Timestamps:\s+kernel-all/);
  });

  it('interface = "b0": the requests leave through b0 only, and are answered', async () => {
    const r = await runClient(
      "bound-b0",
      '[clock]\ninterface = "b0"\ntimestamp-mode = "kernel-recv"\n',
      / measurement .*source=10\.91\.9\.9:123/,
      30_000,
    );
    assert.ok(r.sent.b0 > 0, `b0 carried the requests (${JSON.stringify(r.sent)})`);
    assert.equal(r.sent.a0, 0, `nothing through a0 (${JSON.stringify(r.sent)})`);
    assert.equal(r.sent.c0, 0, `nothing through c0 (${JSON.stringify(r.sent)})`);
    assert.match(r.status, /Timestamps:\s+kernel-recv/);
  });

  it('interface = "c0" (the server unreachable there): c0 only, and no answer', async () => {
    const r = await runClient(
      "bound-c0",
      '[clock]\ninterface = "c0"\ntimestamp-mode = "kernel-all"\n',
      null,
      5_000,
    );
    assert.doesNotMatch(r.output, / measurement /);
    assert.ok(r.sent.c0 > 0, `c0 carried the ARP requests (${JSON.stringify(r.sent)})`);
    assert.equal(r.sent.a0, 0, `nothing through a0 (${JSON.stringify(r.sent)})`);
    assert.equal(r.sent.b0, 0, `nothing through b0 (${JSON.stringify(r.sent)})`);
  });
});
