// ntpd-ts as a library: authenticated time for Node applications, with the
// daemon's own client code (docs/library.md).
//
//   queryTime(servers)     one round of requests: offset, delay, error bound,
//                          whether it was authenticated
//   TimeClient.start(...)  a long-lived client: cookies, polling, the filter,
//                          selection; now() is the corrected time

export { queryTime, TimeQueryError } from "./query.js";
export type { Leap, QueryOptions, ServerFailure, ServerTime, TimeQueryResult } from "./query.js";
export { TimeClient } from "./client.js";
export type {
  CorrectedTime,
  SourceChange,
  SourceState,
  TimeClientEvents,
  TimeClientOptions,
} from "./client.js";
export type { SourceIdentity } from "../daemon/daemon.js";
export type { ServerInput, ServerSpec } from "./servers.js";
