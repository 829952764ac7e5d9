// An NTS fleet on real (namespaced) hosts, as docs/nts-fleet.md deploys it:
// one key exchange host, the primary of the key set, that runs no NTP
// server; two NTP hosts that run no key exchange and follow the key set; a
// client host. The key file travels as a Kubernetes Secret volume would carry
// it: the test copies the primary's file into a shared directory with the
// `..data` symlink swap a kubelet does, and both followers read it there.
//
// Shown: the client's cookies from the key exchange host are accepted by
// both NTP hosts; after rotations on the primary, new cookies (a new client's
// key exchanges) are accepted with no NAK; a follower restarted mid-way comes
// back without a single NAK; chrony as the client works the same way.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir, rename, rm, stat, symlink } from "node:fs/promises";
import { join } from "node:path";
import { readObservation } from "../../src/cli/observation-client.js";
import type { Observation } from "../../src/daemon/observation.js";
import { chronyUnavailable, startChrony, type Chrony } from "../helpers/chrony.js";
import { createLan, type Lan } from "../helpers/netns-lan.js";
import { netnsUnavailable } from "../helpers/netns.js";
import { startDaemonInNetns } from "../helpers/nts-daemon.js";
import { makeTestPki } from "../helpers/pki.js";
import { which, type Spawned } from "../helpers/process.js";
import { skipIfMissing } from "../helpers/skip.js";
import { makeTempDir, type TempDir } from "../helpers/tmp.js";
import { waitFor } from "../helpers/wait.js";

const KE_NAME = "ke.fleet.test";
/** Seconds between the primary's rotations: several happen while the test runs. */
const ROTATION_S = 3;
const NAK_LOG = /Received nts not-acknowledge/;

interface Host {
  daemon: Spawned;
  observe(): Promise<Observation>;
}

/**
 * Copies the primary's key file into `volume` the way a kubelet updates a
 * Secret volume, whenever it changes: a new `..genN` directory, then a new
 * `..data` symlink renamed over the old one; `nts-keys` -> `..data/nts-keys`.
 */
function secretVolume(source: string, volume: string): { stop(): void; published(): number } {
  let generation = 0;
  let last = "";
  let busy = false;
  const publish = async () => {
    const s = await stat(source).catch(() => null);
    if (s === null || `${s.ino}:${s.mtimeMs}` === last) return;
    const key = `${s.ino}:${s.mtimeMs}`;
    const dir = `..gen${++generation}`;
    await mkdir(join(volume, dir), { recursive: true });
    await copyFile(source, join(volume, dir, "nts-keys"));
    await rm(join(volume, "..data_tmp"), { force: true });
    await symlink(dir, join(volume, "..data_tmp"));
    await rename(join(volume, "..data_tmp"), join(volume, "..data"));
    if (generation === 1) await symlink("..data/nts-keys", join(volume, "nts-keys"));
    if (generation > 2) await rm(join(volume, `..gen${generation - 2}`), { recursive: true });
    last = key;
  };
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    publish()
      .catch(() => undefined) // the next tick tries again
      .finally(() => (busy = false));
  }, 100);
  return { stop: () => clearInterval(timer), published: () => generation };
}

function toml(lines: string[]): string {
  return lines.join("\n") + "\n";
}

async function startHost(
  lan: Lan,
  dir: TempDir,
  name: string,
  lines: string[],
  ready: RegExp,
): Promise<Host> {
  const observation = dir.file(`${name}.observe`);
  const config = toml([
    "[observability]",
    'log-level = "info"',
    `observation-path = "${observation}"`,
    "",
    ...lines,
  ]);
  const daemon = await startDaemonInNetns(lan.host(name).ns, dir, name, config);
  await daemon.waitForOutput(ready, 30_000);
  return { daemon, observe: () => readObservation(observation) };
}

function ntpHostConfig(lan: Lan, name: string, keyFile: string): string[] {
  return [
    "[[server]]",
    `listen = "${lan.host(name).address}:123"`,
    "",
    "[keyset]",
    'role = "follower"',
    `key-storage-path = "${keyFile}"`,
    `key-rotation-interval = ${ROTATION_S}`,
    "",
    "[synchronization]",
    "local-stratum = 1",
    'reference-id = "FLT"',
  ];
}

function clientConfig(ca: string, sources: number): string[] {
  const source = [
    "[[source]]",
    'mode = "nts"',
    `address = "${KE_NAME}"`,
    `certificate-authority = "${ca}"`,
    "poll-interval-limits = { min = 0, max = 0 }",
    "",
  ];
  return [
    ...Array.from({ length: sources }, () => source).flat(),
    "[synchronization]",
    "minimum-agreeing-sources = 1",
  ];
}

const ntsStats = async (host: Host) => {
  const server = (await host.observe()).servers[0];
  assert.ok(server, "the NTP host observes its [[server]]");
  return server.stats;
};

function prerequisites(t: TestContext): boolean {
  if (skipIfMissing(t, netnsUnavailable())) return false;
  return !skipIfMissing(t, which("openssl") ? undefined : "openssl is not installed");
}

test("an NTS fleet: one key exchange host, two NTP hosts following its key set", async (t) => {
  if (!prerequisites(t)) return;
  const dir = await makeTempDir("ntpd-ts-fleet-");
  let lan: Lan | undefined;
  let volume: ReturnType<typeof secretVolume> | undefined;
  let chrony: Chrony | undefined;
  try {
    lan = await createLan(["ke", "ntp1", "ntp2", "client"]);
    const pki = await makeTestPki(dir);
    const cert = await pki.issue("ke", [KE_NAME]);
    await lan.setHostsFile("client", { [KE_NAME]: lan.host("ke").address });
    const primaryKeys = dir.file("primary-nts-keys");
    const secret = dir.file("secret");
    await mkdir(secret);
    const secretKeys = join(secret, "nts-keys");

    // The key exchange host: the primary of the key set, no NTP server.
    const ke = await startHost(
      lan,
      dir,
      "ke",
      [
        "[[nts-ke-server]]",
        `listen = "${lan.host("ke").address}:4460"`,
        `certificate-chain-path = "${cert.chainPath}"`,
        `private-key-path = "${cert.keyPath}"`,
        `ntp-server = ["${lan.host("ntp1").address}", "${lan.host("ntp2").address}"]`,
        "",
        "[keyset]",
        `key-storage-path = "${primaryKeys}"`,
        `key-rotation-interval = ${ROTATION_S}`,
      ],
      /serving NTS-KE/,
    );
    volume = secretVolume(primaryKeys, secret);
    await waitFor(
      () =>
        stat(secretKeys)
          .then(() => true)
          .catch(() => undefined),
      {
        timeoutMs: 10_000,
        what: "the key file in the Secret volume",
      },
    );
    const ntp = {
      ntp1: await startHost(
        lan,
        dir,
        "ntp1",
        ntpHostConfig(lan, "ntp1", secretKeys),
        /serving NTP/,
      ),
      ntp2: await startHost(
        lan,
        dir,
        "ntp2",
        ntpHostConfig(lan, "ntp2", secretKeys),
        /serving NTP/,
      ),
    };

    // Two sources through the one key exchange: round robin sends one to each NTP host.
    const ca = pki.caCertPath;
    const client = await startDaemonInNetns(
      lan.host("client").ns,
      dir,
      "client",
      toml(clientConfig(ca, 2)),
    );
    const accepted = async (host: Host, atLeast: number) =>
      waitFor(
        async () => ((await ntsStats(host)).nts_accepted_packets >= atLeast ? true : undefined),
        { timeoutMs: 30_000, what: `${atLeast} NTS requests accepted` },
      );
    await accepted(ntp.ntp1, 3);
    await accepted(ntp.ntp2, 3);

    // Rotations on the primary; the followers take each file.
    const firstKey = (await ke.observe()).keyset!.primary_key_id;
    const rotated = await waitFor(
      async () => {
        const id = (await ke.observe()).keyset!.primary_key_id;
        return id >= firstKey + 2 ? id : undefined;
      },
      { timeoutMs: 5 * ROTATION_S * 1000, what: "two rotations on the primary" },
    );
    for (const host of [ntp.ntp1, ntp.ntp2]) {
      await waitFor(
        async () => {
          const k = (await host.observe()).keyset!;
          return k.role === "follower" && k.primary_key_id >= rotated ? k : undefined;
        },
        { timeoutMs: 4 * ROTATION_S * 1000, what: "a follower with the rotated keys" },
      );
    }

    // A new client after the rotations: cookies under the new keys, at both hosts.
    const before = { ntp1: await ntsStats(ntp.ntp1), ntp2: await ntsStats(ntp.ntp2) };
    const client2 = await startDaemonInNetns(
      lan.host("client").ns,
      dir,
      "client2",
      toml(clientConfig(ca, 2)),
    );
    await accepted(ntp.ntp1, before.ntp1.nts_accepted_packets + 6);
    await accepted(ntp.ntp2, before.ntp2.nts_accepted_packets + 6);

    // ntp2 restarts mid-way; it comes back with the current keys, no NAK.
    const nakBeforeRestart = (await ntsStats(ntp.ntp2)).nts_nak_packets;
    await ntp.ntp2.daemon.stop();
    ntp.ntp2 = await startHost(
      lan,
      dir,
      "ntp2",
      ntpHostConfig(lan, "ntp2", secretKeys),
      /serving NTP/,
    );
    await accepted(ntp.ntp2, 6);

    // chrony as the client: its key exchange lands on the next NTP host in turn.
    if (!chronyUnavailable()) {
      chrony = await startChrony({
        netns: lan.host("client").ns,
        name: "chronyd (fleet client)",
        config: [
          "port 0",
          `server ${KE_NAME} iburst nts minpoll 0 maxpoll 0`,
          `ntstrustedcerts ${ca}`,
        ],
      });
      await chrony.waitForSelected(30_000);
      const auth = await waitFor(
        async () => {
          const rows = await chrony!.authdata();
          return rows.length > 0 && rows[0]!.cookies > 0 ? rows : undefined;
        },
        { timeoutMs: 15_000, what: "chrony's NTS state" },
      );
      assert.equal(auth[0]!.mode, "NTS");
      assert.equal(auth[0]!.naks, 0, "chrony saw no NAK");
    } else {
      t.diagnostic(`chrony part skipped: ${chronyUnavailable()}`);
    }

    // No NAK anywhere: the NTP hosts' counters, and every client's log.
    assert.equal(nakBeforeRestart, 0, "ntp2 sent no NAK before its restart");
    assert.equal((await ntsStats(ntp.ntp1)).nts_nak_packets, 0, "ntp1 sent no NAK");
    assert.equal((await ntsStats(ntp.ntp2)).nts_nak_packets, 0, "ntp2 sent no NAK since");
    for (const c of [client, client2]) assert.doesNotMatch(c.output(), NAK_LOG, c.name);
    assert.ok(volume.published() >= 3, "the Secret volume was updated by rotations");
    for (const c of [client, client2, ke.daemon, ntp.ntp1.daemon, ntp.ntp2.daemon]) {
      await c.stop();
    }
  } finally {
    volume?.stop();
    await chrony?.stop();
    await lan?.delete();
    await dir.cleanup();
  }
});
