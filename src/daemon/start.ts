// Starting the daemon, once its configuration is valid and its log is open:
// the one place that wires the pieces together. It says which clock is
// steered (clock-choice.ts), builds the Daemon (daemon.ts) with the system
// state the servers publish, starts it, and tells systemd it is ready.
// Whatever stops the start-up is logged here as one line; the program
// (cli/ntp-daemon.ts) then exits 70, as ntpd-rs does.

import { statSync } from "node:fs";
import type { Config } from "../proto/config/types.js";
import { initialSystemState, SystemStateCell } from "../proto/system/system-state.js";
import { chooseClock, ClockControlError } from "./clock-choice.js";
import { setUpClock, ClockSetupError, type ClockSetup } from "./clock/clock-setup.js";
import type { ClockDevice } from "./clock/clock-device.js";
import { NtpTimestamp } from "../proto/time.js";
import type { WallClock } from "./wall-clock.js";
import { configPermissionProblem } from "./config-file.js";
import { Daemon } from "./daemon.js";
import { KeyFileError } from "./keyset-store.js";
import type { Logger } from "./log.js";
import { sdNotify } from "./native/notify.js";
import { nativeStatus } from "./native/status.js";
import { NtsKeListenError } from "./nts-ke-server.js";
import { ServerBindError } from "./server-task.js";
import { CredentialsError } from "./tls-credentials.js";
import { packageVersion } from "./version.js";
import { ServingThreadError } from "./workers/pool.js";

export interface StartOptions {
  config: Config;
  /** The file `config` was read from (null: none, the defaults); warned about if others may write it. */
  configPath: string | null;
  log: Logger;
  /** False (--no-clock-control): never touch the system clock, measure and serve only. */
  clockControl: boolean;
  /** The clock discipline gave up (the reason is logged, nothing was stepped): stop, exit 70. */
  onPanic: () => void;
  /**
   * Called (before null is returned) when the start failed because this machine cannot
   * honour the configuration (`[clock]`: a device or interface); the program exits 78.
   */
  onConfigError?: () => void;
}

/**
 * Starts everything `config` asks for. Resolves with the running daemon, or
 * null when it cannot start (no clock control, key file, certificates, a
 * listen address, a serving thread): the reason is logged as an error and
 * whatever had started is stopped again.
 */
export async function startDaemon(options: StartOptions): Promise<Daemon | null> {
  const { config, configPath, log } = options;
  if (configPath !== null) {
    try {
      const problem = configPermissionProblem(statSync(configPath).mode);
      if (problem) log.warn(problem, { path: configPath, fix: `chmod go-w ${configPath}` });
    } catch {
      // It was just read; a failing stat changes nothing.
    }
  }

  const native = nativeStatus();
  if (native.inUse) log.debug(native.message);
  else log.warn(native.message);

  const system = new SystemStateCell(
    initialSystemState({
      localStratum: config.synchronization.localStratum,
      referenceId: config.synchronization.referenceId,
    }),
  );
  let clockSetup: ClockSetup;
  try {
    clockSetup = setUpClock(config.clock, options.clockControl, log.child("clock"));
  } catch (error) {
    if (!(error instanceof ClockSetupError)) throw error;
    log.error(error.message);
    options.onConfigError?.();
    return null;
  }
  const { device } = clockSetup;
  let choice;
  try {
    choice = chooseClock(config, options.clockControl, system, log, options.onPanic, device);
  } catch (error) {
    clockSetup.close();
    if (!(error instanceof ClockControlError)) throw error;
    log.error(error.message);
    return null;
  }
  if (!options.clockControl && !choice.discipline) {
    log.info("clock control disabled: the system clock is never changed");
  }

  const daemon = new Daemon({
    config,
    log,
    system,
    discipline: choice.discipline ?? undefined,
    // With a clock device every time the daemon takes is the device's.
    ...(device === null ? {} : { clock: deviceWallClock(device) }),
    createSourceSocket: clockSetup.createSourceSocket,
  });
  try {
    await daemon.start();
  } catch (error) {
    if (
      error instanceof KeyFileError ||
      error instanceof CredentialsError ||
      error instanceof NtsKeListenError ||
      error instanceof ServingThreadError ||
      error instanceof ServerBindError
    ) {
      log.error(error.message);
      daemon.stop();
      clockSetup.close();
      return null;
    }
    throw error;
  }
  try {
    sdNotify("READY=1");
  } catch (error) {
    log.warn("could not notify systemd of readiness", { error: String(error) });
  }
  log.info("ntp-daemon started", { version: packageVersion(), pid: process.pid });
  return daemon;
}

/** The device's time as the daemon's wall clock (source polls, the observation's "now"). */
function deviceWallClock(device: ClockDevice): WallClock {
  return {
    now: () => {
      const t = device.read();
      return NtpTimestamp.fromUnix(t.sec, t.nsec);
    },
  };
}
