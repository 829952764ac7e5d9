#!/usr/bin/env node
// Lays out ntpd-ts as it is installed, under DEST: the programs, dist/, the native
// addon and the production node_modules, in /usr/lib/ntpd-ts (one place for the whole
// app, as Debian does for programs with private modules), plus /usr/bin links.
// The Debian package (debian/rules) and the OCI image (Containerfile) both use it, so
// both install exactly the same files.
//
//   node scripts/package/stage.mjs --dest DIR [--node /usr/bin/node] [--no-bin-links]
//
// --node PATH  the interpreter the programs' "#!" line names (default: `/usr/bin/env node`,
//              whichever node is first in PATH). The Debian package names /usr/bin/node, the
//              nodejs package's, so another node in root's PATH is never used by the unit.
//
// Run after `npm run build` and `node scripts/build-addon.mjs`: it copies, it does not
// build. The addon is required here (a packaged daemon without it cannot steer the clock
// or tell systemd it is ready). node_modules is taken from the lockfile's runtime
// dependencies, without the two the addon needs only to be *built* (node-gyp and
// node-addon-api, which is headers only), so nothing is downloaded.

import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

export const APP_DIR = "/usr/lib/ntpd-ts";
export const PROGRAMS = ["ntp-daemon", "ntp-ctl", "ntp-metrics-exporter"];
const BUILD_ONLY = new Set(["node-gyp", "node-addon-api"]);

const root = fileURLToPath(new URL("../..", import.meta.url));

function fail(message) {
  console.error(`stage: ${message}`);
  process.exit(1);
}

/** The lockfile's packages a production install needs, as node_modules/... paths. */
export function runtimeModules(lock, pkg) {
  const packages = lock.packages ?? {};
  const wanted = new Set();
  const queue = Object.keys(pkg.dependencies ?? {})
    .filter((name) => !BUILD_ONLY.has(name))
    .map((name) => [name, ""]);
  while (queue.length > 0) {
    const [name, from] = queue.shift();
    // Node's resolution: the nearest node_modules up from the dependent package.
    let at = from;
    let path;
    for (;;) {
      const candidate = `${at ? `${at}/` : ""}node_modules/${name}`;
      if (packages[candidate]) {
        path = candidate;
        break;
      }
      if (!at) break;
      const i = at.lastIndexOf("/node_modules/");
      at = i < 0 ? "" : at.slice(0, i);
    }
    if (!path) {
      if (from && packages[from]?.peerDependenciesMeta?.[name]?.optional) continue;
      fail(`${name} (needed by ${from || "ntpd-ts"}) is not in package-lock.json`);
    }
    if (wanted.has(path)) continue;
    wanted.add(path);
    const entry = packages[path];
    const deps = {
      ...entry.dependencies,
      ...entry.optionalDependencies,
      ...entry.peerDependencies,
    };
    for (const dep of Object.keys(deps)) queue.push([dep, path]);
  }
  return [...wanted].sort();
}

function main() {
  const { values } = parseArgs({
    options: {
      dest: { type: "string" },
      node: { type: "string" },
      "no-bin-links": { type: "boolean" },
    },
  });
  if (!values.dest) fail("usage: stage.mjs --dest DIR [--node PATH] [--no-bin-links]");
  const dest = values.dest;
  const app = join(dest, APP_DIR);
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));

  const addon = join(root, "build/Release/ntpd_native.node");
  if (!existsSync(join(root, "dist/cli/ntp-daemon.js")))
    fail("dist/ is missing: run `npm run build` first");
  if (!existsSync(addon))
    fail("the native addon is missing: run `node scripts/build-addon.mjs` first");

  mkdirSync(app, { recursive: true });
  // Only what the programs read at run time: "type" makes dist/*.js ES modules.
  const installed = {
    name: pkg.name,
    version: pkg.version,
    description: pkg.description,
    license: pkg.license,
    type: pkg.type,
    engines: pkg.engines,
    dependencies: pkg.dependencies,
  };
  writeFileSync(join(app, "package.json"), `${JSON.stringify(installed, null, 2)}\n`);
  cpSync(join(root, "dist"), join(app, "dist"), { recursive: true });
  mkdirSync(join(app, "build/Release"), { recursive: true });
  cpSync(addon, join(app, "build/Release/ntpd_native.node"));
  chmodSync(join(app, "build/Release/ntpd_native.node"), 0o644);

  mkdirSync(join(app, "bin"), { recursive: true });
  const shebang = values.node ? `#!${values.node}` : "#!/usr/bin/env node";
  for (const program of PROGRAMS) {
    const source = readFileSync(join(root, "bin", `${program}.js`), "utf8");
    if (!source.startsWith("#!")) fail(`bin/${program}.js has no #! line`);
    const target = join(app, "bin", `${program}.js`);
    writeFileSync(target, source.replace(/^#![^\n]*/, shebang));
    chmodSync(target, 0o755);
  }

  for (const modulePath of runtimeModules(lock, pkg)) {
    cpSync(join(root, modulePath), join(app, modulePath), {
      recursive: true,
      dereference: true,
      // Executable links of nested packages point outside the copy; nothing runs them.
      filter: (src) => !src.endsWith("/.bin"),
    });
  }

  if (!values["no-bin-links"]) {
    mkdirSync(join(dest, "usr/bin"), { recursive: true });
    for (const program of PROGRAMS) {
      symlinkSync(`../lib/ntpd-ts/bin/${program}.js`, join(dest, "usr/bin", program));
    }
  }
  const modules = readdirSync(join(app, "node_modules"));
  console.log(`staged ntpd-ts ${pkg.version} in ${app} (node_modules: ${modules.join(" ")})`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
