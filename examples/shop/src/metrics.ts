/** Every service's metrics go into one @dataplane/lsm time-series store and are read back for the dashboard. */
import { openTsdb, type Tsdb, type TsdbPoint } from '@dataplane/lsm';

export interface Metrics {
  /** Buffers a point; buffered points are written in batches. */
  record(metric: string, tags: Record<string, string>, value: number, ts?: number): void;
  flush(): Promise<void>;
  /** Requests and p99 latency per customer replica since `from`. */
  traffic(from: number): Promise<{ replicas: { id: string; zone: string; requests: number }[]; series: { id: string; points: [number, number][] }[] }>;
  /** The last value of a gauge metric (per tag set). */
  last(metric: string, from: number): Promise<{ tags: Record<string, string>; value: number }[]>;
  tsdb: Tsdb;
  close(): Promise<void>;
}

export async function openMetrics(dir: string): Promise<Metrics> {
  const tsdb = await openTsdb(dir, { chunkWindowMs: 60_000 });
  let buffer: TsdbPoint[] = [];
  let writing: Promise<void> = Promise.resolve();
  const flush = () => {
    const batch = buffer;
    buffer = [];
    if (batch.length > 0) writing = writing.then(() => tsdb.write(batch));
    return writing;
  };
  const timer = setInterval(() => void flush(), 250);
  timer.unref();
  return {
    tsdb,
    record(metric, tags, value, ts = Date.now()) {
      buffer.push({ org: 'shop', metric, tags, ts, value });
      if (buffer.length >= 2000) void flush();
    },
    flush,
    async traffic(from) {
      await flush();
      const to = Date.now() + 1;
      const replicas: { id: string; zone: string; requests: number }[] = [];
      for await (const s of tsdb.query({ org: 'shop', metric: 'shop.request.latency_ms', from, to, agg: 'count', groupBy: ['replica', 'zone'] })) {
        let n = 0;
        for (const v of s.values) n += v;
        replicas.push({ id: s.tags.replica ?? '?', zone: s.tags.zone ?? '?', requests: n });
      }
      replicas.sort((a, b) => a.id.localeCompare(b.id));
      const series: { id: string; points: [number, number][] }[] = [];
      for await (const s of tsdb.query({ org: 'shop', metric: 'shop.request.latency_ms', from, to, step: 1000, agg: 'p99', groupBy: ['replica'] })) {
        series.push({ id: s.tags.replica ?? '?', points: Array.from(s.ts, (t, i) => [t, s.values[i]!] as [number, number]) });
      }
      series.sort((a, b) => a.id.localeCompare(b.id));
      return { replicas, series };
    },
    async last(metric, from) {
      await flush();
      const out: { tags: Record<string, string>; value: number }[] = [];
      for await (const s of tsdb.query({ org: 'shop', metric, from, to: Date.now() + 1, agg: 'last', groupBy: ['name'] })) {
        if (s.values.length > 0) out.push({ tags: s.tags, value: s.values[s.values.length - 1]! });
      }
      return out;
    },
    async close() {
      clearInterval(timer);
      await flush();
      await tsdb.close();
    },
  };
}
