import { LsmError } from '../errors.js';
import type { Tags } from './types.js';

/** @internal One known series. */
export interface SeriesInfo {
  slot: number;
  id: bigint;
  idBytes: Uint8Array;
  org: string;
  metric: string;
  tags: Record<string, string>;
  canonical: string;
}


function checkName(s: unknown, what: string, allowEmpty: boolean): string {
  if (typeof s !== 'string' || (!allowEmpty && s === '') || s.includes('\u0000') || s.includes('\u0001')) {
    throw new LsmError('LSM_INVALID_ARGUMENT', `${what} must be a ${allowEmpty ? '' : 'non-empty '}string without NUL or U+0001, got ${JSON.stringify(s)}`);
  }
  return s;
}

/**
 * The canonical key of a series, hashed to its id: org, metric and the tags sorted by name, joined by
 * NUL / U+0001. Validates every part.
 *
 * @param org - tenant ('' allowed).
 * @param metric - non-empty metric name.
 * @param tags - tags (names non-empty).
 * @returns the canonical key.
 * @throws LsmError `LSM_INVALID_ARGUMENT` for an empty metric, a non-string or a forbidden character.
 * @example
 * ```ts
 * import { canonicalSeriesKey } from '@dataplane/lsm';
 *
 * canonicalSeriesKey('', 'cpu', { b: '2', a: '1' }) === canonicalSeriesKey('', 'cpu', { a: '1', b: '2' }); // true
 * ```
 * @since 0.1.0
 */
export function canonicalSeriesKey(org: string, metric: string, tags: Tags | undefined): string {
  checkName(org, 'org', true);
  checkName(metric, 'metric', false);
  let out = `${org}\u0000${metric}`;
  if (tags === undefined) return out;
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) throw new LsmError('LSM_INVALID_ARGUMENT', 'tags must be an object of strings');
  const names = Object.keys(tags).sort();
  for (const k of names) {
    checkName(k, 'tag name', false);
    out += `\u0000${k}\u0001${checkName(tags[k], `tag ${k}`, true)}`;
  }
  return out;
}

const STEP = 0x9e3779b97f4a7c15n;
const MASK = (1n << 64n) - 1n;

/** @internal The n-th probe of a colliding id (open addressing over the 64-bit space). */
export function probeId(h: bigint, n: number): bigint {
  return (h + BigInt(n) * STEP) & MASK;
}
