import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OutboxError, backoffDelay, createEvent, decodeEvent, encodeEvent, uuidv7, validateEvent } from '@dataplane/outbox';

const RUNS = Number(process.env.FC_NUM_RUNS ?? 300);
const name = fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/);

describe('envelope properties', () => {
  it('encode/decode round-trips any valid event', () => {
    fc.assert(
      fc.property(name, fc.string({ minLength: 1, maxLength: 50 }), fc.string({ minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 1000 }), fc.jsonValue(), fc.dictionary(fc.string(), fc.string()), (t, a, ty, v, payload, headers) => {
        const e = createEvent({ aggregateType: t, aggregateId: a, type: ty, version: v, payload: payload ?? null, headers });
        expect(decodeEvent(encodeEvent(e))).toEqual(JSON.parse(JSON.stringify(e)));
      }),
      { numRuns: RUNS },
    );
  });

  it('validateEvent either accepts or throws OUTBOX_INVALID_EVENT, never anything else', () => {
    fc.assert(
      fc.property(fc.anything(), (x) => {
        try {
          validateEvent(x);
        } catch (err) {
          expect(OutboxError.is(err, 'OUTBOX_INVALID_EVENT')).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('uuidv7 order follows time order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 47 }), fc.integer({ min: 0, max: 2 ** 47 }), (a, b) => {
        fc.pre(a !== b);
        expect(uuidv7(a) < uuidv7(b)).toBe(a < b);
      }),
      { numRuns: RUNS },
    );
  });

  it('backoff stays within [initial/2, max]', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 100_000 }), fc.double({ min: 0, max: 0.9999, noNaN: true }), (attempt, init, extra, r) => {
        const d = backoffDelay(attempt, init, init + extra, () => r);
        expect(d).toBeGreaterThanOrEqual(init / 2);
        expect(d).toBeLessThanOrEqual(init + extra);
      }),
      { numRuns: RUNS },
    );
  });
});
