// The clock the discipline steers: the SystemClock interface and its three clocks.
export {
  requireErrorEstimates,
  requireFinite,
  requireLeap,
  type ErrorEstimates,
  type LeapIndicator,
  type SystemClock,
} from "../../proto/clock/system-clock.js";
export {
  KernelClock,
  LEAP_STATUS,
  TAKE_CONTROL_STATUS,
  leapStatusChange,
  writeBackFrequency,
  type CanControlOptions,
  type FrequencyWriteBack,
} from "./kernel-clock.js";
export {
  CAP_SYS_TIME,
  decideControl,
  isInitialUserNamespace,
  parseCapEff,
  probeClockControl,
  type ControlProbe,
} from "./control-probe.js";
export { VirtualClock } from "./virtual-clock.js";
export {
  SimulatedClock,
  type SimulatedClockOptions,
  type SimulatedStep,
} from "../../proto/clock/simulated-clock.js";
