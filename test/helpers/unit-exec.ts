// Runs a program "as its systemd unit would", on a machine without systemd: reads the
// unit's [Service] section and turns User=, Group=, AmbientCapabilities=,
// CapabilityBoundingSet=, NoNewPrivileges=, UMask=, RuntimeDirectory= and StateDirectory=
// (with their modes) into the directories to create and a setpriv(1) command line.
// Used by test/package/deb.test.ts to start the installed package's units.

export type UnitSections = Map<string, Map<string, string[]>>;

/** systemd.syntax(7), the part our units use: sections, Key=Value, comments, repeated keys. */
export function parseUnit(text: string): UnitSections {
  const sections: UnitSections = new Map();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf("=");
    if (!current || eq <= 0) throw new Error(`not a unit directive: ${line}`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    // An empty assignment resets a list, as systemd does.
    current.set(key, value === "" ? [] : [...(current.get(key) ?? []), value]);
  }
  return sections;
}

export interface ServiceDirectory {
  path: string;
  mode: string;
  owner: string;
}

export interface ExecPlan {
  user: string;
  group: string;
  /** CAP_SYS_TIME -> sys_time, as setpriv names them. */
  ambient: string[];
  bounding: string[];
  noNewPrivileges: boolean;
  umask: string;
  directories: ServiceDirectory[];
  execStart: string[];
}

const capName = (cap: string) => cap.replace(/^CAP_/, "").toLowerCase();

export function execPlan(unit: UnitSections): ExecPlan {
  const service = unit.get("Service");
  if (!service) throw new Error("the unit has no [Service] section");
  const last = (key: string) => service.get(key)?.at(-1);
  const words = (key: string) =>
    (service.get(key) ?? []).flatMap((v) => v.split(/\s+/)).filter((w) => w !== "");
  const user = last("User");
  if (!user) throw new Error("the unit has no User=");
  const exec = last("ExecStart");
  if (!exec) throw new Error("the unit has no ExecStart=");
  const directories: ServiceDirectory[] = [];
  for (const [kind, base, defaultMode] of [
    ["RuntimeDirectory", "/run", "0755"],
    ["StateDirectory", "/var/lib", "0755"],
  ] as const) {
    for (const name of words(kind)) {
      directories.push({
        path: `${base}/${name}`,
        mode: last(`${kind}Mode`) ?? defaultMode,
        owner: user,
      });
    }
  }
  return {
    user,
    group: last("Group") ?? user,
    ambient: words("AmbientCapabilities").map(capName),
    bounding: words("CapabilityBoundingSet").map(capName),
    noNewPrivileges: last("NoNewPrivileges") === "yes",
    umask: last("UMask") ?? "0022",
    directories,
    // Our units' ExecStart= are plain words, without quoting or specifiers.
    execStart: exec.split(/\s+/),
  };
}

/** The setpriv(1) command that starts ExecStart (plus `extraArgs`) with the plan's identity and capabilities. */
export function setprivCommand(plan: ExecPlan, extraArgs: string[] = []): string[] {
  const caps = (list: string[]) => ["-all", ...list.map((c) => `+${c}`)].join(",");
  return [
    "setpriv",
    `--reuid=${plan.user}`,
    `--regid=${plan.group}`,
    "--init-groups",
    `--inh-caps=${caps(plan.ambient)}`,
    `--ambient-caps=${caps(plan.ambient)}`,
    `--bounding-set=${caps(plan.bounding)}`,
    ...(plan.noNewPrivileges ? ["--no-new-privs"] : []),
    "--",
    ...plan.execStart,
    ...extraArgs,
  ];
}
