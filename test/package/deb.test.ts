// The Debian package, end to end: `npm run package:deb` builds it with debhelper; its
// metadata is ntpd-rs's (Provides/Conflicts/Replaces time-daemon, the conffile, the
// modes); then it is installed with dpkg on a copy-on-write view of this machine
// (test/package/overlay-root.sh says how nothing leaks out: chrony, which the other tests need, stays
// installed here), its daemon and exporter are started as their units would start
// them (user, capabilities, directories, umask; there is no systemd here), the daemon
// answers NTP on loopback, ntp-ctl status and /metrics work, and the package is removed
// and purged. The clock is never touched: the test config has no source, the daemon
// runs with --no-clock-control, and NTPD_TS_FORBID_CLOCK_CONTROL=1 is set.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { trackDir } from "../helpers/cleanup.js";
import { overlayUnsupported, runInOverlay, shQuote } from "../helpers/overlay-root.js";
import { skipOutsideCi } from "../helpers/skip.js";
import { execPlan, parseUnit, setprivCommand, type ExecPlan } from "../helpers/unit-exec.js";

const root = new URL("../..", import.meta.url).pathname;
const here = new URL(".", import.meta.url).pathname;

/** What this machine lacks for the test (under CI a failure, not a skip). */
function missingTools(): string | false {
  if (process.getuid?.() !== 0) return "needs root (dpkg, namespaces, setpriv)";
  if (
    spawnSync("dh", ["--help"], { stdio: "ignore" }).error ||
    spawnSync("dpkg-buildpackage", ["--version"], { stdio: "ignore" }).error
  ) {
    return "debhelper is not installed (apt-get install debhelper; .ci/run does)";
  }
  return overlayUnsupported();
}

/** The packaged programs run on /usr/bin/node (the nodejs package), whatever node runs
 * the tests: testing the package once, in the run on that node, is enough. */
function otherNode(): string | false {
  const system = spawnSync("/usr/bin/node", ["--version"], { encoding: "utf8" }).stdout?.trim();
  return system === process.version
    ? false
    : `the package runs on /usr/bin/node (${system || "absent"}), not on this test run's node ${process.version}`;
}

const skip = otherNode() || skipOutsideCi(missingTools());
const shCommand = (argv: string[]) => argv.map(shQuote).join(" ");

function hostState() {
  const chrony = spawnSync("dpkg-query", ["-W", "-f", "${Status}", "chrony"], {
    encoding: "utf8",
  }).stdout;
  const users = spawnSync("getent", ["passwd", "ntpd-ts", "ntpd-ts-observe"], {
    encoding: "utf8",
  }).stdout;
  const ntpdTs = spawnSync("dpkg-query", ["-W", "-f", "${Status}", "ntpd-ts"], {
    encoding: "utf8",
  }).stdout;
  return {
    chrony,
    users,
    ntpdTs,
    programs: existsSync("/usr/bin/ntp-daemon"),
    config: existsSync("/etc/ntpd-rs"),
  };
}

describe("the Debian package", { skip, timeout: 20 * 60_000 }, () => {
  let work: string;
  let deb: string;
  let fields: (name: string) => string;

  before(() => {
    work = mkdtempSync(join(tmpdir(), "ntpd-ts-deb-test-"));
    trackDir(work);
    const build = spawnSync(
      process.execPath,
      [join(root, "scripts/package/build-deb.mjs"), "--out", join(work, "out")],
      {
        encoding: "utf8",
        timeout: 15 * 60_000,
      },
    );
    assert.equal(build.status, 0, `npm run package:deb failed:\n${build.stdout}\n${build.stderr}`);
    const debs = readdirSync(join(work, "out")).filter((f) => f.endsWith(".deb"));
    assert.equal(debs.length, 1, `one .deb: ${debs.join(", ")}`);
    deb = join(work, "out", debs[0]!);
    fields = (name) => spawnSync("dpkg-deb", ["-f", deb, name], { encoding: "utf8" }).stdout.trim();
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test("its control fields are ntpd-rs's: a time-daemon that replaces the others; Node.js as package.json says", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      version: string;
      engines: { node: string };
    };
    assert.equal(fields("Package"), "ntpd-ts");
    assert.equal(fields("Version"), `${pkg.version}-1`);
    assert.equal(fields("Provides"), "time-daemon");
    assert.equal(fields("Conflicts"), "time-daemon");
    assert.equal(fields("Replaces"), "time-daemon");
    const nodeMin = /^>=(\d+\.\d+)$/.exec(pkg.engines.node)?.[1];
    assert.ok(nodeMin, `engines.node is ">=X.Y": ${pkg.engines.node}`);
    const depends = fields("Depends").split(/,\s*/);
    assert.ok(
      depends.includes(`nodejs (>= ${nodeMin})`),
      `Depends on nodejs (>= ${nodeMin}): ${depends.join(", ")}`,
    );
    assert.ok(
      depends.some((d) => d.startsWith("libc6")),
      "the addon's shared libraries",
    );
    assert.ok(
      depends.some((d) => d.includes("systemd-sysusers")),
      "something to create the users with",
    );
  });

  test("its files: the conffile, executable programs, units, users, man pages; no build tools or tests", () => {
    const control = join(work, "control");
    assert.equal(spawnSync("dpkg-deb", ["-e", deb, control]).status, 0);
    assert.deepEqual(readFileSync(join(control, "conffiles"), "utf8").trim().split("\n"), [
      "/etc/ntpd-rs/ntp.toml",
    ]);
    const listing = spawnSync("dpkg-deb", ["-c", deb], { encoding: "utf8", maxBuffer: 64 << 20 })
      .stdout.trim()
      .split("\n");
    const entries = new Map(
      listing.map((line) => {
        const [mode, owner, , , , ...rest] = line.split(/\s+/);
        return [rest.join(" ").replace(/^\./, ""), { mode: mode!, owner: owner! }];
      }),
    );
    const entry = (path: string) => {
      const e = [...entries].find(([p]) => p === path || p.startsWith(`${path} -> `));
      assert.ok(e, `${path} is in the package`);
      return { path: e[0], ...e[1] };
    };
    for (const e of entries.values()) assert.equal(e.owner, "root/root");
    for (const program of ["ntp-daemon", "ntp-ctl", "ntp-metrics-exporter"]) {
      assert.equal(
        entry(`/usr/bin/${program}`).path,
        `/usr/bin/${program} -> ../lib/ntpd-ts/bin/${program}.js`,
      );
      assert.equal(entry(`/usr/lib/ntpd-ts/bin/${program}.js`).mode, "-rwxr-xr-x");
    }
    assert.equal(entry("/usr/lib/ntpd-ts/build/Release/ntpd_native.node").mode, "-rw-r--r--");
    for (const path of [
      "/etc/ntpd-rs/ntp.toml",
      "/lib/systemd/system/ntpd-ts.service",
      "/lib/systemd/system/ntpd-ts-metrics.service",
      "/lib/systemd/system-preset/50-ntpd-ts.preset",
      "/usr/lib/sysusers.d/ntpd-ts.conf",
      "/usr/share/man/man8/ntp-daemon.8.gz",
      "/usr/share/man/man8/ntp-ctl.8.gz",
      "/usr/share/man/man8/ntp-metrics-exporter.8.gz",
      "/usr/share/man/man5/ntp.toml.5.gz",
      "/usr/share/doc/ntpd-ts/copyright",
      "/usr/share/doc/ntpd-ts/ntp.toml.default",
    ]) {
      assert.equal(entry(path).mode, "-rw-r--r--", path);
    }
    // The package's /etc/ntpd-rs/ntp.toml is pkg/ntp.toml.
    const tree = join(work, "tree");
    assert.equal(spawnSync("dpkg-deb", ["-x", deb, tree]).status, 0);
    assert.equal(
      readFileSync(join(tree, "etc/ntpd-rs/ntp.toml"), "utf8"),
      readFileSync(join(root, "pkg/ntp.toml"), "utf8"),
    );
    const paths = [...entries.keys()];
    // Our own sources and tests stay out (the modules' own files are theirs), and so do
    // the build and development tools.
    const unwanted = paths.filter(
      (p) =>
        /\/node_modules\/(node-gyp|node-addon-api|typescript|tsx|esbuild|eslint|fast-check|prettier|@types)\//.test(
          p,
        ) ||
        /^\/usr\/lib\/ntpd-ts\/(src|test|native|scripts)\/|^\/usr\/lib\/ntpd-ts\/dist\/.*\.test\.js$/.test(
          p,
        ),
    );
    assert.deepEqual(unwanted, []);
    assert.equal(
      readFileSync(join(tree, "usr/lib/ntpd-ts/bin/ntp-daemon.js"), "utf8").split("\n")[0],
      "#!/usr/bin/node",
    );
  });

  test("installs on this machine (an overlay of it), runs as its units would, answers NTP, removes and purges", () => {
    const hostBefore = hostState();
    const tree = join(work, "tree-units");
    assert.equal(spawnSync("dpkg-deb", ["-x", deb, tree]).status, 0);
    const unit = (name: string) =>
      execPlan(parseUnit(readFileSync(join(tree, "lib/systemd/system", name), "utf8")));
    const daemon = unit("ntpd-ts.service");
    const exporter = unit("ntpd-ts-metrics.service");
    const observe: ExecPlan = { ...exporter, directories: [], execStart: ["ntp-ctl", "status"] };

    const input = join(work, "in");
    spawnSync("mkdir", ["-p", input]);
    spawnSync("cp", [deb, join(input, "ntpd-ts.deb")]);
    spawnSync("cp", [join(here, "query-ntp.mjs"), join(here, "fetch.mjs"), input]);
    writeFileSync(
      join(input, "test.toml"),
      [
        "# deb.test.ts: no source (the clock is never touched), a server on this namespace's loopback.",
        "[observability]",
        'observation-path = "/run/ntpd-rs/observe"',
        "[[server]]",
        'listen = "127.0.0.1:123"',
        "",
      ].join("\n"),
    );
    const dirs = (plan: ExecPlan) =>
      plan.directories.map((d) => `${d.path} ${d.mode} ${d.owner}`).join("\n");
    writeFileSync(
      join(input, "run.env"),
      [
        `DAEMON_DIRS=${shQuote(dirs(daemon))}`,
        `DAEMON_UMASK=${shQuote(daemon.umask)}`,
        `DAEMON_CMD=${shQuote(shCommand(setprivCommand(daemon, ["--no-clock-control"])))}`,
        `EXPORTER_DIRS=${shQuote(dirs(exporter))}`,
        `EXPORTER_UMASK=${shQuote(exporter.umask)}`,
        `EXPORTER_CMD=${shQuote(shCommand(setprivCommand(exporter)))}`,
        `CTL_CMD=${shQuote(shCommand(setprivCommand(observe)))}`,
        "",
      ].join("\n"),
    );
    const run = runInOverlay(input, join(here, "deb-steps.sh"), join(work, "scratch"), 8 * 60_000);
    const out = run.sections;
    const show = () => run.transcript;
    assert.ok(!out.has("fatal"), show());
    assert.ok(out.has("end"), `the script ran to its end: ${show()}`);
    const rc = (name: string) => out.get(`${name}.rc`);

    // A plain `dpkg -i` refuses: chrony is a time-daemon too. `apt-get install ./the.deb`
    // (what an operator runs) removes chrony and installs ntpd-ts, here in the overlay.
    assert.equal(rc("dpkg-install"), "1", out.get("dpkg-install"));
    assert.match(
      out.get("dpkg-install")!,
      /ntpd-ts conflicts with time-daemon\s+chrony provides time-daemon/,
    );
    assert.equal(rc("install"), "0", out.get("install"));
    assert.match(out.get("install")!, /^Removing chrony /m);
    const status = out.get("status-after-install")!;
    assert.match(status, /^ntpd-ts install ok installed \S+$/m);
    assert.doesNotMatch(
      status,
      /^chrony install ok installed/m,
      "Conflicts/Replaces: time-daemon removed chrony (in the overlay)",
    );
    assert.match(
      out.get("users")!,
      /^ntpd-ts:x:\d+:\d+:[^:]*:\/var\/lib\/ntpd-ts:\/usr\/sbin\/nologin$/m,
    );
    assert.match(
      out.get("users")!,
      /^ntpd-ts-observe:x:\d+:\d+:[^:]*:[^:]*:\/usr\/sbin\/nologin$/m,
    );
    assert.match(out.get("modes")!, /^777 root:root symbolic link \/usr\/bin\/ntp-daemon$/m);
    assert.match(
      out.get("modes")!,
      /^755 root:root regular file \/usr\/lib\/ntpd-ts\/bin\/ntp-daemon\.js$/m,
    );
    assert.match(out.get("modes")!, /^644 root:root regular file \/etc\/ntpd-rs\/ntp\.toml$/m);
    assert.equal(
      out.get("enabled"),
      "/lib/systemd/system/ntpd-ts.service",
      "the daemon is enabled on installation",
    );
    assert.notEqual(rc("metrics-enabled"), "0", "the exporter is not");
    assert.match(out.get("man")!, /^NAME\s+ntp-daemon - /m);
    assert.match(out.get("version")!, /^ntp-daemon \d+\.\d+\.\d+/);
    assert.equal(rc("validate-packaged"), "0", out.get("validate-packaged"));
    assert.match(
      out.get("validate-packaged")!,
      /Config looks good/,
      "the packaged ntp.toml is valid",
    );

    // Started as the unit would start it.
    assert.equal(out.get("daemon-ready"), "yes", `daemon log:\n${out.get("daemon-log")}`);
    const proc = out.get("daemon-proc")!;
    const uid = /^ntpd-ts:x:(\d+):/m.exec(out.get("users")!)![1];
    assert.match(proc, new RegExp(`^Uid:\\s+${uid}\\s`, "m"));
    assert.match(
      proc,
      /^CapAmb:\s+0000000002000400$/m,
      "CAP_SYS_TIME and CAP_NET_BIND_SERVICE, nothing else",
    );
    assert.match(proc, /^CapBnd:\s+0000000002000400$/m);
    assert.match(proc, /^NoNewPrivs:\s+1$/m);
    assert.match(out.get("dirs")!, /^755 ntpd-ts:ntpd-ts \/run\/ntpd-rs$/m);
    assert.match(out.get("dirs")!, /^700 ntpd-ts:ntpd-ts \/var\/lib\/ntpd-ts$/m);
    const reply = JSON.parse(out.get("query")!) as Record<string, unknown>;
    assert.deepEqual(
      {
        length: reply.length,
        version: reply.version,
        mode: reply.mode,
        originEchoed: reply.originEchoed,
        transmitSet: reply.transmitSet,
      },
      { length: 48, version: 4, mode: 4, originEchoed: true, transmitSet: true },
      `the NTP reply on 127.0.0.1:123: ${out.get("query")}`,
    );
    assert.equal(rc("ctl-status"), "0", out.get("ctl-status"));
    assert.match(
      out.get("ctl-status")!,
      /127\.0\.0\.1:123/,
      "ntp-ctl status, as ntpd-ts-observe, lists the server",
    );
    assert.match(out.get("exporter-proc")!, /^CapEff:\s+0+$/m, "the exporter has no capability");
    assert.match(out.get("metrics")!, /^status 200$/m, out.get("exporter-log"));
    assert.match(out.get("metrics")!, /^ntp_server_received_packets_total\{/m);
    assert.equal(out.get("daemon-exit"), "0", "SIGTERM stops the daemon with exit 0");

    // Removed: programs gone, the (modified) conffile kept; purged: nothing left.
    assert.equal(rc("remove"), "0", out.get("remove"));
    assert.match(out.get("status-after-remove")!, /^ntpd-ts deinstall ok config-files$/m);
    assert.deepEqual(out.get("after-remove")!.split("\n"), [
      "absent /usr/bin/ntp-daemon",
      "absent /usr/lib/ntpd-ts",
      "present /etc/ntpd-rs/ntp.toml",
      "present /var/lib/ntpd-ts",
    ]);
    assert.equal(rc("purge"), "0", out.get("purge"));
    assert.doesNotMatch(out.get("status-after-purge")!, /ok (installed|config-files)/);
    assert.deepEqual(out.get("after-purge")!.split("\n"), [
      "absent /etc/ntpd-rs",
      "absent /var/lib/ntpd-ts",
      "absent /etc/systemd/system/multi-user.target.wants/ntpd-ts.service",
      "absent /usr/lib/sysusers.d/ntpd-ts.conf",
    ]);

    // And this machine is as it was.
    assert.deepEqual(hostState(), hostBefore);
    assert.match(hostBefore.chrony, /install ok installed/, "chrony is still installed here");
  });
});
