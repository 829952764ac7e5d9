// Tiny 2×2 linear algebra for the clock filters: a state vector (offset,
// frequency) and its covariance. Values are immutable tuples; every function
// returns a new one. Row-major: [a, b, c, d] is the matrix
//   | a b |
//   | c d |

export type Vec2 = readonly [number, number];
export type Mat2 = readonly [number, number, number, number];

export const IDENTITY: Mat2 = [1, 0, 0, 1];
export const ZERO_MAT: Mat2 = [0, 0, 0, 0];

export function mat2(a: number, b: number, c: number, d: number): Mat2 {
  return [a, b, c, d];
}

export function vec2(x: number, y: number): Vec2 {
  return [x, y];
}

export function diag(a: number, d: number): Mat2 {
  return [a, 0, 0, d];
}

export function add(m: Mat2, n: Mat2): Mat2 {
  return [m[0] + n[0], m[1] + n[1], m[2] + n[2], m[3] + n[3]];
}

export function sub(m: Mat2, n: Mat2): Mat2 {
  return [m[0] - n[0], m[1] - n[1], m[2] - n[2], m[3] - n[3]];
}

export function scale(m: Mat2, s: number): Mat2 {
  return [m[0] * s, m[1] * s, m[2] * s, m[3] * s];
}

export function mul(m: Mat2, n: Mat2): Mat2 {
  return [
    m[0] * n[0] + m[1] * n[2],
    m[0] * n[1] + m[1] * n[3],
    m[2] * n[0] + m[3] * n[2],
    m[2] * n[1] + m[3] * n[3],
  ];
}

export function transpose(m: Mat2): Mat2 {
  return [m[0], m[2], m[1], m[3]];
}

export function det(m: Mat2): number {
  return m[0] * m[3] - m[1] * m[2];
}

/** The inverse, or null when the matrix is singular or the inverse overflows. */
export function inverse(m: Mat2): Mat2 | null {
  const d = det(m);
  if (d === 0 || !Number.isFinite(d)) return null;
  const inv: Mat2 = [m[3] / d, -m[1] / d, -m[2] / d, m[0] / d];
  return inv.every(Number.isFinite) ? inv : null;
}

/** (M + Mᵀ) / 2: removes the asymmetry rounding leaves in a covariance. */
export function symmetrize(m: Mat2): Mat2 {
  const off = (m[1] + m[2]) / 2;
  return [m[0], off, off, m[3]];
}

export function mulVec(m: Mat2, v: Vec2): Vec2 {
  return [m[0] * v[0] + m[1] * v[1], m[2] * v[0] + m[3] * v[1]];
}

export function addVec(v: Vec2, w: Vec2): Vec2 {
  return [v[0] + w[0], v[1] + w[1]];
}

export function subVec(v: Vec2, w: Vec2): Vec2 {
  return [v[0] - w[0], v[1] - w[1]];
}

export function scaleVec(v: Vec2, s: number): Vec2 {
  return [v[0] * s, v[1] * s];
}

export function dot(v: Vec2, w: Vec2): number {
  return v[0] * w[0] + v[1] * w[1];
}

/** Largest absolute difference between two matrices (for tests and tolerances). */
export function maxAbsDiff(m: Mat2, n: Mat2): number {
  return Math.max(
    Math.abs(m[0] - n[0]),
    Math.abs(m[1] - n[1]),
    Math.abs(m[2] - n[2]),
    Math.abs(m[3] - n[3]),
  );
}
