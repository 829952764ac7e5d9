// A serving thread (node:worker_threads): its own UDP socket on each `[[server]]` and
// its own NTS-KE listener on each `[[nts-ke-server]]`, all bound with SO_REUSEPORT next
// to the other threads' (pool.ts), so the kernel spreads datagrams and connections over
// them. It holds copies of the NTS key set and the system state, which the main thread
// pushes when they change; it never asks for them per request. Its counters and the
// expiry of its NTS-KE certificates go to the main thread every statsIntervalMs when they
// changed; its log records go there always.

import { parentPort, workerData } from "node:worker_threads";
import { parseKeySet } from "../../proto/nts/keyset/storage.js";
import type { KeySet } from "../../proto/nts/keyset/keyset.js";
import { SystemStateCell } from "../../proto/system/system-state.js";
import { getAddon } from "../native/addon.js";
import { NtsKeServer } from "../nts-ke-server.js";
import { ServerTask } from "../server-task.js";
import { systemWallClock } from "../wall-clock.js";
import type { FromServingThread, ServingThreadData, ToServingThread } from "./messages.js";
import { systemStateFromPlain } from "./messages.js";
import { ForwardingLogger } from "./thread-log.js";

/** Pending connections per NTS-KE listener (Node's own default). */
const LISTEN_BACKLOG = 511;

const port =
  parentPort ??
  ((): never => {
    throw new Error("worker-main.ts runs only as a worker thread");
  })();
const data = workerData as ServingThreadData;
const post = (message: FromServingThread) => port.postMessage(message);
const log = ForwardingLogger.create(data.logLevel, "server", (level, component, message, fields) =>
  post({ kind: "log", level, component, message, fields }),
);

function parseKeys(bytes: Uint8Array): KeySet | null {
  const parsed = parseKeySet(bytes, data.staleKeyCount);
  bytes.fill(0);
  if (parsed.ok) return parsed.keyset;
  log.error("NTS keys from the main thread unusable; keeping the previous ones", {
    error: parsed.error,
  });
  return null;
}

const first = parseKeys(data.keys);
if (first === null) throw new Error("the NTS key set given to a serving thread is unusable");
let keyset: KeySet = first;
const rotated: ((keyset: KeySet) => void)[] = [];
const keys = {
  current: () => keyset,
  // The NTS-KE fast path is told of each new set (nts-ke-fast.ts).
  onRotate: (listener: (keyset: KeySet) => void) => rotated.push(listener),
};
const system = new SystemStateCell(systemStateFromPlain(data.system));

const servers = data.servers.map(
  (config, i) =>
    new ServerTask(
      config,
      systemWallClock,
      system,
      log,
      keys,
      undefined,
      { reusePort: true },
      data.interleaveTables[i],
      data.referenceIdFilter === undefined ? {} : { referenceIdFilter: data.referenceIdFilter },
    ),
);
const addon = getAddon();
const keServers = data.ntsKeServers.map((config) => {
  const listen = config.listen;
  return new NtsKeServer(config, keys, log.child("nts-ke"), () => {
    if (addon === null) throw new Error("serving threads need the native addon");
    return addon.tcpListen(listen.family, listen.address, listen.port, LISTEN_BACKLOG);
  });
});

function stopAll(): void {
  for (const server of servers) server.stop();
  for (const server of keServers) server.stop();
}

port.on("message", (message: ToServingThread) => {
  switch (message.kind) {
    case "keys": {
      const next = parseKeys(message.keys);
      if (next !== null) {
        keyset = next;
        for (const listener of rotated) listener(next);
      }
      break;
    }
    case "system":
      system.set(systemStateFromPlain(message.system));
      break;
    case "reload":
      for (const server of keServers) server.reloadCredentials(message.reason);
      break;
  }
});

async function start(): Promise<void> {
  try {
    for (const server of servers) await server.start();
    for (const server of keServers) await server.start();
  } catch (error) {
    stopAll();
    post({ kind: "failed", message: error instanceof Error ? error.message : String(error) });
    port.close();
    return;
  }
  const report = (): FromServingThread => ({
    kind: "stats",
    servers: servers.map((s) => s.stats),
    ntsKeServers: keServers.map((s) => ({
      stats: s.stats,
      certificateNotAfterMs: s.certificateNotAfter?.getTime() ?? null,
    })),
  });
  // The certificates are known (and counted) before the main thread hears "ready".
  post(report());
  post({
    kind: "ready",
    ntpPorts: servers.map((s) => s.port),
    kePorts: keServers.map((s) => s.port),
  });
  let reported = "";
  setInterval(() => {
    // What changes when anything reported changes (a reload changes a certificate).
    let signature = "";
    for (const s of servers) {
      signature += `${s.stats.receivedPackets},${s.stats.responseSendErrors};`;
    }
    for (const s of keServers) {
      signature += `${s.stats.connections},${s.stats.served},${s.stats.refused},${s.stats.timeouts},${s.stats.failed},${s.certificateNotAfter?.getTime()};`;
    }
    if (signature === reported) return;
    reported = signature;
    post(report());
  }, data.statsIntervalMs).unref();
}

void start();
