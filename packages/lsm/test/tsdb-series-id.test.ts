import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { canonicalSeriesKey, openTsdb, parseSeriesKey, seriesKey, xxhash64 } from '@dataplane/lsm';

const root = mkdtempSync(join(tmpdir(), 'lsm-tsdb-id-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('xxhash64', () => {
  it('matches the published test vectors', () => {
    // Reference vectors of XXH64 (xxHash's xsum sanity checks and the spec's examples).
    expect(xxhash64('').toString(16)).toBe('ef46db3751d8e999');
    expect(xxhash64('a').toString(16)).toBe('d24ec4f1a98c6e5b');
    expect(xxhash64('abc').toString(16)).toBe('44bc2cf5ad770999');
    expect(xxhash64('Nobody inspects the spammish repetition').toString(16)).toBe('fbcea83c8a378bf1');
    expect(xxhash64('abc', 1n)).not.toBe(xxhash64('abc'));
  });

  it('hashes every length path (< 4, < 8, < 32, >= 32 bytes) deterministically and distinctly', () => {
    const seen = new Set<bigint>();
    for (let n = 0; n < 80; n++) {
      const h = xxhash64('x'.repeat(n));
      expect(h).toBe(xxhash64(new TextEncoder().encode('x'.repeat(n))));
      expect(h >= 0n && h < 1n << 64n).toBe(true);
      seen.add(h);
    }
    expect(seen.size).toBe(80);
  });
});

describe('series ids', () => {
  it('canonical keys ignore tag order and reject forbidden characters', () => {
    expect(canonicalSeriesKey('o', 'm', { b: '1', a: '2' })).toBe(canonicalSeriesKey('o', 'm', { a: '2', b: '1' }));
    expect(() => canonicalSeriesKey('', '', {})).toThrowError(expect.objectContaining({ code: 'LSM_INVALID_ARGUMENT' }) as Error);
    expect(() => canonicalSeriesKey('', 'm', { 'a\u0000': 'x' })).toThrowError(expect.objectContaining({ code: 'LSM_INVALID_ARGUMENT' }) as Error);
  });

  it('has one key for both layers: the canonical key is the series key with the org first', () => {
    expect(seriesKey('cpu', { host: 'a', dc: 'eu' })).toBe('cpu{dc=eu,host=a}');
    expect(canonicalSeriesKey('', 'cpu', { host: 'a', dc: 'eu' })).toBe('cpu{dc=eu,host=a}');
    expect(canonicalSeriesKey('acme', 'cpu', {})).toBe('acme/cpu{}');
    expect(seriesKey('a/b', { 'x=y': 'p,q{r}', n: 'line\nbreak\\' })).toBe('a\\/b{n=line\\nbreak\\\\,x\\=y=p\\,q\\{r\\}}');
    for (const bad of ['', 'cpu', 'cpu{', '{a=b}', 'cpu{a}', 'cpu{=b}', 'cpu{a=b', 'cpu{a=b}x', 'o/{}', '/cpu{}', 'cpu{a=b,}', 'cpu\\']) {
      expect(() => parseSeriesKey(bad)).toThrowError(expect.objectContaining({ code: 'LSM_INVALID_ARGUMENT' }) as Error);
    }
  });

  it('parses every series key back to its org, metric and tags (any characters but NUL and U+0001)', () => {
    const str = fc.string({ unit: fc.constantFrom('a', 'b', '/', '{', '}', '=', ',', '\\', '\n', ' ', 'é', '😀') });
    fc.assert(
      fc.property(str, str.filter((m) => m !== ''), fc.dictionary(str.filter((k) => k !== ''), str, { maxKeys: 4 }), (org, metric, tags) => {
        const key = seriesKey(metric, tags, org);
        expect(parseSeriesKey(key)).toEqual({ org, metric, tags });
        // tag order does not matter; different series never share a key
        expect(seriesKey(metric, Object.fromEntries(Object.entries(tags).reverse()), org)).toBe(key);
        expect(seriesKey(`${metric}x`, tags, org)).not.toBe(key);
      }),
      { numRuns: Number(process.env.FC_NUM_RUNS ?? 300) },
    );
  });

  it('detects hash collisions and keeps colliding series apart, also after reopen', async () => {
    const dir = join(root, 'collide');
    const hash = () => 42n; // every series collides
    let db = await openTsdb(dir, { hash });
    await db.write([
      { metric: 'm', tags: { host: 'a' }, ts: 1000, value: 1 },
      { metric: 'm', tags: { host: 'b' }, ts: 1000, value: 2 },
      { metric: 'm', tags: { host: 'c' }, ts: 1000, value: 3 },
    ]);
    expect(db.stats().seriesCollisions).toBe(3);
    await db.flush();
    await db.write([{ metric: 'm', tags: { host: 'b' }, ts: 2000, value: 20 }]);
    await db.close();
    db = await openTsdb(dir, { hash });
    const got: Record<string, number[]> = {};
    const ids = new Set<string>();
    for await (const s of db.query({ metric: 'm', from: 0, to: 10_000 })) {
      got[s.tags['host']!] = Array.from(s.values);
      ids.add(s.id!);
    }
    expect(got).toEqual({ a: [1], b: [2, 20], c: [3] });
    expect(ids.size).toBe(3);
    await db.close();
  });
});
