// The discrete-event simulation: the real protocol code in a simulated world,
// in simulated true time, from a seed. Nothing reads the real clock.
//
// Per server, an NtpSource (src/proto/source) polls it; requests cross a
// simulated network path to an NtpServerCore (src/proto/server) that answers
// with the server's simulated clock; replies come back over the path and the
// source turns them into measurements for the system core, TimeSystem
// (src/proto/system/time-system.ts), which steers a SimulatedClock through the
// ClockController. The core is the very object the daemon's ClockDiscipline
// drives: what happens between a measurement and the clock (steps, frequency
// changes, the desired poll of each source, panics) is not repeated here. The
// loop does what the daemon's IO shell does around it (source-task.ts,
// spawners.ts, discipline.ts):
//   * a source is added to the core before its first poll, polls at once, and
//     re-arms its poll timer after each poll with nextPollDelaySeconds();
//   * the core's wake-up requests arm one timer (a later one replaces it) that
//     calls timer(); a panic ends the run (the daemon exits 70);
//   * a source that reports "unreachable" is removed and, 1 s later, replaced
//     by a fresh one with a new id (ServerSpawner); "demobilize" removes it
//     for good;
//   * the core's events are recorded for the statistics and the trace.
// Events: polls, packet arrivals at the server and back at the host,
// controller timers, respawns, and a regular sample of the clock's true
// offset for the statistics.

import {
  describeAction,
  type ClockController,
  type ControllerAction,
} from "../src/proto/algorithm/controller.js";
import { defaultConfig } from "../src/proto/config/parse.js";
import type { SynchronizationConfig } from "../src/proto/config/types.js";
import { DEFAULT_POLL_LIMITS, type PollIntervalLimits } from "../src/proto/source/poll-interval.js";
import { NtpSource } from "../src/proto/source/source.js";
import type { Measurement } from "../src/proto/source/types.js";
import { initialSystemState, SystemStateCell } from "../src/proto/system/system-state.js";
import {
  TimeSystem,
  type FrequencyAction,
  type UpdateAction,
} from "../src/proto/system/time-system.js";
import { EventQueue } from "./event-queue.js";
import { formatSeconds } from "./format.js";
import { SimLocalClock } from "./local-clock.js";
import { Rng } from "./random.js";
import { DEFAULT_FALSETICKER_THRESHOLD, type Scenario } from "./scenario.js";
import { SimServer } from "./server.js";

/**
 * ServerSpawner: a source that became unreachable is replaced after this long,
 * s, doubling up to MAX_RESPAWN_DELAY while replacements never get an answer
 * (src/daemon/spawners.ts retryAfterEnd).
 */
export const RESPAWN_DELAY = 1;
export const MAX_RESPAWN_DELAY = 64;
/** The clock's true offset is sampled this often, s. */
export const DEFAULT_SAMPLE_INTERVAL = 2;

export interface RunOptions {
  /** Default: the scenario's seed. */
  seed?: number;
  /** Simulated duration, hours. Default: the scenario's. */
  hours?: number;
  /** Sampling interval of the true offset, s (default 2). */
  sampleInterval?: number;
  /**
   * Receives a line for every notable event (steps, slews, panics, no
   * consensus, meddling, changes of the selected set, respawns), with the
   * true time in seconds since the start. Lines use the daemon's log wording.
   */
  trace?: (at: number, line: string) => void;
  /** Receives every controller action before the core carries it out, with the true time. */
  onAction?: (at: number, action: ControllerAction, source: string | null) => void;
  /** Receives every input of the system core (and meddling with the clock) once handled. */
  onInput?: (at: number, input: SystemInput) => void;
}

/** What the simulation hands the system core, or does to the clock behind its back. */
export type SystemInput =
  | { kind: "add"; id: number; address: string; initialPoll: number }
  | { kind: "remove"; id: number }
  | { kind: "measurement"; id: number; measurement: Measurement }
  | { kind: "timer" }
  | { kind: "meddle"; by: number };

export interface StepRecord {
  /** True seconds since the start. */
  at: number;
  /** Seconds added to the clock. */
  offset: number;
  /** The controller flagged it as a start-up step. */
  startup: boolean;
}

export interface PanicRecord {
  at: number;
  threshold: "startup" | "single" | "accumulated";
  offset: number;
}

export interface FalsetickerSelection {
  at: number;
  server: string;
  /** Remote − true time as the selected source's filter estimated it, s. */
  error: number;
}

export interface ServerRecord {
  name: string;
  /** Requests sent to it. */
  polls: number;
  lostRequests: number;
  lostReplies: number;
  /** Replies the source ignored (late, ...), by reason. */
  ignored: Record<string, number>;
  measurements: number;
  /** Controller updates that selected it. */
  selected: number;
  /** Times its source was replaced after "unreachable". */
  respawns: number;
  /** Requests that reached it after it had stopped answering. */
  unanswered: number;
}

export interface RunResult {
  scenario: string;
  seed: number;
  /** Simulated seconds actually run (shorter than asked after a panic). */
  duration: number;
  sampleInterval: number;
  /** True offset (true − clock, s) every sampleInterval from 0. */
  offsets: Float64Array;
  /**
   * What the core publishes as the clock's error at the same instants
   * (TimeSystem.estimate(), what the observation and the accuracy bench read)
   * minus the true offset, s; NaN before its first update.
   */
  estimateErrors: Float64Array;
  steps: StepRecord[];
  panics: PanicRecord[];
  /** True times of "no-consensus" actions. */
  noConsensus: number[];
  meddling: number;
  updates: number;
  slews: number;
  falsetickerSelections: FalsetickerSelection[];
  servers: ServerRecord[];
  /** The oscillator's error minus the applied correction without any running slew, ppm. */
  finalFrequencyError: number;
  /** True offset at the end, s. */
  finalOffset: number;
}

interface Task {
  id: number;
  server: number;
  source: NtpSource;
  stopped: boolean;
  /** Only the poll event of the current generation fires (re-arming replaces it). */
  pollGeneration: number;
}

type SimEvent =
  | { kind: "poll"; task: Task; generation: number }
  | { kind: "at-server"; task: Task; request: Uint8Array }
  | { kind: "at-client"; task: Task; reply: Uint8Array }
  | { kind: "timer"; generation: number }
  | { kind: "spawn"; server: number }
  | { kind: "meddle"; by: number }
  | { kind: "sample" };

/** The `[synchronization]` configuration of a scenario: defaults plus its overrides. */
export function synchronizationConfig(scenario: Scenario): SynchronizationConfig {
  const defaults = defaultConfig().synchronization;
  return {
    ...defaults,
    ...scenario.synchronization,
    algorithm: { ...defaults.algorithm, ...scenario.algorithm },
  };
}

export class Simulation {
  readonly scenario: Scenario;
  readonly seed: number;
  readonly duration: number;
  readonly sampleInterval: number;
  readonly clock: SimLocalClock;
  readonly system: TimeSystem;
  /** What the host would serve, as the core publishes it. */
  readonly published: SystemStateCell;
  readonly servers: SimServer[];

  readonly #limits: PollIntervalLimits;
  readonly #initialPoll: number;
  /** The sources ask in interleaved mode. */
  readonly #interleaved: boolean;
  readonly #localStratum: number;
  readonly #falseAbove: number;
  readonly #queue = new EventQueue<SimEvent>();
  readonly #tasks = new Map<number, Task>();
  /** Per server: how long until the next replacement (grows while it never answers). */
  readonly #respawnDelay = new Map<number, number>();
  /** Server index of every source id ever used (ids are never reused). */
  readonly #serverOfId = new Map<number, number>();
  readonly #trace: RunOptions["trace"];
  readonly #onAction: RunOptions["onAction"];
  readonly #onInput: RunOptions["onInput"];
  #lastSelection = "";
  #nextId = 1;
  #timerGeneration = 0;
  #slewPpm = 0;
  #panicked = false;
  #ran = false;
  readonly #offsets: Float64Array;
  readonly #estimateErrors: Float64Array;
  #samples = 0;
  readonly #result: Omit<
    RunResult,
    "offsets" | "estimateErrors" | "finalFrequencyError" | "finalOffset" | "duration"
  >;

  constructor(scenario: Scenario, options: RunOptions = {}) {
    this.scenario = scenario;
    this.seed = options.seed ?? scenario.seed;
    this.duration = (options.hours ?? scenario.hours) * 3600;
    if (!(this.duration > 0)) {
      throw new RangeError(`duration must be positive (${this.duration} s)`);
    }
    this.sampleInterval = options.sampleInterval ?? DEFAULT_SAMPLE_INTERVAL;
    this.#trace = options.trace;
    this.#onAction = options.onAction;
    this.#onInput = options.onInput;
    this.#limits = scenario.pollLimits ?? DEFAULT_POLL_LIMITS;
    this.#initialPoll = scenario.initialPoll ?? this.#limits.min;
    this.#interleaved = scenario.interleaved === true;
    const sync = synchronizationConfig(scenario);
    this.#localStratum = sync.localStratum;
    this.#falseAbove = scenario.falsetickerThreshold ?? DEFAULT_FALSETICKER_THRESHOLD;
    this.clock = hostClock(scenario, this.seed);
    this.published = new SystemStateCell(
      initialSystemState({ localStratum: sync.localStratum, referenceId: sync.referenceId }),
    );
    this.system = new TimeSystem({
      synchronization: sync,
      clock: this.clock,
      published: this.published,
      drift: scenario.clock.driftFile ?? null,
      wakeAt: (at) => this.#wakeAt(at),
      events: {
        action: (action, id) => {
          const from = id === null ? null : this.serverName(id);
          this.#onAction?.(this.#now(), action, from);
          if (this.#trace !== undefined) this.#traceAction(this.#now(), action, from);
        },
        step: (action) =>
          this.#result.steps.push({
            at: this.#now(),
            offset: action.offset,
            startup: action.startup,
          }),
        frequency: (action) => this.#recordFrequency(action),
        update: (action) => this.#recordUpdate(action),
        noConsensus: () => this.#result.noConsensus.push(this.#now()),
        meddling: () => this.#result.meddling++,
        panic: (action) => {
          const { threshold, offset } = action;
          this.#result.panics.push({ at: this.#now(), threshold, offset });
          this.#panicked = true;
        },
      },
    });
    const names = new Set<string>();
    this.servers = scenario.servers.map((spec) => {
      if (names.has(spec.name)) throw new RangeError(`duplicate server name ${spec.name}`);
      names.add(spec.name);
      return new SimServer(spec, this.seed);
    });
    this.#offsets = new Float64Array(Math.floor(this.duration / this.sampleInterval) + 1);
    this.#estimateErrors = new Float64Array(this.#offsets.length);
    this.#result = {
      scenario: scenario.name,
      seed: this.seed,
      sampleInterval: this.sampleInterval,
      steps: [],
      panics: [],
      noConsensus: [],
      meddling: 0,
      updates: 0,
      slews: 0,
      falsetickerSelections: [],
      servers: this.servers.map((s) => ({
        name: s.name,
        polls: 0,
        lostRequests: 0,
        lostReplies: 0,
        ignored: {},
        measurements: 0,
        selected: 0,
        respawns: 0,
        unanswered: 0,
      })),
    };
  }

  /** Runs the whole scenario (once). */
  run(): RunResult {
    if (this.#ran) throw new Error("a Simulation runs once");
    this.#ran = true;
    this.#queue.push(0, { kind: "sample" });
    for (const m of this.scenario.clock.meddling ?? []) {
      this.#queue.push(m.at, { kind: "meddle", by: m.by });
    }
    for (let i = 0; i < this.servers.length; i++) this.#spawn(i);
    for (;;) {
      const next = this.#queue.pop();
      if (next === null || next.at > this.duration) break;
      this.clock.advanceTo(next.at);
      this.#handle(next.event);
      if (this.#panicked) break;
    }
    const end = this.#panicked ? this.clock.elapsed() : this.duration;
    this.clock.advanceTo(end);
    this.servers.forEach((server, i) => {
      this.#result.servers[i]!.unanswered = server.counters.unanswered;
    });
    return {
      ...this.#result,
      duration: end,
      offsets: this.#offsets.slice(0, this.#samples),
      estimateErrors: this.#estimateErrors.slice(0, this.#samples),
      finalOffset: this.clock.trueOffset(),
      finalFrequencyError: this.clock.oscillatorError() - (this.clock.frequency() - this.#slewPpm),
    };
  }

  /** The controller inside the system core. */
  get controller(): ClockController {
    return this.system.controller;
  }

  #now(): number {
    return this.clock.elapsed();
  }

  #handle(event: SimEvent): void {
    switch (event.kind) {
      case "sample": {
        const estimate = this.system.estimate();
        const truth = this.clock.trueOffset();
        this.#estimateErrors[this.#samples] = estimate === null ? NaN : estimate.offset - truth;
        this.#offsets[this.#samples++] = truth;
        if (this.#samples < this.#offsets.length) {
          this.#queue.push(this.#samples * this.sampleInterval, { kind: "sample" });
        }
        return;
      }
      case "spawn":
        this.#spawn(event.server);
        return;
      case "meddle":
        // Not through the core: the controller is not told, as with a real `date -s`.
        this.clock.step(event.by);
        this.#onInput?.(this.#now(), { kind: "meddle", by: event.by });
        return;
      case "poll":
        if (!event.task.stopped && event.generation === event.task.pollGeneration) {
          this.#poll(event.task);
        }
        return;
      case "at-server":
        this.#atServer(event.task, event.request);
        return;
      case "at-client":
        this.#atClient(event.task, event.reply);
        return;
      case "timer":
        if (event.generation === this.#timerGeneration) {
          this.system.timer();
          this.#onInput?.(this.#now(), { kind: "timer" });
        }
        return;
    }
  }

  /** A fresh source for server `index` (ServerSpawner.spawn + task.start). */
  #spawn(index: number): void {
    const id = this.#nextId++;
    const source = new NtpSource({
      pollLimits: this.#limits,
      initialPollInterval: this.#initialPoll,
      localStratum: this.#localStratum,
      interleaved: this.#interleaved,
      random: (() => {
        const rng = new Rng(this.seed, `source:${id}`);
        return (n: number) => rng.bytes(n);
      })(),
    });
    const task: Task = { id, server: index, source, stopped: false, pollGeneration: 0 };
    this.#tasks.set(id, task);
    this.#serverOfId.set(id, index);
    const address = `10.0.0.${index + 1}`;
    const initialPoll = this.#initialPoll;
    this.system.addSource(id, source, { address, initialPoll });
    this.#onInput?.(this.#now(), { kind: "add", id, address, initialPoll });
    this.#schedulePoll(task, 0);
  }

  #schedulePoll(task: Task, delay: number): void {
    task.pollGeneration++;
    this.#queue.push(this.#now() + delay, {
      kind: "poll",
      task,
      generation: task.pollGeneration,
    });
  }

  #poll(task: Task): void {
    const result = task.source.poll(this.clock.now());
    if (result.kind !== "request") {
      // "unreachable" and "reset" are replaced; "demobilize" is the end.
      task.stopped = true;
      this.#tasks.delete(task.id);
      this.system.removeSource(task.id);
      this.#onInput?.(this.#now(), { kind: "remove", id: task.id });
      if (task.source.snapshot().lastMeasurement !== null) {
        this.#respawnDelay.set(task.server, RESPAWN_DELAY);
      }
      const delay = this.#respawnDelay.get(task.server) ?? RESPAWN_DELAY;
      this.#trace?.(
        this.#now(),
        `source ${this.servers[task.server]!.name}: ${result.kind}` +
          (result.kind === "demobilize" ? "" : `, replaced in ${delay} s`),
      );
      if (result.kind !== "demobilize") {
        this.#result.servers[task.server]!.respawns++;
        this.#respawnDelay.set(task.server, Math.min(delay * 2, MAX_RESPAWN_DELAY));
        this.#queue.push(this.#now() + delay, { kind: "spawn", server: task.server });
      }
      return;
    }
    task.source.sent(this.clock.now());
    this.#schedulePoll(task, task.source.nextPollDelaySeconds());
    const record = this.#result.servers[task.server]!;
    record.polls++;
    const delay = this.servers[task.server]!.path.request();
    if (delay === null) {
      record.lostRequests++;
      return;
    }
    this.#queue.push(this.#now() + delay, { kind: "at-server", task, request: result.request });
  }

  #atServer(task: Task, request: Uint8Array): void {
    const server = this.servers[task.server]!;
    const answer = server.receive(request, this.#now());
    if (answer === null) return;
    const delay = server.path.reply();
    if (delay === null) {
      this.#result.servers[task.server]!.lostReplies++;
      return;
    }
    this.#queue.push(answer.departs + delay, { kind: "at-client", task, reply: answer.reply });
  }

  #atClient(task: Task, reply: Uint8Array): void {
    // The task's socket closed when it stopped.
    if (task.stopped) return;
    const event = task.source.handleResponse(reply, reply.length, this.clock.now());
    const record = this.#result.servers[task.server]!;
    switch (event.kind) {
      case "measurement":
        record.measurements++;
        this.system.measurement(task.id, event.measurement);
        this.#onInput?.(this.#now(), {
          kind: "measurement",
          id: task.id,
          measurement: event.measurement,
        });
        return;
      case "kiss":
        if (event.action === "reduce-rate") {
          this.#schedulePoll(task, task.source.nextPollDelaySeconds());
        }
        return;
      case "ignored":
        record.ignored[event.reason] = (record.ignored[event.reason] ?? 0) + 1;
        return;
      case "no-sample":
        record.ignored[`no-sample-${event.reason}`] =
          (record.ignored[`no-sample-${event.reason}`] ?? 0) + 1;
        return;
      case "unusable":
        record.ignored[`unusable-${event.reason}`] =
          (record.ignored[`unusable-${event.reason}`] ?? 0) + 1;
        return;
    }
  }

  /** The core asks for timer() at monotonic time `at`; a later request replaces this one. */
  #wakeAt(at: number): void {
    const generation = ++this.#timerGeneration;
    // The monotonic clock runs at (1 − f) of true time.
    const rate = 1 - this.clock.trueFrequency() * 1e-6;
    const wait = Math.max(0, at - this.clock.monotonic()) / rate;
    this.#queue.push(this.#now() + wait, { kind: "timer", generation });
  }

  /** Slews, for the count and for the frequency error left without the running one. */
  #recordFrequency(action: FrequencyAction): void {
    if (action.reason === "slew-start" && action.slew !== null) {
      this.#slewPpm = (action.slew.offset / action.slew.duration) * 1e6;
      this.#result.slews++;
    } else if (action.reason === "slew-end") {
      this.#slewPpm = 0;
    }
  }

  #recordUpdate(action: UpdateAction): void {
    const t = this.#now();
    this.#result.updates++;
    for (const id of action.selected) {
      const selected = this.#tasks.get(id);
      if (selected === undefined) continue;
      const server = this.servers[selected.server]!;
      this.#result.servers[selected.server]!.selected++;
      // A falseticker selection: the server is wrong now, and the source
      // vouches for that wrong time (its filter's offset, remote − local,
      // minus the clock's true offset, true − local, is the error of the
      // time it claims). A server that just stepped is no falseticker to
      // the algorithm until its filter has seen the step; an honest
      // server's filter briefly off after delay spikes is no falseticker.
      if (!(Math.abs(server.error(t)) > this.#falseAbove)) continue;
      const snapshot = this.controller.sourceSnapshot(id);
      if (snapshot === null) continue;
      const error = snapshot.offset - this.clock.trueOffset();
      if (Math.abs(error) > this.#falseAbove) {
        this.#result.falsetickerSelections.push({ at: t, server: server.name, error });
      }
    }
  }

  /** The name of the server source `id` polls (or polled). */
  serverName(id: number): string | null {
    const index = this.#serverOfId.get(id);
    return index === undefined ? null : this.servers[index]!.name;
  }

  #serverOf(id: number): string {
    return this.serverName(id) ?? `#${id}`;
  }

  #traceAction(t: number, action: ControllerAction, source: string | null): void {
    const trace = this.#trace!;
    const from = source === null ? "" : ` [${source}]`;
    switch (action.kind) {
      case "update": {
        const names = (ids: number[]): string =>
          ids
            .map((id) => this.#serverOf(id))
            .sort()
            .join(", ");
        const selection =
          names(action.selected) +
          (action.outvoted.length > 0 ? ` (outvoted: ${names(action.outvoted)})` : "");
        if (selection !== this.#lastSelection) {
          this.#lastSelection = selection;
          trace(t, `selected ${selection}${from}`);
        }
        return;
      }
      case "set-frequency":
        // Slew starts say what they do; frequency changes and slew ends are routine.
        if (action.reason !== "slew-start") return;
        break;
      case "step":
      case "panic":
      case "no-consensus":
      case "meddling":
        break;
      case "set-timer":
      case "desired-poll":
        return;
    }
    const line = describeAction(action);
    if (line === null) return;
    const extra =
      action.kind === "step" ? ` (${action.startup ? "start-up" : "after start-up"})` : "";
    trace(
      t,
      `${line.message}${extra}${from}; true offset ${formatSeconds(this.clock.trueOffset())}`,
    );
  }
}

/** The simulated host's clock of a run of `scenario` from `seed`. */
export function hostClock(scenario: Scenario, seed: number): SimLocalClock {
  return new SimLocalClock(scenario.clock, new Rng(seed, "clock").nextU32());
}

/** Runs `scenario` once. */
export function simulate(scenario: Scenario, options: RunOptions = {}): RunResult {
  return new Simulation(scenario, options).run();
}
