// logrotate: the daemon writes to `log-path`; after the file is renamed,
// SIGHUP makes it open the path again, and new lines go to the new file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, rename, writeFile } from "node:fs/promises";
import { freeUdpPort } from "../helpers/ports.js";
import { spawnProcess } from "../helpers/process.js";
import { makeTempDir } from "../helpers/tmp.js";
import { waitForLogLine } from "../helpers/wait.js";
import { DAEMON_ENTRY } from "./run-daemon.js";

test("SIGHUP reopens the log file at its path", { timeout: 60_000 }, async () => {
  const dir = await makeTempDir();
  const logPath = dir.file("ntpd.log");
  const config = dir.file("ntp.toml");
  await writeFile(
    config,
    `[observability]\nlog-level = "info"\nlog-path = "${logPath}"\n\n` +
      `[[server]]\nlisten = "127.0.0.1:${await freeUdpPort()}"\n`,
  );
  const daemon = await spawnProcess(
    process.execPath,
    ["--import", "tsx", DAEMON_ENTRY, "-c", config, "--no-clock-control"],
    { name: "daemon" },
  );
  try {
    await waitForLogLine(logPath, /ntp-daemon started/, 20_000);
    await rename(logPath, `${logPath}.1`);
    process.kill(daemon.pid, "SIGHUP");
    const line = await waitForLogLine(logPath, /log file reopened/, 10_000);
    assert.match(line, /INFO/);
    const rotated = await readFile(`${logPath}.1`, "utf8");
    assert.match(rotated, /serving NTP/, "the old lines stay in the rotated file");
    assert.doesNotMatch(rotated, /log file reopened/);
  } finally {
    await daemon.stop();
    await dir.cleanup();
  }
});
