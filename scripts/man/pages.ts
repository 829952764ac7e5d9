// The man pages ntpd-ts ships, as ntpd-rs ships them: ntp-daemon(8), ntp-ctl(8),
// ntp-metrics-exporter(8) and ntp.toml(5), each generated from the docs/ page
// operators read on the web, so the two never disagree (scripts/man/gen-man.ts).

import type { ManPage } from "./markdown-to-roff.js";

export const MAN_PAGES: readonly ManPage[] = [
  {
    name: "ntp-daemon",
    section: 8,
    summary: "NTP daemon with Network Time Security (ntpd-ts)",
    manual: "System Manager's Manual",
    source: "docs/ntp-daemon.md",
  },
  {
    name: "ntp-ctl",
    section: 8,
    summary: "check the configuration of ntp-daemon and show what it is doing",
    manual: "System Manager's Manual",
    source: "docs/ntp-ctl.md",
  },
  {
    name: "ntp-metrics-exporter",
    section: 8,
    summary: "serve the state of ntp-daemon as Prometheus/OpenMetrics metrics",
    manual: "System Manager's Manual",
    source: "docs/ntp-metrics-exporter.md",
  },
  {
    name: "ntp.toml",
    section: 5,
    summary: "configuration file of ntp-daemon, ntp-ctl and ntp-metrics-exporter",
    manual: "File Formats Manual",
    source: "docs/ntp.toml.md",
    // Its links lead nowhere in a terminal; the sections follow in the same order.
    skipSections: ["Contents"],
  },
];

/** Where the generated pages are kept (committed, and installed by the Debian package). */
export const MAN_DIR = "pkg/man";

export function manFileName(page: ManPage): string {
  return `${page.name}.${page.section}`;
}
