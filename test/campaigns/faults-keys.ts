// The NTS key file's disk fills up or turns read-only at a rotation: the
// daemon keeps serving NTS-KE and NTP with the rotated keys in memory, keeps
// the old file as it was (no truncated file, no temporary left behind), says
// so in its log, and stores again once the disk is writable. The key
// directory is a small tmpfs mounted for the scenario (root only) and
// unmounted after.
import { readdir, readFile, writeFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { TrustStore } from "../../src/daemon/nts-ke-client.js";
import { runCommand } from "../helpers/process.js";
import { ntpQuery } from "../helpers/ntp-probe.js";
import { makeTempDir } from "../helpers/tmp.js";
import { sleep, waitFor } from "../helpers/wait.js";
import { honestKeyExchange } from "./ke-clients.js";
import { check, type Check, type ScenarioReport } from "./report.js";
import { startTarget } from "./target.js";

const ROTATE_S = 1;

async function run(cmd: string, args: string[]): Promise<void> {
  const r = await runCommand(cmd, args, { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr.trim()}`);
}

export async function keyFileFault(mode: "full" | "read-only"): Promise<ScenarioReport> {
  const name = mode === "full" ? "key-disk-full" : "key-read-only";
  if (process.getuid?.() !== 0) {
    return {
      scenario: name,
      offered: {},
      received: {},
      counters: {},
      rssKiB: { before: 0, after: 0 },
      checks: [check("runs as root", false, "mounting the tmpfs needs root")],
    };
  }
  const dir = await makeTempDir(`ntpd-ts-campaign-${name}-`);
  const keysDir = dir.file("keys");
  mkdirSync(keysDir);
  await run("mount", ["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", keysDir]);
  // Interrupted, the process still unmounts it, before the temp dir is removed.
  const unmountOnExit = () => {
    try {
      execFileSync("umount", [keysDir], { stdio: "ignore", timeout: 5000 });
    } catch {
      // not mounted any more
    }
  };
  process.prependOnceListener("exit", unmountOnExit);
  const keyFile = `${keysDir}/keys`;
  try {
    const target = await startTarget({
      name,
      nts: true,
      dir,
      keyset: `key-storage-path = "${keyFile}"\nkey-rotation-interval = ${ROTATE_S}`,
    });
    try {
      const trust = await TrustStore.fromFile(target.pki!.caCertPath);
      const rss0 = target.rss().rssKiB;
      // Let it store at least one rotation first.
      await waitFor(() => /rotated nts server keys/.test(target.proc.output()) || undefined, {
        timeoutMs: 10_000,
        what: "a first key rotation",
      });
      await sleep(200);
      // Break the disk.
      if (mode === "full") {
        // Fill it: writes fail with ENOSPC from here on (creating a file still works).
        await writeFile(`${keysDir}/fill`, Buffer.alloc(64 * 1024)).catch(() => undefined);
      } else {
        await run("mount", ["-o", "remount,ro", keysDir]);
      }
      const frozen = await readFile(keyFile);
      const outputMark = target.proc.output().length;
      await sleep((ROTATE_S * 3 + 0.5) * 1000);
      const during = target.proc.output().slice(outputMark);
      const storeErrors = (during.match(/could not store the rotated NTS keys/g) ?? []).length;
      const rotations = (during.match(/rotated nts server keys/g) ?? []).length;
      const fileAfter = await readFile(keyFile);
      const leftovers = (await readdir(keysDir)).filter((f) => f.endsWith(".tmp"));
      const ke = await honestKeyExchange(target.kePort, trust, 5000);
      const ntp = await ntpQuery(target.ntpPort, "127.0.0.1", 1000);
      // Repair the disk: the next rotation must be stored.
      if (mode === "full") await runCommand("rm", ["-f", `${keysDir}/fill`]);
      else await run("mount", ["-o", "remount,rw", keysDir]);
      let storedAgain = false;
      await waitFor(
        async () => ((await readFile(keyFile)).equals(frozen) ? undefined : (storedAgain = true)),
        { timeoutMs: (ROTATE_S * 3 + 2) * 1000, intervalMs: 200, what: "a stored rotation" },
      ).catch(() => undefined);
      const mem = target.rss();
      const errorLine = /could not store the rotated NTS keys.*/.exec(during)?.[0] ?? "none";
      const checks: Check[] = [
        check("daemon alive", target.alive(), target.alive() ? "still running" : "it exited"),
        check(
          "rotation goes on and the failure is logged",
          rotations >= 2 && storeErrors >= 2,
          `${rotations} rotations, ${storeErrors} "could not store" errors while the disk was ${mode}; ${errorLine.slice(0, 160)}`,
        ),
        check(
          "the old key file is kept intact",
          fileAfter.equals(frozen),
          `${frozen.length} bytes before, ${fileAfter.length} after, ${fileAfter.equals(frozen) ? "identical" : "CHANGED"}`,
        ),
        check(
          "no temporary file left behind",
          leftovers.length === 0,
          leftovers.length === 0 ? "none" : leftovers.join(", "),
        ),
        check("NTS-KE still served", ke.ok, ke.ok ? `${ke.ms} ms` : (ke.error ?? "failed")),
        check("NTP still served", ntp?.mode === 4, ntp ? `stratum ${ntp.stratum}` : "no reply"),
        check(
          "stores again once the disk is repaired",
          storedAgain,
          storedAgain ? "the key file changed at a later rotation" : "the key file never changed",
        ),
      ];
      return {
        scenario: name,
        offered: { rotation_interval_s: ROTATE_S, broken_for_s: ROTATE_S * 3 + 0.5 },
        received: { rotations, store_errors: storeErrors, ke_ok: String(ke.ok) },
        counters: { key_file_bytes: fileAfter.length },
        rssKiB: { before: rss0, after: mem.rssKiB, peak: mem.peakKiB },
        checks,
      };
    } finally {
      await target.stop();
    }
  } finally {
    await runCommand("umount", [keysDir], { timeoutMs: 10_000 });
    process.off("exit", unmountOnExit);
    await dir.cleanup();
  }
}
