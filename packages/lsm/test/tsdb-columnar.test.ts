/**
 * The columnar write path: SeriesRef objects reused across batches (resolved once, re-resolved when
 * their content changes), validation of the whole batch before anything is applied, and the head log
 * replaying a columnar batch after a reopen.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openTsdb, type ColumnarBatch, type SeriesRef, type Tsdb } from '@dataplane/lsm';

const root = mkdtempSync(join(tmpdir(), 'lsm-tsdb-columnar-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `db-${n++}`);

function batch(series: SeriesRef[], pts: [k: number, t: number, v: number][]): ColumnarBatch {
  return { series, seriesIndex: Uint32Array.from(pts, (p) => p[0]), ts: Float64Array.from(pts, (p) => p[1]), values: Float64Array.from(pts, (p) => p[2]) };
}

async function byHost(db: Tsdb, metric = 'cpu'): Promise<Record<string, number[][]>> {
  const out: Record<string, number[][]> = {};
  for await (const s of db.query({ metric, from: 0, to: 1e9 })) out[JSON.stringify(s.tags)] = Array.from(s.ts, (t, i) => [t, s.values[i]!]);
  return out;
}

describe('columnar writes', () => {
  it('re-resolves a SeriesRef whose tags, metric or org changed in place since the last batch', async () => {
    await using db = await openTsdb(fresh(), { wal: false });
    const refs: { org?: string; metric: string; tags: Record<string, string> }[] = [
      { metric: 'cpu', tags: { host: 'a' } },
      { metric: 'cpu', tags: { host: 'b' } },
    ];
    await db.write(batch(refs, [[0, 1000, 1], [1, 1000, 2]]));
    refs[0]!.tags['host'] = 'c'; // mutated in place: the same object now names another series
    await db.write(batch(refs, [[0, 2000, 3], [1, 2000, 4]]));
    refs[1]!.tags['dc'] = 'eu'; // a tag added
    await db.write(batch(refs, [[1, 3000, 5]]));
    refs[0]!.metric = 'mem'; // metric changed
    await db.write(batch(refs, [[0, 4000, 6]]));
    refs[0]!.org = 'acme'; // org changed
    await db.write(batch(refs, [[0, 5000, 7]]));
    expect(await byHost(db)).toEqual({
      '{"host":"a"}': [[1000, 1]],
      '{"host":"b"}': [[1000, 2], [2000, 4]],
      '{"host":"c"}': [[2000, 3]],
      '{"dc":"eu","host":"b"}': [[3000, 5]],
    });
    expect(await byHost(db, 'mem')).toEqual({ '{"host":"c"}': [[4000, 6]] });
    const acme = [];
    for await (const s of db.query({ org: 'acme', metric: 'mem', from: 0, to: 1e9 })) acme.push(Array.from(s.values));
    expect(acme).toEqual([[7]]);
    expect(db.stats().series).toBe(6);
  });

  it('treats equal SeriesRef objects as one series and rejects a batch with a bad ref or point before applying any of it', async () => {
    await using db = await openTsdb(fresh(), { wal: false });
    await db.write(batch([{ metric: 'cpu', tags: { host: 'a', dc: 'eu' } }], [[0, 1000, 1]]));
    await db.write(batch([{ metric: 'cpu', tags: { dc: 'eu', host: 'a' } }], [[0, 2000, 2]]));
    const good: SeriesRef = { metric: 'cpu', tags: { host: 'b' } };
    await db.write(batch([good], [[0, 1000, 9]]));
    await expect(db.write(batch([good, { metric: '', tags: {} }], [[0, 3000, 1]]))).rejects.toMatchObject({ code: 'LSM_INVALID_ARGUMENT' });
    await expect(db.write(batch([good], [[0, 3000, 1], [1, 3000, 1]]))).rejects.toMatchObject({ code: 'LSM_INVALID_ARGUMENT' });
    await expect(db.write(batch([good], [[0, 3000, 1], [0, 3000.5, 1]]))).rejects.toMatchObject({ code: 'LSM_INVALID_ARGUMENT' });
    await expect(db.write({ series: [null as unknown as SeriesRef], seriesIndex: new Uint32Array(0), ts: new Float64Array(0), values: new Float64Array(0) })).rejects.toMatchObject({ code: 'LSM_INVALID_ARGUMENT' });
    expect(await byHost(db)).toEqual({ '{"dc":"eu","host":"a"}': [[1000, 1], [2000, 2]], '{"host":"b"}': [[1000, 9]] });
    expect(db.stats().series).toBe(2);
  });

  it('replays columnar batches from the head log after a reopen', async () => {
    const dir = fresh();
    const refs: SeriesRef[] = [
      { metric: 'cpu', tags: { host: 'a' } },
      { metric: 'cpu', tags: { host: 'b' } },
    ];
    let db = await openTsdb(dir);
    await db.write(batch(refs, [[1, 1000, 1.5], [0, 1000, -2], [1, 2000, NaN]]));
    await db.write(batch(refs, [[0, 500, 3]]));
    await db.close();
    db = await openTsdb(dir);
    expect(await byHost(db)).toEqual({ '{"host":"a"}': [[500, 3], [1000, -2]], '{"host":"b"}': [[1000, 1.5], [2000, NaN]] });
    await db.close();
  });
});
