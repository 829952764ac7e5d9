#!/usr/bin/env node
// ntp-metrics-exporter [-c PATH] | -h | -v
// Serves the daemon's observation as OpenMetrics over HTTP on
// `metrics-exporter-listen` (default 127.0.0.1:9975): each request reads the
// observation socket afresh (metrics-http.ts has the HTTP details). Needs
// `observation-path`; logs to `log-path-metrics-exporter` or standard output.
// Exit codes: 1 without observation-path, 78 for a configuration error, 70 when
// the log file cannot be opened or the listen address cannot be bound.

import { MetricsHttpServer, MetricsListenError } from "./metrics-http.js";
import { sdNotify } from "../daemon/native/notify.js";
import { readObservation } from "./observation-client.js";
import {
  DEFAULT_CONFIG_PATH,
  EXIT_CONFIG,
  EXIT_SOFTWARE,
  parseCommandLine,
  UsageError,
} from "./args.js";
import { OPENMETRICS_CONTENT_TYPE, renderMetrics } from "./metrics.js";
import { configPathFor, loadProgramConfig } from "./program-config.js";
import { openProgramLog, waitForSignals } from "./program-log.js";
import { packageVersion } from "../daemon/version.js";
import { exitWith } from "./fatal.js";

const USAGE = `usage: ntp-metrics-exporter [-c PATH]
       ntp-metrics-exporter -h | -v

Serves the ntp-daemon's state as OpenMetrics over HTTP (any GET path).

Options:
  -c, --config PATH   configuration file (default ${DEFAULT_CONFIG_PATH})
  -h, --help          this help
  -v, --version       print the version
`;

/** How long one request may wait for the daemon's observation socket. */
const OBSERVATION_TIMEOUT_MS = 800;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseCommandLine(argv, {
      config: { type: "string", short: "c" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "v" },
    }));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`ntp-metrics-exporter: ${error.message}\n${USAGE}`);
    return 1;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stderr.write(`ntp-metrics-exporter ${packageVersion()}\n`);
    return 0;
  }

  const config = await loadProgramConfig(configPathFor(values.config));
  if (config === null) return EXIT_CONFIG;
  const { observability } = config;
  const observationPath = observability.observationPath;
  if (observationPath === null) {
    process.stderr.write(
      "An observation socket path must be configured using the observation-path option " +
        "in the [observability] section of the configuration\n",
    );
    return 1;
  }

  const programLog = openProgramLog(
    "ntp-metrics-exporter",
    observability.logLevel,
    observability.logPathMetricsExporter,
    observability.ansiColors,
  );
  if (programLog === null) return EXIT_SOFTWARE;
  const { fileSink } = programLog;
  const log = programLog.log.child("ntp-metrics-exporter");

  const listen = observability.metricsExporterListen;
  const server = new MetricsHttpServer({
    address: listen.address,
    port: listen.port,
    log,
    metrics: async () => ({
      body: await renderMetrics(
        await readObservation(observationPath, { timeoutMs: OBSERVATION_TIMEOUT_MS }),
      ),
      openMetricsType: OPENMETRICS_CONTENT_TYPE,
    }),
  });
  log.info("starting ntp-metrics-exporter", {
    listen: server.listenText,
    observation_path: observationPath,
    version: packageVersion(),
  });
  const stopping = waitForSignals({ log, fileSink }, { stop: () => server.stop() });
  try {
    await server.start();
  } catch (error) {
    if (!(error instanceof MetricsListenError)) throw error;
    // One line, as the daemon's: "cannot listen on 127.0.0.1:9975 (HTTP): the address...".
    log.error(error.message);
    server.stop();
    fileSink?.close();
    return EXIT_SOFTWARE;
  }
  log.info("serving metrics", { listen: server.listenText });
  try {
    sdNotify("READY=1");
  } catch (error) {
    log.warn("could not notify systemd of readiness", { error: String(error) });
  }
  return await stopping;
}

exitWith("ntp-metrics-exporter", main(process.argv.slice(2)));
