import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";

import {
  IDENTITY,
  add,
  det,
  diag,
  dot,
  inverse,
  mat2,
  maxAbsDiff,
  mul,
  mulVec,
  scale,
  sub,
  subVec,
  symmetrize,
  transpose,
  vec2,
  type Mat2,
} from "./matrix.js";

// Millesimal entries in ±1000: no subnormal determinants.
const entry = fc.integer({ min: -1_000_000, max: 1_000_000 }).map((n) => n / 1000);
const matrix = fc.tuple(entry, entry, entry, entry).map(([a, b, c, d]) => mat2(a, b, c, d));

test("products, transpose and determinant by hand", () => {
  const m = mat2(1, 2, 3, 4);
  const n = mat2(5, 6, 7, 8);
  assert.deepEqual(mul(m, n), [19, 22, 43, 50]);
  assert.deepEqual(transpose(m), [1, 3, 2, 4]);
  assert.equal(det(m), -2);
  assert.deepEqual(add(m, n), [6, 8, 10, 12]);
  assert.deepEqual(sub(n, m), [4, 4, 4, 4]);
  assert.deepEqual(scale(m, 2), [2, 4, 6, 8]);
  assert.deepEqual(mulVec(m, vec2(1, 1)), [3, 7]);
  assert.equal(dot(vec2(1, 2), vec2(3, 4)), 11);
  assert.deepEqual(subVec(vec2(1, 2), vec2(3, 5)), [-2, -3]);
  assert.deepEqual(symmetrize(mat2(1, 2, 4, 1)), [1, 3, 3, 1]);
  assert.deepEqual(diag(2, 3), [2, 0, 0, 3]);
  assert.deepEqual(inverse(mat2(4, 7, 2, 6)), [0.6, -0.7, -0.2, 0.4]);
});

test("a singular matrix has no inverse", () => {
  assert.equal(inverse(mat2(1, 2, 2, 4)), null);
  assert.equal(inverse(mat2(0, 0, 0, 0)), null);
  assert.equal(inverse(mat2(Infinity, 0, 0, 1)), null);
  assert.equal(inverse(mat2(1e-200, 0, 0, 1e-200)), null); // 1/det overflows
});

test("M · M⁻¹ = I whenever M is well conditioned", () => {
  fc.assert(
    fc.property(matrix, (m) => {
      const d = det(m);
      const scaleOf = Math.max(...m.map(Math.abs), 1e-300);
      fc.pre(Math.abs(d) > 1e-6 * scaleOf * scaleOf);
      const inv = inverse(m);
      assert.ok(inv !== null);
      const tol = 1e-6 * (1 + scaleOf * Math.max(...inv.map(Math.abs)));
      assert.ok(maxAbsDiff(mul(m, inv), IDENTITY) < tol);
      assert.ok(maxAbsDiff(mul(inv, m), IDENTITY) < tol);
    }),
  );
});

test("det(MN) = det(M)·det(N) and (MN)ᵀ = NᵀMᵀ", () => {
  fc.assert(
    fc.property(matrix, matrix, (m: Mat2, n: Mat2) => {
      const lhs = det(mul(m, n));
      const rhs = det(m) * det(n);
      assert.ok(Math.abs(lhs - rhs) <= 1e-9 * (1 + Math.abs(rhs)) + 1e-3);
      assert.ok(maxAbsDiff(transpose(mul(m, n)), mul(transpose(n), transpose(m))) < 1e-6);
    }),
  );
});

test("symmetrize leaves a symmetric matrix and keeps the diagonal", () => {
  fc.assert(
    fc.property(matrix, (m) => {
      const s = symmetrize(m);
      assert.equal(s[1], s[2]);
      assert.equal(s[0], m[0]);
      assert.equal(s[3], m[3]);
    }),
  );
});
