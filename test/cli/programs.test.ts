// The programs as an operator runs them: exit codes, messages, validate.
import { test } from "node:test";
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { runCommand, which } from "../helpers/process.js";
import { makeTempDir, type TempDir } from "../helpers/tmp.js";
import {
  CTL_ENTRY,
  DAEMON_ENTRY,
  EXPORTER_ENTRY,
  primaryServerConfig,
  startDaemon,
} from "../daemon/run-daemon.js";
import { freeUdpPort } from "../helpers/ports.js";

function run(entry: string, args: string[]) {
  return runCommand(process.execPath, ["--import", "tsx", entry, ...args], { timeoutMs: 20_000 });
}

async function withConfig<T>(toml: string, fn: (path: string, dir: TempDir) => Promise<T>) {
  const dir = await makeTempDir();
  try {
    const path = dir.file("ntp.toml");
    await writeFile(path, toml);
    return await fn(path, dir);
  } finally {
    await dir.cleanup();
  }
}

test("ntp-ctl validate: a good file → 'Config looks good', exit 0", async () => {
  await withConfig(
    `[[source]]\nmode = "pool"\naddress = "pool.example"\ncount = 4\n\n[[server]]\nlisten = "[::]:123"\n`,
    async (path) => {
      const r = await run(CTL_ENTRY, ["validate", "-c", path]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /Config looks good/);
    },
  );
});

test("ntp-ctl validate: a mistyped key → file:line:col, did-you-mean, exit 1", async () => {
  await withConfig(
    `[[source]]\nmode = "server"\naddress = "time.example"\npoll-interval-limit = { min = 4 }\n`,
    async (path) => {
      const r = await run(CTL_ENTRY, ["validate", "-c", path]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /ntp\.toml:4:1: .*unknown key "poll-interval-limit"/);
      assert.match(r.stderr, /did you mean "poll-interval-limits"\?/);
    },
  );
});

test("ntp-ctl validate: fewer sources than minimum-agreeing-sources is a warning that fails", async () => {
  await withConfig(`[[source]]\nmode = "server"\naddress = "time.example"\n`, async (path) => {
    const r = await run(CTL_ENTRY, ["validate", "-c", path]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Warning: .*minimum-agreeing-sources/i);
  });
});

test("ntp-ctl validate: a missing file is a clear error", async () => {
  const r = await run(CTL_ENTRY, ["validate", "-c", "/nonexistent/ntp.toml"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\/nonexistent\/ntp\.toml/);
});

test("ntp-daemon: a configuration error exits 78 with the position", async () => {
  await withConfig(`[[server]]\nlisten = "not an address"\n`, async (path) => {
    const r = await run(DAEMON_ENTRY, ["-c", path]);
    assert.equal(r.code, 78);
    assert.match(r.stderr, /ntp\.toml:2:\d+: .*listen/);
  });
});

test("ntp-daemon: poll limits with min above max, or a local-stratum outside 1..16, exit 78 with the position", async () => {
  // Both used to pass the configuration and then stop the daemon with a stack
  // trace (a source cannot clamp a poll interval into reversed limits) or an
  // "internal error" (a stratum no NTP packet can carry).
  const source = `[[source]]\nmode = "server"\naddress = "127.0.0.1:9"\n`;
  await withConfig(`${source}poll-interval-limits = { min = 10, max = 4 }\n`, async (path) => {
    const r = await run(DAEMON_ENTRY, ["-c", path, "--no-clock-control"]);
    assert.equal(r.code, 78);
    assert.match(
      r.stderr,
      /ntp\.toml:4:\d+: .*poll-interval-limits.*: min \(10\) is greater than max \(4\)/,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  });
  await withConfig(`[synchronization]\nlocal-stratum = 0\n`, async (path) => {
    const r = await run(DAEMON_ENTRY, ["-c", path, "--no-clock-control"]);
    assert.equal(r.code, 78);
    assert.match(
      r.stderr,
      /ntp\.toml:2:\d+: .*local-stratum: expected an integer from 1 to 16, got 0/,
    );
  });
});

test("ntp-daemon: without CAP_SYS_TIME, sources and no --no-clock-control exit 70 with the reason", async (t) => {
  // The daemon must never steer this machine's clock in a test: run it with
  // CAP_SYS_TIME dropped (and a source that never answers), so the only thing
  // it can do is refuse to start.
  if (!which("setpriv")) {
    t.skip("setpriv (util-linux) is needed to drop CAP_SYS_TIME");
    return;
  }
  await withConfig(`[[source]]\nmode = "server"\naddress = "127.0.0.1:9"\n`, async (path) => {
    const r = await runCommand(
      "setpriv",
      [
        "--bounding-set",
        "-sys_time",
        "--inh-caps",
        "-sys_time",
        process.execPath,
        "--import",
        "tsx",
        DAEMON_ENTRY,
        "-c",
        path,
      ],
      { timeoutMs: 20_000 },
    );
    assert.equal(r.code, 70, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /cannot control the system clock/);
    assert.match(r.stdout + r.stderr, /--no-clock-control/);
  });
});

test("ntp-daemon: -v prints the version to stderr, -h the usage, a bad flag exits 78", async () => {
  const version = await run(DAEMON_ENTRY, ["-v"]);
  assert.equal(version.code, 0);
  assert.match(version.stderr, /^ntp-daemon \d+\.\d+\.\d+/);
  const help = await run(DAEMON_ENTRY, ["-h"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--no-clock-control/);
  const bad = await run(DAEMON_ENTRY, ["--frobnicate"]);
  assert.equal(bad.code, 78);
  assert.match(bad.stderr, /frobnicate/);
});

test("ntp-daemon: an unknown log level is refused", async () => {
  const r = await run(DAEMON_ENTRY, ["-l", "verbose"]);
  assert.equal(r.code, 78);
  assert.match(r.stderr, /unknown log level "verbose"/);
});

test("ntp-metrics-exporter: -v prints the version to stderr, -h the usage, a bad flag exits 1", async () => {
  const version = await run(EXPORTER_ENTRY, ["-v"]);
  assert.equal(version.code, 0);
  assert.match(version.stderr, /^ntp-metrics-exporter \d+\.\d+\.\d+/);
  const help = await run(EXPORTER_ENTRY, ["-h"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: ntp-metrics-exporter \[-c PATH\]/);
  const bad = await run(EXPORTER_ENTRY, ["--frobnicate"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /frobnicate/);
});

test("ntp-metrics-exporter: a configuration error exits 78 with the position", async () => {
  await withConfig(`[observability]\nmetrics-exporter-listen = "nowhere"\n`, async (path) => {
    const r = await run(EXPORTER_ENTRY, ["-c", path]);
    assert.equal(r.code, 78);
    assert.match(r.stderr, /ntp\.toml:2:\d+: .*metrics-exporter-listen/);
  });
});

test("ntp-ctl status: an unknown format is refused; the usage lists status", async () => {
  const r = await run(CTL_ENTRY, ["status", "-f", "json"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /invalid format option provided: json/);
  const help = await run(CTL_ENTRY, ["-h"]);
  assert.match(help.stdout, /ntp-ctl status \[-f FORMAT\] \[-c PATH\]/);
});

test("ntp-daemon: a key-storage-path in a missing directory starts, creating it (the guide's /tmp/test-nts)", async () => {
  const dir = await makeTempDir();
  try {
    const port = await freeUdpPort();
    const keys = dir.file("test-nts/nts-keys.dat");
    const daemon = await startDaemon(
      dir,
      "keys",
      `${primaryServerConfig(port)}\n[keyset]\nkey-storage-path = "${keys}"\n`,
    );
    try {
      await daemon.waitForOutput("ntp-daemon started", 20_000);
      assert.equal(statSync(dir.file("test-nts")).mode & 0o777, 0o700);
      assert.equal(statSync(keys).mode & 0o777, 0o600);
    } finally {
      await daemon.stop();
    }
    assert.doesNotMatch(daemon.output(), /internal error|ENOENT|\n\s+at /);
  } finally {
    await dir.cleanup();
  }
});

test("ntp-daemon: a key file that cannot be written is a warning; the daemon serves on", async () => {
  const dir = await makeTempDir();
  try {
    const port = await freeUdpPort();
    await writeFile(dir.file("a-file"), "");
    const daemon = await startDaemon(
      dir,
      "keys",
      `${primaryServerConfig(port)}\n[keyset]\nkey-storage-path = "${dir.file("a-file/keys")}"\n`,
    );
    try {
      await daemon.waitForOutput("ntp-daemon started", 20_000);
      assert.match(daemon.output(), /WARN.*cookies will not survive a restart.*not a directory/);
    } finally {
      await daemon.stop();
    }
    assert.doesNotMatch(daemon.output(), /internal error|\n\s+at /);
  } finally {
    await dir.cleanup();
  }
});

test("ntp-ctl validate: a key-storage-path no user can create is a warning", async () => {
  await withConfig(`[[server]]\nlisten = "127.0.0.1:123"\n`, async (path, dir) => {
    await writeFile(dir.file("a-file"), "");
    await writeFile(
      path,
      `[[server]]\nlisten = "127.0.0.1:123"\n\n[keyset]\nkey-storage-path = "${dir.file("a-file/keys")}"\n`,
    );
    const bad = await run(CTL_ENTRY, ["validate", "-c", path]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /Warning: .*key-storage-path.*a-file is not a directory/);
    // A directory that does not exist yet is fine: the daemon creates it.
    await writeFile(
      path,
      `[[server]]\nlisten = "127.0.0.1:123"\n\n[keyset]\nkey-storage-path = "${dir.file("new/keys")}"\n`,
    );
    const good = await run(CTL_ENTRY, ["validate", "-c", path]);
    assert.equal(good.code, 0, good.stderr);
  });
});

test("ntp-daemon: a [[server]] port in use exits 70 with one line, as an NTS-KE port in use does", async () => {
  const { createSocket } = await import("node:dgram");
  const holder = createSocket("udp4");
  await new Promise<void>((resolve) => holder.bind(0, "127.0.0.1", resolve));
  const port = holder.address().port;
  try {
    await withConfig(`[[server]]\nlisten = "127.0.0.1:${port}"\n`, async (path) => {
      const r = await run(DAEMON_ENTRY, ["-c", path, "--no-clock-control"]);
      assert.equal(r.code, 70, r.stdout + r.stderr);
      const errors = (r.stdout + r.stderr).split("\n").filter((l) => /ERROR|error/.test(l));
      assert.equal(errors.length, 1, r.stdout + r.stderr);
      assert.match(
        errors[0]!,
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(UDP\\): the address is in use`),
      );
      assert.doesNotMatch(r.stdout + r.stderr, /retrying|\n\s+at /);
    });
  } finally {
    holder.close();
  }
});

test("ntp-metrics-exporter: a listen address it cannot bind exits 70 with one line", async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  const port = (blocker.address() as AddressInfo).port;
  try {
    for (const [listen, reason] of [
      [`127.0.0.1:${port}`, "the address is in use by another program \\(another exporter\\?\\)"],
      ["192.0.2.1:9975", "no network interface of this machine has that address"],
    ] as const) {
      await withConfig(
        `[observability]\nobservation-path = "/nonexistent/observe"\nmetrics-exporter-listen = "${listen}"\n`,
        async (path) => {
          const r = await run(EXPORTER_ENTRY, ["-c", path]);
          assert.equal(r.code, 70, `${r.stdout}${r.stderr}`);
          const errors = `${r.stdout}${r.stderr}`.split("\n").filter((l) => /ERROR/.test(l));
          assert.equal(errors.length, 1, `${r.stdout}${r.stderr}`);
          assert.match(errors[0]!, new RegExp(`cannot listen on ${listen} \\(HTTP\\): ${reason}$`));
          assert.doesNotMatch(`${r.stdout}${r.stderr}`, /\n\s+at /, "no stack trace");
        },
      );
    }
  } finally {
    blocker.close();
  }
});
