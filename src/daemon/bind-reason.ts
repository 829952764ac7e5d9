// Why a listen address could not be bound, in words for the operator: the daemon's
// `[[server]]` sockets (server-task.ts) and the metrics exporter's HTTP listener
// (cli/metrics-http.ts) both stop with one line that says it.

const BIND_REASONS: Record<string, string> = {
  EADDRINUSE: "the address is in use by another program",
  EACCES: "permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)",
  EPERM: "permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)",
  EADDRNOTAVAIL: "no network interface of this machine has that address",
  EAFNOSUPPORT: "this machine does not support that address family",
};

/**
 * The reason for `error` (a Node error with `code`, or the addon's, which names the code
 * in its message); `inUseBy` guesses who holds an address in use ("another NTP server?").
 */
export function bindReason(error: unknown, inUseBy?: string): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const known =
    typeof code === "string" && BIND_REASONS[code] !== undefined
      ? code
      : Object.keys(BIND_REASONS).find((name) => message.includes(name));
  if (known === undefined) return message;
  const reason = BIND_REASONS[known]!;
  return known === "EADDRINUSE" && inUseBy !== undefined ? `${reason} (${inUseBy})` : reason;
}
