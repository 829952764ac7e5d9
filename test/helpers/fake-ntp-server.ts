// A scripted NTP server on 127.0.0.1 for client tests: answers each mode-3
// request as told (a clock `offsetSeconds` away from ours, a kiss, a leap
// indicator of 3, or silence), so that a client can be shown what a real
// server would rarely do on loopback: be off by minutes, refuse, not answer.
import { createSocket, type Socket } from "node:dgram";
import { decodeHeader, encodeHeader } from "../../src/proto/packet/header.js";
import { NTP_HEADER_LENGTH, NtpMode, type NtpHeader } from "../../src/proto/packet/types.js";
import { NtpTimestamp } from "../../src/proto/time.js";

export type FakeAnswer =
  /** A stratum-2 reply from a clock `offsetSeconds` ahead of ours (LI 3 with `unsynchronized`). */
  | { kind: "time"; offsetSeconds: number; unsynchronized?: boolean }
  /** A kiss-o'-death with this code. */
  | { kind: "kiss"; code: string }
  | { kind: "silence" };

export interface FakeNtpServer {
  readonly port: number;
  /** Requests received so far. */
  readonly requests: number;
  close(): Promise<void>;
}

/** Our clock (to the millisecond: the tests ask about seconds) plus `offsetSeconds`. */
function nowPlus(offsetSeconds: number): NtpTimestamp {
  const ms = Date.now();
  return NtpTimestamp.fromUnix(Math.floor(ms / 1000), (ms % 1000) * 1e6).addSeconds(offsetSeconds);
}

/** `answer(n)` decides the reply to the n-th request (0-based). */
export async function startFakeNtpServer(
  answer: (n: number) => FakeAnswer,
): Promise<FakeNtpServer> {
  const socket: Socket = createSocket("udp4");
  let requests = 0;
  socket.on("message", (msg, rinfo) => {
    if (msg.length < NTP_HEADER_LENGTH) return;
    const request = decodeHeader(new Uint8Array(msg));
    if (request.mode !== NtpMode.Client) return;
    const what = answer(requests++);
    if (what.kind === "silence") return;
    const kiss = what.kind === "kiss";
    const offset = what.kind === "time" ? what.offsetSeconds : 0;
    const reply: NtpHeader = {
      leap: what.kind === "time" && what.unsynchronized ? 3 : 0,
      version: 4,
      mode: NtpMode.Server,
      stratum: kiss ? 0 : 2,
      poll: request.poll,
      precision: -20,
      rootDelay: 0,
      rootDispersion: 0,
      referenceId: kiss ? Buffer.from(what.code, "latin1").readUInt32BE(0) : 0x7f000001,
      referenceTimestamp: kiss ? NtpTimestamp.ZERO : nowPlus(offset - 1),
      originTimestamp: request.transmitTimestamp,
      receiveTimestamp: kiss ? NtpTimestamp.ZERO : nowPlus(offset),
      transmitTimestamp: kiss ? NtpTimestamp.ZERO : nowPlus(offset),
    };
    const bytes = new Uint8Array(NTP_HEADER_LENGTH);
    encodeHeader(reply, bytes);
    socket.send(bytes, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => {
      socket.off("error", reject);
      resolve();
    });
  });
  return {
    port: socket.address().port,
    get requests() {
      return requests;
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
