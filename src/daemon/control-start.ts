// Opening the control socket when `[observability] control-path` is set.
// Failing to (no directory, unknown group) is logged and the daemon runs on
// without it, as it does without its observation socket.

import type { Config } from "../proto/config/types.js";
import { createControlHandler } from "./control-handler.js";
import { ControlServer } from "./control-server.js";
import type { Logger } from "./log.js";
import type { SourceRegistry } from "./source-registry.js";
import { groupId } from "./unix-group.js";

export async function startControlSocket(
  config: Config,
  registry: SourceRegistry,
  log: Logger,
): Promise<ControlServer | null> {
  const { controlPath, controlGroup } = config.observability;
  if (controlPath === null) return null;
  try {
    const gid = controlGroup === null ? null : await groupId(controlGroup);
    const server: ControlServer = new ControlServer({
      path: controlPath,
      gid,
      handle: createControlHandler({
        registry,
        sourceDefaults: config.sourceDefaults,
        stats: () => server.stats,
        log,
      }),
      log,
    });
    await server.start();
    return server;
  } catch (error) {
    log.error("the control socket will not be available", {
      error: error instanceof Error ? error.message : String(error),
    });
    return null;
  }
}
