// Config features this build parses and validates but does not implement yet. Each use is
// reported as an error at its position. When a feature lands, delete its line: nothing else
// needs to change.
//
// `path` is a key path: dotted keys, `[]` after a key means "each element of this array
// (of tables)". With `value`, only that value is refused (integers compare as numbers);
// without it, any use of the key or table is.

export interface UnimplementedFeature {
  readonly path: string;
  readonly value?: string | number | boolean;
  /** How the message names the feature. */
  readonly what: string;
}

export const UNIMPLEMENTED: readonly UnimplementedFeature[] = [];
