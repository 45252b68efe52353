import { RagError } from '../errors.js';

/** A sparse matrix in compressed sparse row form (rows x cols). */
export interface CsrMatrix {
  rows: number;
  cols: number;
  /** Row start offsets into `indices`/`values`, length rows + 1. */
  indptr: Uint32Array;
  /** Column of each stored value. */
  indices: Uint32Array;
  values: Float64Array;
}

/** Options of {@link truncatedSvd}. */
export interface TruncatedSvdOptions {
  /** Number of singular triplets wanted (fewer are returned when the matrix has a lower rank). */
  k: number;
  /** Extra random directions of the range finder. @defaultValue 10 */
  oversample?: number | undefined;
  /** Power (subspace) iterations; more is more accurate on slowly decaying spectra. @defaultValue 4 */
  powerIterations?: number | undefined;
  /** Seed of the Gaussian test matrix: the result is a pure function of the matrix and the options. @defaultValue 1 */
  seed?: number | undefined;
}

/** The top right singular vectors and values of a matrix. */
export interface TruncatedSvd {
  /** Number of components returned (<= k). */
  k: number;
  /** Singular values, descending. */
  values: Float64Array;
  /** Right singular vectors, one row of k per input column (row-major cols x k): `v[col * k + c]`. */
  v: Float64Array;
}

/** Deterministic PRNG (mulberry32) with Box-Muller normals. */
function gaussian(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => {
    const u = 1 - uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}

/** out (rows x l, row-major) = A * X where X is cols x l (row-major). */
function mulA(a: CsrMatrix, x: Float64Array, l: number, out: Float64Array): void {
  out.fill(0);
  const { rows, indptr, indices, values } = a;
  for (let i = 0; i < rows; i++) {
    const oi = i * l;
    for (let p = indptr[i] as number; p < (indptr[i + 1] as number); p++) {
      const ot = (indices[p] as number) * l;
      const v = values[p] as number;
      for (let j = 0; j < l; j++) out[oi + j] = (out[oi + j] as number) + v * (x[ot + j] as number);
    }
  }
}

/** out (cols x l, row-major) = A^T * Y where Y is rows x l (row-major). */
function mulAt(a: CsrMatrix, y: Float64Array, l: number, out: Float64Array): void {
  out.fill(0);
  const { rows, indptr, indices, values } = a;
  for (let i = 0; i < rows; i++) {
    const oi = i * l;
    for (let p = indptr[i] as number; p < (indptr[i + 1] as number); p++) {
      const ot = (indices[p] as number) * l;
      const v = values[p] as number;
      for (let j = 0; j < l; j++) out[ot + j] = (out[ot + j] as number) + v * (y[oi + j] as number);
    }
  }
}

/**
 * Orthonormalises the l columns of x (n x l, row-major) in place: modified Gram-Schmidt, twice, on a
 * column-major copy. A column that (numerically) lies in the span of the previous ones is zeroed.
 */
function orthonormalise(x: Float64Array, n: number, l: number, scratch: Float64Array): void {
  for (let r = 0; r < n; r++) for (let j = 0; j < l; j++) scratch[j * n + r] = x[r * l + j] as number;
  for (let j = 0; j < l; j++) {
    const oj = j * n;
    let before = 0;
    for (let r = 0; r < n; r++) before += (scratch[oj + r] as number) ** 2;
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < j; i++) {
        const oi = i * n;
        let d = 0;
        for (let r = 0; r < n; r++) d += (scratch[oj + r] as number) * (scratch[oi + r] as number);
        if (d !== 0) for (let r = 0; r < n; r++) scratch[oj + r] = (scratch[oj + r] as number) - d * (scratch[oi + r] as number);
      }
    }
    let norm = 0;
    for (let r = 0; r < n; r++) norm += (scratch[oj + r] as number) ** 2;
    if (norm === 0 || norm <= 1e-20 * before) {
      scratch.fill(0, oj, oj + n);
      continue;
    }
    const inv = 1 / Math.sqrt(norm);
    for (let r = 0; r < n; r++) scratch[oj + r] = (scratch[oj + r] as number) * inv;
  }
  for (let r = 0; r < n; r++) for (let j = 0; j < l; j++) x[r * l + j] = scratch[j * n + r] as number;
}

/**
 * Eigen-decomposition of a small symmetric matrix (row-major n x n) by cyclic Jacobi rotations.
 * Returns eigenvalues and eigenvectors (column c of `vectors`, row-major), in input order.
 */
export function symmetricEigen(m: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(m);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < n; i++) {
      diag += (a[i * n + i] as number) ** 2;
      for (let j = i + 1; j < n; j++) off += (a[i * n + j] as number) ** 2;
    }
    if (off <= 1e-30 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q] as number;
        if (Math.abs(apq) < 1e-300) continue;
        const app = a[p * n + p] as number;
        const aqq = a[q * n + q] as number;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p] as number;
          const akq = a[k * n + q] as number;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k] as number;
          const aqk = a[q * n + k] as number;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p] as number;
          const vkq = v[k * n + q] as number;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i] as number;
  return { values, vectors: v };
}

/**
 * The top-k right singular vectors of a sparse matrix by the randomised range finder with power
 * iterations (Halko, Martinsson and Tropp 2011), deterministic for a given seed.
 *
 * @remarks
 * Cost: (2 * powerIterations + 3) sparse products with l = k + oversample dense vectors, Gram-Schmidt on
 * the smaller side (rows or columns) x l, and a Jacobi eigen-decomposition of an l x l matrix.
 * Each right singular vector's sign is fixed so that its largest-magnitude entry is positive.
 *
 * @param a - the matrix.
 * @param options - see {@link TruncatedSvdOptions}.
 * @returns the singular values (descending) and right singular vectors; components with a zero singular
 * value are dropped, so `k` may be lower than asked.
 * @throws RagError `RAG_INVALID_ARGUMENT` when `k` is not a positive integer or `oversample` /
 * `powerIterations` are not non-negative integers.
 * @internal
 */
export function truncatedSvd(a: CsrMatrix, options: TruncatedSvdOptions): TruncatedSvd {
  const { k } = options;
  if (!Number.isInteger(k) || k < 1) throw new RagError('RAG_INVALID_ARGUMENT', `k must be a positive integer, got ${String(k)}`);
  const oversample = options.oversample ?? 10;
  const iterations = options.powerIterations ?? 4;
  if (!Number.isInteger(oversample) || oversample < 0 || !Number.isInteger(iterations) || iterations < 0) {
    throw new RagError('RAG_INVALID_ARGUMENT', 'oversample and powerIterations must be non-negative integers');
  }
  const l = Math.min(k + oversample, a.rows, a.cols);
  if (l === 0) return { k: 0, values: new Float64Array(0), v: new Float64Array(0) };
  const next = gaussian(options.seed ?? 1);
  const { rows, cols } = a;
  const z = new Float64Array(cols * l);
  for (let i = 0; i < z.length; i++) z[i] = next();
  const y = new Float64Array(rows * l);
  const scratch = new Float64Array(Math.min(rows, cols) * l);
  // Subspace iteration, re-orthonormalising the smaller side only (its condition number stays that of
  // A^T A at worst, harmless in float64 for the few iterations used here).
  const small = rows <= cols ? 'rows' : 'cols';
  mulA(a, z, l, y);
  for (let it = 0; it <= iterations; it++) {
    if (it > 0) mulA(a, z, l, y);
    if (small === 'rows' || it === iterations) orthonormalise(y, rows, l, scratch.length >= rows * l ? scratch : new Float64Array(rows * l));
    mulAt(a, y, l, z);
    if (small === 'cols' && it < iterations) orthonormalise(z, cols, l, scratch);
  }
  // Q = y (orthonormal basis of the range of A), z = A^T Q, so B = Q^T A = z^T and
  // B B^T = Q^T A A^T Q = Q^T (A z) = W diag(s²) W^T: an l x l product over the rows, not the columns.
  const az = new Float64Array(rows * l);
  mulA(a, z, l, az);
  const g = new Float64Array(l * l);
  for (let r = 0; r < rows; r++) {
    const o = r * l;
    for (let i = 0; i < l; i++) {
      const qi = y[o + i] as number;
      if (qi === 0) continue;
      for (let j = 0; j < l; j++) g[i * l + j] = (g[i * l + j] as number) + qi * (az[o + j] as number);
    }
  }
  for (let i = 0; i < l; i++) {
    for (let j = 0; j < i; j++) {
      const m = ((g[i * l + j] as number) + (g[j * l + i] as number)) / 2;
      g[i * l + j] = m;
      g[j * l + i] = m;
    }
  }
  const eig = symmetricEigen(g, l);
  const order = Array.from({ length: l }, (_, i) => i).sort((p, q) => (eig.values[q] as number) - (eig.values[p] as number));
  const top = (eig.values[order[0] as number] as number) || 0;
  const kept = order.slice(0, k).filter((c) => (eig.values[c] as number) > top * 1e-12 && (eig.values[c] as number) > 0);
  const kk = kept.length;
  const values = new Float64Array(kk);
  // Left singular vectors scaled by 1/s: U_k / s = Q W_k / s (rows x kk); then V_k = A^T (U_k / s).
  const wk = new Float64Array(l * kk);
  kept.forEach((c, out) => {
    const sv = Math.sqrt(eig.values[c] as number);
    values[out] = sv;
    for (let j = 0; j < l; j++) wk[j * kk + out] = (eig.vectors[j * l + c] as number) / sv;
  });
  const us = new Float64Array(rows * kk);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < l; j++) {
      const q = y[r * l + j] as number;
      if (q === 0) continue;
      for (let c = 0; c < kk; c++) us[r * kk + c] = (us[r * kk + c] as number) + q * (wk[j * kk + c] as number);
    }
  }
  const v = new Float64Array(cols * kk);
  mulAt(a, us, kk, v);
  for (let c = 0; c < kk; c++) {
    let big = 0;
    for (let r = 0; r < cols; r++) if (Math.abs(v[r * kk + c] as number) > Math.abs(big)) big = v[r * kk + c] as number;
    if (big < 0) for (let r = 0; r < cols; r++) v[r * kk + c] = -(v[r * kk + c] as number);
  }
  return { k: kk, values, v };
}
