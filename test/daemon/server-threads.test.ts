// `[daemon] server-threads = 2`: one daemon, two serving threads on SO_REUSEPORT sockets
// (src/daemon/workers/). Plain and NTS requests from many source ports are all answered
// and reach both threads; every thread accepts every cookie, before and after a key
// rotation; the observation sums the threads' counters (NTP and NTS-KE) and shows the
// NTS-KE certificate's expiry; a certificate reload reaches both threads; a killed
// thread is restarted; a thread that cannot bind fails the start-up with one line. Loopback only; the daemon runs in this process (except the exit test).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, X509Certificate } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { copyFile, readFile, writeFile } from "node:fs/promises";
import { connect } from "node:tls";
import type { AeadId } from "../../src/proto/crypto/aead.js";
import { parseConfig } from "../../src/proto/config/index.js";
import type { Config } from "../../src/proto/config/types.js";
import { CookieStash } from "../../src/proto/nts/cookie/stash.js";
import { NtsProtector } from "../../src/proto/nts/packet/client-protector.js";
import { parsePacket } from "../../src/proto/packet/parse.js";
import { renderMetrics } from "../../src/cli/metrics.js";
import { Daemon } from "../../src/daemon/daemon.js";
import { KeySetRotation } from "../../src/daemon/keyset-store.js";
import { createLogger, MemorySink } from "../../src/daemon/log.js";
import { getAddon, loadAddon } from "../../src/daemon/native/addon.js";
import {
  performKeyExchange,
  TrustStore,
  type KeyExchangeResult,
} from "../../src/daemon/nts-ke-client.js";
import { ServingThreadError, type ServingPool } from "../../src/daemon/workers/pool.js";
import { waitForNtpServer } from "../helpers/ntp-probe.js";
import { familyFor, parseOpenMetrics } from "../helpers/openmetrics.js";
import { makeTestPki, type Issued, type TestPki } from "../helpers/pki.js";
import { freeUdpPort } from "../helpers/ports.js";
import { spawnProcess } from "../helpers/process.js";
import { makeTempDir } from "../helpers/tmp.js";
import { orTimeout, sleep, waitFor } from "../helpers/wait.js";
import { DAEMON_ENTRY, startDaemon } from "./run-daemon.js";

const HOST = "127.0.0.1";
/** Source ports per round: the chance that the kernel sends all to one thread is 2^-(n-1). */
const PORTS = 24;
const noAddon =
  getAddon() === null ? `the native addon is not loaded: ${loadAddon().reason}` : undefined;

let pki: TestPki;
let leaf: Issued;
let trust: TrustStore;
let daemon: Daemon;
let pool: ServingPool;
let sink: MemorySink;
let ntpPort: number;
let kePort: number;
/** Plain + NTS requests this file sent that the daemon answered. */
let sent = 0;

function config(text: string): Config {
  const parsed = parseConfig(text, "ntp.toml");
  if (!parsed.ok) throw new Error(parsed.errors.map((e) => e.message).join("\n"));
  return parsed.config;
}

function twoThreadConfig(ntp: number, ke: number, chain: string, key: string): string {
  return `[[server]]
listen = "${HOST}:${ntp}"

[[nts-ke-server]]
listen = "${HOST}:${ke}"
certificate-chain-path = "${chain}"
private-key-path = "${key}"

[synchronization]
local-stratum = 1

[daemon]
server-threads = 2
`;
}

before(async () => {
  if (noAddon) return;
  pki = await makeTestPki(await makeTempDir("ntpd-ts-threads-"));
  const issued = await pki.issue("server", ["localhost", HOST]);
  // The daemon reads its certificate from these paths; the reload test replaces them.
  leaf = {
    ...issued,
    chainPath: pki.dir.file("live-chain.pem"),
    keyPath: pki.dir.file("live.key"),
  };
  await copyFile(issued.chainPath, leaf.chainPath);
  await copyFile(issued.keyPath, leaf.keyPath);
  trust = await TrustStore.fromFile(pki.caCertPath);
  sink = new MemorySink();
  daemon = new Daemon({
    config: config(twoThreadConfig(0, 0, leaf.chainPath, leaf.keyPath)),
    log: createLogger("info", sink),
  });
  await daemon.start();
  assert.ok(daemon.pool, "two threads: a pool of serving threads");
  pool = daemon.pool;
  assert.equal(daemon.servers.length, 0, "the main thread serves nothing itself");
  ntpPort = pool.ntpPorts[0]!;
  kePort = pool.kePorts[0]!;
});

after(async () => {
  daemon?.stop();
  await pki?.dir.cleanup();
});

/** Sends `request(i)` once from each of `count` fresh sockets; resolves with the replies. */
async function fromManyPorts(count: number, request: (i: number) => Uint8Array): Promise<Buffer[]> {
  const sockets: Socket[] = [];
  try {
    const replies = await Promise.all(
      Array.from({ length: count }, (_, i) => {
        const socket = createSocket("udp4");
        sockets.push(socket);
        return new Promise<Buffer>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`request ${i}: no reply in 3 s`)), 3000);
          socket.once("message", (message) => {
            clearTimeout(timer);
            resolve(message);
          });
          socket.once("error", reject);
          socket.send(request(i), ntpPort, HOST);
        });
      }),
    );
    sent += count;
    return replies;
  } finally {
    for (const socket of sockets) socket.close();
  }
}

function plainRequest(): Uint8Array {
  const r = new Uint8Array(48);
  r[0] = 0x23; // LI 0, VN 4, mode 3
  r.set(randomBytes(8), 40);
  return r;
}

/** NTS requests with the cookies of `ke`, each reply checked by its own protector. */
async function ntsRound(ke: KeyExchangeResult, count: number): Promise<void> {
  const protectors = Array.from({ length: count }, (_, i) => {
    const stash = new CookieStash();
    stash.add(ke.cookies[i % ke.cookies.length]!);
    return new NtsProtector({
      aead: ke.aead as AeadId,
      c2s: ke.c2s,
      s2c: ke.s2c,
      stash,
      random: (n) => new Uint8Array(randomBytes(n)),
    });
  });
  const replies = await fromManyPorts(count, (i) => {
    const request = protectors[i]!.finishRequest(plainRequest());
    assert.ok(request, "an NTS request");
    return request;
  });
  replies.forEach((reply, i) => {
    const parsed = parsePacket(reply);
    assert.ok(parsed.ok, "a parsable reply");
    assert.notEqual(parsed.value.header.stratum, 0, `reply ${i} is no kiss-o'-death (NTS NAK)`);
    const verdict = protectors[i]!.checkResponse(parsed.value, reply, reply.length);
    assert.ok(verdict.ok && verdict.authenticated, `reply ${i} authenticated`);
  });
}

/** Key exchanges this file completed. */
let keyExchanges = 0;

async function keyExchange(): Promise<KeyExchangeResult> {
  const result = await performKeyExchange({ host: HOST, port: kePort, trust });
  keyExchanges++;
  return result;
}

/** Waits until both threads have reported handling `what` (their stats reports lag). */
async function bothThreadsSaw(what: "receivedPackets" | "ntsAcceptedPackets", atLeast: number[]) {
  await waitFor(() => [0, 1].every((t) => (pool.threadStats(t)[0]?.[what] ?? 0) > atLeast[t]!), {
    timeoutMs: 5000,
    what: `both threads to report ${what}`,
  });
}

const threadCounts = (what: "receivedPackets" | "ntsAcceptedPackets") =>
  [0, 1].map((t) => pool.threadStats(t)[0]?.[what] ?? 0);

test("plain requests from many source ports are all answered, by both threads", async (t) => {
  if (noAddon) return t.skip(noAddon);
  const before = threadCounts("receivedPackets");
  const replies = await fromManyPorts(PORTS, plainRequest);
  for (const reply of replies) {
    assert.equal(reply.length, 48);
    assert.equal(reply[0]! & 7, 4, "server mode");
    assert.equal(reply[1], 1, "stratum 1 (local-stratum from the main thread's system state)");
  }
  await bothThreadsSaw("receivedPackets", before);
});

test("interleaved mode across threads: each request from a new port finds its reply's T3", async (t) => {
  if (noAddon) return t.skip(noAddon);
  // As our client and chrony ask: every request from a fresh socket, so the kernel
  // spreads them over both threads; the threads share one table of TX timestamps.
  const ask = (request: Uint8Array) =>
    new Promise<Buffer>((resolve, reject) => {
      const socket = createSocket("udp4");
      const timer = setTimeout(() => {
        socket.close();
        reject(new Error("no reply in 3 s"));
      }, 3000);
      socket.once("message", (message) => {
        clearTimeout(timer);
        socket.close();
        resolve(message);
      });
      socket.send(request, ntpPort, HOST);
    });
  const before = threadCounts("receivedPackets");
  const ROUNDS = 24;
  let previousT2 = Buffer.alloc(8); // the first request names nothing
  let interleaved = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const request = plainRequest();
    request.set(previousT2, 24); // origin: the last reply's T2
    const token = randomBytes(8);
    request.set(token, 32); // receive: a token (≠ transmit)
    const reply = await ask(request);
    sent++;
    if (reply.subarray(24, 32).equals(token)) interleaved++;
    previousT2 = Buffer.from(reply.subarray(32, 40));
    await sleep(5); // the thread that sent the reply saves its TX timestamp meanwhile
  }
  // The first two are basic (nothing named, then a reply that was not stamped); with
  // a table per thread about half the rest would miss.
  assert.equal(interleaved, ROUNDS - 2, `${interleaved} of ${ROUNDS} replies interleaved`);
  await bothThreadsSaw("receivedPackets", before);
});

test("a cookie from either thread's key exchange is accepted by both threads", async (t) => {
  if (noAddon) return t.skip(noAddon);
  const before = threadCounts("ntsAcceptedPackets");
  // Key exchanges until each thread has answered some (their connections, too, are spread
  // over both listeners by source port); the cookies of each go to both threads.
  const exchanges = () => [0, 1].map((t) => pool.threadKeyExchanges(t));
  for (let i = 0; i < 40 && !exchanges().every((n) => n > 0); i++) {
    await ntsRound(await keyExchange(), PORTS);
    await sleep(600); // one stats report
  }
  assert.ok(
    exchanges().every((n) => n > 0),
    `both threads answered key exchanges: ${exchanges().join(", ")}`,
  );
  await bothThreadsSaw("ntsAcceptedPackets", before);
});

test("after a key rotation, new cookies from any thread work on both, old ones still do", async (t) => {
  if (noAddon) return t.skip(noAddon);
  const old = await keyExchange();
  const keys = daemon.keys;
  assert.ok(keys instanceof KeySetRotation, "this daemon is the primary of its keys");
  keys.rotate();
  const primary = keys.keyset.primaryId;
  const keyIdOf = (cookie: Uint8Array) =>
    new DataView(cookie.buffer, cookie.byteOffset).getUint32(0);
  assert.notEqual(keyIdOf(old.cookies[0]!), primary, "the rotation made a new primary key");
  // Each key exchange lands on one thread; go on until both have minted with the new key.
  const before = threadCounts("ntsAcceptedPackets");
  for (let i = 0; i < 6; i++) {
    const fresh = await keyExchange();
    assert.equal(keyIdOf(fresh.cookies[0]!), primary, `key exchange ${i}: sealed with the new key`);
    await ntsRound(fresh, PORTS);
  }
  await ntsRound(old, PORTS);
  await bothThreadsSaw("ntsAcceptedPackets", before);
});

test("the observation has one entry per [[server]] with the threads' counts summed", async (t) => {
  if (noAddon) return t.skip(noAddon);
  const observed = await waitFor(
    () => {
      const servers = daemon.observe().servers;
      const stats = servers[0]?.stats;
      return stats && stats.received_packets === sent ? servers : undefined;
    },
    { timeoutMs: 5000, what: `received_packets = ${sent} in the observation` },
  );
  assert.equal(observed.length, 1);
  assert.equal(observed[0]!.address, `${HOST}:0`, "the [[server]] as configured");
  const s = observed[0]!.stats;
  assert.equal(s.accepted_packets, sent, "every request answered with time");
  assert.equal(s.nts_accepted_packets + s.nts_nak_packets, s.nts_received_packets);
  assert.equal(s.nts_nak_packets, 0);
  const perThread = [0, 1].map((t) => pool.threadStats(t)[0]!.receivedPackets);
  assert.equal(perThread[0]! + perThread[1]!, sent);
});

test("the observation has one entry per [[nts-ke-server]]: certificate expiry, threads' counters summed", async (t) => {
  if (noAddon) return t.skip(noAddon);
  const observed = await waitFor(
    () => {
      const servers = daemon.observe().nts_ke_servers;
      return servers?.[0]?.stats?.key_exchanges === keyExchanges ? servers : undefined;
    },
    { timeoutMs: 5000, what: `key_exchanges = ${keyExchanges} in the observation` },
  );
  assert.equal(observed.length, 1, "one entry, not one per thread");
  const entry = observed[0]!;
  assert.equal(entry.address, `${HOST}:0`, "the [[nts-ke-server]] as configured");
  const notAfter = new X509Certificate(await readFile(leaf.chainPath)).validTo;
  assert.equal(entry.certificate_not_after, Math.floor(Date.parse(notAfter) / 1000));
  const s = entry.stats!;
  assert.ok(keyExchanges >= 2);
  assert.equal(
    s.key_exchanges,
    pool.threadKeyExchanges(0) + pool.threadKeyExchanges(1),
    "the sum of the threads'",
  );
  assert.ok(
    pool.threadKeyExchanges(0) > 0 && pool.threadKeyExchanges(1) > 0,
    "both threads answered some (the cookie test went on until they had)",
  );
  assert.equal(s.served_connections, keyExchanges, "every connection of this file was served");
  assert.equal(
    s.accepted_connections,
    s.served_connections + s.refused_connections + s.timed_out_connections + s.failed_connections,
  );
  const metrics = parseOpenMetrics(await renderMetrics(daemon.observe()));
  const expiry = familyFor(metrics, "ntp_nts_ke_server_certificate_expiry_timestamp_seconds");
  assert.deepEqual(
    expiry?.samples.map((x) => x.value),
    [entry.certificate_not_after],
  );
  const exchanged = familyFor(metrics, "ntp_nts_ke_server_key_exchanges_total");
  assert.deepEqual(
    exchanged?.samples.map((x) => x.value),
    [keyExchanges],
  );
});

test("SIGHUP's certificate reload reaches both threads", async (t) => {
  if (noAddon) return t.skip(noAddon);
  const next = await pki.issue("renewed", ["localhost", HOST]);
  await copyFile(next.chainPath, leaf.chainPath);
  await copyFile(next.keyPath, leaf.keyPath);
  const lines = () => sink.lines.filter((l) => l.includes("reloaded the NTS-KE certificate"));
  const already = lines().length;
  daemon.reload();
  await waitFor(() => lines().length >= already + 2, {
    timeoutMs: 5000,
    what: "a reload line from each thread",
  });
  assert.ok(
    lines().some((l) => l.includes("thread=1")) && lines().some((l) => l.includes("thread=2")),
  );
  // Connections from many source ports all meet the new certificate.
  const ca = await readFile(pki.caCertPath);
  const serials = new Set<string>();
  for (let i = 0; i < PORTS; i++) {
    serials.add(
      await new Promise<string>((resolve, reject) => {
        const socket = connect({
          host: HOST,
          port: kePort,
          ca,
          ALPNProtocols: ["ntske/1"],
          servername: "localhost",
        });
        socket.once("secureConnect", () => {
          resolve(socket.getPeerCertificate().serialNumber);
          socket.destroy();
        });
        socket.once("error", reject);
      }),
    );
  }
  assert.equal(serials.size, 1, "one certificate, from whichever thread answered");
});

test("a killed serving thread is restarted and serves again; its counts are kept", async (t) => {
  if (noAddon) return t.skip(noAddon);
  const total = () => daemon.observe().servers[0]!.stats.received_packets;
  await waitFor(() => total() === sent, { timeoutMs: 5000, what: "the counts to settle" });
  const counted = total();
  const worker = pool.worker(1);
  assert.ok(worker);
  await worker.terminate();
  await waitFor(() => sink.lines.some((l) => l.includes("serving thread restarted thread=2")), {
    timeoutMs: 10_000,
    what: "thread 2 restarted",
  });
  assert.ok(
    sink.lines.some((l) => /ERROR server: serving thread stopped; restarting thread=2/.test(l)),
  );
  assert.equal(pool.starts(1), 2);
  assert.ok(total() >= counted, "a dead thread's counts stay in the sum");
  await fromManyPorts(PORTS, plainRequest);
  await ntsRound(await keyExchange(), PORTS);
  await waitFor(() => (pool.threadStats(1)[0]?.receivedPackets ?? 0) > 0, {
    timeoutMs: 5000,
    what: "the new thread 2 to answer",
  });
  await waitFor(() => total() === sent, { timeoutMs: 5000, what: `${sent} in the observation` });
});

test("a thread that cannot bind fails the start-up with one line", async (t) => {
  if (noAddon) return t.skip(noAddon);
  // A socket without SO_REUSEPORT on the port: no serving thread may join it.
  const blocker = createSocket({ type: "udp4" });
  await new Promise<void>((resolve) => blocker.bind(0, HOST, resolve));
  const port = blocker.address().port;
  try {
    const log = new MemorySink();
    const failing = new Daemon({
      config: config(twoThreadConfig(port, 0, leaf.chainPath, leaf.keyPath)),
      log: createLogger("info", log),
    });
    await assert.rejects(failing.start(), (error: Error) => {
      assert.ok(error instanceof ServingThreadError);
      assert.match(
        error.message,
        /^serving thread 1 could not start: cannot listen on 127\.0\.0\.1:\d+ \(UDP\): the address is in use/,
      );
      assert.ok(!error.message.includes("\n"));
      return true;
    });
    failing.stop();
    assert.ok(!log.lines.some((l) => l.includes("restarting")), "no restart during start-up");

    const dir = await makeTempDir("ntpd-ts-threads-exit-");
    try {
      const proc = await startDaemon(
        dir,
        "busy",
        twoThreadConfig(port, 0, leaf.chainPath, leaf.keyPath),
      );
      const status = await orTimeout(proc.exited, 20_000, null);
      if (status === null) await proc.stop();
      await proc.closed;
      assert.equal(status?.code, 70, proc.output());
      assert.match(
        proc.output(),
        /ERROR ntp-daemon: serving thread 1 could not start: cannot listen on 127\.0\.0\.1:\d+ \(UDP\): the address is in use/,
      );
      assert.doesNotMatch(proc.output(), /^\s+at /m, "no stack trace");
    } finally {
      await dir.cleanup();
    }
  } finally {
    blocker.close();
  }
});

test("without the addon, server-threads = 2 serves from the main thread and says so once", async () => {
  const dir = await makeTempDir("ntpd-ts-threads-noaddon-");
  try {
    const port = await freeUdpPort();
    const toml = `[[server]]\nlisten = "${HOST}:${port}"\n\n[daemon]\nserver-threads = 2\n`;
    const file = dir.file("ntp.toml");
    await writeFile(file, toml);
    const proc = await spawnProcess(
      process.execPath,
      ["--import", "tsx", DAEMON_ENTRY, "-c", file, "--no-clock-control"],
      { env: { ...process.env, NTPD_NO_ADDON: "1" }, name: "no-addon" },
    );
    try {
      await waitForNtpServer(port, HOST, 15_000);
      const warnings = proc
        .output()
        .split("\n")
        .filter((l) => l.includes("server-threads needs the native addon"));
      assert.equal(warnings.length, 1, proc.output());
      assert.match(warnings[0]!, /WARN .*server_threads=2/);
      assert.doesNotMatch(proc.output(), /serving from worker threads/);
    } finally {
      await proc.stop();
    }
  } finally {
    await dir.cleanup();
  }
});
