import { LsmError } from '../errors.js';
import type { ColumnarBatch, SeriesRef } from './types.js';

/** The 10 fields of TSBS "cpu-only", each stored as its own metric `cpu_<field>`. @since 0.1.0 */
export const TSBS_CPU_FIELDS = [
  'usage_user',
  'usage_system',
  'usage_idle',
  'usage_nice',
  'usage_iowait',
  'usage_irq',
  'usage_softirq',
  'usage_steal',
  'usage_guest',
  'usage_guest_nice',
] as const;

const REGIONS: Record<string, readonly string[]> = {
  'us-east-1': ['us-east-1a', 'us-east-1b', 'us-east-1c', 'us-east-1e'],
  'us-west-1': ['us-west-1a', 'us-west-1b'],
  'us-west-2': ['us-west-2a', 'us-west-2b', 'us-west-2c'],
  'eu-west-1': ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'],
  'eu-central-1': ['eu-central-1a', 'eu-central-1b'],
  'ap-southeast-1': ['ap-southeast-1a', 'ap-southeast-1b'],
  'ap-southeast-2': ['ap-southeast-2a', 'ap-southeast-2b'],
  'ap-northeast-1': ['ap-northeast-1a', 'ap-northeast-1c'],
  'sa-east-1': ['sa-east-1a', 'sa-east-1b', 'sa-east-1c'],
};
const OS = ['Ubuntu16.10', 'Ubuntu16.04LTS', 'Ubuntu15.10'];
const ARCH = ['x64', 'x86'];
const TEAM = ['SF', 'NYC', 'LON', 'CHI'];
const ENV = ['production', 'staging', 'test'];

/** Options of {@link generateTsbsCpuOnly}. @since 0.1.0 */
export interface TsbsOptions {
  /** Number of hosts. */
  hosts: number;
  /** Hours of data. */
  hours: number;
  /** PRNG seed: same seed, same data. @defaultValue 1 */
  seed?: number | undefined;
  /** First timestamp (ms). @defaultValue 2016-01-01T00:00:00Z (TSBS's default) */
  start?: number | undefined;
  /** Sampling interval (ms). @defaultValue 10,000 */
  intervalMs?: number | undefined;
  /** `integer` (TSBS's shape) or `decimal2` (gauges with two decimals). @defaultValue 'integer' */
  values?: 'integer' | 'decimal2' | undefined;
  /** Timestamps per yielded batch (each batch has hosts x 10 points per timestamp). @defaultValue 360 */
  batchTimestamps?: number | undefined;
  /** Tenant of every series. @defaultValue '' */
  org?: string | undefined;
}

/** @internal mulberry32: a seeded PRNG (the generator's and the benchmarks' random hosts and times). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The TSBS host tag sets (hostname, region, datacenter, rack, os, arch, team, service, service_version,
 * service_environment), deterministic by seed.
 *
 * @param hosts - number of hosts.
 * @param seed - PRNG seed. @defaultValue 1
 * @returns one tag object per host.
 * @throws LsmError `LSM_INVALID_ARGUMENT` for a bad count.
 * @example
 * ```ts
 * import { tsbsHosts } from '@dataplane/lsm';
 *
 * tsbsHosts(2)[0]!.hostname; // 'host_0'
 * ```
 * @since 0.1.0
 */
export function tsbsHosts(hosts: number, seed = 1): Record<string, string>[] {
  if (!(Number.isInteger(hosts) && hosts >= 0)) throw new LsmError('LSM_INVALID_ARGUMENT', 'hosts must be an integer >= 0');
  const r = prng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const regions = Object.keys(REGIONS);
  const out: Record<string, string>[] = [];
  for (let i = 0; i < hosts; i++) {
    const region = pick(regions);
    out.push({
      hostname: `host_${i}`,
      region,
      datacenter: pick(REGIONS[region]!),
      rack: String(Math.floor(r() * 100)),
      os: pick(OS),
      arch: pick(ARCH),
      team: pick(TEAM),
      service: String(Math.floor(r() * 20)),
      service_version: String(Math.floor(r() * 2)),
      service_environment: pick(ENV),
    });
  }
  return out;
}

/**
 * Generates the TSBS "cpu-only" devops data set: every host reports 10 cpu metrics every 10 s, each a
 * clamped random walk in [0, 100]. Deterministic by seed. Yields columnar batches ready for
 * {@link Tsdb.write}; the `series` array is shared by every batch (series i = host floor(i/10), field i%10).
 *
 * @param opts - see {@link TsbsOptions}.
 * @returns an iterable of batches.
 * @throws LsmError `LSM_INVALID_ARGUMENT` for bad sizes.
 * @example
 * ```ts
 * import { generateTsbsCpuOnly } from '@dataplane/lsm';
 *
 * let n = 0;
 * for (const b of generateTsbsCpuOnly({ hosts: 2, hours: 1 })) n += b.ts.length;
 * n; // 2 hosts x 10 metrics x 360 samples = 7200
 * ```
 * @since 0.1.0
 */
export function* generateTsbsCpuOnly(opts: TsbsOptions): Generator<ColumnarBatch> {
  const { hosts, hours } = opts;
  if (!(Number.isInteger(hosts) && hosts > 0)) throw new LsmError('LSM_INVALID_ARGUMENT', 'hosts must be a positive integer');
  if (!(Number.isFinite(hours) && hours > 0)) throw new LsmError('LSM_INVALID_ARGUMENT', 'hours must be > 0');
  const interval = opts.intervalMs ?? 10_000;
  const start = opts.start ?? Date.UTC(2016, 0, 1);
  const per = opts.batchTimestamps ?? 360;
  const decimals = opts.values === 'decimal2';
  const seed = opts.seed ?? 1;
  const tags = tsbsHosts(hosts, seed);
  const series: SeriesRef[] = [];
  for (const t of tags) for (const f of TSBS_CPU_FIELDS) series.push({ org: opts.org ?? '', metric: `cpu_${f}`, tags: t });
  const r = prng(seed ^ 0x5bd1e995);
  const state = new Float64Array(series.length);
  for (let i = 0; i < state.length; i++) state[i] = r() * 100;
  const total = Math.floor((hours * 3_600_000) / interval);
  const S = series.length;
  for (let t0 = 0; t0 < total; t0 += per) {
    const nT = Math.min(per, total - t0);
    const n = nT * S;
    const seriesIndex = new Uint32Array(n);
    const ts = new Float64Array(n);
    const values = new Float64Array(n);
    let at = 0;
    for (let k = 0; k < nT; k++) {
      const t = start + (t0 + k) * interval;
      for (let s = 0; s < S; s++) {
        let v = state[s]! + (r() - 0.5) * 2;
        v = v < 0 ? 0 : v > 100 ? 100 : v;
        state[s] = v;
        seriesIndex[at] = s;
        ts[at] = t;
        values[at] = decimals ? Math.round(v * 100) / 100 : Math.round(v);
        at++;
      }
    }
    yield { series, seriesIndex, ts, values };
  }
}
