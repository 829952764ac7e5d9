// Markdown -> roff (man(7) macros) for the subset docs/ntp-daemon.md, ntp-ctl.md,
// ntp-metrics-exporter.md and ntp.toml.md are written in: ATX headings, paragraphs,
// fenced code blocks, "-" lists, definition lists (a term line, then ": text"), pipe
// tables, `code`, *emphasis*, **strong** and [links](target). Anything else is an
// error naming the line, so a doc never silently renders wrong as a man page.
//
// Why our own converter rather than pandoc: the subset is small and fixed, the
// pages can be regenerated anywhere `npm ci` ran (no 200 MB Haskell toolchain in
// Debian's build dependencies or on a developer's machine), the output is plain
// ASCII (every other character becomes a \[uXXXX] escape, so groff needs no
// preconv), and tables come out as tagged paragraphs that read well at 80 columns
// instead of tbl(1) tables whose 4 columns would wrap into a few letters each.

export interface ManPage {
  /** The program or file name, e.g. "ntp-daemon". */
  name: string;
  /** The manual section, 5 or 8. */
  section: number;
  /** The one line after the name in NAME. */
  summary: string;
  /** Title of the manual shelf: "System Manager's Manual", "File Formats Manual". */
  manual: string;
  /** Source file, relative to the repository root, for messages and the header comment. */
  source: string;
  /** Level-2 headings (their plain text) left out of the page, e.g. a table of contents. */
  skipSections?: readonly string[];
}

export interface ConvertOptions {
  /** "ntpd-ts 0.1.0": the page footer's source. */
  sourceLine: string;
  /** Markdown files (basename) that are man pages themselves, with their section: links to them render as name(N). */
  manLinks: ReadonlyMap<string, { name: string; section: number }>;
  /** How to regenerate, for the header comment. */
  regenerate: string;
}

export class MarkdownSubsetError extends Error {}

// ---- inline text -----------------------------------------------------------

/** Escapes text for roff: backslashes and every non-ASCII character. */
function escapeText(text: string, { code }: { code: boolean }): string {
  let out = "";
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch === "\\") out += "\\e";
    else if (ch === "-" && code)
      out += "\\-"; // a real minus: options must copy-paste
    else if (cp > 0x7e || (cp < 0x20 && ch !== "\t" && ch !== "\n"))
      out += `\\[u${cp.toString(16).toUpperCase().padStart(4, "0")}]`;
    else out += ch;
  }
  return out;
}

function plainOfLinkText(text: string): string {
  return text.replace(/[`*]/g, "");
}

/** Converts one paragraph's inline markdown to roff text (fonts as \f escapes). */
export function inline(text: string, opts: ConvertOptions, where: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    let m: RegExpExecArray | null;
    if ((m = /^(`+)([\s\S]*?[^`])\1(?!`)/.exec(rest))) {
      out += `\\fB${escapeText(m[2]!.trim(), { code: true })}\\fR`;
      i += m[0].length;
    } else if ((m = /^\*\*([^*]+?)\*\*/.exec(rest))) {
      out += `\\fB${inlineNoFont(m[1]!, opts, where)}\\fR`;
      i += m[0].length;
    } else if ((m = /^\*([^*\s][^*]*?)\*/.exec(rest))) {
      out += `\\fI${inlineNoFont(m[1]!, opts, where)}\\fR`;
      i += m[0].length;
    } else if ((m = /^\[([^\]]+)\]\(([^)\s]+)\)/.exec(rest))) {
      out += link(m[1]!, m[2]!, opts, where);
      i += m[0].length;
    } else if ((m = /^<(https?:\/\/[^>\s]+)>/.exec(rest))) {
      out += `\\fI${escapeText(m[1]!, { code: false })}\\fR`;
      i += m[0].length;
    } else if ((m = /^\\([\\`*_[\]|#<>!-])/.exec(rest))) {
      out += escapeText(m[1]!, { code: false });
      i += m[0].length;
    } else {
      const next = rest.slice(1).search(/[`*[<\\]/);
      const chunk = next < 0 ? rest : rest.slice(0, next + 1);
      out += escapeText(chunk, { code: false });
      i += chunk.length;
    }
  }
  return out;
}

/** Inside **...** or *...*: code spans and links still work, fonts do not nest. */
function inlineNoFont(text: string, opts: ConvertOptions, where: string): string {
  return inline(text, opts, where).replace(/\\f[BIR]/g, "");
}

function link(text: string, target: string, opts: ConvertOptions, where: string): string {
  const file = target.split("#")[0]!.replace(/^\.\//, "");
  const page = opts.manLinks.get(file);
  if (page && plainOfLinkText(text) === page.name)
    return `\\fB${escapeText(page.name, { code: true })}\\fR(${page.section})`;
  if (/^https?:\/\//.test(target))
    return `${inline(text, opts, where)} \\fI${escapeText(target, { code: false })}\\fR`;
  return inline(text, opts, where);
}

/** Heading text without markup, for .SH/.SS. */
function headingText(text: string): string {
  const plain = text.replace(/\[([^\]]+)\]\([^)]+\)/g, "$1").replace(/[`*]/g, "");
  // A heading is a macro argument: a plain " would end it.
  return headingWords(plain).replace(/"/g, "\\(dq");
}

function headingWords(plain: string): string {
  // Section names are upper case by convention; a heading that holds code keeps its case.
  if (/^[A-Za-z][A-Za-z ,'-]*$/.test(plain))
    return escapeText(plain.toUpperCase(), { code: false });
  return escapeText(plain, { code: true });
}

/** A roff text line must not start with a control character. */
function textLine(line: string): string {
  return /^[.']/.test(line) ? `\\&${line}` : line;
}

// ---- blocks ------------------------------------------------------------------

interface Line {
  text: string;
  number: number;
}

function splitRow(line: string): string[] {
  const cells: string[] = [];
  let cell = "";
  let inCode = false;
  const body = line.trim().replace(/^\|/, "").replace(/\|$/, "");
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch === "\\" && body[i + 1] === "|") {
      cell += "|";
      i++;
    } else if (ch === "`") {
      inCode = !inCode;
      cell += ch;
    } else if (ch === "|" && !inCode) {
      cells.push(cell.trim());
      cell = "";
    } else cell += ch;
  }
  cells.push(cell.trim());
  return cells;
}

const TABLE_SEPARATOR = /^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/;

/** Converts one markdown document to a man page. */
export function markdownToRoff(markdown: string, page: ManPage, opts: ConvertOptions): string {
  const lines: Line[] = markdown
    .split("\n")
    .map((text, i) => ({ text: text.replace(/\s+$/, ""), number: i + 1 }));
  // Each .SH section is collected on its own, so SYNOPSIS can go first as man(7) wants it.
  const sections: string[][] = [];
  let out: string[] = [];
  const startSection = (title: string) => {
    out = [`.SH ${title}`];
    sections.push(out);
  };
  const fail = (line: Line, why: string): never => {
    throw new MarkdownSubsetError(
      `${page.source}:${line.number}: ${why}: ${JSON.stringify(line.text)}`,
    );
  };
  const where = (line: Line) => `${page.source}:${line.number}`;
  const para = (text: string, line: Line) =>
    inline(text, opts, where(line))
      .split("\n")
      .map((l) => textLine(l.trim()))
      .join("\n");

  const header = [
    `.\\" Generated by scripts/man/gen-man.ts from ${page.source}. Do not edit: ${opts.regenerate}.`,
    `.TH ${page.name.toUpperCase()} ${page.section} "" "${escapeText(opts.sourceLine, { code: false })}" "${page.manual}"`,
    ".SH NAME",
    `${escapeText(page.name, { code: true })} \\- ${escapeText(page.summary, { code: false })}`,
  ];

  let sawTitle = false;
  let skipping = false;
  let i = 0;
  const at = (k: number) => lines[k];
  while (i < lines.length) {
    const line = lines[i]!;
    const t = line.text;
    if (t === "") {
      i++;
      continue;
    }
    if (t.startsWith("<!--")) {
      while (i < lines.length && !lines[i]!.text.includes("-->")) i++;
      i++;
      continue;
    }
    const heading = /^(#{1,3}) (.+)$/.exec(t);
    if (heading) {
      const level = heading[1]!.length;
      const text = heading[2]!;
      i++;
      if (level === 1) {
        if (sawTitle) fail(line, "a second level-1 heading");
        sawTitle = true;
        startSection("DESCRIPTION");
        continue;
      }
      if (level === 2) {
        skipping = (page.skipSections ?? []).includes(text.replace(/[`*]/g, ""));
        if (skipping) continue;
        startSection(/^usage$/i.test(text) ? "SYNOPSIS" : headingText(text));
        continue;
      }
      if (!skipping) out.push(`.SS ${headingText(text)}`);
      continue;
    }
    if (!sawTitle) fail(line, "text before the level-1 heading");
    if (/^#{4,} /.test(t)) fail(line, "headings deeper than ### are not supported");
    if (skipping) {
      i++;
      continue;
    }

    // Fenced code block.
    if (t.startsWith("```")) {
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i]!.text.startsWith("```")) {
        body.push(lines[i]!.text);
        i++;
      }
      if (i >= lines.length) fail(line, "unterminated code block");
      i++;
      out.push(".PP", ".RS 4", ".nf");
      for (const b of body) out.push(textLine(escapeText(b, { code: true })));
      out.push(".fi", ".RE");
      continue;
    }

    // Pipe table: every row a tagged paragraph.
    if (t.startsWith("|")) {
      const header = splitRow(t);
      const sep = at(i + 1);
      if (!sep || !TABLE_SEPARATOR.test(sep.text)) fail(line, "a table without its |---| line");
      i += 2;
      while (i < lines.length && lines[i]!.text.startsWith("|")) {
        const row = lines[i]!;
        const cells = splitRow(row.text);
        if (cells.length !== header.length)
          fail(row, `a table row with ${cells.length} cells, the header has ${header.length}`);
        out.push(".TP", textLine(inline(cells[0]!, opts, where(row))));
        const middle = cells.slice(1, -1).map((c, k) => {
          const label = header[k + 1]!.replace(/^./, (ch) => ch.toUpperCase());
          return `\\fI${escapeText(label, { code: false })}:\\fR ${inline(c, opts, where(row))}`;
        });
        const last = cells.length > 1 ? inline(cells[cells.length - 1]!, opts, where(row)) : "";
        const parts = [...middle, ...(last ? [last] : [])];
        parts.forEach((p, k) => {
          if (k > 0) out.push(".br");
          out.push(textLine(p));
        });
        i++;
      }
      continue;
    }

    // Bulleted or numbered list: items with continuation lines indented by two or more.
    const item = /^(\s*)([-*]|\d+\.) (.*)$/.exec(t);
    if (item) {
      if (item[1]!.length > 0) fail(line, "nested lists are not supported");
      while (i < lines.length) {
        const m = /^([-*]|\d+\.) (.*)$/.exec(lines[i]!.text);
        if (!m) break;
        const first = lines[i]!;
        const text = [m[2]!];
        i++;
        while (i < lines.length && /^ {2,}\S/.test(lines[i]!.text)) {
          if (/^\s+([-*]|\d+\.) /.test(lines[i]!.text))
            fail(lines[i]!, "nested lists are not supported");
          text.push(lines[i]!.text.trim());
          i++;
        }
        const bullet = /^\d/.test(m[1]!) ? m[1]! : "\\(bu";
        out.push(`.IP ${bullet} 4`, para(text.join("\n"), first));
      }
      continue;
    }

    if (t.startsWith(">")) fail(line, "block quotes are not supported");
    if (/^\s/.test(t)) fail(line, "an indented line outside a list or definition");

    // Paragraph, or a definition list entry when followed by ": ".
    const text: string[] = [];
    while (i < lines.length && lines[i]!.text !== "" && !lines[i]!.text.startsWith(": ")) {
      const l = lines[i]!.text;
      if (text.length > 0 && (/^(#{1,6} |```|\||[-*] |\d+\. )/.test(l) || l.startsWith("<!--")))
        break;
      text.push(l);
      i++;
    }
    if (i < lines.length && lines[i]!.text.startsWith(": ")) {
      const definition = [lines[i]!.text.slice(2)];
      const dline = lines[i]!;
      i++;
      while (i < lines.length && /^ {2,}\S/.test(lines[i]!.text)) {
        definition.push(lines[i]!.text.trim());
        i++;
      }
      out.push(".TP", para(text.join(" "), line), para(definition.join("\n"), dline));
      continue;
    }
    out.push(".PP", para(text.join("\n"), line));
  }
  if (!sawTitle) throw new MarkdownSubsetError(`${page.source}: no level-1 heading`);
  const synopsis = sections.filter((sec) => sec[0] === ".SH SYNOPSIS");
  const others = sections.filter((sec) => sec[0] !== ".SH SYNOPSIS");
  return `${[header, ...synopsis, ...others].flat().join("\n")}\n`;
}
