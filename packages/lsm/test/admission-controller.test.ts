import { describe, expect, it } from 'vitest';
import { createAdmissionController, createMemoryLog, level0Gate, logLagGate, memoryGate, walLagGate, LsmError } from '@dataplane/lsm';

describe('admission controller', () => {
  it('refuses with a typed retryable error when a gate is over its limit, and reports each gate', () => {
    let mem = 10;
    let l0 = 0;
    const ac = createAdmissionController({
      sampleMs: 0,
      gates: [
        { name: 'memory', limit: 100, read: () => mem },
        { name: 'level0', limit: 8, read: () => l0, appliesTo: ['write'] },
      ],
    });
    ac.admit('write');
    l0 = 9;
    let err: unknown;
    try {
      ac.admit('write');
    } catch (e) {
      err = e;
    }
    expect(LsmError.is(err, 'LSM_OVERLOADED')).toBe(true);
    expect((err as LsmError).retryable).toBe(true);
    expect((err as LsmError).retryAfterMs).toBeGreaterThan(0);
    expect((err as LsmError).message).toContain('level0');
    ac.admit('query'); // level0 applies to writes only
    mem = 101;
    expect(() => ac.admit('query')).toThrow(/memory/);
    const s = ac.stats();
    expect(s.admitted).toBe(2);
    expect(s.refused).toBe(2);
    expect(s.gates.level0).toMatchObject({ open: false, value: 9, limit: 8, refused: 1, trips: 1 });
    expect(s.gates.memory).toMatchObject({ open: false, refused: 1 });
    expect(ac.blockedBy('query')).toBe('memory');
  });

  it('reopens only at resumeAt (hysteresis) and estimates retry-after from the drain rate', () => {
    let now = 0;
    let v = 200;
    const ac = createAdmissionController({ sampleMs: 0, clock: () => now, gates: [{ name: 'walLag', limit: 100, resumeAt: 50, read: () => v }] });
    expect(() => ac.admit('write')).toThrow(LsmError);
    now = 1000;
    v = 150; // draining 50/s; 100 to go to resumeAt => ~2 s
    try {
      ac.admit('write');
      expect.unreachable();
    } catch (e) {
      expect((e as LsmError).retryAfterMs).toBe(2000);
    }
    now = 2000;
    v = 80; // under limit but above resumeAt: still closed
    expect(ac.blockedBy('write')).toBe('walLag');
    now = 3000;
    v = 50;
    expect(ac.blockedBy('write')).toBeUndefined();
    ac.admit('write');
  });

  it('samples at most every sampleMs', () => {
    let now = 0;
    let reads = 0;
    const ac = createAdmissionController({ sampleMs: 10, clock: () => now, gates: [{ name: 'g', limit: 1, read: () => ++reads }] });
    ac.admit('write');
    ac.admit('write');
    expect(reads).toBe(1);
    now = 10;
    expect(() => ac.admit('write')).toThrow(LsmError);
    expect(reads).toBe(2);
  });

  it('validates its options', () => {
    const bad = (o: unknown) => () => createAdmissionController(o as never);
    expect(bad(undefined)).toThrow(LsmError);
    expect(bad({ gates: [{ name: 'a', limit: 1, read: () => 0 }, { name: 'a', limit: 1, read: () => 0 }] })).toThrow(/unique/);
    expect(bad({ gates: [{ name: 'a', limit: Number.NaN, read: () => 0 }] })).toThrow(LsmError);
    expect(bad({ gates: [{ name: 'a', limit: 1, resumeAt: 2, read: () => 0 }] })).toThrow(LsmError);
    expect(bad({ gates: [], sampleMs: -1 })).toThrow(LsmError);
    const ac = createAdmissionController({ gates: [] });
    expect(() => ac.admit('delete' as never)).toThrow(LsmError);
  });

  it('level0Gate and walLagGate read engine stats and refuse writes only', () => {
    let l0 = 2;
    let wal = 10;
    const ac = createAdmissionController({
      sampleMs: 0,
      gates: [level0Gate(() => ({ levels: [{ level: 1, tables: 50 }, { level: 0, tables: l0 }] }), 4), walLagGate(() => ({ walBytes: wal }), 100)],
    });
    ac.admit('write');
    l0 = 5;
    expect(() => ac.admit('write')).toThrow(/level0/);
    ac.admit('query');
    l0 = 0;
    wal = 101;
    expect(() => ac.admit('write')).toThrow(/walLag/);
    expect(ac.stats().gates.walLag).toMatchObject({ open: false, value: 101 });
  });

  it('memoryGate and logLagGate read real values', async () => {
    const ac = createAdmissionController({ gates: [memoryGate(1)] });
    expect(() => ac.admit('write')).toThrow(LsmError);
    const log = createMemoryLog({ partitions: 2 });
    await log.produce(0, [new Uint8Array(1), new Uint8Array(1), new Uint8Array(1)]);
    await log.produce(1, [new Uint8Array(1)]);
    const applied = new Map<number, bigint | undefined>([
      [0, 1n],
      [1, undefined],
    ]);
    const probe = logLagGate(log, 2, () => applied);
    expect(await probe.refresh()).toBe(3);
    const ac2 = createAdmissionController({ sampleMs: 0, gates: [probe.gate] });
    expect(() => ac2.admit('write')).toThrow(/logLag/);
    applied.set(0, 3n);
    applied.set(1, 1n);
    expect(await probe.refresh()).toBe(0);
    ac2.admit('write');
  });
});
