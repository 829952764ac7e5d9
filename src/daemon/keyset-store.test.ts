import { test } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KeysetConfig } from "../proto/config/types.js";
import { encodeCookie, decodeCookie } from "../proto/nts/cookie/cookie.js";
import { AeadId } from "../proto/crypto/aead.js";
import { createLogger, MemorySink } from "./log.js";
import {
  KeyFileError,
  KeySetRotation,
  keyFileLocationProblem,
  loadKeySet,
  storeKeySet,
} from "./keyset-store.js";

function withDir(fn: (dir: string) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "ntpd-ts-keys-"));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

function config(path: string | null): KeysetConfig {
  return { staleKeyCount: 7, keyRotationInterval: 86_400, keyStoragePath: path, role: "primary" };
}

const fixedRandom = (n: number) => new Uint8Array(n).fill(0x42);
const NOW = 1_800_000_000;

test(
  "a missing key file is created 0600 with the ntpd-rs warning",
  withDir(async (dir) => {
    const path = join(dir, "keys");
    const sink = new MemorySink();
    const loaded = await loadKeySet(config(path), NOW, createLogger("info", sink));
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.match(sink.lines.join(""), /Could not load nts server keys, starting with new set/);
    assert.equal(loaded.rotatedAt, NOW);
  }),
);

test(
  "a restart with the same file accepts every cookie handed out before",
  withDir(async (dir) => {
    const path = join(dir, "keys");
    const log = createLogger("error", new MemorySink());
    const first = await loadKeySet(config(path), NOW, log);
    const contents = { aead: AeadId.AES_SIV_CMAC_512, c2s: fixedRandom(64), s2c: fixedRandom(64) };
    const cookie = encodeCookie(first.keyset, contents, fixedRandom);
    // Rotate once (stored), then "restart": load the file again.
    const rotation = new KeySetRotation(first, config(path), () => NOW + 10, log);
    rotation.rotate();
    const second = await loadKeySet(config(path), NOW + 20, log);
    const opened = decodeCookie(second.keyset, cookie);
    assert.ok(opened, "old cookie still opens after restart");
    assert.deepEqual([...opened.c2s], [...contents.c2s]);
    assert.equal(second.rotatedAt, NOW + 10, "the rotation schedule survives the restart");
  }),
);

test(
  "a corrupt key file is reported and left untouched",
  withDir(async (dir) => {
    const path = join(dir, "keys");
    writeFileSync(path, Buffer.from("this is not a key file"), { mode: 0o600 });
    const before = readFileSync(path);
    await assert.rejects(
      loadKeySet(config(path), NOW, createLogger("error", new MemorySink())),
      (error: unknown) =>
        error instanceof KeyFileError &&
        /corrupt/.test(error.message) &&
        /untouched/.test(error.message),
    );
    assert.deepEqual(readFileSync(path), before);
  }),
);

test(
  "an unreadable key file is reported and left untouched",
  withDir(async (dir) => {
    // A directory where the file should be cannot be read as a file, even by root.
    const notAFile = join(dir, "dir-keys");
    mkdirSync(notAFile);
    await assert.rejects(
      loadKeySet(config(notAFile), NOW, createLogger("error", new MemorySink())),
      (error: unknown) => error instanceof KeyFileError && /cannot read/.test(error.message),
    );
    assert.ok(statSync(notAFile).isDirectory(), "left as it was");
  }),
);

test(
  "a key file readable by others draws a warning",
  withDir(async (dir) => {
    const path = join(dir, "keys");
    const log = createLogger("error", new MemorySink());
    storeKeySet(path, (await loadKeySet(config(null), NOW, log)).keyset, NOW);
    chmodSync(path, 0o644);
    const sink = new MemorySink();
    await loadKeySet(config(path), NOW, createLogger("warn", sink));
    assert.match(sink.lines.join(""), /can be read or written by others.*mode=0644/);
  }),
);

test(
  "a missing directory of the key file is created 0700, then the file 0600",
  withDir(async (dir) => {
    // The guide's `/tmp/test-nts/nts-keys.dat` on a machine without /tmp/test-nts.
    const path = join(dir, "test-nts", "deeper", "nts-keys.dat");
    const sink = new MemorySink();
    await loadKeySet(config(path), NOW, createLogger("info", sink));
    assert.equal(statSync(join(dir, "test-nts")).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, "test-nts", "deeper")).mode & 0o777, 0o700);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.match(sink.lines.join(""), /created the directory of the NTS key file/);
  }),
);

test(
  "a key file that cannot be written is a warning: the new keys serve until the next restart",
  withDir(async (dir) => {
    // A regular file where the directory should be: no user can create the key file.
    writeFileSync(join(dir, "not-a-dir"), "");
    const path = join(dir, "not-a-dir", "nts-keys.dat");
    const sink = new MemorySink();
    const loaded = await loadKeySet(config(path), NOW, createLogger("info", sink));
    assert.equal(loaded.keyset.size, 2, "the primary key and the next one, published ahead");
    const text = sink.lines.join("");
    assert.match(text, /WARN.*could not store the NTS keys.*cookies will not survive a restart/);
    assert.match(text, /not a directory/);
    assert.doesNotMatch(text, /ENOTDIR|\.tmp/, "the reason in words, not the errno or temp name");
  }),
);

test(
  "keyFileLocationProblem names what no user could fix by running the daemon",
  withDir((dir) => {
    writeFileSync(join(dir, "file"), "");
    mkdirSync(join(dir, "subdir"));
    assert.equal(keyFileLocationProblem(join(dir, "missing", "deeper", "keys")), null);
    assert.equal(keyFileLocationProblem(join(dir, "keys")), null);
    assert.match(keyFileLocationProblem(join(dir, "file", "keys")) ?? "", /is not a directory/);
    assert.match(keyFileLocationProblem(join(dir, "subdir")) ?? "", /is a directory/);
    return Promise.resolve();
  }),
);
