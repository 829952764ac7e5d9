// The OCI image recipe (Containerfile). There is no container engine on this machine,
// so its steps are run into directories instead: the build stage's staging command on
// this checkout (which `npm ci` already built: the recipe's `COPY . .` + `npm ci`), then
// the run stage's COPYs and RUNs on an overlay of this machine (a Debian bookworm with
// Node.js, like the image's base), and its ENTRYPOINT and CMD as its USER with no
// capability; the daemon must answer NTP on loopback. What this cannot check: that the
// base images exist and `npm ci` succeeds inside them.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { trackDir } from "../helpers/cleanup.js";
import {
  execForm,
  parseContainerfile,
  type Instruction,
  type Stage,
} from "../helpers/containerfile.js";
import { overlayUnsupported, runInOverlay, shQuote } from "../helpers/overlay-root.js";
import { skipOutsideCi } from "../helpers/skip.js";

const root = new URL("../..", import.meta.url).pathname;
const here = new URL(".", import.meta.url).pathname;
const recipe = parseContainerfile(readFileSync(join(root, "Containerfile"), "utf8"));
const [buildStage, runStage] = recipe.stages as [Stage, Stage];
const all = (stage: Stage, keyword: string) =>
  stage.instructions.filter((i) => i.keyword === keyword);
const one = (stage: Stage, keyword: string): Instruction => {
  const found = all(stage, keyword);
  assert.equal(found.length, 1, `one ${keyword} in the stage FROM ${stage.from}`);
  return found[0]!;
};
const ignored = readFileSync(join(root, ".dockerignore"), "utf8")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l !== "" && !l.startsWith("#"));

/** The build stage's staging command, as written in its RUN. */
function stagingCommand(): string {
  const parts = one(buildStage, "RUN")
    .args.split("&&")
    .map((p) => p.trim());
  const stage = parts.find((p) => p.startsWith("node scripts/package/stage.mjs"));
  assert.ok(stage, "the build stage stages the installed layout with scripts/package/stage.mjs");
  return stage;
}

test("the recipe: build on node:N-bookworm, run on node:N-bookworm-slim as an unprivileged user, N from package.json", () => {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    engines: { node: string };
  };
  const major = /^>=(\d+)\./.exec(pkg.engines.node)?.[1];
  assert.equal(
    recipe.args.get("NODE_VERSION"),
    major,
    "the image's Node.js is the oldest package.json accepts",
  );
  assert.equal(recipe.stages.length, 2);
  assert.equal(buildStage.from, "docker.io/library/node:${NODE_VERSION}-bookworm");
  assert.equal(buildStage.name, "build");
  assert.equal(runStage.from, "docker.io/library/node:${NODE_VERSION}-bookworm-slim");
  assert.match(one(buildStage, "RUN").args, /^npm ci\b/);
  assert.match(stagingCommand(), /--dest \/staged$/);
  assert.deepEqual(
    all(runStage, "COPY").map((c) => c.args),
    ["--from=build /staged/ /", "pkg/ntp.toml /etc/ntpd-rs/ntp.toml"],
  );
  for (const copy of all(runStage, "COPY").filter((c) => !c.args.startsWith("--from"))) {
    const source = copy.args.split(/\s+/)[0]!;
    assert.ok(existsSync(join(root, source)), `COPY ${source}: in the repository`);
    assert.ok(
      !ignored.some((i) => source === i || source.startsWith(`${i}/`)),
      `COPY ${source}: not in .dockerignore`,
    );
  }
  // What `npm ci` rebuilds for the image's own Node.js and glibc never comes from the host.
  for (const dir of ["node_modules", "dist", "build"])
    assert.ok(ignored.includes(dir), `.dockerignore: ${dir}`);
  const user = one(runStage, "USER").args;
  assert.notEqual(user, "root");
  assert.notEqual(user, "0");
  assert.deepEqual(execForm(one(runStage, "ENTRYPOINT")), ["/usr/bin/ntp-daemon"]);
  assert.ok(
    execForm(one(runStage, "CMD")).includes("--no-clock-control"),
    "a container does not steer the host's clock by default",
  );
});

describe(
  "its steps, run into directories",
  { skip: skipOutsideCi(overlayUnsupported()), timeout: 10 * 60_000 },
  () => {
    let work: string;
    before(() => {
      work = mkdtempSync(join(tmpdir(), "ntpd-ts-oci-test-"));
      trackDir(work);
    });
    after(() => rmSync(work, { recursive: true, force: true }));

    test("the run stage on the build stage's files starts the daemon as its USER, without capabilities; it answers NTP", () => {
      const input = join(work, "in");
      mkdirSync(join(input, "context"), { recursive: true });
      // The build stage: /staged, from this checkout.
      const staging = stagingCommand().replace(
        /--dest \/staged$/,
        `--dest ${shQuote(join(input, "staged"))}`,
      );
      const staged = spawnSync("sh", ["-c", staging], {
        cwd: root,
        encoding: "utf8",
        timeout: 120_000,
      });
      assert.equal(staged.status, 0, `${staging}\n${staged.stdout}${staged.stderr}`);

      const copies = all(runStage, "COPY").map((c) => {
        const [first, second, third] = c.args.split(/\s+/);
        if (first === "--from=build") {
          assert.equal(second, "/staged/");
          return `staged ${third}`;
        }
        cpSync(join(root, first!), join(input, "context", first!), { recursive: true });
        return `context/${first} ${second}`;
      });
      const user = one(runStage, "USER").args;
      const start = [
        "setpriv",
        `--reuid=${user}`,
        `--regid=${user}`,
        "--init-groups",
        "--inh-caps=-all",
        "--ambient-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
        ...execForm(one(runStage, "ENTRYPOINT")),
        ...execForm(one(runStage, "CMD")),
      ];
      const ctl = [...start.slice(0, start.indexOf("--") + 1), "ntp-ctl", "status"];
      cpSync(join(here, "query-ntp.mjs"), join(input, "query-ntp.mjs"));
      writeFileSync(
        join(input, "test.toml"),
        '[observability]\nobservation-path = "/run/ntpd-rs/observe"\n[[server]]\nlisten = "127.0.0.1:123"\n',
      );
      writeFileSync(
        join(input, "run.env"),
        [
          `COPIES=${shQuote(copies.join("\n"))}`,
          `RUNS=${shQuote(
            all(runStage, "RUN")
              .map((r) => r.args)
              .join("\n"),
          )}`,
          `START_CMD=${shQuote(start.map(shQuote).join(" "))}`,
          `CTL_CMD=${shQuote(ctl.map(shQuote).join(" "))}`,
          "",
        ].join("\n"),
      );

      const run = runInOverlay(
        input,
        join(here, "container-steps.sh"),
        join(work, "scratch"),
        5 * 60_000,
      );
      const out = run.sections;
      assert.ok(!out.has("fatal") && out.has("end"), run.transcript);
      for (const r of all(runStage, "RUN"))
        assert.equal(out.get(`RUN ${r.args}.rc`), "0", out.get(`RUN ${r.args}`));
      assert.equal(out.get("daemon-ready"), "yes", out.get("daemon-log"));
      const proc = out.get("daemon-proc")!;
      assert.doesNotMatch(proc, /^Uid:\s+0\s/m, "not root");
      assert.match(proc, /^CapEff:\s+0+$/m, "no capability at all");
      const reply = JSON.parse(out.get("query")!) as Record<string, unknown>;
      assert.deepEqual(
        { length: reply.length, mode: reply.mode, originEchoed: reply.originEchoed },
        { length: 48, mode: 4, originEchoed: true },
        out.get("query"),
      );
      assert.equal(out.get("ctl-status.rc"), "0", out.get("ctl-status"));
      assert.equal(out.get("daemon-exit"), "0");
    });
  },
);
