import { LsmError } from '../errors.js';
import type { Tags } from './types.js';

/**
 * The one series-key module of the package: how a series (org, metric, tags) is named, validated,
 * parsed, hashed and placed. The time-series layer hashes the key to a series id; the shard and log
 * layers carry it in batches and hash it to a partition and a shard.
 */

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

/** One data point addressed by metric and tags (the shard layer's point). @since 0.1.0 */
export interface Point {
  /** Metric name, e.g. `cpu_usage`. */
  metric: string;
  /** Tags (labels). @defaultValue {} */
  tags?: Readonly<Record<string, string>> | undefined;
  /** Timestamp in ms since the epoch. */
  t: number;
  /** Value. */
  v: number;
}

/** Characters that delimit a key; escaped with a backslash inside org, metric, tag names and values. */
const SPECIAL = /[\\/{}=,\n]/;
const SPECIAL_ALL = /[\\/{}=,\n]/g;

function checkName(s: unknown, what: string, allowEmpty: boolean): string {
  if (typeof s !== 'string' || (!allowEmpty && s === '') || s.includes('\u0000') || s.includes('\u0001')) {
    throw new LsmError('LSM_INVALID_ARGUMENT', `${what} must be a ${allowEmpty ? '' : 'non-empty '}string without NUL or U+0001, got ${JSON.stringify(s)}`);
  }
  return s;
}

function esc(s: string): string {
  return SPECIAL.test(s) ? s.replace(SPECIAL_ALL, (c) => (c === '\n' ? '\\n' : `\\${c}`)) : s;
}

/**
 * The key of a series: `metric{k1=v1,k2=v2}` with tags sorted by name, prefixed by `org/` when the org
 * is not empty. A backslash escapes `\`, `/`, `{`, `}`, `=`, `,` and newline (`\n`) inside any part, so
 * every string without NUL or U+0001 is allowed and {@link parseSeriesKey} inverts it exactly. The key
 * is hashed to the series id by the time-series layer, and to the partition and shard of the series by
 * {@link partitionFor} and the shard router.
 *
 * @param metric - non-empty metric name.
 * @param tags - tags (names non-empty). @defaultValue {}
 * @param org - tenant. @defaultValue ''
 * @returns the key.
 * @throws LsmError `LSM_INVALID_ARGUMENT` for an empty metric or tag name, a non-string, NUL or U+0001.
 * @example
 * ```ts
 * import { seriesKey } from '@dataplane/lsm';
 *
 * seriesKey('cpu', { host: 'a', dc: 'eu' }); // 'cpu{dc=eu,host=a}'
 * seriesKey('cpu', { q: 'a=b' }, 'acme'); // 'acme/cpu{q=a\\=b}'
 * ```
 * @since 0.1.0
 */
export function seriesKey(metric: string, tags?: Tags, org = ''): string {
  checkName(org, 'org', true);
  checkName(metric, 'metric', false);
  let out = org === '' ? `${esc(metric)}{` : `${esc(org)}/${esc(metric)}{`;
  if (tags === undefined) return `${out}}`;
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) throw new LsmError('LSM_INVALID_ARGUMENT', 'tags must be an object of strings');
  const names = Object.keys(tags).sort();
  for (let i = 0; i < names.length; i++) {
    const k = names[i]!;
    checkName(k, 'tag name', false);
    out += `${i === 0 ? '' : ','}${esc(k)}=${esc(checkName(tags[k], `tag ${k}`, true))}`;
  }
  return `${out}}`;
}

/**
 * The key the time-series layer hashes to a series id: {@link seriesKey} with the org first.
 *
 * @param org - tenant ('' allowed).
 * @param metric - non-empty metric name.
 * @param tags - tags (names non-empty).
 * @returns `seriesKey(metric, tags, org)`.
 * @throws LsmError `LSM_INVALID_ARGUMENT` as {@link seriesKey}.
 * @example
 * ```ts
 * import { canonicalSeriesKey } from '@dataplane/lsm';
 *
 * canonicalSeriesKey('', 'cpu', { b: '2', a: '1' }) === canonicalSeriesKey('', 'cpu', { a: '1', b: '2' }); // true
 * ```
 * @since 0.1.0
 */
export function canonicalSeriesKey(org: string, metric: string, tags: Tags | undefined): string {
  return seriesKey(metric, tags, org);
}

/**
 * Parses a key made by {@link seriesKey}.
 *
 * @param key - a series key.
 * @returns its org ('' when absent), metric and tags.
 * @throws LsmError `LSM_INVALID_ARGUMENT` when `key` is not a series key.
 * @example
 * ```ts
 * import { parseSeriesKey } from '@dataplane/lsm';
 *
 * parseSeriesKey('cpu{host=a}'); // { org: '', metric: 'cpu', tags: { host: 'a' } }
 * ```
 * @since 0.1.0
 */
export function parseSeriesKey(key: string): { org: string; metric: string; tags: Record<string, string> } {
  const bad = (): never => {
    throw new LsmError('LSM_INVALID_ARGUMENT', `not a series key: ${JSON.stringify(key)}`);
  };
  if (typeof key !== 'string') bad();
  let org = '';
  let metric: string | undefined;
  const tags: Record<string, string> = {};
  let name: string | undefined;
  let cur = '';
  let i = 0;
  // state: 0 = org or metric, 1 = tag name, 2 = tag value, 3 = after '}'
  let state = 0;
  for (; i < key.length; i++) {
    const c = key[i]!;
    if (c === '\\') {
      const n = key[++i];
      if (n === undefined) bad();
      cur += n === 'n' ? '\n' : n;
      continue;
    }
    if (state === 0) {
      if (c === '/' && metric === undefined && org === '' && cur !== '') {
        org = cur;
        cur = '';
        if (key[i + 1] === '{') bad();
        continue;
      }
      if (c === '{') {
        if (cur === '') bad();
        metric = cur;
        cur = '';
        state = 1;
        continue;
      }
      if (c === '}' || c === '=' || c === ',' || c === '/') bad();
    } else if (state === 1) {
      if (c === '=') {
        if (cur === '') bad();
        name = cur;
        cur = '';
        state = 2;
        continue;
      }
      if (c === '}' && cur === '' && Object.keys(tags).length === 0) {
        state = 3;
        continue;
      }
      if (c === '{' || c === '}' || c === ',' || c === '/') bad();
    } else if (state === 2) {
      if (c === ',' || c === '}') {
        tags[name!] = cur;
        cur = '';
        state = c === ',' ? 1 : 3;
        continue;
      }
      if (c === '{' || c === '=' || c === '/') bad();
    } else bad();
    cur += c;
  }
  if (state !== 3 || metric === undefined) bad();
  return { org, metric: metric!, tags };
}

/**
 * FNV-1a 32-bit hash of a string's UTF-16 code units. Stable across processes and versions: it decides
 * which partition and which shard own a series.
 *
 * @param s - the string.
 * @returns an unsigned 32-bit hash.
 * @example
 * ```ts
 * import { hashSeriesKey } from '@dataplane/lsm';
 *
 * hashSeriesKey('cpu{host=a}') >>> 0;
 * ```
 * @since 0.1.0
 */
export function hashSeriesKey(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // final avalanche (murmur3 fmix32) so that `% n` spreads well for small n
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The log partition that owns a series: `hash(key) % partitions`. Producers use it so that every point of
 * a series lands in one partition, hence on one node.
 *
 * @param key - a series key.
 * @param partitions - partition count.
 * @returns the partition index.
 * @example
 * ```ts
 * import { partitionFor, seriesKey } from '@dataplane/lsm';
 *
 * partitionFor(seriesKey('cpu', { host: 'a' }), 8);
 * ```
 * @since 0.1.0
 */
export function partitionFor(key: string, partitions: number): number {
  return hashSeriesKey(key) % partitions;
}

/** @internal Shard of a series inside one node: a different mix of the hash than partitionFor. */
export function shardFor(hash: number, shards: number): number {
  return Math.floor(((Math.imul(hash, 0x9e3779b1) >>> 0) / 4294967296) * shards);
}

const STEP = 0x9e3779b97f4a7c15n;
const MASK = (1n << 64n) - 1n;

/** @internal The n-th probe of a colliding series id (open addressing over the 64-bit space). */
export function probeId(h: bigint, n: number): bigint {
  return (h + BigInt(n) * STEP) & MASK;
}
