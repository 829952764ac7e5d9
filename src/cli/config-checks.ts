// Checks of a parsed configuration against this machine: the files it names.
// The pure parser (src/proto/config) cannot look at the disk; `ntp-ctl
// validate` adds these warnings to the parser's, so a configuration the daemon
// would only half honour does not pass as good.
import type { Config, ConfigDiagnostic } from "../proto/config/index.js";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { certificateDateProblem } from "../daemon/certificate-dates.js";
import { keyFileLocationProblem } from "../daemon/keyset-store.js";
import { controlSocketWarnings } from "./control-checks.js";

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
  warnings.push(...controlSocketWarnings(config, file));
  config.ntsKeServers.forEach((server, i) => {
    const path = server.certificateChainPath;
    let problem: string | null;
    try {
      problem = certificateDateProblem(new X509Certificate(readFileSync(path)), Date.now());
    } catch {
      return; // Unreadable or not PEM: the daemon refuses to start and says why.
    }
    if (problem !== null) {
      warn(
        `nts-ke-server[${i}].certificate-chain-path`,
        `[[nts-ke-server]] certificate-chain-path: the certificate in ${path} ${problem}`,
      );
    }
  });
  return warnings;
}
