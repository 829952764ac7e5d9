// The man pages (pkg/man/, installed by the Debian package) are generated from docs/
// by scripts/man/gen-man.ts: they must be current, render without a single groff
// warning, and carry every section and option of their source.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { renderManPages } from "../../scripts/man/gen-man.js";
import {
  MarkdownSubsetError,
  markdownToRoff,
  type ConvertOptions,
} from "../../scripts/man/markdown-to-roff.js";
import { MAN_PAGES, manFileName } from "../../scripts/man/pages.js";

const root = new URL("../..", import.meta.url).pathname;
const groffMissing = spawnSync("groff", ["--version"]).error
  ? "groff is not installed (apt-get install groff-base)"
  : false;

function render(file: string): { text: string; warnings: string } {
  // -ww: every warning; -z: no output, only the diagnostics. Then as text, with lines too
  // long to wrap and no hyphenation, so the text can be compared with its source.
  const check = spawnSync("groff", ["-man", "-Tutf8", "-ww", "-z", file], { encoding: "utf8" });
  const text = spawnSync("groff", ["-man", "-Tutf8", "-rLL=300n", "-rHY=0", "-P", "-cbou", file], {
    encoding: "utf8",
  });
  assert.equal(check.status, 0, check.stderr);
  return { text: text.stdout, warnings: check.stderr };
}

test("pkg/man/ is what `npm run docs:man` generates from docs/ now", () => {
  for (const { file, text } of renderManPages()) {
    assert.equal(
      readFileSync(join(root, file), "utf8"),
      text,
      `${file} is stale: run \`npm run docs:man\``,
    );
  }
});

describe("every page renders", { skip: groffMissing }, () => {
  for (const page of MAN_PAGES) {
    test(`${manFileName(page)}: no groff warnings, NAME first, SYNOPSIS for programs, every section of ${page.source}`, () => {
      const { text, warnings } = render(join(root, "pkg/man", manFileName(page)));
      assert.equal(warnings, "", "groff -ww reports nothing");
      const lines = text.split("\n");
      assert.match(
        lines[0]!,
        new RegExp(`^${page.name.toUpperCase().replace(".", "\\.")}\\(${page.section}\\)`),
      );
      const headings = lines.filter((l) => /^[^\s]/.test(l)).slice(1, -1);
      assert.equal(headings[0], "NAME");
      const nameSection = lines
        .slice(1, lines.indexOf(headings[1]!))
        .join(" ")
        .replace(/\s+/g, " ")
        .trim();
      assert.equal(nameSection, `NAME ${page.name} - ${page.summary}`);
      if (page.section === 8) assert.equal(headings[1], "SYNOPSIS");
      const source = readFileSync(join(root, page.source), "utf8");
      // Every ## heading is a section (.SH, at the margin), every ### a subsection (.SS, indented).
      const wanted = [...source.matchAll(/^(##|###) (.+)$/gm)]
        .map((m) => m[2]!.replace(/[`*]/g, ""))
        .filter((h) => !(page.skipSections ?? []).includes(h) && h !== "Usage");
      assert.ok(wanted.length >= 3, "the source has sections");
      const titles = new Set(lines.map((l) => l.trim().toLowerCase()));
      for (const h of wanted)
        assert.ok(titles.has(h.toLowerCase()), `heading "${h}" of ${page.source} is in the page`);
      // No roff or markdown syntax leaks into the text.
      assert.doesNotMatch(text, /\\f[BIRP]|\\\[u|\]\(|```/);
    });
  }

  test("ntp-daemon(8) lists every option of its usage, and links to the other pages as name(N)", () => {
    const { text } = render(join(root, "pkg/man/ntp-daemon.8"));
    for (const option of ["--config", "--log-level", "--no-clock-control", "--help", "--version"]) {
      assert.ok(text.includes(option), option);
    }
    assert.ok(
      text.includes("ntp-ctl(8)") && text.includes("ntp.toml(5)"),
      "SEE ALSO names the pages",
    );
  });
});

describe("the markdown converter", () => {
  const opts: ConvertOptions = {
    sourceLine: "ntpd-ts 1.2.3",
    manLinks: new Map([["other.md", { name: "other", section: 5 }]]),
    regenerate: "run it again",
  };
  const page = {
    name: "demo",
    section: 8,
    summary: "a demo",
    manual: "Demo Manual",
    source: "demo.md",
  };
  const convert = (md: string) => markdownToRoff(md, page, opts);

  test("escapes what roff would take as commands, and every non-ASCII character", () => {
    const roff = convert("# demo\n\n.starts with a dot\n'and a quote, a \\ backslash, ± and …\n");
    assert.ok(roff.includes("\\&.starts with a dot"));
    assert.ok(roff.includes("\\&'and a quote, a \\e backslash, \\[u00B1] and \\[u2026]"));
    assert.match(roff, /^\.TH DEMO 8 "" "ntpd-ts 1\.2\.3" "Demo Manual"$/m);
  });

  test("code is bold with real minus signs; links to man pages become name(N), others their text", () => {
    const roff = convert(
      "# demo\n\nRun `demo --fast`, see [`other`](other.md#x) and [the guide](guide.md).\n",
    );
    assert.ok(roff.includes("Run \\fBdemo \\-\\-fast\\fR, see \\fBother\\fR(5) and the guide."));
  });

  test("Usage becomes SYNOPSIS, placed right after NAME; tables become tagged paragraphs", () => {
    const roff = convert(
      "# demo\n\nIntro.\n\n## Usage\n\n```\ndemo [-x]\n```\n\n## Codes\n\n| code | kind | meaning |\n|---|---|---|\n| `0` | fine | It worked. |\n",
    );
    const sh = [...roff.matchAll(/^\.SH (.+)$/gm)].map((m) => m[1]);
    assert.deepEqual(sh, ["NAME", "SYNOPSIS", "DESCRIPTION", "CODES"]);
    assert.ok(roff.includes(".TP\n\\fB0\\fR\n\\fIKind:\\fR fine\n.br\nIt worked."));
  });

  test("what the subset does not cover is an error naming file and line", () => {
    assert.throws(
      () => convert("# demo\n\n- a\n  - nested\n"),
      (e: Error) => e instanceof MarkdownSubsetError && /demo\.md:4: nested/.test(e.message),
    );
    assert.throws(() => convert("# demo\n\n> quoted\n"), /demo\.md:3: block quotes/);
    assert.throws(() => convert("# demo\n\n```\nopen\n"), /demo\.md:3: unterminated code block/);
    assert.throws(
      () => convert("# demo\n\n| a | b |\n|---|---|\n| 1 |\n"),
      /demo\.md:5: a table row with 1 cells/,
    );
    assert.throws(() => convert("no title\n"), /demo\.md:1: text before the level-1 heading/);
  });
});
