// The task of a sock or pps `[[source]]`.

import type { PpsSourceConfig, SockSourceConfig } from "../proto/config/types.js";
import { PpsSourceTask } from "./pps-source.js";
import type { ReferenceClockContext, ReferenceClockTask } from "./reference-clock.js";
import { SockSourceTask } from "./sock-source.js";

export function createReferenceClockTask(
  config: SockSourceConfig | PpsSourceConfig,
  context: ReferenceClockContext,
): ReferenceClockTask {
  return config.mode === "sock"
    ? new SockSourceTask(config, context)
    : new PpsSourceTask(config, context);
}
