// Which NTP server a key exchange sends its client to, when `[[nts-ke-server]]
// ntp-server` names several (an NTS fleet: one key exchange front, many NTP
// servers sharing its key set; docs/nts-fleet.md). Clients are spread round
// robin: every server gets the same share of new clients, which is what a
// fleet of equal servers wants, and needs no state beyond one counter. A
// client that names servers in NTP Server Deny records (an NTS pool client
// that has them already) is sent to the next server it did not deny; when it
// denied them all, to the next one anyway (it will drop the duplicate).

/** One `ntp-server` entry: the Server record's name, and its own port if it gave one. */
export interface NtpServerTarget {
  readonly host: string;
  readonly port: number | null;
}

/** What goes into the Server and Port records of one response. */
export interface ChosenNtpServer {
  server?: string;
  port?: number;
}

export class NtpServerChoice {
  #next = 0;

  /**
   * @param targets the `ntp-server` entries, in order (none: the response
   *   names no server, so the client uses the key exchange's host)
   * @param defaultPort `ntp-port`, for entries without a port of their own
   */
  constructor(
    private readonly targets: readonly NtpServerTarget[],
    private readonly defaultPort: number | null,
  ) {}

  /** The server for the next client, skipping those it denied while others remain. */
  choose(denied: readonly string[] = []): ChosenNtpServer {
    const n = this.targets.length;
    if (n === 0) return this.defaultPort === null ? {} : { port: this.defaultPort };
    const deniedNames = new Set(denied.map((name) => name.toLowerCase()));
    let index = this.#next % n;
    for (let tried = 0; tried < n; tried++) {
      const candidate = (this.#next + tried) % n;
      if (!deniedNames.has(this.targets[candidate]!.host.toLowerCase())) {
        index = candidate;
        break;
      }
    }
    this.#next = (index + 1) % n;
    const target = this.targets[index]!;
    const port = target.port ?? this.defaultPort;
    return port === null ? { server: target.host } : { server: target.host, port };
  }
}
