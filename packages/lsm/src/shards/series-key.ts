import { LsmError } from '../errors.js';

/** One data point addressed by metric and tags. */
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

const BAD = /[\n{}=,]/;

/**
 * The canonical key of a series: `metric{k1=v1,k2=v2}` with tags sorted by name.
 *
 * @param metric - metric name (no newline, `{`, `}`, `=` or `,`).
 * @param tags - tags; same character rules for names and values.
 * @returns the key.
 * @throws LsmError `LSM_INVALID_ARGUMENT` for an empty metric or a forbidden character.
 * @example
 * ```ts
 * import { seriesKey } from '@dataplane/lsm';
 *
 * seriesKey('cpu', { host: 'a', dc: 'eu' }); // 'cpu{dc=eu,host=a}'
 * ```
 * @since 0.1.0
 */
export function seriesKey(metric: string, tags?: Readonly<Record<string, string>>): string {
  if (typeof metric !== 'string' || metric === '' || BAD.test(metric)) {
    throw new LsmError('LSM_INVALID_ARGUMENT', `metric must be a non-empty string without newline, '{', '}', '=' or ',': ${JSON.stringify(metric)}`);
  }
  if (tags === undefined) return `${metric}{}`;
  if (typeof tags !== 'object' || tags === null) throw new LsmError('LSM_INVALID_ARGUMENT', 'tags must be an object of strings');
  const names = Object.keys(tags).sort();
  let out = `${metric}{`;
  for (let i = 0; i < names.length; i++) {
    const k = names[i]!;
    const v = tags[k];
    if (typeof v !== 'string' || k === '' || BAD.test(k) || BAD.test(v)) {
      throw new LsmError('LSM_INVALID_ARGUMENT', `tag ${JSON.stringify(k)}=${JSON.stringify(v)} is not a valid tag`);
    }
    out += (i === 0 ? '' : ',') + k + '=' + v;
  }
  return out + '}';
}

/**
 * Parses a key made by {@link seriesKey}.
 *
 * @param key - a series key.
 * @returns its metric and tags.
 * @throws LsmError `LSM_INVALID_ARGUMENT` when `key` is not a series key.
 * @example
 * ```ts
 * import { parseSeriesKey } from '@dataplane/lsm';
 *
 * parseSeriesKey('cpu{host=a}'); // { metric: 'cpu', tags: { host: 'a' } }
 * ```
 * @since 0.1.0
 */
export function parseSeriesKey(key: string): { metric: string; tags: Record<string, string> } {
  const open = key.indexOf('{');
  if (open <= 0 || !key.endsWith('}')) throw new LsmError('LSM_INVALID_ARGUMENT', `not a series key: ${JSON.stringify(key)}`);
  const tags: Record<string, string> = {};
  const body = key.slice(open + 1, -1);
  if (body !== '') {
    for (const pair of body.split(',')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new LsmError('LSM_INVALID_ARGUMENT', `not a series key: ${JSON.stringify(key)}`);
      tags[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return { metric: key.slice(0, open), tags };
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
