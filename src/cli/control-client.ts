// One request to the daemon's control socket and its reply (ntp-ctl source
// ...): connect, send the framed request, read the framed reply (at most
// MAX_CONTROL_REPLY_BYTES), disconnect; the whole exchange bounded in time.

import { connect } from "node:net";
import {
  encodeControlMessage,
  MAX_CONTROL_REPLY_BYTES,
  type ControlReply,
  type ControlRequest,
} from "../daemon/control-protocol.js";
import { ObservationFrameReader } from "../daemon/message-frame.js";

export const CONTROL_CLIENT_TIMEOUT_MS = 5_000;

export class ControlClientError extends Error {}

export function sendControlRequest(
  path: string,
  request: ControlRequest,
  timeoutMs = CONTROL_CLIENT_TIMEOUT_MS,
): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const frame = new ObservationFrameReader(MAX_CONTROL_REPLY_BYTES);
    let settled = false;
    const finish = (error: Error | null, reply?: ControlReply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(reply!);
    };
    const timer = setTimeout(
      () => finish(new ControlClientError(`no reply from ${path} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const progress = (p: ReturnType<ObservationFrameReader["push"]>) => {
      if (p.status === "incomplete") return;
      if (p.status === "error") {
        finish(new ControlClientError(`bad reply from ${path}: ${p.message}`));
        return;
      }
      try {
        const reply = JSON.parse(p.text) as ControlReply;
        if (typeof reply !== "object" || reply === null || typeof reply.ok !== "boolean") {
          throw new Error("not a reply object");
        }
        finish(null, reply);
      } catch (error) {
        finish(new ControlClientError(`bad reply from ${path}: ${(error as Error).message}`));
      }
    };
    socket.once("connect", () => socket.write(encodeControlMessage(request)));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      const hint =
        error.code === "EACCES"
          ? " (the control socket is for root, the daemon's user and control-group)"
          : error.code === "ENOENT" || error.code === "ECONNREFUSED"
            ? " (is ntp-daemon running with this control-path?)"
            : "";
      finish(
        new ControlClientError(`cannot use the control socket ${path}: ${error.message}${hint}`),
      );
    });
    socket.on("data", (chunk: Buffer) => progress(frame.push(chunk)));
    socket.on("end", () => progress(frame.end()));
  });
}
