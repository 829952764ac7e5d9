// A Containerfile (Dockerfile syntax) as data, for test/package/containerfile.test.ts:
// stages, and their instructions with continuation lines joined and comments dropped.
// The subset our Containerfile uses: FROM [AS], ARG, WORKDIR, COPY [--from], RUN, USER,
// EXPOSE, ENTRYPOINT and CMD (exec form, a JSON array).

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

export interface Recipe {
  /** ARGs before the first FROM, with their defaults. */
  args: Map<string, string>;
  stages: Stage[];
}

export function parseContainerfile(text: string): Recipe {
  const recipe: Recipe = { args: new Map(), stages: [] };
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let logical = lines[i]!.trim();
    if (logical === "" || logical.startsWith("#")) continue;
    while (logical.endsWith("\\") && i + 1 < lines.length) {
      i++;
      const next = lines[i]!.trim();
      if (next.startsWith("#")) continue;
      logical = `${logical.slice(0, -1).trimEnd()} ${next}`;
    }
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(logical);
    if (!m) throw new Error(`line ${start}: not an instruction: ${logical}`);
    const keyword = m[1]!.toUpperCase();
    const args = m[2]!;
    if (keyword === "FROM") {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from) throw new Error(`line ${start}: FROM ${args}`);
      recipe.stages.push({ from: from[1]!, name: from[2], instructions: [] });
    } else if (recipe.stages.length === 0) {
      if (keyword !== "ARG") throw new Error(`line ${start}: ${keyword} before FROM`);
      const [name, value = ""] = args.split("=");
      recipe.args.set(name!, value);
    } else {
      recipe.stages.at(-1)!.instructions.push({ keyword, args, line: start });
    }
  }
  return recipe;
}

/** An exec-form argument (ENTRYPOINT, CMD): a JSON array of strings. */
export function execForm(instruction: Instruction): string[] {
  const value: unknown = JSON.parse(instruction.args);
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new Error(
      `line ${instruction.line}: ${instruction.keyword} is not in exec form (a JSON array of strings)`,
    );
  }
  return value;
}
