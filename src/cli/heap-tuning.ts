// V8 heap tuning for the long-running daemon. Imported first by
// ntp-daemon.ts, so it runs before the program allocates much.
//
// Under a high request rate V8 keeps doubling its young generation (the new
// space, two semi-spaces) up to its maximum: measured, the daemon's new space
// at 16 MiB after a minute of NTS load on Node 20, and an allocation loop's at
// 32 MiB on Node 20 and 128 MiB on Node 24 — resident memory spent on garbage
// that lives for one request. Kept at its initial size instead, it costs no
// CPU we could measure (interleaved A/B, docs/benchmark.md): a scavenge's cost
// follows what survives it, and a server's per-request garbage does not.
//
// How: --max-semi-space-size only works on the command line (the heap is
// sized when the isolate is created; set later, it does nothing — tested),
// and a command-line flag is lost whenever the program is started some other
// way than the one we planned for. The growth factor, however, is read each
// time V8 considers growing the young generation, so setting it to 1 here
// keeps the semi-spaces at their initial size, for every isolate of the
// process (worker threads too), on Node 20 and 24 alike.
import { setFlagsFromString } from "node:v8";

setFlagsFromString("--semi-space-growth-factor=1");
