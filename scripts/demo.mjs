#!/usr/bin/env node
// `npm run demo`: Network Time Security on loopback, no root, no network.
// A private CA is made on the fly in a temporary directory; one ntp-daemon
// runs an NTS-KE server and an NTP server (stratum 1 from the local clock),
// a second one is an NTS client of it and logs each authenticated
// measurement. Both run with --no-clock-control, so the system clock is never
// touched. Ctrl-C stops both and removes the temporary directory.

import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { createSocket } from "node:dgram";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "ntpd-ts-demo-"));

function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const socket = createSocket("udp4");
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

function freeTcpPort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A CA and a server certificate for 127.0.0.1 (an IP SAN: no hosts entry needed). */
function makePki() {
  const openssl = (...args) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  try {
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key");
    openssl(
      "req",
      "-x509",
      "-new",
      "-key",
      "ca.key",
      "-sha256",
      "-days",
      "2",
      "-subj",
      "/CN=ntpd-ts demo CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign",
      "-out",
      "ca.pem",
    );
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "server.key.sec1");
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", "server.key.sec1", "-out", "server.key");
    openssl("req", "-new", "-key", "server.key", "-subj", "/CN=127.0.0.1", "-out", "server.csr");
    writeFileSync(
      join(dir, "server.ext"),
      "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
    );
    openssl(
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-sha256",
      "-extfile",
      "server.ext",
      "-out",
      "server.pem",
    );
  } catch (error) {
    console.error(`could not make the demo certificates with openssl: ${error.message}`);
    console.error("install openssl (apt-get install openssl) and run the demo again");
    rmSync(dir, { recursive: true, force: true });
    process.exit(1);
  }
  writeFileSync(
    join(dir, "chain.pem"),
    readFileSync(join(dir, "server.pem"), "utf8") + readFileSync(join(dir, "ca.pem"), "utf8"),
  );
}

makePki();
const ntpPort = await freeUdpPort();
const kePort = await freeTcpPort();
const serverConfig = join(dir, "server.toml");
const clientConfig = join(dir, "client.toml");
writeFileSync(
  serverConfig,
  `# An NTS server on loopback for the demo: NTS-KE on TCP ${kePort}, NTP on UDP ${ntpPort}.
[observability]
log-level = "info"

[[server]]
listen = "127.0.0.1:${ntpPort}"

[[nts-ke-server]]
listen = "127.0.0.1:${kePort}"
certificate-chain-path = "${join(dir, "chain.pem")}"
private-key-path = "${join(dir, "server.key")}"
ntp-port = ${ntpPort}

[keyset]
key-storage-path = "${join(dir, "nts-keys")}"

[synchronization]
local-stratum = 1
reference-id = "DEMO"
`,
);
writeFileSync(
  clientConfig,
  `# An NTS client of the demo server, polling every 2 seconds.
[observability]
log-level = "info"

[[source]]
mode = "nts"
address = "127.0.0.1:${kePort}"
certificate-authority = "${join(dir, "ca.pem")}"
poll-interval-limits = { min = 1, max = 1 }

[synchronization]
minimum-agreeing-sources = 1
`,
);

const compiled = join(root, "dist/cli/ntp-daemon.js");
const daemonArgs = existsSync(compiled)
  ? [compiled]
  : ["--import", "tsx", join(root, "src/cli/ntp-daemon.ts")];

const children = [];
let stopping = false;

function run(label, config) {
  const child = spawn(process.execPath, [...daemonArgs, "-c", config, "--no-clock-control"], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const prefix = (chunk) =>
    chunk
      .toString()
      .split("\n")
      .filter((line) => line.length > 0)
      .map((line) => `[${label}] ${line}\n`)
      .join("");
  child.stdout.on("data", (chunk) => process.stdout.write(prefix(chunk)));
  child.stderr.on("data", (chunk) => process.stderr.write(prefix(chunk)));
  child.on("exit", (code, signal) => {
    if (!stopping) {
      console.error(`[${label}] exited unexpectedly (code ${code}, signal ${signal})`);
      stop(1);
    }
  });
  children.push(child);
  return child;
}

function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  const deadline = setTimeout(() => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  }, 3000);
  Promise.all(
    children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once("exit", r)))),
  ).then(() => {
    clearTimeout(deadline);
    rmSync(dir, { recursive: true, force: true });
    console.log("demo stopped; temporary files removed");
    process.exit(code);
  });
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));

console.log("ntpd-ts demo: Network Time Security on loopback.");
console.log(`  NTS-KE server 127.0.0.1:${kePort} (TLS 1.3, a private CA made just now)`);
console.log(`  NTP server    127.0.0.1:${ntpPort}, stratum 1 from this machine's clock`);
console.log("  NTS client    key exchange, then authenticated measurements every 2 s");
console.log(`Files in ${dir}; the system clock is never changed. Press Ctrl-C to stop.\n`);
run("server", serverConfig);
setTimeout(() => run("client", clientConfig), 700);
