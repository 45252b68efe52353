import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { EventRegistry, OutboxError, backoffDelay, createEvent, decodeEvent, encodeEvent, uuidv7, validateEvent } from '@dataplane/outbox';

const base = { aggregateType: 'order', aggregateId: 'o-1', type: 'OrderPlaced', payload: { total: 5 } };

describe('envelope', () => {
  it('uuidv7 has version 7, variant 10 and sorts by time', () => {
    const a = uuidv7(1_700_000_000_000);
    const b = uuidv7(1_700_000_000_001);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a < b).toBe(true);
    expect(a.replace(/-/g, '').slice(0, 12)).toBe((1_700_000_000_000).toString(16).padStart(12, '0'));
  });

  it('uuidv7 draws fresh random bits for every id (pooled random bytes never repeat within a millisecond)', () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7(1_700_000_000_000));
    expect(new Set(ids).size).toBe(5000);
    // an injected source fills the 16 bytes; version and variant bits are forced
    expect(uuidv7(0, (b) => b.fill(0xff))).toBe('00000000-0000-7fff-bfff-ffffffffffff');
  });

  it('createEvent fills defaults and round-trips through encode/decode', () => {
    const e = createEvent(base, () => 86_400_000);
    expect(e.version).toBe(1);
    expect(e.headers).toEqual({});
    expect(e.occurredAt).toBe('1970-01-02T00:00:00.000Z');
    expect(decodeEvent(encodeEvent(e))).toEqual(e);
  });

  it.each([
    [{ ...base, aggregateType: 'bad type' }, 'aggregateType'],
    [{ ...base, aggregateId: '' }, 'aggregateId'],
    [{ ...base, type: '' }, 'type'],
    [{ ...base, version: 0 }, 'version'],
    [{ ...base, version: 1.5 }, 'version'],
    [{ ...base, payload: undefined }, 'payload'],
    [{ ...base, headers: { a: 1 } }, 'header'],
    [{ ...base, id: 'nope' }, 'id'],
    [{ ...base, occurredAt: 'yesterday' }, 'occurredAt'],
  ])('rejects %j with OUTBOX_INVALID_EVENT', (input, field) => {
    let err: unknown;
    try {
      createEvent(input as never);
    } catch (e) {
      err = e;
    }
    expect(OutboxError.is(err, 'OUTBOX_INVALID_EVENT')).toBe(true);
    expect((err as Error).message).toContain(field);
  });

  it('rejects non-objects, bad JSON and cyclic payloads', () => {
    expect(() => validateEvent(null)).toThrow(/object/);
    expect(() => decodeEvent('{')).toThrow(/JSON/);
    const cyc: Record<string, unknown> = {};
    cyc.self = cyc;
    expect(() => encodeEvent(createEvent({ ...base, payload: cyc }))).toThrow(/serialisable/);
  });

  it('backoff grows exponentially within jitter bounds', () => {
    expect(backoffDelay(1, 100, 5000, () => 0.999)).toBeLessThanOrEqual(100);
    expect(backoffDelay(4, 100, 5000, () => 0.999)).toBeGreaterThan(700);
    expect(backoffDelay(30, 100, 5000, () => 0.999)).toBeLessThanOrEqual(5000);
    expect(backoffDelay(3, 100, 5000, () => 0)).toBe(50);
  });
});

describe('EventRegistry (Standard Schema via zod)', () => {
  const registry = new EventRegistry().define('OrderPlaced', {
    versions: { 1: z.object({ total: z.number() }), 2: z.object({ total: z.number(), currency: z.string() }), 3: z.object({ amount: z.object({ value: z.number(), currency: z.string() }) }) },
    upcasters: {
      1: (p) => ({ ...(p as { total: number }), currency: 'EUR' }),
      2: (p) => ({ amount: { value: (p as { total: number }).total, currency: (p as { currency: string }).currency } }),
    },
  });

  it('upcasts v1 to the newest version, validating every step', async () => {
    const e = await registry.upcast(createEvent(base));
    expect(e.version).toBe(3);
    expect(e.payload).toEqual({ amount: { value: 5, currency: 'EUR' } });
    expect(registry.latestVersion('OrderPlaced')).toBe(3);
  });

  it('rejects a payload that does not match its version, and unknown types/versions', async () => {
    await expect(registry.validate(createEvent({ ...base, payload: { total: 'x' } }))).rejects.toThrow(/total/);
    await expect(registry.validate(createEvent({ ...base, type: 'Nope' }))).rejects.toSatisfy((e) => OutboxError.is(e, 'OUTBOX_INVALID_EVENT'));
    await expect(registry.validate(createEvent({ ...base, version: 9 }))).rejects.toThrow(/no version 9/);
  });

  it('refuses definitions with gaps or missing upcasters', () => {
    expect(() => new EventRegistry().define('X', { versions: { 2: z.any() } })).toThrow(/1..n/);
    expect(() => new EventRegistry().define('X', { versions: { 1: z.any(), 2: z.any() } })).toThrow(/upcaster/);
  });
});
