// Host names for NTS tests. A certificate names its server (the ntpd-rs
// guide's "ntpd-rs.test"), and an NTS client checks that name, so the name
// has to resolve to loopback: the guide says to add `127.0.0.1 ntpd-rs.test`
// to /etc/hosts. ensureHostsEntry does exactly that, idempotently: it only
// ever appends the one line when no line maps the name yet, never rewrites or
// removes other lines, and serialises concurrent test files with a lock file
// (/etc/hosts may be a bind mount, so no rename-into-place either).
import { lookup } from "node:dns/promises";
import { appendFile, open, readFile, stat, unlink } from "node:fs/promises";
import { sleep } from "./wait.js";

/** The name the ntpd-rs guide's certificate is issued for. */
export const GUIDE_HOST = "ntpd-rs.test";

export const HOSTS_FILE = "/etc/hosts";

export type HostsResult =
  /** The file already mapped the name (to this address) or now does. */
  | { ok: true; added: boolean }
  /** Cannot be had here; `reason` says why (for t.skip). */
  | { ok: false; reason: string };

/** The addresses `hostsText` maps `name` to (comments and aliases handled). */
export function hostsAddresses(hostsText: string, name: string): string[] {
  const out: string[] = [];
  const want = name.toLowerCase();
  for (const raw of hostsText.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") continue;
    const [address, ...names] = line.split(/\s+/);
    if (address !== undefined && names.some((n) => n.toLowerCase() === want)) out.push(address);
  }
  return out;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** Takes an exclusive lock file (bounded wait; a lock older than 30 s is stale). */
async function lock(path: string, timeoutMs = 10_000): Promise<() => Promise<void>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fh = await open(path, "wx", 0o600);
      await fh.close();
      return async () => {
        await unlink(path).catch(() => undefined);
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    try {
      if (Date.now() - (await stat(path)).mtimeMs > 30_000) {
        await unlink(path).catch(() => undefined);
        continue;
      }
    } catch {
      continue; // removed meanwhile: try again at once
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for the lock ${path}`);
    await sleep(50);
  }
}

/**
 * Makes `name` resolve to `address` through `file` (default /etc/hosts):
 * appends `ADDRESS NAME` if no line names it yet. A line mapping the name to
 * another address is left alone and reported (ok: false), as is a file we
 * may not write (not root, read-only).
 */
export async function ensureHostsEntry(
  address: string,
  name: string,
  file = HOSTS_FILE,
): Promise<HostsResult> {
  const check = (text: string | undefined): HostsResult | undefined => {
    const mapped = hostsAddresses(text ?? "", name);
    if (mapped.includes(address)) return { ok: true, added: false };
    if (mapped.length > 0) {
      return {
        ok: false,
        reason: `${file} maps ${name} to ${mapped.join(", ")}, not ${address}; the test needs ${address}`,
      };
    }
    return undefined;
  };
  const before = check(await readText(file));
  if (before) return before;
  if (process.getuid?.() !== 0 && file === HOSTS_FILE) {
    return {
      ok: false,
      reason: `${file} has no "${address} ${name}" line and only root may add it (add it by hand to run this test)`,
    };
  }
  let unlock: () => Promise<void>;
  try {
    unlock = await lock(`${file}.ntpd-ts-test.lock`);
  } catch (e) {
    return { ok: false, reason: `cannot lock ${file}: ${(e as Error).message}` };
  }
  try {
    const text = await readText(file);
    const again = check(text);
    if (again) return again;
    const sep = text === undefined || text === "" || text.endsWith("\n") ? "" : "\n";
    await appendFile(file, `${sep}${address} ${name}\n`);
    return { ok: true, added: true };
  } catch (e) {
    return {
      ok: false,
      reason: `cannot add "${address} ${name}" to ${file}: ${(e as Error).message}`,
    };
  } finally {
    await unlock();
  }
}

/**
 * ensureHostsEntry for /etc/hosts, then a check that the system resolver
 * (what every daemon here uses) really gives `address` for `name`.
 */
export async function ensureLoopbackName(
  name = GUIDE_HOST,
  address = "127.0.0.1",
): Promise<HostsResult> {
  const r = await ensureHostsEntry(address, name);
  if (!r.ok) return r;
  try {
    const all = await lookup(name, { all: true, family: 4 });
    if (!all.some((a) => a.address === address)) {
      return {
        ok: false,
        reason: `${name} resolves to ${all.map((a) => a.address).join(", ")}, not ${address}`,
      };
    }
  } catch (e) {
    return { ok: false, reason: `${name} does not resolve: ${(e as Error).message}` };
  }
  return r;
}
