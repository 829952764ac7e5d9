// V8 heap tuning for the long-running daemon. Loaded on its own by
// bin/ntp-daemon.js before the program: loading the program's modules already
// grows the young generation (to 8 MiB on Node 24). Imported first by
// ntp-daemon.ts too, for when dist/cli/ntp-daemon.js is started directly.
// Measurements: docs/benchmark.md ("Memory").
//
// Young generation. Under a high request rate V8 keeps doubling the new space
// (two semi-spaces) up to its maximum: measured, the daemon's at 16 MiB after
// a minute of NTS load on Node 20, an allocation loop's at 32 MiB on Node 20
// and 128 MiB on Node 24 — resident memory spent on garbage that lives for
// one request. The growth factor 1 keeps it at its initial size.
//
// Old generation. What survives two scavenges (TLS state of NTS-KE sessions
// in flight, mostly) is garbage soon after, but V8 lets the old generation
// grow up to 4 times its live size before the next full collection: RSS rose
// from 60 to 87 MiB in the first minutes of full load before falling back.
// Growing by 10% (V8 adds a minimum step of a few MiB anyway) keeps it at
// about 72 MiB.
//
// Neither costs CPU we could measure (interleaved A/B runs of CPU per
// response and per NTS-KE): a scavenge's cost follows what survives it, and a
// full collection of a heap of ~10 MiB takes a few milliseconds.
//
// How: --max-semi-space-size and --max-old-space-size size the heap when it
// is created, so they work only on the command line (set here, the first does
// nothing: tested), where they are lost whenever the program is started some
// other way than the one planned for. These two flags are read each time V8
// sizes a space, so setting them here works, for every isolate of the process
// (worker threads too), on Node 20 and 24.
import { setFlagsFromString } from "node:v8";

setFlagsFromString("--semi-space-growth-factor=1");
setFlagsFromString("--heap-growing-percent=10");
