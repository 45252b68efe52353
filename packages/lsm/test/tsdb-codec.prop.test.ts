/**
 * Chunk codecs: round-trip properties of Gorilla and the packed decimal codec (NaN, infinities, -0,
 * identical values, huge deltas, frame limits), the legacy deflated codec still decoding, rejection of
 * bad timestamps, corruption detection.
 * FC_NUM_RUNS sets the runs per property (default 300).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeChunk, encodeChunk, LsmError, MAX_TIMESTAMP } from '@dataplane/lsm';

const numRuns = Number(process.env.FC_NUM_RUNS ?? 300);

/** Strictly increasing timestamps within ±MAX_TIMESTAMP, with small, regular or huge gaps. */
const tsArb = (maxLength: number) =>
  fc
    .tuple(
      fc.integer({ min: -MAX_TIMESTAMP, max: MAX_TIMESTAMP }),
      fc.array(fc.oneof(fc.constant(10_000), fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 2 ** 40 }), fc.integer({ min: 1, max: 2 ** 50 })), { minLength: 0, maxLength }),
    )
    .map(([start, gaps]) => {
      const out = [start];
      for (const g of gaps) {
        const next = out[out.length - 1]! + g;
        if (next > MAX_TIMESTAMP) break;
        out.push(next);
      }
      return out;
    });

const special = fc.constantFrom(NaN, Infinity, -Infinity, -0, 0, Number.MIN_VALUE, -Number.MAX_VALUE, 1e308, 5e-324);
const valueArb = fc.oneof(fc.double(), special, fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 0, max: 10000 }).map((x) => x / 100));

function roundTrip(ts: number[], vs: number[]): void {
  const c = encodeChunk(Float64Array.from(ts), Float64Array.from(vs), ts.length);
  const d = decodeChunk(c);
  expect(Array.from(d.ts)).toEqual(ts);
  expect(d.vs.length).toBe(vs.length);
  for (let i = 0; i < vs.length; i++) expect(Object.is(d.vs[i], vs[i])).toBe(true);
}

describe('chunk codecs', () => {
  it('round-trips any float64 values and timestamps', () => {
    fc.assert(
      fc.property(
        tsArb(200).chain((ts) => fc.tuple(fc.constant(ts), fc.array(valueArb, { minLength: ts.length, maxLength: ts.length }))),
        ([ts, vs]) => roundTrip(ts, vs),
      ),
      { numRuns },
    );
  });

  it('round-trips decimal gauges and counters through the decimal codec', () => {
    fc.assert(
      fc.property(
        tsArb(300).chain((ts) =>
          fc.tuple(fc.constant(ts), fc.integer({ min: 0, max: 4 }), fc.array(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), { minLength: ts.length, maxLength: ts.length })),
        ),
        ([ts, scale, ks]) => roundTrip(ts, ks.map((k) => k / 10 ** scale)),
      ),
      { numRuns },
    );
  });

  it('keeps identical values and regular timestamps tiny', () => {
    const n = 720;
    const ts = Array.from({ length: n }, (_, i) => 1_451_606_400_000 + i * 10_000);
    const c = encodeChunk(Float64Array.from(ts), new Float64Array(n).fill(42.5), n);
    expect(c.length).toBeLessThanOrEqual(n / 4 + 40); // <= 2 bits per point plus the header
    roundTrip(ts, new Array<number>(n).fill(42.5));
  });

  it('uses the decimal codec when it is smaller on 2-decimal data', () => {
    const n = 720;
    const ts = Float64Array.from({ length: n }, (_, i) => i * 10_000);
    let x = 50;
    const vs = Float64Array.from({ length: n }, (_, i) => (x = Math.round((x + Math.sin(i * 7.1) * 0.8) * 100) / 100));
    const c = encodeChunk(ts, vs, n);
    const g = encodeChunk(ts, vs, n, { decimal: false });
    expect(c[0]).toBe(3);
    expect(c.length).toBeLessThan(g.length);
    expect(Array.from(decodeChunk(c).vs)).toEqual(Array.from(vs));
  });

  it('packs an integer random walk at regular timestamps in under 3 bits a point', () => {
    const n = 720;
    const ts = Float64Array.from({ length: n }, (_, i) => 1_451_606_400_000 + i * 10_000);
    let x = 50;
    const vs = Float64Array.from({ length: n }, (_, i) => (x += Math.round(Math.sin(i * 3.7))));
    const c = encodeChunk(ts, vs, n);
    expect(c[0]).toBe(3);
    expect((c.length - 21) * 8).toBeLessThan(3 * n);
    expect(Array.from(decodeChunk(c).vs)).toEqual(Array.from(vs));
  });

  it('round-trips the widest decimals and frames across the packed codec limits', () => {
    fc.assert(
      fc.property(
        tsArb(400).chain((ts) =>
          fc.tuple(
            fc.constant(ts),
            fc.integer({ min: 0, max: 6 }),
            fc.array(fc.oneof(fc.integer({ min: -(2 ** 50) + 1, max: 2 ** 50 - 1 }), fc.constantFrom(2 ** 50 - 1, -(2 ** 50) + 1, 0, 1)), { minLength: ts.length, maxLength: ts.length }),
          ),
        ),
        ([ts, scale, ks]) => roundTrip(ts, ks.map((k) => k / 10 ** scale)),
      ),
      { numRuns },
    );
  });

  it('round-trips chunks mixing huge integers with values of more decimals (rescaled, or left to Gorilla)', () => {
    const mixed = fc.oneof(
      fc.integer({ min: -(2 ** 50) + 1, max: 2 ** 50 - 1 }),
      fc.tuple(fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.integer({ min: 0, max: 6 })).map(([k, s]) => k / 10 ** s),
      fc.constantFrom(2 ** 49, -(2 ** 49), 1e-6, 0.1, 0.3, 1e9 + 0.5),
    );
    fc.assert(
      fc.property(
        tsArb(300).chain((ts) => fc.tuple(fc.constant(ts), fc.array(mixed, { minLength: ts.length, maxLength: ts.length }))),
        ([ts, vs]) => roundTrip(ts, vs),
      ),
      { numRuns },
    );
  });

  it('still reads chunks of the legacy deflated decimal codec (codec 2)', () => {
    // Written by @dataplane/lsm 0.1 (codec 2): 40 points, 10 s apart with a +17 ms jitter every 7th, 2-decimal values.
    const legacy = Buffer.from(
      'AigAAAAAAMC9px91QgAA9xyoH3VCY2r4cG/5/pAFcxgZlJyVGBgYCFAT/JZJTWBqlGiXWc42T3SR7CauVqH3svP59vF9kn0leJ5rpWyr6Cm2KTJvxDcybZWaLPWWcYrEH+kOtq2iM2Unci0QeifbxHeb77PsecFPXBtk34kAAA==',
      'base64',
    );
    expect(legacy[0]).toBe(2);
    const d = decodeChunk(new Uint8Array(legacy));
    expect(Array.from(d.ts)).toEqual(Array.from({ length: 40 }, (_, i) => 1_451_606_400_000 + i * 10_000 + (i % 7 === 3 ? 17 : 0)));
    expect(Array.from(d.vs)).toEqual(Array.from({ length: 40 }, (_, i) => Math.round((50 + Math.sin(i) * 20) * 100) / 100));
  });

  it('rejects out-of-range, fractional or unsorted timestamps and empty chunks', () => {
    const bad = [[MAX_TIMESTAMP + 1], [-MAX_TIMESTAMP - 1], [1.5], [NaN], [Infinity], [5, 5], [5, 4]];
    for (const ts of bad) {
      expect(() => encodeChunk(Float64Array.from(ts), new Float64Array(ts.length), ts.length)).toThrowError(
        expect.objectContaining({ code: 'LSM_INVALID_ARGUMENT' }) as Error,
      );
    }
    expect(() => encodeChunk(new Float64Array(0), new Float64Array(0), 0)).toThrow(LsmError);
  });

  it('detects truncated or corrupted chunks', () => {
    fc.assert(
      fc.property(tsArb(50), fc.nat(), fc.integer({ min: 1, max: 255 }), (ts, at, flip) => {
        const c = encodeChunk(Float64Array.from(ts), Float64Array.from(ts, (t) => (t % 1000) / 7), ts.length, { decimal: false });
        const truncated = c.subarray(0, Math.min(c.length - 1, 21 + (at % Math.max(1, c.length - 21))));
        if (truncated.length < c.length && ts.length > 1) {
          try {
            const d = decodeChunk(truncated);
            // A truncation inside the padding of the last byte may still decode; it must then be exact.
            expect(Array.from(d.ts)).toEqual(ts);
          } catch (err) {
            expect(LsmError.is(err, 'LSM_CORRUPT_BLOCK')).toBe(true);
          }
        }
        const hdr = c.slice();
        hdr[0] = 9 + (flip % 200);
        expect(() => decodeChunk(hdr)).toThrowError(expect.objectContaining({ code: 'LSM_CORRUPT_BLOCK' }) as Error);
      }),
      { numRuns },
    );
  });
});
