import { test } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KeysetConfig } from "../proto/config/types.js";
import { AeadId } from "../proto/crypto/aead.js";
import { decodeCookie, encodeCookie } from "../proto/nts/cookie/cookie.js";
import { KeySet } from "../proto/nts/keyset/keyset.js";
import { KeySetFollower, followerPollSeconds, lateAfterSeconds } from "./keyset-follower.js";
import { KeyFileError, KeySetRotation, loadKeySet, storeKeySet } from "./keyset-store.js";
import { createLogger, MemorySink, type Logger } from "./log.js";

const INTERVAL = 3600;
const NOW = 1_800_000_000;

function withDir(fn: (dir: string) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "ntpd-ts-follow-"));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

function config(path: string, role: "primary" | "follower"): KeysetConfig {
  return { staleKeyCount: 7, keyRotationInterval: INTERVAL, keyStoragePath: path, role };
}

const quiet = (): Logger => createLogger("error", new MemorySink());

/** The primary of a fleet: a rotating, storing key set at `path`, its clock under the test's control. */
async function primaryAt(path: string, clock: { now: number }): Promise<KeySetRotation> {
  const log = quiet();
  const loaded = await loadKeySet(config(path, "primary"), clock.now, log);
  return new KeySetRotation(loaded, config(path, "primary"), () => clock.now, log);
}

/** A primary storing at DIR/nts-keys and a follower of that file, on one clock the test moves. */
async function primaryAndFollower(dir: string) {
  const path = join(dir, "nts-keys");
  const clock = { now: NOW };
  const primary = await primaryAt(path, clock);
  const sink = new MemorySink();
  const follower = await KeySetFollower.load(
    config(path, "follower"),
    () => clock.now,
    createLogger("info", sink),
  );
  return { path, clock, primary, sink, follower };
}

const contents = {
  aead: AeadId.AES_SIV_CMAC_256,
  c2s: new Uint8Array(32).fill(7),
  s2c: new Uint8Array(32).fill(9),
};
const nonceBytes = (n: number) => new Uint8Array(n).fill(0x5a);

function cookieFrom(keyset: KeySet): Uint8Array {
  return encodeCookie(keyset, contents, nonceBytes);
}

test("poll period and lateness follow key-rotation-interval", () => {
  assert.equal(followerPollSeconds(86_400), 60, "at most a minute between looks");
  assert.equal(followerPollSeconds(8), 2);
  assert.equal(followerPollSeconds(1), 1, "at least a second");
  assert.equal(lateAfterSeconds(86_400), 108_000);
});

test(
  "a follower does not start without the primary's key file, and never makes one",
  withDir(async (dir) => {
    const path = join(dir, "nts-keys");
    await assert.rejects(
      KeySetFollower.load(config(path, "follower"), () => NOW, quiet()),
      (e: unknown) => e instanceof KeyFileError && /never makes keys of its own/.test(e.message),
    );
    assert.equal(existsSync(path), false, "no key file was created");
    writeFileSync(path, "not a key file", { mode: 0o600 });
    await assert.rejects(
      KeySetFollower.load(config(path, "follower"), () => NOW, quiet()),
      (e: unknown) => e instanceof KeyFileError && /key file/.test(e.message),
    );
    assert.equal(readFileSync(path, "utf8"), "not a key file", "the bad file is left as it was");
  }),
);

test(
  "the key the primary will use next is in the file a rotation before: a follower accepts its first cookies",
  withDir(async (dir) => {
    const { clock, primary, follower } = await primaryAndFollower(dir);
    assert.equal(follower.keyset.primaryId, primary.keyset.primaryId);
    // The primary rotates; the follower has not looked at the file since.
    clock.now += INTERVAL;
    primary.rotate();
    const fresh = cookieFrom(primary.keyset);
    assert.ok(decodeCookie(follower.keyset, fresh), "a cookie under the new primary key opens");
    // One more rotation without a reload: that key was not published to this follower.
    clock.now += INTERVAL;
    primary.rotate();
    assert.equal(decodeCookie(follower.keyset, cookieFrom(primary.keyset)), null);
    await follower.check();
    assert.ok(
      decodeCookie(follower.keyset, cookieFrom(primary.keyset)),
      "after the reload it does",
    );
    assert.ok(decodeCookie(follower.keyset, fresh), "and the older cookie still opens");
  }),
);

test(
  "a reload replaces the set, tells the listeners, wipes the old keys; the follower never writes",
  withDir(async (dir) => {
    const { path, clock, primary, sink, follower } = await primaryAndFollower(dir);
    const old = follower.keyset;
    const heard: number[] = [];
    follower.onRotate((keyset) => heard.push(keyset.primaryId));
    await follower.check();
    assert.deepEqual(heard, [], "an unchanged file is not taken again");
    clock.now += INTERVAL;
    primary.rotate();
    const written = statSync(path).mtimeMs;
    await follower.check();
    assert.deepEqual(heard, [primary.keyset.primaryId]);
    assert.equal(follower.keyset.primaryId, primary.keyset.primaryId);
    assert.ok(
      old.keyBytes(0).every((b) => b === 0),
      "the replaced set's keys are wiped",
    );
    assert.equal(statSync(path).mtimeMs, written, "the follower did not write the file");
    const status = follower.status();
    assert.equal(status.role, "follower");
    assert.equal(status.reloads, 1);
    assert.equal(status.storedAt, clock.now);
    assert.equal(status.late, false);
    assert.match(sink.lines.join(""), /took the primary's rotated nts server keys/);
  }),
);

test(
  "a corrupt, truncated or missing file keeps the keys in use, warns once per problem and counts",
  withDir(async (dir) => {
    const { path, clock, primary, sink, follower } = await primaryAndFollower(dir);
    const good = readFileSync(path);
    const cookie = cookieFrom(primary.keyset);
    const warnings = () => sink.lines.filter((l) => /cannot use the NTS key file/.test(l));

    writeFileSync(path, good.subarray(0, good.length - 10));
    await follower.check();
    await follower.check(); // the same problem again: counted, not said again
    assert.ok(decodeCookie(follower.keyset, cookie), "the keys in use still open cookies");
    assert.equal(warnings().length, 1);
    assert.match(warnings()[0]!, /truncated/);

    rmSync(path);
    await follower.check();
    assert.equal(warnings().length, 2);
    assert.match(warnings()[1]!, /does not exist|no such file/i);
    assert.equal(follower.status().fileErrors, 3);
    assert.ok(decodeCookie(follower.keyset, cookie));

    clock.now += INTERVAL;
    primary.rotate();
    await follower.check();
    assert.equal(follower.keyset.primaryId, primary.keyset.primaryId);
    assert.match(sink.lines.join(""), /usable again/);
  }),
);

test(
  "a file older than an interval and a quarter is late: a warning and the status say so",
  withDir(async (dir) => {
    const { clock, sink, follower } = await primaryAndFollower(dir);
    clock.now += INTERVAL;
    await follower.check();
    assert.equal(follower.status().late, false, "one interval: the next store may be on its way");
    clock.now += INTERVAL / 2;
    await follower.check();
    await follower.check();
    assert.equal(follower.status().late, true);
    const late = sink.lines.filter((l) => /the NTS key file is late/.test(l));
    assert.equal(late.length, 1, "said once while it stays late");
    assert.match(late[0]!, /age_s=5400/);
  }),
);

test(
  "a Secret volume's symlink swap is noticed without being asked (watch, or the poll within a second)",
  withDir(async (dir) => {
    // The layout Kubernetes gives a mounted Secret: nts-keys -> ..data/nts-keys,
    // ..data -> ..<timestamp>; an update writes a new directory and renames a
    // new ..data symlink over the old one.
    const source = join(dir, "primary-keys");
    const clock = { now: NOW };
    const primary = await primaryAt(source, clock);
    const volume = join(dir, "volume");
    const publish = (generation: number) => {
      const data = join(volume, `..gen${generation}`);
      mkdirSync(data, { recursive: true });
      writeFileSync(join(data, "nts-keys"), readFileSync(source), { mode: 0o600 });
      symlinkSync(`..gen${generation}`, join(volume, "..data_tmp"));
      renameSync(join(volume, "..data_tmp"), join(volume, "..data"));
    };
    publish(1);
    symlinkSync("..data/nts-keys", join(volume, "nts-keys"));
    const cfg: KeysetConfig = { ...config(join(volume, "nts-keys"), "follower") };
    cfg.keyRotationInterval = 4; // polls every second
    const follower = await KeySetFollower.load(cfg, () => clock.now, quiet());
    follower.start();
    try {
      clock.now += INTERVAL;
      primary.rotate();
      publish(2);
      const deadline = Date.now() + 10_000;
      while (follower.keyset.primaryId !== primary.keyset.primaryId && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(follower.keyset.primaryId, primary.keyset.primaryId);
      assert.equal(follower.status().reloads, 1);
    } finally {
      follower.stop();
    }
  }),
);

test(
  "the primary's file always holds the next key; an old file without one gets it, schedule kept",
  withDir(async (dir) => {
    const path = join(dir, "nts-keys");
    const clock = { now: NOW };
    const primary = await primaryAt(path, clock);
    const stored = await loadKeySet(config(path, "primary"), clock.now, quiet());
    assert.equal(stored.keyset.hasNext, true);
    assert.equal(stored.keyset.primaryId, primary.keyset.primaryId);
    clock.now += INTERVAL;
    primary.rotate();
    const after = await loadKeySet(config(path, "primary"), clock.now, quiet());
    assert.equal(after.keyset.hasNext, true, "published again after the rotation");
    assert.equal(primary.status().storedAt, clock.now);

    // A file as ntpd-rs (or ntpd-ts before publishing ahead) writes it: primary last.
    const old = join(dir, "old-keys");
    const key = (fill: number) => new Uint8Array(64).fill(fill);
    storeKeySet(
      old,
      KeySet.fromParts({ keys: [key(1), key(2)], idOffset: 5, primary: 1 }),
      NOW - 60,
    );
    const loaded = await loadKeySet(config(old, "primary"), NOW, quiet());
    new KeySetRotation(loaded, config(old, "primary"), () => NOW, quiet());
    const upgraded = await loadKeySet(config(old, "primary"), NOW, quiet());
    assert.deepEqual(upgraded.keyset.ids(), [5, 6, 7]);
    assert.equal(upgraded.keyset.primaryId, 6, "the primary key is the same");
    assert.equal(upgraded.rotatedAt, NOW - 60, "the stored time, and so the schedule, is kept");
  }),
);
