// [[nts-pool-ke-server]] (an ntpd-ts addition): an NTS pool's key exchange
// front (NTS-POOL.md, docs/nts-pool.md). ntpd-rs has no such role; the
// pendulum pool's own nts-pool-ke has one with its own file format, whose
// names are followed where they fit (timesource timeout, key exchange
// servers); the TLS keys are named as in [[nts-ke-server]].
import { list, optional, required, table, withDefault } from "./fields.js";
import { NTS_KE_DEFAULT_PORT } from "./schema-sources.js";
import { filePath, socketAddress, sourceAddress, string, usize } from "./value-types.js";

const backendTable = table({
  expected: 'a table { address = "time.example.com:4460", authentication-token = "..." }',
  fields: {
    address: required(
      "address",
      sourceAddress(NTS_KE_DEFAULT_PORT),
      "The back end's NTS-KE server (name[:port], default port 4460); TLS checks this name.",
    ),
    authenticationToken: required(
      "authentication-token",
      string,
      "Token the back end lists in its accepted-pool-authentication-tokens.",
    ),
  },
});

export const ntsPoolKeServerTable = table({
  doc: "An NTS pool key exchange front: hands clients on to back-end NTS-KE servers (experimental, an ntpd-ts addition).",
  fields: {
    listen: required("listen", socketAddress, 'TCP address, e.g. "[::]:4460".'),
    certificateChainPath: required(
      "certificate-chain-path",
      filePath,
      "PEM certificate chain for the pool's name, leaf first.",
    ),
    privateKeyPath: required(
      "private-key-path",
      filePath,
      "PEM private key (unencrypted PKCS#8, PKCS#1 or SEC1).",
    ),
    keyExchangeServers: required(
      "key-exchange-servers",
      list(backendTable, { expected: "an array of back-end tables" }),
      'The back ends, each `{ address = "name[:port]", authentication-token = "..." }`: ' +
        "`address` is its NTS-KE server (port 4460 by default; TLS checks the name), " +
        "`authentication-token` a token it lists in `accepted-pool-authentication-tokens`.",
    ),
    certificateAuthority: optional(
      "certificate-authority",
      filePath,
      "PEM file with extra trust anchors for the back ends' certificates.",
    ),
    keyExchangeTimeoutMs: withDefault(
      "key-exchange-timeout-ms",
      usize,
      5000,
      "Deadline in milliseconds for a whole client connection, back-end exchanges included.",
    ),
    timesourceTimeoutMs: withDefault(
      "timesource-timeout-ms",
      usize,
      2500,
      "Deadline in milliseconds for one exchange with a back end.",
    ),
    concurrentConnections: withDefault(
      "concurrent-connections",
      usize,
      512,
      "Maximum client connections in progress.",
    ),
  },
});
