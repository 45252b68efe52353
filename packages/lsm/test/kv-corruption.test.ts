/**
 * Corruption test: flips random bytes in tables and WAL files of a closed store, then opens and reads it.
 * Every outcome must be a typed LsmError or correct data (in salvage mode, WAL damage may drop data);
 * never a crash, a hang or a wrong value. CORRUPT_TRIALS sets the number of trials (default 200).
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LsmError, openDb, textOf } from '@dataplane/lsm';

const TRIALS = Number(process.env.CORRUPT_TRIALS ?? 200);
const root = mkdtempSync(join(tmpdir(), 'lsm-kv-corrupt-'));
const base = join(root, 'base');
const data = new Map<string, string>();
const walKeys = new Set<string>();
let lastWalKey = '';
const opts = { memtableBytes: 16 * 1024, arenaSlabBytes: 64 * 1024, blockBytes: 512 };

beforeAll(async () => {
  const db = await openDb(base, opts);
  for (let i = 0; i < 400; i++) {
    const k = `key-${String(i).padStart(4, '0')}`;
    const v = `value-${i}-${'x'.repeat(i % 50)}`;
    await db.put(k, v);
    data.set(k, v);
  }
  await db.flush();
  await db.close();
  const db2 = await openDb(base, { ...opts, memtableBytes: 1024 * 1024 });
  for (let i = 0; i < 60; i++) {
    const k = `wal-${String(i).padStart(3, '0')}`;
    await db2.put(k, `w${i}`);
    data.set(k, `w${i}`);
    walKeys.add(k);
    lastWalKey = k;
  }
  await db2.close();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let seed = 987654321;
const rand = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};

async function check(dir: string, salvage: boolean, walFlip: boolean): Promise<string> {
  let db;
  try {
    db = await openDb(dir, { ...opts, salvage });
  } catch (err) {
    expect(LsmError.is(err), String(err)).toBe(true);
    return `open:${(err as LsmError).code}`;
  }
  try {
    for (const [k, v] of data) {
      try {
        const got = await db.get(k);
        if (got === undefined) {
          // only WAL damage may drop data: a torn last record, or anything past the damage when salvaging
          expect(walFlip && walKeys.has(k) && (salvage || k === lastWalKey), `lost ${k}`).toBe(true);
        } else expect(textOf(got)).toBe(v);
      } catch (err) {
        if (!LsmError.is(err)) throw err;
        expect(err.code).toBe('LSM_CORRUPT_BLOCK');
      }
    }
    try {
      for await (const [k, v] of db.iterator()) expect(textOf(v)).toBe(data.get(textOf(k)));
    } catch (err) {
      if (!LsmError.is(err)) throw err;
    }
    return 'read';
  } finally {
    await db.close();
  }
}

describe('kv corruption', () => {
  it(`survives ${TRIALS} random byte flips with typed errors or salvage`, async () => {
    const files = readdirSync(base).filter((f) => f.endsWith('.sst') || f.endsWith('.log'));
    const logs = files.filter((f) => f.endsWith('.log') && readFileSync(join(base, f)).length > 0);
    expect(logs.length).toBeGreaterThan(0);
    const outcomes = new Map<string, number>();
    for (let t = 0; t < TRIALS; t++) {
      const dir = join(root, `t${t}`);
      cpSync(base, dir, { recursive: true });
      rmSync(join(dir, 'LOCK'), { force: true });
      const pool = t % 2 === 0 ? logs : files.filter((f) => f.endsWith('.sst'));
      const f = pool[Math.floor(rand() * pool.length)]!;
      const buf = readFileSync(join(dir, f));
      const at = Math.floor(rand() * buf.length);
      buf[at] = buf[at]! ^ (1 + Math.floor(rand() * 255));
      writeFileSync(join(dir, f), buf);
      const o = await check(dir, t % 4 < 2 ? false : true, f.endsWith('.log'));
      outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
      rmSync(dir, { recursive: true, force: true });
    }
    // both typed failures and successful reads must have occurred
    expect([...outcomes.keys()].some((k) => k.startsWith('open:'))).toBe(true);
    expect(outcomes.get('read') ?? 0).toBeGreaterThan(0);
  }, 120_000);

  it('a WAL damaged mid-file fails with LSM_CORRUPT_WAL, and salvage replays up to the damage', async () => {
    const dir = join(root, 'mid');
    cpSync(base, dir, { recursive: true });
    rmSync(join(dir, 'LOCK'), { force: true });
    const log = readdirSync(dir).find((f) => f.endsWith('.log') && readFileSync(join(dir, f)).length > 0)!;
    const buf = readFileSync(join(dir, log));
    const mid = Math.floor(buf.length / 2);
    buf[mid] = buf[mid]! ^ 0xff;
    writeFileSync(join(dir, log), buf);
    await expect(openDb(dir, opts)).rejects.toSatisfy((e: unknown) => LsmError.is(e, 'LSM_CORRUPT_WAL'));
    const db = await openDb(dir, { ...opts, salvage: true });
    expect(db.stats().walBytesSalvaged).toBeGreaterThan(0);
    expect(textOf((await db.get('wal-000'))!)).toBe('w0');
    expect(await db.get(lastWalKey)).toBeUndefined();
    expect(textOf((await db.get('key-0001'))!)).toBe(data.get('key-0001'));
    await db.close();
  });

  it('a torn WAL tail is dropped cleanly', async () => {
    const dir = join(root, 'torn');
    cpSync(base, dir, { recursive: true });
    rmSync(join(dir, 'LOCK'), { force: true });
    const log = readdirSync(dir).find((f) => f.endsWith('.log') && readFileSync(join(dir, f)).length > 0)!;
    const buf = readFileSync(join(dir, log));
    writeFileSync(join(dir, log), buf.subarray(0, buf.length - 3));
    const db = await openDb(dir, opts);
    expect(await db.get(lastWalKey)).toBeUndefined();
    expect(textOf((await db.get('wal-058'))!)).toBe('w58');
    await db.close();
  });
});
