// The reference servers' own process (started by references.ts): a Node
// event loop that does nothing but serve, so that a reply's departure is not
// held up by the bench's sampling (spawning chronyc, reading the observation
// socket), which measured milliseconds late when they shared one loop.
//
// argv[2]: the JSON of a ReferenceProcessConfig. Prints one line
// `READY {"ports":[...]}` once every server is bound and warmed up; on SIGTERM writes a
// ReferenceProcessResult to config.resultPath and exits.
import { writeFileSync } from "node:fs";
import type { ClockModel, PathModel } from "./scenarios.js";
import { startReference, TimeBase, type ReferenceServer, type ReferenceStats } from "./server.js";

export interface ReferenceProcessConfig {
  base: { baseSec: number; mono0: number; real0: number };
  servers: { address: string; clock: ClockModel; path: PathModel; error: number; seed: number }[];
  resultPath: string;
}

export interface ReferenceProcessResult {
  servers: (ReferenceStats & { address: string; error: number })[];
  /** [T3 octets in hex, scheduled departure (relative realtime s)] of every reply. */
  departures: [string, number][];
}

const config = JSON.parse(process.argv[2] ?? "") as ReferenceProcessConfig;
const base = TimeBase.from(config.base);
const servers: ReferenceServer[] = [];
for (const s of config.servers) servers.push(await startReference({ ...s, base }));
await Promise.all(servers.map((s) => s.warmUp()));
process.stdout.write(`READY ${JSON.stringify({ ports: servers.map((s) => s.port) })}\n`);
process.on("SIGTERM", () => {
  const result: ReferenceProcessResult = {
    servers: servers.map((s) => ({ address: s.address, error: s.error, ...s.stats() })),
    departures: servers.flatMap((s) => [...s.departures]),
  };
  for (const s of servers) s.close();
  writeFileSync(config.resultPath, JSON.stringify(result));
  process.exit(0);
});
