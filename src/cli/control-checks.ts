// `ntp-ctl validate` on this machine: would the control socket come up?
// Its directory must exist (the daemon does not create it) and a control-group
// given by name must be in /etc/group (the daemon looks it up there).
import { readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import type { Config, ConfigDiagnostic } from "../proto/config/index.js";

export function controlSocketWarnings(
  config: Config,
  file: string,
  groupFile = "/etc/group",
): ConfigDiagnostic[] {
  const { controlPath, controlGroup } = config.observability;
  if (controlPath === null) return [];
  const warnings: ConfigDiagnostic[] = [];
  const warn = (path: string, message: string): void => {
    warnings.push({ file, line: 0, column: 0, path, message });
  };
  const dir = dirname(controlPath);
  let isDirectory = false;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch {
    // Reported below.
  }
  if (!isDirectory) {
    warn(
      "observability.control-path",
      `[observability].control-path: the directory ${dir} does not exist; the daemon would ` +
        "run without its control socket (create the directory first)",
    );
  }
  if (typeof controlGroup === "string") {
    let known = false;
    try {
      known = readFileSync(groupFile, "utf8")
        .split("\n")
        .some((line) => line.split(":")[0] === controlGroup);
    } catch {
      // Unreadable: reported as unknown.
    }
    if (!known) {
      warn(
        "observability.control-group",
        `[observability].control-group: no group "${controlGroup}" in ${groupFile}; the daemon ` +
          "would run without its control socket (give the numeric group id instead)",
      );
    }
  }
  return warnings;
}
