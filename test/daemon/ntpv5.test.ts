// NTPv5 over real sockets (docs/ntpv5.md): our ntp-daemon as a v5 server
// answering a hand-built v5 request checked field by field, our client daemon
// with ntp-version = 5 and "auto" against it (plain and NTS), "auto" staying
// on v4 against chrony (which has no NTPv5), and a server without 5 in
// accept-ntp-versions refusing v5. Which version a source speaks is read from
// the observation (sources[].protocol_version).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { readObservation } from "../../src/cli/observation-client.js";
import type { Observation, ObservedSource } from "../../src/daemon/observation.js";
import { readU32 } from "../../src/proto/packet/header.js";
import { DRAFT_ID, parseV5Packet, V5FieldType } from "../../src/proto/packet/v5.js";
import { startChronyServer, chronyUnavailable } from "../helpers/chrony.js";
import { GUIDE_HOST } from "../helpers/hosts.js";
import {
  chronyNtsPrerequisites,
  ntsServerConfig,
  waitForNtsMeasurements,
} from "../helpers/nts-daemon.js";
import { makeTestPki } from "../helpers/pki.js";
import { freePort, freeUdpPort } from "../helpers/ports.js";
import { skipIfMissing } from "../helpers/skip.js";
import { makeTempDir, type TempDir } from "../helpers/tmp.js";
import { waitFor, waitForTcpPort, waitForUdpBound } from "../helpers/wait.js";
import { CTL_ENTRY, parseMeasurement, startDaemon } from "./run-daemon.js";
import { runCommand } from "../helpers/process.js";
import { writeFile } from "node:fs/promises";
import type { Spawned } from "../helpers/process.js";

const DRAFT_HEX = Buffer.from(DRAFT_ID, "ascii").toString("hex");
/** A v5 request as ntpd-rs 1.9.0 sends it (see src/proto/server/v5.test.ts). */
const V5_REQUEST = Buffer.from(
  "2b000400" +
    "00".repeat(12) +
    "0000000000000000" +
    "0011223344556677" +
    "00".repeat(16) +
    "f5ff001b" +
    DRAFT_HEX +
    "00" +
    "f5030014" +
    "00".repeat(16),
  "hex",
);

/** Sends `request` to 127.0.0.1:port; the first reply, or null after `waitMs`. */
function exchange(port: number, request: Uint8Array, waitMs = 2000): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const socket = createSocket("udp4");
    const timer = setTimeout(() => {
      socket.close();
      resolve(null);
    }, waitMs);
    socket.once("message", (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(msg);
    });
    socket.once("error", (e) => {
      clearTimeout(timer);
      socket.close();
      reject(e);
    });
    socket.send(request, port, "127.0.0.1");
  });
}

function v4UpgradeRequest(): Buffer {
  const b = Buffer.alloc(48);
  b[0] = 0x23; // LI 0, VN 4, mode 3
  b.write("NTP5DRFT", 16, "ascii");
  b.writeUInt32BE(0x12345678, 40);
  return b;
}

function serverToml(port: number, socket: string, accept: string): string {
  return `[observability]
log-level = "info"
observation-path = "${socket}"

[[server]]
listen = "127.0.0.1:${port}"
accept-ntp-versions = ${accept}

[synchronization]
local-stratum = 1
reference-id = "TEST"
`;
}

function clientToml(socket: string, sources: { address: string; version: string }[]): string {
  const tables = sources
    .map(
      (s) => `[[source]]
mode = "server"
address = "${s.address}"
ntp-version = ${s.version}
poll-interval-limits = { min = 0, max = 0 }
`,
    )
    .join("\n");
  return `[observability]
log-level = "info"
observation-path = "${socket}"

${tables}
[synchronization]
minimum-agreeing-sources = 1
`;
}

async function observe(socket: string): Promise<Observation> {
  return readObservation(socket, { timeoutMs: 2000 });
}

/** Waits until every source of the client reports `version` and has been measured. */
async function waitForVersions(
  client: Spawned,
  socket: string,
  wanted: (sources: ObservedSource[]) => boolean,
  what: string,
  timeoutMs = 40_000,
): Promise<ObservedSource[]> {
  return waitFor(
    async () => {
      if (client.exitStatus()) throw new Error(`client exited:\n${client.output()}`);
      const o = await observe(socket);
      return wanted(o.sources) ? o.sources : undefined;
    },
    { timeoutMs, intervalMs: 250, what },
  ).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}\nclient output:\n${client.output()}`, { cause: e });
  });
}

async function withDir(fn: (dir: TempDir) => Promise<void>): Promise<void> {
  const dir = await makeTempDir();
  try {
    await fn(dir);
  } finally {
    await dir.cleanup();
  }
}

test(
  'our v5 server: a v5 request answered field by field over UDP; ntp-version = 5 and "auto" clients reach V5',
  { timeout: 120_000 },
  () =>
    withDir(async (dir) => {
      const port = await freeUdpPort();
      const serverSocket = dir.file("server.sock");
      const server = await startDaemon(
        dir,
        "v5-server",
        serverToml(port, serverSocket, "[3, 4, 5]"),
      );
      try {
        await server.waitForOutput(/serving NTP/, 20_000);
        await waitForUdpBound(port);

        // The reply to an ntpd-rs-shaped request, over a real socket.
        const before = Date.now() / 1000 + 2208988800;
        const r = await exchange(port, V5_REQUEST);
        assert.ok(r !== null, `no reply to a v5 request:\n${server.output()}`);
        assert.equal(r.length, V5_REQUEST.length, "as long as the request");
        assert.equal(r[0], 0x2c, "LI 0, VN 5, mode 4");
        assert.equal(r[1], 1, "stratum 1");
        assert.equal(r[2], 4, "poll echoed");
        assert.equal(r[12], 0, "timescale UTC");
        assert.equal(r[13], 0, "era 0");
        assert.equal(r.readUInt16BE(14), 1, "flags: synchronized");
        assert.equal(r.subarray(24, 32).toString("hex"), "0011223344556677", "client cookie");
        const t2 = readU32(r, 32);
        const t3 = readU32(r, 40);
        assert.ok(Math.abs(t2 - before) < 5, `T2 ${t2} is now (${before})`);
        assert.ok(t3 >= t2 && t3 - t2 <= 1, "T3 follows T2");
        const parsed = parseV5Packet(r, r.length);
        assert.ok(parsed.ok, parsed.ok ? "" : parsed.message);
        if (!parsed.ok) return;
        assert.deepEqual(
          parsed.value.fields.map((f) => [f.type, f.value.length]),
          [
            [V5FieldType.ReferenceIdResponse, 16],
            [V5FieldType.DraftIdentification, DRAFT_ID.length],
          ],
        );
        const upgrade = await exchange(port, v4UpgradeRequest());
        assert.ok(upgrade !== null);
        assert.equal(upgrade.subarray(16, 24).toString("ascii"), "NTP5DRFT", "upgrade echoed");
        assert.equal((upgrade[0]! >>> 3) & 7, 4);

        const clientSocket = dir.file("client.sock");
        const client = await startDaemon(
          dir,
          "v5-client",
          clientToml(clientSocket, [
            { address: `127.0.0.1:${port}`, version: "5" },
            { address: `localhost:${port}`, version: '"auto"' },
          ]),
        );
        try {
          const sources = await waitForVersions(
            client,
            clientSocket,
            (s) => s.length === 2 && s.every((x) => x.protocol_version === "V5" && x.delay > 0),
            "both sources on V5 with a measurement",
          );
          for (const s of sources) {
            assert.ok(Math.abs(s.offset) < 0.05, `offset ${s.offset} on one clock`);
          }
          const line = await client.waitForOutput(/measurement/, 10_000);
          assert.ok(parseMeasurement(line), line);
        } finally {
          const status = await client.stop();
          assert.equal(status.code, 0, client.output());
        }
        const stats = (await observe(serverSocket)).servers[0]!.stats;
        assert.ok(stats.accepted_packets >= 3, JSON.stringify(stats));
      } finally {
        await server.stop();
      }
    }),
);

test(
  "a server without 5 in accept-ntp-versions refuses v5 and does not echo the upgrade; an ntp-version = 5 client gets nothing",
  { timeout: 90_000 },
  () =>
    withDir(async (dir) => {
      const port = await freeUdpPort();
      const serverSocket = dir.file("server.sock");
      const server = await startDaemon(dir, "v4-server", serverToml(port, serverSocket, "[3, 4]"));
      try {
        await server.waitForOutput(/serving NTP/, 20_000);
        await waitForUdpBound(port);
        assert.equal(await exchange(port, V5_REQUEST, 1500), null, "no reply to v5");
        const upgrade = await exchange(port, v4UpgradeRequest());
        assert.ok(upgrade !== null, "v4 is answered");
        assert.notEqual(upgrade.subarray(16, 24).toString("ascii"), "NTP5DRFT");

        const clientSocket = dir.file("client.sock");
        const client = await startDaemon(
          dir,
          "v5-only-client",
          clientToml(clientSocket, [{ address: `127.0.0.1:${port}`, version: "5" }]),
        );
        try {
          await waitFor(
            async () => (await observe(serverSocket)).servers[0]!.stats.ignored_packets >= 3,
            { timeoutMs: 30_000, intervalMs: 250, what: "3 ignored v5 requests" },
          );
          assert.doesNotMatch(client.output(), / measurement /, "no v5 reply was measured");
          const o = await observe(clientSocket);
          assert.equal(o.sources[0]?.protocol_version, "V5");
        } finally {
          await client.stop();
        }
      } finally {
        await server.stop();
      }
    }),
);

test(
  '"auto" against chrony (no NTPv5) stays on v4 after 8 replies',
  { timeout: 120_000 },
  async (t) => {
    if (skipIfMissing(t, chronyUnavailable())) return;
    await withDir(async (dir) => {
      const port = await freeUdpPort();
      const chrony = await startChronyServer({ port, dir });
      try {
        assert.equal(await exchange(port, V5_REQUEST, 1500), null, "chrony does not answer v5");
        const clientSocket = dir.file("client.sock");
        const client = await startDaemon(
          dir,
          "auto-client",
          clientToml(clientSocket, [{ address: `127.0.0.1:${port}`, version: '"auto"' }]),
        );
        try {
          const first = await waitForVersions(
            client,
            clientSocket,
            (s) => s[0]?.delay !== undefined && s[0].delay > 0,
            "a first measurement",
          );
          assert.equal(first[0]!.protocol_version, "V4UpgradingToV5");
          await waitForVersions(
            client,
            clientSocket,
            (s) => s[0]?.protocol_version === "V4",
            "the upgrade given up",
            60_000,
          );
          const count = client
            .output()
            .split("\n")
            .filter((l) => / measurement /.test(l)).length;
          assert.ok(count >= 8, `8 replies before giving up, saw ${count} measurements`);
        } finally {
          await client.stop();
        }
      } finally {
        await chrony.stop();
      }
    });
  },
);

test(
  "NTS over NTPv5: KE next protocol 0x8001, authenticated v5 exchanges",
  { timeout: 120_000 },
  async (t) => {
    if (!(await chronyNtsPrerequisites(t))) return;
    await withDir(async (dir) => {
      const pki = await makeTestPki(dir);
      const cert = await pki.issue("server", [GUIDE_HOST]);
      const ntpPort = await freeUdpPort();
      const kePort = await freePort();
      const toml = ntsServerConfig({
        ntpPort,
        kePort,
        chainPath: cert.chainPath,
        keyPath: cert.keyPath,
      })
        .replace(
          `listen = "127.0.0.1:${ntpPort}"\n`,
          `listen = "127.0.0.1:${ntpPort}"\naccept-ntp-versions = [3, 4, 5]\n`,
        )
        .replace(
          `ntp-port = ${ntpPort}\n`,
          `ntp-port = ${ntpPort}\naccept-ntp-versions = [4, 5]\n`,
        );
      assert.match(toml, /accept-ntp-versions = \[4, 5\]/);
      const server = await startDaemon(dir, "nts-v5-server", toml);
      try {
        await server.waitForOutput(/serving NTS-KE/, 30_000);
        await waitForUdpBound(ntpPort);
        await waitForTcpPort(kePort);
        const clientSocket = dir.file("client.sock");
        const client = await startDaemon(
          dir,
          "nts-v5-client",
          `[observability]
log-level = "info"
observation-path = "${clientSocket}"

[[source]]
mode = "nts"
address = "${GUIDE_HOST}:${kePort}"
certificate-authority = "${pki.caCertPath}"
ntp-version = 5
poll-interval-limits = { min = 0, max = 0 }

[[source]]
mode = "nts"
address = "${GUIDE_HOST}:${kePort}"
certificate-authority = "${pki.caCertPath}"
ntp-version = "auto"
poll-interval-limits = { min = 0, max = 0 }

[synchronization]
minimum-agreeing-sources = 1
`,
        );
        try {
          await waitForNtsMeasurements(client, 4, 40_000);
          const sources = await waitForVersions(
            client,
            clientSocket,
            (s) =>
              s.length === 2 &&
              s.every((x) => x.protocol_version === "V5" && x.nts_cookies !== null && x.delay > 0),
            "both NTS sources on V5",
          );
          for (const s of sources) assert.ok((s.nts_cookies ?? 0) >= 1, "cookies refilled");
        } finally {
          await client.stop();
        }
      } finally {
        await server.stop();
      }
    });
  },
);

test(
  'ntp-ctl validate: ntp-version = 5 is a warning that fails, "auto" is fine',
  { timeout: 60_000 },
  () =>
    withDir(async (dir) => {
      const toml = (version: string) => `[[source]]
mode = "server"
address = "time.example"
ntp-version = ${version}

[synchronization]
minimum-agreeing-sources = 1
`;
      for (const [version, code] of [
        ["5", 1],
        ['"auto"', 0],
        ["4", 0],
      ] as const) {
        const path = dir.file(`v${code}-${version.length}.toml`);
        await writeFile(path, toml(version));
        const r = await runCommand(
          process.execPath,
          ["--import", "tsx", CTL_ENTRY, "validate", "-c", path],
          {
            timeoutMs: 20_000,
          },
        );
        assert.equal(r.code, code, `${version}: ${r.stderr}`);
        if (code === 1) assert.match(r.stderr, /Warning: .*ntp-version = 5 forces the draft NTPv5/);
        else assert.match(r.stderr, /Config looks good/);
      }
    }),
);

test(
  "a daemon polling its own v5 server finds the loop once it has the whole Bloom filter",
  { timeout: 120_000 },
  () =>
    withDir(async (dir) => {
      const port = await freeUdpPort();
      const socket = dir.file("self.sock");
      const toml =
        serverToml(port, socket, "[3, 4, 5]") +
        `
[[source]]
mode = "server"
address = "127.0.0.1:${port}"
ntp-version = 5
poll-interval-limits = { min = 0, max = 0 }
`;
      const daemon = await startDaemon(
        dir,
        "self-v5",
        toml.replace("[synchronization]\n", "[synchronization]\nminimum-agreeing-sources = 1\n"),
      );
      try {
        // 32 chunks of 16 octets at one poll a second, then the loop is seen. (Until
        // then its replies are unusable for their stratum, our own 1: a new reason is
        // logged at info again.)
        const line = await daemon.waitForOutput(
          /source not usable: .*NTPv5 reference-ID filter/,
          90_000,
        );
        assert.match(line, /synchronizes to us/);
      } finally {
        await daemon.stop();
      }
    }),
);
