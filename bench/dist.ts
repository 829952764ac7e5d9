// The bench measures our daemon as it ships: bin/ntp-daemon.js running the
// compiled dist/ (no TypeScript loader in the process, whose hooks thread
// alone would add megabytes of RSS). dist/ is rebuilt first when a source
// file is newer than it.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { runCommand } from "../test/helpers/process.js";
import { repoRoot } from "./targets.js";

const BUILT_MARK = join(repoRoot, "dist/cli/ntp-daemon.js");

function newestSourceMs(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSourceMs(p));
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts"))
      newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** Runs the build (tsc -p tsconfig.build.json) if dist/ is missing or older than src/. */
export async function ensureDistBuilt(): Promise<"fresh" | "built"> {
  if (
    existsSync(BUILT_MARK) &&
    statSync(BUILT_MARK).mtimeMs >= newestSourceMs(join(repoRoot, "src"))
  )
    return "fresh";
  const tsc = join(repoRoot, "node_modules/typescript/bin/tsc");
  const r = await runCommand(process.execPath, [tsc, "-p", "tsconfig.build.json"], {
    cwd: repoRoot,
    timeoutMs: 300000,
  });
  if (r.code !== 0) throw new Error(`building dist/ failed:\n${r.stdout}${r.stderr}`);
  return "built";
}
