/* global process, console, Buffer, setTimeout, clearTimeout */
// node query-ntp.mjs HOST PORT: one NTPv4 client request; prints the reply's fields as
// JSON, or {"error": ...}. For deb-overlay.sh, which runs it inside the test root with
// the machine's node (no modules needed).
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";

const [host, port] = process.argv.slice(2);
const request = Buffer.alloc(48);
request[0] = (0 << 6) | (4 << 3) | 3; // LI 0, version 4, mode 3 (client)
const transmit = randomBytes(8);
transmit.copy(request, 40);
const socket = dgram.createSocket("udp4");
const timer = setTimeout(() => {
  console.log(JSON.stringify({ error: "no reply within 10 s" }));
  socket.close();
}, 10_000);
socket.on("message", (reply) => {
  clearTimeout(timer);
  console.log(
    JSON.stringify({
      length: reply.length,
      version: (reply[0] >> 3) & 7,
      mode: reply[0] & 7,
      stratum: reply[1],
      originEchoed: reply.subarray(24, 32).equals(transmit),
      transmitSet: !reply.subarray(40, 48).equals(Buffer.alloc(8)),
    }),
  );
  socket.close();
});
socket.send(request, Number(port), host);
