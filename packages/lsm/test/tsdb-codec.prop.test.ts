/**
 * Chunk codecs: round-trip properties of Gorilla and the packed decimal codec (NaN, infinities, -0,
 * identical values, huge deltas, frame limits), the legacy deflated codec still decoding, rejection of
 * bad timestamps, corruption detection.
 * FC_NUM_RUNS sets the runs per property (default 300).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeChunk, encodeChunk, LsmError, MAX_TIMESTAMP } from '@dataplane/lsm';
import { BitReader, BitWriter } from '../src/tsdb/bit-stream.js';
import { CODEC_PACKED, CODEC_PACKED_SUM, encodeChunkUnchecked } from '../src/tsdb/chunk.js';
import { Scratch, packedDecodeUntil } from '../src/tsdb/query-scan.js';

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
    expect(c[0]).toBe(4);
    expect(c.length).toBeLessThan(g.length);
    expect(Array.from(decodeChunk(c).vs)).toEqual(Array.from(vs));
  });

  it('packs an integer random walk at regular timestamps in under 3 bits a point', () => {
    const n = 720;
    const ts = Float64Array.from({ length: n }, (_, i) => 1_451_606_400_000 + i * 10_000);
    let x = 50;
    const vs = Float64Array.from({ length: n }, (_, i) => (x += Math.round(Math.sin(i * 3.7))));
    const c = encodeChunk(ts, vs, n);
    expect(c[0]).toBe(4);
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

  it('round-trips decimal chunks through codec 4 (frame sums) and codec 3 (as earlier versions wrote it)', () => {
    fc.assert(
      fc.property(
        tsArb(700).chain((ts) =>
          fc.tuple(
            fc.constant(ts),
            fc.integer({ min: 0, max: 6 }),
            fc.oneof(fc.constant(2 ** 50 - 1), fc.constant(1000), fc.constant(0)),
            fc.array(fc.integer({ min: -(2 ** 50) + 1, max: 2 ** 50 - 1 }), { minLength: ts.length, maxLength: ts.length }),
          ),
        ),
        ([ts, scale, span, raw]) => {
          // spans: the widest k (frame sums up to 2^51 per delta), small walks, constant frames (width 0)
          const vs = raw.map((k) => (span === 0 ? 7 : span === 1000 ? (k % 1000) / 10 ** scale : k / 10 ** scale));
          const t = Float64Array.from(ts);
          const v = Float64Array.from(vs);
          const c4 = encodeChunk(t, v, ts.length);
          const c3 = encodeChunkUnchecked(t, v, ts.length, true, CODEC_PACKED);
          expect([1, CODEC_PACKED_SUM]).toContain(c4[0]);
          expect([1, CODEC_PACKED]).toContain(c3[0]);
          for (const c of [c4, c3]) {
            const d = decodeChunk(c);
            expect(Array.from(d.ts)).toEqual(ts);
            for (let i = 0; i < vs.length; i++) expect(Object.is(d.vs[i], vs[i])).toBe(true);
          }
        },
      ),
      { numRuns },
    );
  });

  it('reads frames and skips bits exactly as bit-by-bit reads do (BitReader.readFrame, skip)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 31 }),
        fc.integer({ min: 1, max: 32 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 300 }),
        fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
        fc.nat({ max: 300 }),
        (lead, width, raw, base, skip) => {
          const xs = raw.map((x) => (width === 32 ? x : x % 2 ** width));
          const w = new BitWriter(16);
          w.write(0, lead); // an unaligned start
          for (const x of xs) w.write(x, width);
          const bytes = w.finish();
          const out = new Float64Array(xs.length + 1);
          const r = new BitReader(bytes);
          r.skip(lead);
          const sum = r.readFrame(out, 1, xs.length, base, width);
          expect(Array.from(out.subarray(1))).toEqual(xs.map((x) => base + x));
          expect(sum).toBe(xs.reduce((a, x) => a + x, 0));
          expect(r.pos).toBe(lead + xs.length * width);
          // skip lands where reads land; past the end both throw
          const k = skip % (xs.length + 1);
          const a = new BitReader(bytes);
          a.skip(lead + k * width);
          if (k < xs.length) expect(a.read(width)).toBe(xs[k]);
          expect(() => new BitReader(bytes).skip(bytes.length * 8 + 1)).toThrow(RangeError);
          expect(() => new BitReader(bytes).readFrame(out, 0, xs.length + 1 + Math.ceil((8 * bytes.length) / width), 0, width)).toThrow(RangeError);
        },
      ),
      { numRuns },
    );
  });

  it('still reads chunks of the packed codec without frame sums (codec 3)', () => {
    // Written by @dataplane/lsm before codec 4 (codec 3): 300 points (3 value frames), 10 s apart with a
    // +23 ms jitter every 11th, 2-decimal values.
    const golden = Buffer.from(
      'AywBAAAAAMC9px91QgAAu5eqH3VCSmo/T3uAA6cQjXDrly6KAirly5cuXLl0UBFXLly5cuXLooCKuXLly5cuXRQEVcuXLly5cuigIq5cuXLly5dFARVy5cuXLly6KAirly5cuXLl0UBFXLly5cuXLooCKuXLly5cuXRQEVcuXLly5cuigIq5cuXLly5dFARV0a4dcuXLly5dFARVy5cuXLly6KAirly5cuXLl0UBFXLly5cuXLooCKuXLly5cuXRQEVcuXLly5cuigIq5cuXLly5dFARVy5cuXLly6KAirly5cuXLl0UBFXLly5cuXLooCKuXLly5cuXRQEVcuXLly5cujXDxQEVcuXLly5cuigIq5cuXLly5dFARVy5cuXLly6KAirly5cuXDZxEq+i42RnjBFOIcMIMv/fE8R0Tfy9M3Yiu1ZKpVCJkSMixCiAD3gAOwdM6R1TuHnPsglDyOEppyFkrVbK/WRNIbW492T0X4QLhGlmJcWYxxqjZGuMkWomw7hNA5CL1HauSbg0pkzAVuK5UsnVKwWkQILPuek7p1TpHTOueE9p/gYopSImFQKolirpYczNrDfHPHffA/yC8LYhRSi9GeNka40xgTpEWGUG4BPleM6VwbX2dMVlYOWv0fCtlKJ0SujtEaDz+nvPMeE74AD0HzQChRFKQkvJ8U4r9cTBylNRbq5l3b239QWhdESK8ZY3qWjzHiOUaItxKhrB6AT5HiujM81xmzEl2LJVOoVMySkYIaQMBU9Z4zvngPIew/KCUOo0ScmsVSq1nrzYuzxsThXUPKfVAaEKWImxdjXHOPEeY7RujHFSIMKkYv1es7Zybb2lsmYCtxXKl07h5R6iZCB/z4nmPCd88Mq1yzbnCOgAA+6EEVJJTUotV6018MdaC2Y0zqXjvjf5BKEsNIfxGiTEiISWYWwbgQ+96ruHLt3amy9hS5RvgA==',
      'base64',
    );
    expect(golden[0]).toBe(CODEC_PACKED);
    const ts = Array.from({ length: 300 }, (_, i) => 1_451_606_400_000 + i * 10_000 + (i % 11 === 5 ? 23 : 0));
    const vs = Array.from({ length: 300 }, (_, i) => Math.round((50 + Math.sin(i / 9) * 30 + (i % 13) * 0.37) * 100) / 100);
    const d = decodeChunk(new Uint8Array(golden));
    expect(Array.from(d.ts)).toEqual(ts);
    expect(Array.from(d.vs)).toEqual(vs);
    // the bounded decode of a query starting in the third value frame still reads codec 3
    const s = new Scratch();
    const m = packedDecodeUntil(new Uint8Array(golden), ts[260]!, ts[280]!, s);
    expect(m).toBe(280);
    expect(Array.from(s.vs.subarray(260, 280))).toEqual(vs.slice(260, 280));
  });

  it('detects a codec 4 frame sum that does not match its values', () => {
    // a hand-built codec 4 chunk of 2 points (1000, 3) and (1010, 3): one value frame holding the delta 0
    const chunk = (sum: number): Uint8Array => {
      const w = new BitWriter();
      const signed = (x: number): void => {
        const m = Math.abs(x);
        const len = 32 - Math.clz32(m); // m < 2^32 here
        w.write((x < 0 ? 64 : 0) | len, 7);
        w.writeWide(m, len);
      };
      w.write(0, 3); // scale
      signed(1000); // first timestamp
      signed(10); // first delta (no delta-of-delta frames for 2 points)
      signed(3); // first k
      signed(0); // value frame: minimum
      w.write(0, 6); // width
      signed(sum); // the frame's delta sum
      const payload = w.finish();
      const out = new Uint8Array(21 + payload.length);
      const dv = new DataView(out.buffer);
      out[0] = CODEC_PACKED_SUM;
      dv.setUint32(1, 2, true);
      dv.setFloat64(5, 1000, true);
      dv.setFloat64(13, 1010, true);
      out.set(payload, 21);
      return out;
    };
    expect(Array.from(decodeChunk(chunk(0)).vs)).toEqual([3, 3]);
    for (const sum of [1, -1, 1000]) {
      expect(() => decodeChunk(chunk(sum))).toThrowError(expect.objectContaining({ code: 'LSM_CORRUPT_BLOCK' }) as Error);
    }
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
