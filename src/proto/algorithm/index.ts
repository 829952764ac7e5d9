// The clock discipline: per-source Kalman filters, selection, combination and
// the steering controller. See controller.ts for how the daemon drives it.
export * from "./matrix.js";
export * from "./source-filter.js";
export * from "./select.js";
export * from "./combine.js";
export * from "./controller.js";
