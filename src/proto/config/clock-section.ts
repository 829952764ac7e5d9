// `ntp-ctl validate` warnings about `[clock]` that the file alone shows (the machine's
// side, device and interface, is src/cli/clock-checks.ts; the daemon refuses to start
// on the same grounds: src/daemon/clock/clock-setup.ts).
import type { Issue } from "./fields.js";
import type { Config } from "./types.js";

export function checkClockSection(config: Config): Issue[] {
  const clock = config.clock;
  if (clock === null) return [];
  const issues: Issue[] = [];
  if (clock.timestampMode === "hardware" && (clock.interface === null || clock.clock === null)) {
    issues.push({
      path: ["clock", "timestamp-mode"],
      at: "value",
      message:
        '[clock].timestamp-mode: "hardware" needs interface (the NIC that stamps) and clock ' +
        "(that NIC's PHC, whose time the stamps are); the daemon will not start without them",
    });
  }
  if (clock.clock !== null) {
    config.sources.forEach((source, i) => {
      if (source.mode !== "sock" && source.mode !== "pps") return;
      issues.push({
        path: ["source", i, "mode"],
        at: "value",
        message:
          `[[source]] ${source.mode}: its samples are of the system clock (CLOCK_REALTIME), ` +
          `not of [clock] clock = "${clock.clock}", which the daemon steers instead`,
      });
    });
  }
  return issues;
}
