// The checks every part of the observation reader shares: a field of the
// wrong type throws an ObservationFormatError naming where it is.

export class ObservationFormatError extends Error {}

export function object(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ObservationFormatError(`${at}: expected an object`);
  }
  return value as Record<string, unknown>;
}

export function array(value: unknown, at: string): unknown[] {
  if (!Array.isArray(value)) throw new ObservationFormatError(`${at}: expected an array`);
  return value;
}

export function string(value: unknown, at: string): string {
  if (typeof value !== "string") throw new ObservationFormatError(`${at}: expected a string`);
  return value;
}

// JSON.parse turns a literal beyond the double range (1e999) into Infinity;
// serde_json (ntpd-rs) refuses such a number, and our writer could not send
// it back (non-finite values are written as null), so it is refused here too.
export function number(value: unknown, at: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ObservationFormatError(`${at}: expected a finite number`);
  }
  return value;
}

export function integer(value: unknown, at: string): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new ObservationFormatError(`${at}: expected an integer`);
  }
  return value;
}
