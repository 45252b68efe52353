import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LsmError, bytesOf, leveledCompaction, openDb, textOf, type CompactionStrategy } from '@dataplane/lsm';
import { crc32c } from '../src/internal/crc32c.js';
import { buildBloom, bloomMayContain, hash1, hash2, theoreticalFpr, probesFor } from '../src/kv/bloom.js';
import { Memtable, KIND_PUT } from '../src/kv/memtable.js';

const root = mkdtempSync(join(tmpdir(), 'lsm-kv-db-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `db${n++}`);
const small = { memtableBytes: 8 * 1024, arenaSlabBytes: 64 * 1024, blockBytes: 512 };

describe('internals', () => {
  it('crc32c matches the standard check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    const big = Buffer.alloc(1000, 7);
    expect(crc32c(big, 500, 1000, crc32c(big, 0, 500))).toBe(crc32c(big));
  });

  it('bloom filter false-positive rate is within 20% of theory', () => {
    for (const bits of [6, 10, 14]) {
      const keys = 20000;
      const h1 = new Uint32Array(keys);
      const h2 = new Uint32Array(keys);
      for (let i = 0; i < keys; i++) {
        const k = Buffer.from(`member-${i}`);
        h1[i] = hash1(k, 0, k.length);
        h2[i] = hash2(k, 0, k.length);
      }
      const f = buildBloom(h1, h2, keys, bits);
      for (let i = 0; i < keys; i++) expect(bloomMayContain(f, h1[i]!, h2[i]!)).toBe(true);
      const probes = 200000;
      let fp = 0;
      for (let i = 0; i < probes; i++) {
        const k = Buffer.from(`absent-${i}`);
        if (bloomMayContain(f, hash1(k, 0, k.length), hash2(k, 0, k.length))) fp++;
      }
      const theory = theoreticalFpr(f.readUInt32LE(1), keys, probesFor(bits));
      expect(Math.abs(fp / probes - theory) / theory).toBeLessThan(0.2);
    }
  });

  it('memtable keeps versions ordered and arena slabs are released whole', () => {
    let r = 1;
    const m = new Memtable(64 * 1024, () => ((r = (r * 16807) % 2147483647) / 2147483647));
    for (let i = 0; i < 5000; i++) m.add(i + 1, KIND_PUT, Buffer.from(`k${i % 100}`), Buffer.from(`v${i}`));
    const out = { seq: 0, kind: 0, value: undefined as Buffer | undefined };
    expect(m.get(Buffer.from('k7'), 5000, out)).toBe(true);
    expect(out.value!.toString()).toBe('v4907');
    expect(m.get(Buffer.from('k7'), 108, out)).toBe(true);
    expect(out.value!.toString()).toBe('v107');
    expect(m.get(Buffer.from('k7'), 5, out)).toBe(false);
    expect(m.arena.slabs.length).toBeGreaterThan(1);
    m.release();
    expect(m.arena.slabs.length).toBe(0);
  });
});

describe('openDb', () => {
  it('put/get/del with strings and bytes, batch, reopen', async () => {
    const dir = fresh();
    let db = await openDb(dir, small);
    await db.put('a', '1');
    await db.put(bytesOf('b'), new Uint8Array([1, 2, 3]));
    await db.write([
      { type: 'put', key: 'c', value: '3' },
      { type: 'del', key: 'a' },
    ]);
    await db.batch().put('d', '4').del('c').write();
    expect(await db.get('a')).toBeUndefined();
    expect([...(await db.get('b'))!]).toEqual([1, 2, 3]);
    expect(await db.get('c')).toBeUndefined();
    expect(textOf((await db.get('d'))!)).toBe('4');
    await db.close();
    await db.close();
    db = await openDb(dir, small);
    expect(textOf((await db.get('d'))!)).toBe('4');
    expect(db.stats().walRecordsReplayed).toBe(4);
    await db.close();
    await expect(db.get('d')).rejects.toSatisfy((e: unknown) => LsmError.is(e, 'LSM_CLOSED'));
  });

  it('group-commits concurrent writes into fewer fsyncs, and interval mode syncs in the background', async () => {
    const db = await openDb(fresh(), small);
    await Promise.all(Array.from({ length: 200 }, (_, i) => db.put(`g${i}`, 'v')));
    const s = db.stats();
    expect(s.walSyncs).toBeGreaterThan(0);
    expect(s.walSyncs).toBeLessThan(200);
    await db.close();
    const di = await openDb(fresh(), { ...small, wal: { sync: 'interval', intervalMs: 5 } });
    await di.put('a', 'b');
    for (let i = 0; i < 400 && di.stats().walSyncs === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(di.stats().walSyncs).toBeGreaterThan(0);
    await di.close();
  });

  it('refuses a concurrent open of the same directory', async () => {
    const dir = fresh();
    await using db = await openDb(dir, small);
    await expect(openDb(dir, small)).rejects.toSatisfy((e: unknown) => LsmError.is(e, 'LSM_LOCKED'));
    expect(db.stats().closed).toBe(false);
  });

  it('validates input at the edge', async () => {
    await expect(openDb(fresh(), { memtableBytes: -1 })).rejects.toSatisfy((e: unknown) => LsmError.is(e, 'LSM_INVALID_ARGUMENT'));
    await expect(openDb(fresh(), { wal: { sync: 'sometimes' as never } })).rejects.toSatisfy((e: unknown) => LsmError.is(e, 'LSM_INVALID_ARGUMENT'));
    const ac = new AbortController();
    ac.abort();
    await expect(openDb(fresh(), { signal: ac.signal })).rejects.toSatisfy((e: unknown) => LsmError.is(e, 'LSM_ABORTED'));
    await using db = await openDb(fresh(), small);
    await expect(db.put('', 'x')).rejects.toSatisfy((e: unknown) => LsmError.is(e, 'LSM_INVALID_ARGUMENT'));
    await expect(db.put(42 as never, 'x')).rejects.toSatisfy((e: unknown) => LsmError.is(e, 'LSM_INVALID_ARGUMENT'));
    await expect(db.write([{ type: 'nope' } as never])).rejects.toSatisfy((e: unknown) => LsmError.is(e, 'LSM_INVALID_ARGUMENT'));
    expect(() => db.iterator({ limit: -1 })).toThrow(LsmError);
  });

  it('iterates ranges forward and in reverse across memtable and tables, and break releases', async () => {
    await using db = await openDb(fresh(), { ...small, wal: { sync: 'never' }, compaction: leveledCompaction({ l0Trigger: 2, targetTableBytes: 4096 }) });
    for (let i = 0; i < 2000; i++) await db.put(`k${String((i * 7919) % 2000).padStart(4, '0')}`, `v${(i * 7919) % 2000}`);
    await db.flush();
    for (let i = 0; i < 2000 && (db.stats().compactions === 0 || db.stats().levels[0]!.tables >= 2); i++) await new Promise((r) => setTimeout(r, 5));
    expect(db.stats().levels[1]!.tables).toBeGreaterThan(1);
    for (let i = 0; i < 2000; i += 3) await db.del(`k${String(i).padStart(4, '0')}`);
    const all: string[] = [];
    for await (const [k, v] of db.iterator()) {
      all.push(textOf(k));
      expect(textOf(v)).toBe(`v${Number(textOf(k).slice(1))}`);
    }
    expect(all.length).toBe(2000 - 667);
    const back: string[] = [];
    for await (const [k] of db.iterator({ reverse: true })) back.push(textOf(k));
    expect(back).toEqual([...all].reverse());
    const keys: string[] = [];
    for await (const [k] of db.iterator({ gt: 'k0100', lte: 'k0110', reverse: true })) keys.push(textOf(k));
    expect(keys).toEqual(['k0110', 'k0109', 'k0107', 'k0106', 'k0104', 'k0103', 'k0101']);
    let seen = 0;
    for await (const _ of db.iterator()) if (++seen === 5) break;
    expect(db.stats().snapshots).toBe(0);
    const limited: string[] = [];
    for await (const [k] of db.iterator({ gte: 'k1990', limit: 3 })) limited.push(textOf(k));
    expect(limited).toEqual(['k1990', 'k1991', 'k1993']);
  });

  it('snapshots see a frozen view through flushes and compactions', async () => {
    await using db = await openDb(fresh(), small);
    await db.put('x', 'old');
    const snap = db.snapshot();
    await db.put('x', 'new');
    await db.del('y');
    await db.flush();
    await db.compactRange();
    expect(textOf((await db.get('x', { snapshot: snap }))!)).toBe('old');
    expect(textOf((await db.get('x'))!)).toBe('new');
    snap.release();
    snap.release();
    expect(db.stats().snapshots).toBe(0);
  });

  it('with wal: false, a completed flush is durable and later writes are not partially visible', async () => {
    const dir = fresh();
    const db = await openDb(dir, { ...small, wal: false });
    for (let i = 0; i < 50; i++) await db.put(`a${i}`, 'x');
    await db.flush();
    for (let i = 0; i < 50; i++) await db.put(`b${i}`, 'y');
    const crashed = fresh();
    cpSync(dir, crashed, { recursive: true }); // the disk as a crash would leave it
    await db.close();
    const after = await openDb(crashed, { ...small, wal: false });
    for (let i = 0; i < 50; i++) expect(await after.get(`a${i}`)).toBeDefined();
    for (let i = 0; i < 50; i++) expect(await after.get(`b${i}`)).toBeUndefined();
    await after.close();
  });

  it('writes stall (slow down, then wait) when L0 piles up, and stats show it', async () => {
    const never: CompactionStrategy = { name: 'lazy', pick: () => undefined };
    await using db = await openDb(fresh(), { ...small, compaction: leveledCompaction({ l0Trigger: 6 }), l0SlowdownTables: 2, l0StopTables: 4 });
    const val = 'v'.repeat(500);
    for (let i = 0; i < 600; i++) await db.put(`k${i % 300}`, val);
    const s = db.stats();
    expect(s.stallsSlowdown + s.stallsStop).toBeGreaterThan(0);
    expect(s.levels[0]!.tables).toBeLessThanOrEqual(8);
    expect(never.pick({ levels: [], maxLevels: 7, busy: new Set(), now: 0 })).toBeUndefined();
  });

  it('prunes and drops tables by footer time range, with a partitioning strategy', async () => {
    const timeRange = (k: Uint8Array) => {
      const t = Number(textOf(k).split(':')[1]);
      return [t, t] as const;
    };
    const byWindow: CompactionStrategy = {
      name: 'window',
      pick: (v) => {
        const l0 = v.levels[0]!;
        if (l0.length < 3) return undefined;
        return { inputs: l0.map((t) => t.id), outputLevel: 1, partition: (k) => Math.floor(timeRange(k)[0] / 100) };
      },
    };
    await using db = await openDb(fresh(), { ...small, timeRange, compaction: byWindow });
    for (let w = 0; w < 4; w++) {
      for (let t = w * 100; t < w * 100 + 100; t += 5) await db.put(`s${t % 7}:${t}`, 'v'.repeat(40));
      await db.flush();
    }
    for (let i = 0; i < 2000 && db.stats().compactions === 0; i++) await new Promise((res) => setTimeout(res, 5));
    expect(db.stats().levels[1]!.tables).toBeGreaterThanOrEqual(3);
    const inRange: string[] = [];
    const before = db.stats().tablesPrunedByTime;
    for await (const [k] of db.iterator({ timeRange: { min: 300, max: 399 } })) inRange.push(textOf(k));
    expect(inRange.length).toBeGreaterThanOrEqual(20);
    expect(db.stats().tablesPrunedByTime).toBeGreaterThan(before);
    const dropped = await db.dropTablesOlderThan(200);
    expect(dropped).toBeGreaterThan(0);
    expect(await db.get('s0:0')).toBeUndefined();
    expect(await db.get(`s${305 % 7}:305`)).toBeDefined();
  });

  it('get and getMany return copies of table values; getMany with borrow returns the same bytes without a copy', async () => {
    await using db = await openDb(fresh(), small);
    const keys: string[] = [];
    for (let i = 0; i < 200; i++) {
      keys.push(`k${String(i).padStart(4, '0')}`);
      await db.put(keys[i]!, `value-${i}-${'x'.repeat(i % 13)}`);
    }
    await db.flush();
    const want = keys.map((_, i) => `value-${i}-${'x'.repeat(i % 13)}`);
    const borrowed = await db.getMany(keys, { borrow: true });
    expect(borrowed.map((v) => textOf(v!))).toEqual(want);
    // a caller that modifies what get/getMany returned does not change what is read next
    const copies = await db.getMany(keys);
    for (const v of copies) v!.fill(0x21);
    const one = (await db.get(keys[7]!))!;
    one.fill(0x21);
    expect((await db.getMany(keys)).map((v) => textOf(v!))).toEqual(want);
    expect((await db.getMany(keys, { borrow: true })).map((v) => textOf(v!))).toEqual(want);
    expect(textOf((await db.get(keys[7]!))!)).toBe(want[7]);
  });

  it('getMany reads many keys at one snapshot and a time-range hint skips the tables outside it', async () => {
    const timeRange = (k: Uint8Array) => {
      const t = Number(textOf(k).split(':')[1]);
      return [t, t] as const;
    };
    const none: CompactionStrategy = { name: 'none', pick: () => undefined };
    await using db = await openDb(fresh(), { ...small, timeRange, compaction: none });
    const keys: string[] = [];
    for (let w = 0; w < 4; w++) {
      // one table per window of 100 time units: [w*100, w*100+95]
      for (let t = w * 100; t < w * 100 + 100; t += 5) {
        keys.push(`s${t % 7}:${t}`);
        await db.put(`s${t % 7}:${t}`, `v${t}`);
      }
      await db.flush();
    }
    expect(db.stats().tables).toBe(4);
    const asText = (vs: (Uint8Array | undefined)[]) => vs.map((v) => (v === undefined ? undefined : textOf(v)));
    const all = [...keys, 'absent:150'];
    const plain = asText(await db.getMany(all));
    expect(plain).toEqual([...keys.map((k) => `v${k.split(':')[1]}`), undefined]);
    const one: (string | undefined)[] = [];
    for (const k of all) one.push(asText([await db.get(k)])[0]);
    expect(one).toEqual(plain);
    expect(await db.getMany([])).toEqual([]);

    // hint [300, 399]: the three older tables are skipped once for the whole call, not once per key
    let before = db.stats().tablesPrunedByTime;
    const bloomBefore = db.stats().bloomChecks;
    const hinted = asText(await db.getMany(all, { timeRange: { min: 300, max: 399 } }));
    expect(db.stats().tablesPrunedByTime - before).toBe(3);
    expect(hinted).toEqual(all.map((k) => (Number(k.split(':')[1]) >= 300 ? `v${k.split(':')[1]}` : undefined)));
    // only the one table in range was asked (bloom check per key, at most), never the skipped ones
    expect(db.stats().bloomChecks - bloomBefore).toBeLessThanOrEqual(all.length);
    before = db.stats().tablesPrunedByTime;
    expect(textOf((await db.get('s0:105', { timeRange: { min: 100, max: 100 } }))!)).toBe('v105');
    expect(await db.get('s0:0', { timeRange: { min: 100, max: 199 } })).toBeUndefined();
    expect(db.stats().tablesPrunedByTime - before).toBe(6);

    // the memtable is never skipped; a snapshot reads the old value
    const snap = db.snapshot();
    await db.put('s0:0', 'new');
    expect(asText(await db.getMany(['s0:0'], { timeRange: { min: 300, max: 399 } }))).toEqual(['new']);
    expect(asText(await db.getMany(['s0:0'], { snapshot: snap }))).toEqual(['v0']);
    snap.release();

    await expect(db.getMany('s0:0' as unknown as string[])).rejects.toMatchObject({ code: 'LSM_INVALID_ARGUMENT' });
    await expect(db.getMany(['s0:0'], { timeRange: { min: 'a' } as unknown as { min: number; max: number } })).rejects.toMatchObject({ code: 'LSM_INVALID_ARGUMENT' });
    await expect(db.get('s0:0', { timeRange: null as unknown as { min: number; max: number } })).rejects.toMatchObject({ code: 'LSM_INVALID_ARGUMENT' });
    await expect(db.getMany([''])).rejects.toMatchObject({ code: 'LSM_INVALID_ARGUMENT' });
    await db.close();
    await expect(db.getMany(['s0:0'])).rejects.toMatchObject({ code: 'LSM_CLOSED' });
  });
});
