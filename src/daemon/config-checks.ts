// Checks of a parsed configuration against this machine: the files it names.
// The pure parser (src/proto/config) cannot look at the disk; `ntp-ctl
// validate` adds these warnings to the parser's, so a configuration the daemon
// would only half honour does not pass as good.
import type { Config, ConfigDiagnostic } from "../proto/config/index.js";
import { keyFileLocationProblem } from "./keyset-store.js";

export function machineWarnings(config: Config, file: string): ConfigDiagnostic[] {
  const warnings: ConfigDiagnostic[] = [];
  const warn = (path: string, message: string): void => {
    warnings.push({ file, line: 0, column: 0, path, message });
  };
  const keys = config.keyset.keyStoragePath;
  const keysProblem = keys === null ? null : keyFileLocationProblem(keys);
  if (keysProblem !== null) {
    warn(
      "keyset.key-storage-path",
      `[keyset].key-storage-path: the key file cannot be created (${keysProblem}); ` +
        "the daemon would serve NTS, but cookies would not survive a restart",
    );
  }
  return warnings;
}
