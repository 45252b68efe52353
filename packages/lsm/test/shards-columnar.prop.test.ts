import fc from 'fast-check';
import { expect, it } from 'vitest';
import { decodePointBatch, encodePoints, parseSeriesKey, partitionFor, seriesKey, LsmError } from '@dataplane/lsm';

const numRuns = Number(process.env.FC_NUM_RUNS ?? 200);
const name = fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/);

it('encodePoints/decodePointBatch round-trip every point in order', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          metric: name,
          tags: fc.dictionary(name, name, { maxKeys: 3 }),
          t: fc.double({ noNaN: true, noDefaultInfinity: true }),
          v: fc.double(),
        }),
        { maxLength: 100 },
      ),
      (ps) => {
        const bytes = encodePoints(ps);
        // an unaligned view inside a pooled Buffer (as drivers hand out) decodes the same
        const pooled = Buffer.concat([Buffer.from([9, 9, 9]), bytes, Buffer.from([7])]).subarray(3, 3 + bytes.length);
        expect(Array.from(decodePointBatch(pooled).v)).toEqual(Array.from(decodePointBatch(bytes).v));
        const cols = decodePointBatch(bytes);
        expect(cols.length).toBe(ps.length);
        ps.forEach((p, i) => {
          expect(cols.keys[cols.idx[i]!]).toBe(seriesKey(p.metric, p.tags));
          expect(Object.is(cols.t[i], p.t)).toBe(true);
          expect(Object.is(cols.v[i], p.v)).toBe(true);
        });
        for (const k of cols.keys) expect(seriesKey(parseSeriesKey(k).metric, parseSeriesKey(k).tags)).toBe(k);
      },
    ),
    { numRuns },
  );
});

it('rejects truncated or corrupted batches with LSM_INVALID_ARGUMENT, never crashes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), (junk, cut) => {
      const good = encodePoints([{ metric: 'm', tags: { a: 'b' }, t: 1, v: 2 }]);
      for (const bytes of [junk, good.slice(0, cut % good.length)]) {
        try {
          decodePointBatch(bytes);
        } catch (e) {
          expect(LsmError.is(e, 'LSM_INVALID_ARGUMENT')).toBe(true);
        }
      }
    }),
    { numRuns },
  );
});

it('partitionFor is stable and spreads series', () => {
  const counts = new Array(8).fill(0);
  for (let i = 0; i < 8000; i++) counts[partitionFor(seriesKey('cpu', { host: `h${i}` }), 8)]++;
  for (const c of counts) expect(c).toBeGreaterThan(800);
  expect(partitionFor('cpu{host=a}', 8)).toBe(partitionFor('cpu{host=a}', 8));
});
