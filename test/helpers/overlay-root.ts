// Runs test/package/overlay-root.sh: steps on a copy-on-write view of this machine, in
// private mount, PID and network namespaces (the script says why nothing leaks out).
// For the package tests, which install and run what a package or image would.

import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";

const script = new URL("../package/overlay-root.sh", import.meta.url).pathname;

function missing(command: string, args = ["--version"]): boolean {
  return Boolean(spawnSync(command, args, { stdio: "ignore" }).error);
}

/** Why the overlay cannot be used here, or false when it can. */
export function overlayUnsupported(): string | false {
  if (process.getuid?.() !== 0) return "needs root (mount and unshare namespaces, chroot, setpriv)";
  for (const tool of ["unshare", "setpriv", "ip", "chroot"])
    if (missing(tool)) return `${tool} is missing`;
  const probe = spawnSync(
    "unshare",
    [
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      'd=$(mktemp -d) && mount -t tmpfs tmpfs "$d" && mkdir "$d/u" "$d/w" "$d/m" && ' +
        'mount -t overlay overlay -o "lowerdir=/,upperdir=$d/u,workdir=$d/w" "$d/m" && test -x "$d/m/bin/sh"; ' +
        'rc=$?; umount -R "$d" 2>/dev/null; rmdir "$d"; exit $rc',
    ],
    { encoding: "utf8", timeout: 30_000 },
  );
  return probe.status === 0
    ? false
    : `cannot mount an overlay of / in a private mount namespace: ${probe.stderr.trim()}`;
}

export interface OverlayRun {
  /** Each "=== NAME" section's text; "NAME.rc" holds a step's exit code. */
  sections: Map<string, string>;
  /** Everything the run printed, for assertion messages. */
  transcript: string;
}

/** Quotes a word for sh. */
export const shQuote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

export function runInOverlay(
  input: string,
  steps: string,
  scratch: string,
  timeoutMs: number,
): OverlayRun {
  mkdirSync(scratch, { recursive: true });
  const run = spawnSync(
    "unshare",
    [
      "--mount",
      "--propagation",
      "private",
      "--pid",
      "--fork",
      "--kill-child",
      "--mount-proc",
      "--net",
      "--",
    ].concat(["bash", script, input, scratch, steps]),
    { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20 },
  );
  const sections = new Map<string, string>();
  const parts = run.stdout.split(/^=== (.+)$/m);
  for (let i = 1; i < parts.length; i += 2) sections.set(parts[i]!.trim(), parts[i + 1]!.trim());
  return { sections, transcript: `exit ${run.status ?? run.signal}\n${run.stdout}\n${run.stderr}` };
}
