// systemd readiness notification (sd_notify(3)): "READY=1", "STOPPING=1",
// "STATUS=...". Node cannot open AF_UNIX datagram sockets, so this needs the addon.

import { getAddon } from "./addon.js";

/**
 * Sends `message` to the socket named by NOTIFY_SOCKET in `env` (a path, or an
 * abstract name starting with "@"). Returns false when NOTIFY_SOCKET is unset or empty,
 * or when the addon is not loaded (status.ts says why); true when the message was
 * sent. Throws a Node-style errno error when sending fails (e.g. ECONNREFUSED: nobody
 * listening).
 */
export function sdNotify(message: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const socketPath = env.NOTIFY_SOCKET;
  if (socketPath === undefined || socketPath === "") return false;
  const addon = getAddon();
  if (addon === null) return false;
  return addon.sdNotify(message, socketPath);
}
