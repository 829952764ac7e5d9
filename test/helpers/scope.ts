// What a test starts (daemons, chrony, temp dirs) is released when the test
// ends, pass or fail, in the reverse order it was acquired: a client stops
// before its server, the server before its directory goes. Replaces nested
// try/finally blocks; the cleanup of test/helpers/cleanup.ts stays the last
// resort for crashes.
import type { TestContext } from "node:test";

/** Something with a way to release it. */
type Release = () => Promise<void> | void;

export interface Scope {
  /** Registers `release` to run when the test ends; returns `value`. */
  own<T>(value: T, release: (value: T) => Promise<void> | void): T;
  /** Registers a cleanup step without a value. */
  defer(release: Release): void;
}

export function testScope(t: TestContext): Scope {
  const releases: Release[] = [];
  t.after(async () => {
    const errors: unknown[] = [];
    for (const release of releases.reverse()) {
      try {
        await release();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, "test cleanup failed");
  });
  return {
    own(value, release) {
      releases.push(() => release(value));
      return value;
    },
    defer(release) {
      releases.push(release);
    },
  };
}

/** Releases daemons and temp dirs by their usual methods. */
export const stop = async (x: { stop(): Promise<unknown> }): Promise<void> => {
  await x.stop();
};
export const remove = (x: { cleanup(): Promise<void> }): Promise<void> => x.cleanup();
