// A follower daemon ([keyset] role = "follower") as a process: it does not
// start without the primary's key file (exit 70, the reason said, no file
// made), and with it, it serves NTS with the primary's keys and takes a
// rotated file while it runs. The fleet across hosts is test/nts/fleet.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readObservation } from "../../src/cli/observation-client.js";
import { KeySetRotation, loadKeySet } from "../../src/daemon/keyset-store.js";
import { createLogger, MemorySink } from "../../src/daemon/log.js";
import { freeUdpPort } from "../helpers/ports.js";
import { makeTempDir } from "../helpers/tmp.js";
import { waitFor } from "../helpers/wait.js";
import { startDaemon } from "./run-daemon.js";

function followerConfig(keyFile: string, port: number, observation: string): string {
  return `[observability]
observation-path = "${observation}"

[[server]]
listen = "127.0.0.1:${port}"

[keyset]
role = "follower"
key-storage-path = "${keyFile}"
key-rotation-interval = 3600
`;
}

test("a follower without the primary's key file exits 70 and says why; it makes none", async () => {
  const dir = await makeTempDir("ntpd-ts-follower-");
  try {
    const keyFile = dir.file("nts-keys");
    const proc = await startDaemon(
      dir,
      "follower",
      followerConfig(keyFile, await freeUdpPort(), dir.file("observe")),
    );
    const status = await proc.exited;
    assert.equal(status.code, 70, proc.output());
    assert.match(proc.output(), /cannot load the NTS key file .*nts-keys this follower shares/);
    assert.doesNotMatch(proc.output(), /\n\s+at /, "no stack trace");
    assert.equal(existsSync(keyFile), false);
  } finally {
    await dir.cleanup();
  }
});

test("a running follower takes the primary's rotated file and shows it in its observation", async () => {
  const dir = await makeTempDir("ntpd-ts-follower-");
  try {
    const keyFile = dir.file("nts-keys");
    const keyset = { staleKeyCount: 7, keyRotationInterval: 3600, keyStoragePath: keyFile };
    const log = createLogger("error", new MemorySink());
    const now = () => Date.now() / 1000;
    const primary = new KeySetRotation(
      await loadKeySet({ ...keyset, role: "primary" }, now(), log),
      { ...keyset, role: "primary" },
      now,
      log,
    );
    const observation = dir.file("observe");
    const proc = await startDaemon(
      dir,
      "follower",
      followerConfig(keyFile, await freeUdpPort(), observation),
    );
    try {
      const first = await waitFor(
        () =>
          readObservation(observation)
            .then((o) => o.keyset)
            .catch(() => undefined),
        { timeoutMs: 30_000, what: "the follower's observation socket" },
      );
      assert.equal(first?.role, "follower");
      assert.equal(first?.primary_key_id, primary.keyset.primaryId);
      primary.rotate();
      const taken = await waitFor(
        async () => {
          const k = (await readObservation(observation)).keyset;
          return k && k.primary_key_id === primary.keyset.primaryId ? k : undefined;
        },
        { timeoutMs: 90_000, what: "the follower to take the rotated file" },
      );
      assert.equal(taken.reloads, 1);
      assert.equal(taken.late, false);
      assert.match(proc.output(), /took the primary's rotated nts server keys/);
    } finally {
      await proc.stop();
    }
  } finally {
    await dir.cleanup();
  }
});
