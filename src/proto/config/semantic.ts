// The checks of ntpd-rs `config.check()` (what `ntp-ctl validate` adds to parsing) and a
// few more of the same kind. They are warnings: the daemon starts, `validate` fails.
// (checkPollLimits is the one error among them: parse.ts reports it with the parse errors.)
import type { Issue } from "./fields.js";
import { getOwn, isTable } from "./toml-value.js";
import type { TomlTable } from "./toml-value.js";
import type { Config, PollIntervalLimits, SourceConfig } from "./types.js";
import { NTP_DEFAULT_PORT } from "./schema-sources.js";
import { checkControlAndCertificateTime } from "./runtime-checks.js";
import { checkClockSection } from "./clock-section.js";

/** How many sources a [[source]] may contribute: pools their count, pps none. */
export function sourceCount(source: SourceConfig): number {
  switch (source.mode) {
    case "pool":
    case "nts-pool":
      return source.count;
    case "pps":
      return 0;
    default:
      return 1;
  }
}

/** A daemon without sources and servers starts, runs and does nothing: say so. */
function checkSomethingToDo(config: Config): Issue[] {
  const serving = config.servers.length + config.ntsKeServers.length + config.csptpServers.length;
  if (config.sources.length + serving + config.ntsPoolKeServers.length > 0) return [];
  return [
    {
      path: [],
      at: "table",
      message:
        "the configuration has no [[source]], [[server]] or [[nts-ke-server]]: " +
        "the daemon would neither set the clock nor serve time",
    },
  ];
}

function checkSourceCount(config: Config, document: TomlTable): Issue[] {
  if (config.sources.length === 0) return [];
  const total = config.sources.reduce((n, s) => n + sourceCount(s), 0);
  const needed = config.synchronization.minimumAgreeingSources;
  if (total >= needed) return [];
  const sync = getOwn(document, "synchronization");
  const explicit = isTable(sync) && getOwn(sync, "minimum-agreeing-sources") !== undefined;
  const text =
    `${total} source${total === 1 ? " is" : "s are"} configured, fewer than ` +
    `minimum-agreeing-sources (${needed}${explicit ? "" : ", the default"}) that must agree ` +
    "on the time: the daemon will not change the system clock" +
    (config.sources.some((s) => s.mode === "pps")
      ? " (pps sources do not count: they only refine the time the others agree on)"
      : "");
  return [
    explicit
      ? {
          path: ["synchronization", "minimum-agreeing-sources"],
          at: "value",
          message: `[synchronization].minimum-agreeing-sources: ${text}`,
        }
      : { path: ["source", 0], at: "table", message: `[[source]]: ${text}` },
  ];
}

/**
 * CSPTP: one server listens on the [csptp] event port, so a second [[csptp-server]]
 * adds nothing.
 */
function checkCsptp(config: Config): Issue[] {
  return config.csptpServers.slice(1).map((_, i) => ({
    path: ["csptp-server", i + 1],
    at: "table",
    message:
      "[[csptp-server]]: one CSPTP server already listens on every address; " +
      "this one adds nothing",
  }));
}

function checkNtpV5(config: Config): Issue[] {
  const issues: Issue[] = [];
  config.sources.forEach((s, i) => {
    if ("ntpVersion" in s && s.ntpVersion === 5) {
      issues.push({
        path: ["source", i, "ntp-version"],
        at: "value",
        message:
          "[[source]].ntp-version: ntp-version = 5 forces the draft NTPv5 protocol, " +
          'which this source may not support; use 4 or "auto"',
      });
    }
  });
  return issues;
}

/** An nts-pool with count = 0 would never ask the pool for a server. */
function checkNtsPoolCount(config: Config): Issue[] {
  const issues: Issue[] = [];
  config.sources.forEach((s, i) => {
    if (s.mode === "nts-pool" && s.count < 1) {
      issues.push({
        path: ["source", i, "count"],
        at: "value",
        message:
          "[[source]].count: an nts-pool source with count = 0 never uses the pool; use 1 or more",
      });
    }
  });
  return issues;
}

/**
 * A pool front without back ends can only answer errors; one on an
 * [[nts-ke-server]]'s address cannot listen; a back-end timeout as long as
 * the client's leaves no time to answer the client.
 */
function checkPoolFronts(config: Config): Issue[] {
  const issues: Issue[] = [];
  const keListens = new Set(config.ntsKeServers.map((k) => `${k.listen.address}|${k.listen.port}`));
  config.ntsPoolKeServers.forEach((front, i) => {
    const at = (key: string): Issue["path"] => ["nts-pool-ke-server", i, key];
    if (front.keyExchangeServers.length === 0) {
      issues.push({
        path: at("key-exchange-servers"),
        at: "value",
        message:
          "[[nts-pool-ke-server]].key-exchange-servers: no back ends, so every client gets an error",
      });
    }
    if (keListens.has(`${front.listen.address}|${front.listen.port}`)) {
      issues.push({
        path: at("listen"),
        at: "value",
        message:
          "[[nts-pool-ke-server]].listen: an [[nts-ke-server]] listens on the same address; " +
          "only one of them can",
      });
    }
    if (front.timesourceTimeoutMs >= front.keyExchangeTimeoutMs) {
      issues.push({
        path: at("timesource-timeout-ms"),
        at: "value",
        message:
          `[[nts-pool-ke-server]].timesource-timeout-ms: ${front.timesourceTimeoutMs} ms is not ` +
          `shorter than key-exchange-timeout-ms (${front.keyExchangeTimeoutMs} ms), so a slow ` +
          "back end uses up the client's whole deadline and the next one is never tried",
      });
    }
  });
  return issues;
}

function checkNtsKeServers(config: Config): Issue[] {
  const issues: Issue[] = [];
  config.ntsKeServers.forEach((ke, i) => {
    if (ke.ntpServer !== null) return;
    const port = ke.ntpPort ?? NTP_DEFAULT_PORT;
    const missing = ke.acceptNtpVersions.filter(
      (v) => !config.servers.some((s) => s.listen.port === port && s.acceptNtpVersions.includes(v)),
    );
    if (missing.length === 0) return;
    const versions = missing.join(" and ");
    issues.push({
      path: ["nts-ke-server", i],
      at: "table",
      message:
        `[[nts-ke-server]]: no [[server]] on port ${port} accepts NTP version ${versions}, ` +
        "so clients of this key exchange server will get no time; add such a [[server]] " +
        "or set ntp-server (and ntp-port) to the NTP server they should use",
    });
  });
  return issues;
}

function limitsIssue(limits: PollIntervalLimits, path: Issue["path"], name: string): Issue[] {
  if (limits.min <= limits.max) return [];
  return [
    {
      path,
      at: "value",
      message: `${name}: min (${limits.min}) is greater than max (${limits.max})`,
    },
  ];
}

/**
 * Poll limits with min above max: no poll interval satisfies them, so a source
 * could not run. An error, not a warning (ntpd-rs only warns, then its sources
 * cannot clamp a poll interval): the daemon must not start with them.
 */
export function checkPollLimits(config: Config): Issue[] {
  const issues = limitsIssue(
    config.sourceDefaults.pollIntervalLimits,
    ["source-defaults", "poll-interval-limits"],
    "[source-defaults].poll-interval-limits",
  );
  config.sources.forEach((s, i) => {
    if ("pollIntervalLimits" in s) {
      issues.push(
        ...limitsIssue(
          s.pollIntervalLimits,
          ["source", i, "poll-interval-limits"],
          "[[source]].poll-interval-limits (with [source-defaults])",
        ),
      );
    }
  });
  return issues;
}

/** ntpd-rs warns that `measurement_noise_estimate` (sock, pps) is deprecated for `precision`. */
function checkDeprecatedNoiseKey(document: TomlTable): Issue[] {
  const sources = getOwn(document, "source");
  if (!Array.isArray(sources)) return [];
  const issues: Issue[] = [];
  sources.forEach((source, i) => {
    if (!isTable(source) || getOwn(source, "measurement_noise_estimate") === undefined) return;
    issues.push({
      path: ["source", i, "measurement_noise_estimate"],
      at: "key",
      message:
        "[[source]].measurement_noise_estimate is deprecated: write precision = its square " +
        "root (seconds, one standard deviation) instead",
    });
  });
  return issues;
}

export function checkConfig(config: Config, document: TomlTable): Issue[] {
  return [
    ...checkSomethingToDo(config),
    ...checkDeprecatedNoiseKey(document),
    ...checkSourceCount(config, document),
    ...checkNtpV5(config),
    ...checkCsptp(config),
    ...checkNtsPoolCount(config),
    ...checkPoolFronts(config),
    ...checkNtsKeServers(config),
    ...checkControlAndCertificateTime(config),
    ...checkClockSection(config),
  ];
}
