// nts-ke.test.ts again with NTS-KE on node:tls (NTPD_TS_NTS_KE_TLS=node): the fallback of a
// build without GnuTLS stays tested on a machine that has it. The variable is read when a
// server is made, so setting it before the import is enough.
process.env.NTPD_TS_NTS_KE_TLS = "node";
await import("./nts-ke.test.js");
await import("./nts-ke-outcomes.test.js");
