// The library as a user gets it: `npm pack` of this repository, installed
// into a scratch project (its install script builds the native addon there),
// imported as "ntpd-ts" by plain ESM scripts and type-checked from a
// TypeScript file, asked for the time by our NTS server and chrony's (plain
// and NTS) on loopback. Each script runs in a process of its own that must end
// by itself after close(): no socket or timer may be left open.
import { after, before, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Chrony } from "../helpers/chrony.js";
import { GUIDE_HOST } from "../helpers/hosts.js";
import {
  chronyNtsPrerequisites,
  startChronyNtsServer,
  startOurNtsServer,
  type OurNtsServer,
} from "../helpers/nts-daemon.js";
import { runCommand, spawnProcess } from "../helpers/process.js";
import { makeTempDir, type TempDir } from "../helpers/tmp.js";

const root = new URL("../..", import.meta.url).pathname;
const tsc = join(root, "node_modules/typescript/bin/tsc");

let dir: TempDir;
let project: string;
let ours: OurNtsServer | undefined;
let chrony: Chrony | undefined;
let chronyPorts: { ntp: number; ke: number } | undefined;

async function run(command: string, args: string[], cwd: string, timeoutMs: number) {
  const r = await runCommand(command, args, { cwd, timeoutMs });
  if (r.code !== 0 || r.timedOut) {
    throw new Error(`${command} ${args.join(" ")} failed:\n${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

before(async () => {
  dir = await makeTempDir("ntpd-ts-library-");
  // The package as published: dist/ built from this tree, then packed.
  await run(process.execPath, [tsc, "-p", "tsconfig.build.json"], root, 240_000);
  await run(process.execPath, [tsc, "-p", "tsconfig.types.json"], root, 240_000);
  const packed = await run(
    "npm",
    ["pack", "--ignore-scripts", "--silent", "--pack-destination", dir.path],
    root,
    120_000,
  );
  const tarball = join(dir.path, packed.trim().split("\n").at(-1)!);
  project = dir.file("app");
  await mkdir(project);
  await writeFile(
    join(project, "package.json"),
    JSON.stringify({ name: "app", private: true, type: "module" }),
  );
  // The install script builds the addon here, as on a user's machine.
  await run(
    "npm",
    ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball],
    project,
    600_000,
  );
});

after(async () => {
  await chrony?.stop();
  await ours?.server.stop();
  await dir?.cleanup();
});

/** Runs `code` as app/NAME.mjs; resolves with its JSON output. It must exit 0 by itself. */
async function script(name: string, code: string, env: NodeJS.ProcessEnv = {}): Promise<unknown> {
  const file = join(project, `${name}.mjs`);
  await writeFile(file, code);
  const proc = await spawnProcess(process.execPath, [file], {
    cwd: project,
    name,
    env: { ...process.env, ...env },
  });
  const timer = setTimeout(() => void proc.stop(), 60_000);
  const status = await proc.exited;
  clearTimeout(timer);
  assert.equal(status.code, 0, `${name} exited by itself with 0:\n${proc.output()}`);
  const last = proc.output().trim().split("\n").at(-1) ?? "";
  return JSON.parse(last);
}

async function withServers(t: TestContext): Promise<{ ca: string; ntsPort: number } | undefined> {
  if (!(await chronyNtsPrerequisites(t))) return undefined;
  ours ??= await startOurNtsServer(dir);
  if (chrony === undefined) {
    const started = await startChronyNtsServer(await ours.pki.issue("chrony", [GUIDE_HOST]));
    chrony = started.chrony;
    chronyPorts = { ntp: started.ntpPort, ke: started.kePort };
  }
  return { ca: ours.pki.caCertPath, ntsPort: ours.kePort };
}

test("the package exports the library, typed, and nothing else", async () => {
  const keys = await script(
    "exports",
    `import * as lib from "ntpd-ts";
let internal = "importable";
try { await import("ntpd-ts/dist/cli/ntp-ctl.js"); } catch (e) { internal = e.code; }
console.log(JSON.stringify({ names: Object.keys(lib).sort(), internal }));`,
  );
  assert.deepEqual(keys, {
    names: ["TimeClient", "TimeQueryError", "queryTime"],
    internal: "ERR_PACKAGE_PATH_NOT_EXPORTED",
  });
  const typecheck = (code: string, file = "use.ts") =>
    writeFile(join(project, file), code).then(() =>
      runCommand(
        process.execPath,
        [
          tsc,
          "--noEmit",
          "--allowJs",
          "--checkJs",
          "--strict",
          "--module",
          "nodenext",
          "--moduleResolution",
          "nodenext",
          "--target",
          "es2022",
          "--typeRoots",
          join(root, "node_modules/@types"),
          "--types",
          "node",
          file,
        ],
        { cwd: project, timeoutMs: 120_000 },
      ),
    );
  const good =
    await typecheck(`import { queryTime, TimeClient, type TimeQueryResult } from "ntpd-ts";
const r: TimeQueryResult = await queryTime(["time.example", { address: "192.0.2.1", nts: false }]);
const offset: number = r.offset;
const ok: boolean = r.authenticated;
const client = new TimeClient({ servers: "time.example", signal: AbortSignal.timeout(1000) });
client.on("source", (change) => { if (change.kind === "measurement") console.log(change.delay); });
const now = client.now();
const ns: bigint = now.unixNs;
console.log(offset, ok, ns, now.uncertainty ?? 0);
`);
  assert.equal(good.code, 0, `the example type-checks:\n${good.stdout}${good.stderr}`);
  const bad = await typecheck(`import { queryTime } from "ntpd-ts";
const r = await queryTime({ adress: "time.example" });
const s: string = r.offset;
`);
  const examples = [
    ...readFileSync(join(root, "docs/library.md"), "utf8").matchAll(/```js\n([^]*?)```/g),
  ];
  assert.ok(examples.length >= 2, "docs/library.md has its examples");
  for (const [i, example] of examples.entries()) {
    const checked = await typecheck(example[1]!, `docs-example-${i}.mjs`);
    assert.equal(checked.code, 0, `docs/library.md example ${i + 1}:\n${checked.stdout}`);
  }
  assert.notEqual(bad.code, 0, "a misspelt option and a wrong type are errors");
  assert.match(bad.stdout, /adress/);
  assert.match(bad.stdout, /'number' is not assignable to type 'string'/);
});

test("queryTime: our NTS server and chrony's, plain and NTS, kernel and userspace timestamps", async (t) => {
  const servers = await withServers(t);
  if (!servers) return;
  const code = `import { queryTime } from "ntpd-ts";
const ca = ${JSON.stringify(servers.ca)};
const ask = (spec) => queryTime(spec, { timeoutMs: 15000 });
const results = {
  oursNts: await ask({ address: "${GUIDE_HOST}:${servers.ntsPort}", certificateAuthority: ca }),
  oursPlain: await ask({ address: "127.0.0.1:${ours!.ntpPort}", nts: false }),
  chronyNts: await ask({ address: "${GUIDE_HOST}:${chronyPorts!.ke}", certificateAuthority: ca }),
  chronyPlain: await ask({ address: "127.0.0.1:${chronyPorts!.ntp}", nts: false }),
  both: await ask([
    { address: "${GUIDE_HOST}:${servers.ntsPort}", certificateAuthority: ca },
    { address: "127.0.0.1:1", nts: false },
  ]),
};
console.log(JSON.stringify(results));`;
  for (const [env, timestamps] of [
    [{}, "kernel"],
    [{ NTPD_NO_ADDON: "1" }, "userspace"],
  ] as const) {
    const r = (await script("query", code, env)) as Record<string, Record<string, unknown>>;
    for (const [name, result] of Object.entries(r)) {
      assert.equal(result.authenticated, name.endsWith("Nts") || name === "both", name);
      assert.equal(result.timestamps, timestamps, `${name}: ${timestamps} timestamps`);
      assert.equal(result.stratum, 1, name);
      assert.ok(Math.abs(result.offset as number) < 0.05, `${name}: loopback offset`);
      const delay = result.delay as number;
      assert.ok(delay > 0 && delay < 0.05, `${name}: delay ${delay}`);
      assert.ok((result.errorBound as number) >= delay / 2, `${name}: error bound`);
    }
    const both = r.both!.servers as { server: string; error?: string }[];
    assert.equal(both.length, 2);
    assert.ok(
      both.some((s) => s.server === "127.0.0.1:1" && typeof s.error === "string"),
      "the server that did not answer is reported with why",
    );
  }
});

test("queryTime rejects at once when aborted, and when no server answers says why", async () => {
  const r = await script(
    "abort",
    `import { queryTime, TimeQueryError } from "ntpd-ts";
const started = Date.now();
const controller = new AbortController();
setTimeout(() => controller.abort(), 200);
let aborted = "resolved";
try { await queryTime({ address: "127.0.0.1:9", nts: false }, { signal: controller.signal, timeoutMs: 20000 }); }
catch (e) { aborted = e.name; }
const abortMs = Date.now() - started;
let failed = "resolved";
try { await queryTime({ address: "127.0.0.1:9", nts: false }, { timeoutMs: 1500 }); }
catch (e) { failed = e instanceof TimeQueryError ? e.failures : e.message; }
console.log(JSON.stringify({ aborted, abortMs, failed }));`,
  );
  const { aborted, abortMs, failed } = r as {
    aborted: string;
    abortMs: number;
    failed: { server: string; error: string }[];
  };
  assert.equal(aborted, "AbortError");
  assert.ok(
    abortMs < 5000,
    `gave up soon after the abort, not at the 20 s deadline (${abortMs} ms)`,
  );
  assert.deepEqual(failed, [{ server: "127.0.0.1:9", error: "no answer" }]);
});

test("TimeClient: synchronizes, reports sources and events, and close() leaves nothing open", async (t) => {
  const servers = await withServers(t);
  if (!servers) return;
  const r = await script(
    "client",
    `import { TimeClient } from "ntpd-ts";
const ca = ${JSON.stringify(servers.ca)};
const client = new TimeClient({
  servers: [
    { address: "${GUIDE_HOST}:${servers.ntsPort}", certificateAuthority: ca },
    { address: "${GUIDE_HOST}:${chronyPorts!.ke}", certificateAuthority: ca },
  ],
  pollIntervalLimits: { min: 0, max: 0 },
});
const changes = [];
client.on("source", (c) => changes.push(c.kind));
await client.start();
const synced = await client.synchronized(AbortSignal.timeout(30000));
await new Promise((resolve) => setTimeout(resolve, 3000));
const now = client.now();
const sources = client.sources();
await client.close();
console.log(JSON.stringify({
  synced: synced.synchronized,
  now: { ...now, unixNs: String(now.unixNs) },
  wall: Date.now(),
  sources,
  changes,
}));`,
  );
  const { synced, now, wall, sources, changes } = r as {
    synced: boolean;
    now: {
      unixMs: number;
      unixNs: string;
      synchronized: boolean;
      offset: number;
      uncertainty: number;
      timestamps: string;
    };
    wall: number;
    sources: { authenticated: boolean; offset: number | null; selected: boolean }[];
    changes: string[];
  };
  assert.equal(synced, true);
  assert.equal(now.synchronized, true);
  assert.equal(now.timestamps, "kernel", "the addon built by the install script is used");
  assert.ok(Math.abs(now.offset) < 0.05, `loopback offset ${now.offset}`);
  assert.ok(now.uncertainty > 0 && now.uncertainty < 0.05, `uncertainty ${now.uncertainty}`);
  assert.ok(Math.abs(now.unixMs - wall) < 1000, "now() is the time");
  assert.equal(BigInt(now.unixNs) / 1_000_000n, BigInt(Math.floor(now.unixMs)));
  assert.equal(sources.length, 2);
  assert.ok(
    sources.every((s) => s.authenticated),
    "both sources are NTS",
  );
  assert.ok(
    sources.some((s) => s.selected),
    "the combination uses a source",
  );
  assert.equal(changes.filter((c) => c === "added").length, 2);
  assert.ok(changes.filter((c) => c === "measurement").length >= 4);
});
