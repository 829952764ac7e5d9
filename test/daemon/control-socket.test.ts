// Runtime source management end to end: a real ntp-daemon (--no-clock-control)
// with a control socket, two scripted NTP servers on loopback, and the real
// `ntp-ctl source list/add/remove` (with and without --save) against it; raw
// malformed requests over the socket; who may connect, checked by the kernel
// against the socket file's mode and group (run as root: a child process
// under uid/gid 65534 is the non-member, then the member of control-group).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { chmod, readFile, stat, writeFile } from "node:fs/promises";
import { readObservation } from "../../src/cli/observation-client.js";
import { parseConfig } from "../../src/proto/config/index.js";
import { startFakeNtpServer, type FakeNtpServer } from "../helpers/fake-ntp-server.js";
import { runCommand, type Spawned } from "../helpers/process.js";
import { makeTempDir, type TempDir } from "../helpers/tmp.js";
import { waitFor } from "../helpers/wait.js";
import { CTL_ENTRY, startDaemon } from "./run-daemon.js";

const NOBODY = 65534;

function ctl(configPath: string, args: string[]) {
  return runCommand(process.execPath, ["--import", "tsx", CTL_ENTRY, ...args, "-c", configPath], {
    timeoutMs: 30_000,
  });
}

/** Sends `bytes` on a new connection and returns everything the daemon answers. */
function raw(path: string, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("no answer within 10 s"));
    }, 10_000);
    socket.once("connect", () => socket.end(bytes));
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

function frame(text: string): Buffer {
  const body = Buffer.from(text);
  const header = Buffer.alloc(8);
  header.writeBigUInt64BE(BigInt(body.length));
  return Buffer.concat([header, body]);
}

function replyOf(bytes: Buffer): { ok: boolean; error?: string } {
  assert.ok(bytes.length >= 8, `a framed reply, got ${bytes.length} bytes`);
  const length = Number(bytes.readBigUInt64BE(0));
  assert.equal(bytes.length, 8 + length);
  return JSON.parse(bytes.subarray(8).toString("utf8")) as { ok: boolean; error?: string };
}

/**
 * Connects to `path` as uid/gid 65534 in a child process: "ok" or the errno
 * code. The child is python3, not the Node running the tests: that Node may
 * live where uid 65534 cannot execute it (CI's Node 24 is in a private
 * mktemp directory).
 */
async function connectAs(path: string, gid: number): Promise<string> {
  const script = [
    "import errno, socket, sys",
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)",
    "try:",
    "    s.connect(sys.argv[1])",
    "    sys.stdout.write('ok')",
    "except OSError as e:",
    "    sys.stdout.write(errno.errorcode.get(e.errno, str(e.errno)))",
  ].join("\n");
  const child = spawn("python3", ["-c", script, path], {
    uid: NOBODY,
    gid,
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", () => resolve());
  });
  return out;
}

describe("ntp-ctl source over the control socket", { timeout: 180_000 }, () => {
  let dir: TempDir;
  let daemon: Spawned;
  let configured: FakeNtpServer;
  let added: FakeNtpServer;
  let saved: FakeNtpServer;
  let configPath: string;
  let original: string;
  const controlPath = () => dir.file("control");
  const observe = () => readObservation(dir.file("observe"));

  before(async () => {
    dir = await makeTempDir("ntpd-ts-control-");
    // Traversable by others: the permission test's child runs as nobody.
    await chmod(dir.path, 0o755);
    const answer = () => ({ kind: "time" as const, offsetSeconds: 0 });
    configured = await startFakeNtpServer(answer);
    added = await startFakeNtpServer(answer);
    saved = await startFakeNtpServer(answer);
    original = `[observability]
log-level = "info"
observation-path = "${dir.file("observe")}"
control-path = "${controlPath()}"

[[source]]
mode = "server"
address = "127.0.0.1:${configured.port}"
poll-interval-limits = { min = 0, max = 0 }

[synchronization]
minimum-agreeing-sources = 1
`;
    daemon = await startDaemon(dir, "controlled", original);
    configPath = dir.file("controlled.toml");
    await daemon.waitForOutput(/control socket ready/, 30_000);
  });

  after(async () => {
    await daemon?.stop();
    await configured?.close();
    await added?.close();
    await saved?.close();
    await dir?.cleanup();
  });

  test("the socket is the daemon user's only: mode 0600", async () => {
    const st = await stat(controlPath());
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
  });

  test("source list shows the configured source", async () => {
    const r = await ctl(configPath, ["source", "list"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`server +127\\.0\\.0\\.1:${configured.port} +config`));
  });

  test("source add starts a source that polls its server and shows in the observation", async () => {
    const address = `127.0.0.1:${added.port}`;
    const r = await ctl(configPath, [
      "source",
      "add",
      "server",
      address,
      "poll-interval-limits={min=0,max=0}",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`added server source ${address}`));
    const list = await ctl(configPath, ["source", "list"]);
    assert.match(list.stdout, new RegExp(`server +${address.replace(/\./g, "\\.")} +runtime`));
    await waitFor(
      async () => ((await observe()).sources.some((s) => s.address === address) ? true : undefined),
      {
        timeoutMs: 20_000,
        what: "the added source in the observation",
      },
    );
    await waitFor(() => (added.requests >= 2 ? true : undefined), {
      timeoutMs: 30_000,
      what: "requests to the added server",
    });
    assert.equal(await readFile(configPath, "utf8"), original, "the file is not written");
  });

  test("the same source twice is refused", async () => {
    const r = await ctl(configPath, ["source", "add", "server", `127.0.0.1:${added.port}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /exists already/);
  });

  test("a table the schema refuses is refused with the schema's words, nothing added", async () => {
    const before = (await observe()).sources.length;
    const bad = await ctl(configPath, ["source", "add", "server", "127.0.0.1:1", "pol-interval=3"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unknown key "pol-interval"/);
    const mode = await ctl(configPath, ["source", "add", "sever", "127.0.0.1:1"]);
    assert.equal(mode.code, 1);
    assert.match(mode.stderr, /"sever"/);
    const limits = await ctl(configPath, [
      "source",
      "add",
      "server",
      "127.0.0.1:1",
      "poll-interval-limits={min=8,max=4}",
    ]);
    assert.equal(limits.code, 1);
    assert.match(limits.stderr, /poll-interval-limits/);
    assert.equal((await observe()).sources.length, before);
  });

  test("source remove by address stops the source and its polls", async () => {
    const address = `127.0.0.1:${added.port}`;
    const r = await ctl(configPath, ["source", "remove", address]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /removed server source/);
    const o = await observe();
    assert.ok(!o.sources.some((s) => s.address === address), "gone from the observation");
    // Bounded wait: with a 1 s poll, 4 s without a request means it stopped.
    const count = added.requests;
    await new Promise((r) => setTimeout(r, 4_000));
    assert.ok(added.requests <= count + 1, `no more polls (${count} → ${added.requests})`);
    const again = await ctl(configPath, ["source", "remove", address]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no source has the address/);
  });

  test("--save appends a marked table; remove --save takes it out again", async () => {
    const address = `127.0.0.1:${saved.port}`;
    const r = await ctl(configPath, ["source", "add", "server", address, "--save"]);
    assert.equal(r.code, 0, r.stderr);
    const text = await readFile(configPath, "utf8");
    assert.ok(text.startsWith(original));
    assert.match(text, /# Added by `ntp-ctl source add --save`/);
    const parsed = parseConfig(text, configPath);
    assert.ok(parsed.ok);
    assert.equal(parsed.config.sources.length, 2);
    const gone = await ctl(configPath, ["source", "remove", address, "--save"]);
    assert.equal(gone.code, 0, gone.stderr);
    assert.equal(await readFile(configPath, "utf8"), original);
  });

  test("remove --save refuses a table the operator wrote, and changes nothing", async () => {
    const address = `127.0.0.1:${configured.port}`;
    const r = await ctl(configPath, ["source", "remove", address, "--save"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not one ntp-ctl added/);
    assert.equal(await readFile(configPath, "utf8"), original);
    const list = await ctl(configPath, ["source", "list"]);
    assert.match(list.stdout, new RegExp(`127\\.0\\.0\\.1:${configured.port} +config`));
  });

  test("source remove by the id ntp-ctl status shows", async () => {
    const o = await observe();
    const source = o.sources.find((s) => s.address === `127.0.0.1:${configured.port}`);
    assert.ok(source);
    const r = await ctl(configPath, ["source", "remove", String(source.id)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await observe()).sources.length, 0);
  });

  test("malformed requests get an error reply, are counted, and the daemon serves on", async () => {
    const cases: [Buffer, RegExp][] = [
      [frame("not json"), /not JSON/],
      [frame("[1]"), /not a JSON object/],
      [frame('{"command":"reboot"}'), /unknown command "reboot"/],
      [frame('{"command":"source-add"}'), /needs a non-empty "source"/],
      [frame('{"command":"source-list","x":1}'), /unknown request field "x"/],
      [Buffer.from("ffffffffffffffff", "hex"), /message too large/],
      [frame('{"command":"source-add","source":"[[source]]\\nmode = 3"}'), /mode/],
    ];
    for (const [bytes, pattern] of cases) {
      const reply = replyOf(await raw(controlPath(), bytes));
      assert.equal(reply.ok, false);
      assert.match(reply.error ?? "", pattern);
    }
    const list = await ctl(configPath, ["source", "list"]);
    assert.equal(list.code, 0, list.stderr);
    const counted = /(\d+) malformed/.exec(list.stdout);
    assert.ok(counted && Number(counted[1]) >= 6, list.stdout);
    assert.equal(daemon.exitStatus(), undefined, "still running");
  });

  test("a client that sends nothing is disconnected after the time limit", async () => {
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect(controlPath());
      const timer = setTimeout(() => {
        socket.destroy();
        resolve("still open after 15 s");
      }, 15_000);
      socket.on("error", () => {});
      socket.once("close", () => {
        clearTimeout(timer);
        resolve("closed by the daemon");
      });
    });
    assert.equal(outcome, "closed by the daemon");
  });

  test(
    "permission: a non-member is refused by the kernel",
    { skip: process.getuid?.() !== 0 && "needs root to run a child as another user" },
    async () => {
      assert.equal(await connectAs(controlPath(), NOBODY), "EACCES");
    },
  );

  test("without control-path, ntp-ctl source says there is no control socket", async () => {
    const other = dir.file("plain.toml");
    await writeFile(other, '[observability]\nlog-level = "info"\n');
    const r = await ctl(other, ["source", "list"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /sets no \[observability\] control-path/);
  });
});

describe("control-group", { timeout: 120_000 }, () => {
  test(
    "the socket is 0660 and the group's; a member may use it, others may not",
    {
      skip:
        process.getuid?.() !== 0 &&
        "needs root to chown the socket and run a child as another user",
    },
    async () => {
      const dir = await makeTempDir("ntpd-ts-control-group-");
      await chmod(dir.path, 0o755);
      const path = dir.file("control");
      const daemon = await startDaemon(
        dir,
        "grouped",
        `[observability]\nlog-level = "info"\ncontrol-path = "${path}"\ncontrol-group = ${NOBODY}\n`,
      );
      try {
        await daemon.waitForOutput(/control socket ready/, 30_000);
        // No configured source, but sources may come: the discipline is there for them.
        assert.match(daemon.output(), /the discipline steers a virtual clock/);
        const st = await stat(path);
        assert.equal(st.mode & 0o777, 0o660);
        assert.equal(st.gid, NOBODY);
        assert.equal(await connectAs(path, NOBODY), "ok");
        // uid 65534 in group 0 (root's, which the socket does not belong to): refused.
        assert.equal(await connectAs(path, 0), "EACCES");
      } finally {
        await daemon.stop();
        await dir.cleanup();
      }
    },
  );
});
