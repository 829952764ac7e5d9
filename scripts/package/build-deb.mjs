#!/usr/bin/env node
// `npm run package:deb [-- --out DIR]`: builds the Debian package ntpd-ts_VERSION_ARCH.deb
// with Debian's own tools (dpkg-buildpackage, debhelper; debian/), into build/deb/ by
// default. Needs: apt-get install debhelper, and a tree where `npm ci` has run (the build
// uses its node_modules; nothing is downloaded).
//
// dpkg-buildpackage writes into the tree it builds and next to it (debian/ntpd-ts/,
// debian/.debhelper/, ../*.deb), so it runs on a copy of the tracked and untracked files
// in a temporary directory, with node_modules linked in, and only the .deb comes back.

import { spawnSync } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = fileURLToPath(new URL("../..", import.meta.url));

function fail(message) {
  console.error(`package:deb: ${message}`);
  process.exit(1);
}

function has(command) {
  return !spawnSync(command, ["--version"], { stdio: "ignore" }).error;
}

/** The files git would ship: tracked ones and new ones not ignored (build/, dist/, node_modules/ are). */
function sourceFiles() {
  const r = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: root,
    encoding: "utf8",
  });
  if (r.status !== 0) fail(`git ls-files failed: ${r.stderr || r.error}`);
  return r.stdout.split("\0").filter((f) => f !== "");
}

function main() {
  const { values } = parseArgs({ options: { out: { type: "string" } } });
  const out = resolve(values.out ?? join(root, "build/deb"));
  for (const tool of ["dpkg-buildpackage", "dh"]) {
    if (!has(tool)) fail(`${tool} is missing: apt-get install debhelper (it brings dpkg-dev)`);
  }
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const changelogVersion = /^ntpd-ts \(([^)-]+)-/.exec(
    readFileSync(join(root, "debian/changelog"), "utf8"),
  )?.[1];
  if (changelogVersion !== pkg.version) {
    fail(
      `debian/changelog is at ${changelogVersion}, package.json at ${pkg.version}: add a changelog entry (dch -v ${pkg.version}-1)`,
    );
  }

  const work = mkdtempSync(join(tmpdir(), "ntpd-ts-deb-"));
  try {
    const tree = join(work, `ntpd-ts-${pkg.version}`);
    for (const file of sourceFiles()) {
      mkdirSync(dirname(join(tree, file)), { recursive: true });
      cpSync(join(root, file), join(tree, file), { verbatimSymlinks: true });
    }
    symlinkSync(join(root, "node_modules"), join(tree, "node_modules"));
    const build = spawnSync("dpkg-buildpackage", ["--build=binary", "--no-sign"], {
      cwd: tree,
      stdio: "inherit",
      env: { ...process.env, DEB_BUILD_OPTIONS: "nocheck" },
    });
    if (build.status !== 0) fail(`dpkg-buildpackage failed (exit ${build.status ?? build.signal})`);
    const debs = readdirSync(work).filter((f) => f.endsWith(".deb"));
    if (debs.length !== 1)
      fail(`expected one .deb, dpkg-buildpackage made: ${debs.join(", ") || "none"}`);
    mkdirSync(out, { recursive: true });
    cpSync(join(work, debs[0]), join(out, debs[0]));
    console.log(join(out, debs[0]));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
