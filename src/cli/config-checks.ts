// Checks of a parsed configuration against this machine: the files it names.
// The pure parser (src/proto/config) cannot look at the disk; `ntp-ctl
// validate` adds these warnings to the parser's, so a configuration the daemon
// would only half honour does not pass as good.
import type { Config, ConfigDiagnostic } from "../proto/config/index.js";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { certificateDateProblem } from "../daemon/certificate-dates.js";
import { fsReason } from "../daemon/fs-reason.js";
import { keyFileLocationProblem } from "../daemon/keyset-store.js";
import { parseKeySet } from "../proto/nts/keyset/storage.js";
import { driftFileLocationProblem } from "../daemon/drift-file.js";
import { readLeapSecondsFile } from "../daemon/leap-file.js";
import { NTP_UNIX_OFFSET_SECONDS } from "../proto/time.js";
import { controlSocketWarnings } from "./control-checks.js";
import { clockWarnings } from "./clock-checks.js";

export function machineWarnings(config: Config, file: string): ConfigDiagnostic[] {
  const keys = keyFileWarning(config.keyset);
  return [
    ...(keys === null
      ? []
      : [{ file, line: 0, column: 0, path: "keyset.key-storage-path", message: keys }]),
    ...certificateWarnings(config, file),
    ...synchronizationFileWarnings(config, file),
    ...controlSocketWarnings(config, file),
    ...clockWarnings(config, file),
  ];
}

/** The leap-seconds file must be valid now; the drift file's directory writable. */
function synchronizationFileWarnings(config: Config, file: string): ConfigDiagnostic[] {
  const warnings: ConfigDiagnostic[] = [];
  const warn = (path: string, message: string): void => {
    warnings.push({ file, line: 0, column: 0, path, message });
  };
  const leapFile = config.synchronization.leapSecondsFile;
  if (leapFile !== null) {
    const outcome = readLeapSecondsFile(leapFile, Date.now() / 1000 + NTP_UNIX_OFFSET_SECONDS);
    if (!outcome.ok) {
      warn("synchronization.leap-seconds-file", `[synchronization] ${outcome.problem}`);
    }
  }
  const driftFile = config.synchronization.driftFile;
  const driftProblem = driftFile === null ? null : driftFileLocationProblem(driftFile);
  if (driftProblem !== null) {
    warn(
      "synchronization.drift-file",
      `[synchronization] drift-file ${driftFile}: ${driftProblem}`,
    );
  }
  return warnings;
}

/** What is wrong with the key file `[keyset]` names for this daemon's role, or null. */
function keyFileWarning(keyset: Config["keyset"]): string | null {
  const path = keyset.keyStoragePath;
  if (path === null) return null;
  if (keyset.role === "follower") {
    const problem = followedKeyFileProblem(path);
    return problem === null
      ? null
      : `[keyset].key-storage-path: ${problem}; a follower does not start without the key file its primary writes`;
  }
  const problem = keyFileLocationProblem(path);
  return problem === null
    ? null
    : `[keyset].key-storage-path: the key file cannot be created (${problem}); ` +
        "the daemon would serve NTS, but cookies would not survive a restart";
}

/** Why a follower could not load `path` now, or null when it is a valid key file. */
function followedKeyFileProblem(path: string): string | null {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    return `cannot read ${path} (${fsReason(error)})`;
  }
  const parsed = parseKeySet(bytes);
  bytes.fill(0);
  return parsed.ok ? null : `${path} is not a valid key file (${parsed.error})`;
}

function certificateWarnings(config: Config, file: string): ConfigDiagnostic[] {
  const warnings: ConfigDiagnostic[] = [];
  const warn = (path: string, message: string): void => {
    warnings.push({ file, line: 0, column: 0, path, message });
  };
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
