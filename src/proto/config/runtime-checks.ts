// `ntp-ctl validate` warnings about the control socket and
// no-certificate-time-check: settings that would do nothing, or clash.
import type { Issue } from "./fields.js";
import type { Config } from "./types.js";

export function checkControlAndCertificateTime(config: Config): Issue[] {
  const issues: Issue[] = [];
  const { controlPath, controlGroup, observationPath } = config.observability;
  if (controlPath !== null && controlPath === observationPath) {
    issues.push({
      path: ["observability", "control-path"],
      at: "value",
      message:
        "[observability].control-path: the same path as observation-path; " +
        "the two sockets need a path each",
    });
  }
  if (controlGroup !== null && controlPath === null) {
    issues.push({
      path: ["observability", "control-group"],
      at: "value",
      message:
        "[observability].control-group: has no effect without control-path (no control socket)",
    });
  }
  const nts = config.sources.some((s) => s.mode === "nts" || s.mode === "nts-pool");
  if (config.synchronization.noCertificateTimeCheck > 0 && !nts && controlPath === null) {
    issues.push({
      path: ["synchronization", "no-certificate-time-check"],
      at: "value",
      message:
        "[synchronization].no-certificate-time-check: has no effect: there is no NTS source " +
        "(and no control-path to add one)",
    });
  }
  return issues;
}
