// Run in a child process with the fake PPS device preloaded (fake-pps.ts): opens the
// device through the addon, fetches PROBE_PULSES pulses with a 2 s timeout, then one
// with PROBE_SHORT_TIMEOUT, and prints one JSON line per result.
import { referenceClockAddon } from "../../src/daemon/native/reference-clocks.js";

const addon = referenceClockAddon();
if ("reason" in addon) throw new Error(addon.reason);
const path = process.argv[2] ?? "";
try {
  const device = addon.ppsOpen(path);
  console.log(JSON.stringify({ opened: device }));
  for (let i = 0; i < Number(process.env.PROBE_PULSES ?? 3); i++) {
    console.log(JSON.stringify({ pulse: await addon.ppsFetch(device.fd, 2) }));
  }
  const short = Number(process.env.PROBE_SHORT_TIMEOUT ?? 0.05);
  console.log(JSON.stringify({ short: await addon.ppsFetch(device.fd, short) }));
  addon.ppsClose(device.fd);
} catch (error) {
  const e = error as { code?: string; message?: string };
  console.log(JSON.stringify({ error: { code: e.code, message: e.message } }));
}
