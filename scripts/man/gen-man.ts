// Generates pkg/man/*.{5,8} from docs/ (scripts/man/pages.ts lists which).
//   npm run docs:man            write the pages
//   npm run docs:man -- --check exit 1, naming the stale pages, when a page differs
// test/package/man-pages.test.ts runs the same comparison and renders the pages.

import { readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { markdownToRoff } from "./markdown-to-roff.js";
import { MAN_DIR, MAN_PAGES, manFileName } from "./pages.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** Every page's file name and the text it should have now. */
export function renderManPages(): { file: string; text: string }[] {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    name: string;
    version: string;
  };
  const manLinks = new Map(
    MAN_PAGES.map((p) => [basename(p.source), { name: p.name, section: p.section }]),
  );
  return MAN_PAGES.map((page) => ({
    file: join(MAN_DIR, manFileName(page)),
    text: markdownToRoff(readFileSync(join(root, page.source), "utf8"), page, {
      sourceLine: `${pkg.name} ${pkg.version}`,
      manLinks,
      regenerate: "run `npm run docs:man`",
    }),
  }));
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes("--check");
  const stale: string[] = [];
  for (const { file, text } of renderManPages()) {
    const path = join(root, file);
    if (readOrEmpty(path) === text) continue;
    if (check) stale.push(file);
    else {
      writeFileSync(path, text);
      console.log(`wrote ${file}`);
    }
  }
  if (stale.length > 0) {
    console.error(`stale man pages (run \`npm run docs:man\`): ${stale.join(", ")}`);
    process.exit(1);
  }
}
