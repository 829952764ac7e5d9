// Reading one observation from the daemon's socket, for `ntp-ctl status` and
// `ntp-metrics-exporter`: connect, read the u64 big-endian length and that
// many bytes of JSON, disconnect. Messages over 1 MiB are refused before they
// are read (ntpd-rs does the same), and the whole exchange is bounded in time.

import { connect } from "node:net";
import {
  MAX_OBSERVATION_BYTES,
  parseObservation,
  type Observation,
} from "../daemon/observation.js";
import { ObservationFrameReader, type ObservationFrameProgress } from "../daemon/message-frame.js";

export const DEFAULT_READ_TIMEOUT_MS = 3000;

/** Why no observation was read: no daemon (connect), a broken exchange (read), bad JSON (format). */
export class ObservationReadError extends Error {
  constructor(
    message: string,
    readonly stage: "connect" | "read" | "format",
  ) {
    super(message);
  }
}

export interface ReadOptions {
  timeoutMs?: number;
  /** Largest message accepted (default 1 MiB). */
  maxBytes?: number;
}

/** The JSON text of one message from the socket at `path`. */
export function readObservationMessage(path: string, options: ReadOptions = {}): Promise<string> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? MAX_OBSERVATION_BYTES;
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const frame = new ObservationFrameReader(maxBytes);
    let connected = false;
    let settled = false;
    const finish = (error: ObservationReadError | null, text?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(text!);
    };
    const settle = (progress: ObservationFrameProgress) => {
      if (progress.status === "complete") finish(null, progress.text);
      else if (progress.status === "error")
        finish(new ObservationReadError(progress.message, "read"));
    };
    const timer = setTimeout(
      () =>
        finish(
          new ObservationReadError(
            `no complete message from ${path} within ${timeoutMs} ms`,
            connected ? "read" : "connect",
          ),
        ),
      timeoutMs,
    );
    socket.once("connect", () => {
      connected = true;
    });
    socket.on("error", (error) =>
      finish(new ObservationReadError(describe(error), connected ? "read" : "connect")),
    );
    socket.on("data", (chunk: Buffer) => settle(frame.push(chunk)));
    socket.on("end", () => settle(frame.end()));
  });
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: "No such file or directory",
  ECONNREFUSED: "Connection refused",
  EACCES: "Permission denied",
  ENOTSOCK: "Not a socket",
  ENOTDIR: "Not a directory",
  ECONNRESET: "Connection reset by peer",
  EPIPE: "Broken pipe",
};

/** "No such file or directory (ENOENT)" rather than Node's "connect ENOENT /path". */
function describe(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  const text = code === undefined ? undefined : ERRNO_TEXT[code];
  return text === undefined ? error.message : `${text} (${code})`;
}

/** One parsed observation from the socket at `path`. */
export async function readObservation(path: string, options?: ReadOptions): Promise<Observation> {
  const text = await readObservationMessage(path, options);
  try {
    return parseObservation(text);
  } catch (error) {
    throw new ObservationReadError(
      `bad observation: ${error instanceof Error ? error.message : String(error)}`,
      "format",
    );
  }
}
