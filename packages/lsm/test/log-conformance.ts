/**
 * The LogSource conformance suite, run against the in-memory log and both real logs (unstorage's
 * testDriver pattern). Each call makes its own topic through `make` and destroys it afterwards.
 */
import { describe, expect, it } from 'vitest';
import { LsmError, type LogSource } from '@dataplane/lsm';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function drain(log: LogSource, p: number, after?: bigint, maxBatch?: number) {
  const out: { offset: bigint; value: string }[] = [];
  for await (const b of log.consume(p, { after, follow: false, maxBatch })) {
    expect(b.partition).toBe(p);
    expect(b.records.length).toBeLessThanOrEqual(maxBatch ?? 1000);
    for (const r of b.records) out.push({ offset: r.offset, value: dec(r.value) });
  }
  return out;
}

export function logConformance(name: string, make: (partitions: number) => Promise<LogSource>) {
  describe(`LogSource conformance: ${name}`, () => {
    async function withLog(partitions: number, fn: (log: LogSource) => Promise<void>) {
      const log = await make(partitions);
      await log.start();
      try {
        await fn(log);
      } finally {
        await log.destroy();
        await log.close();
      }
    }

    it('produces and consumes in order with increasing offsets, per partition', async () => {
      await withLog(3, async (log) => {
        const a = await log.produce(0, ['a0', 'a1', 'a2'].map(enc));
        const b = await log.produce(2, ['b0'].map(enc));
        await log.produce(0, ['a3'].map(enc));
        expect(a).toHaveLength(3);
        expect(a[0]! < a[1]! && a[1]! < a[2]!).toBe(true);
        const p0 = await drain(log, 0);
        expect(p0.map((r) => r.value)).toEqual(['a0', 'a1', 'a2', 'a3']);
        expect(p0.slice(0, 3).map((r) => r.offset)).toEqual(a);
        expect((await drain(log, 2)).map((r) => r.offset)).toEqual(b);
        expect(await drain(log, 1)).toEqual([]);
        expect(await log.endOffset(1)).toBeUndefined();
        expect(await log.endOffset(0)).toBe(p0[3]!.offset);
      });
    });

    it('resumes strictly after a stored offset and respects maxBatch', async () => {
      await withLog(1, async (log) => {
        const values = Array.from({ length: 250 }, (_, i) => enc(`v${i}`));
        const offs = await log.produce(0, values);
        const rest = await drain(log, 0, offs[99], 64);
        expect(rest.map((r) => r.value)).toEqual(values.slice(100).map(dec));
        expect(await drain(log, 0, offs[249])).toEqual([]);
      });
    });

    it('follows new records and stops on abort', async () => {
      await withLog(1, async (log) => {
        const ac = new AbortController();
        const seen: string[] = [];
        const reader = (async () => {
          for await (const b of log.consume(0, { signal: ac.signal, pollMs: 200 })) {
            for (const r of b.records) seen.push(dec(r.value));
            if (seen.length >= 3) ac.abort();
          }
        })();
        await log.produce(0, [enc('x')]);
        await new Promise((r) => setTimeout(r, 50));
        await log.produce(0, [enc('y'), enc('z')]);
        await reader;
        expect(seen).toEqual(['x', 'y', 'z']);
      });
    });

    it('break releases the reader; binary payloads round-trip', async () => {
      await withLog(1, async (log) => {
        const bin = new Uint8Array([0, 255, 1, 254, 0]);
        await log.produce(0, [bin, enc('second')]);
        for await (const b of log.consume(0, { maxBatch: 1 })) {
          expect(Array.from(b.records[0]!.value)).toEqual(Array.from(bin));
          break;
        }
        expect(log.stats().produced).toBe(2);
      });
    });

    it('close is idempotent (also through asyncDispose) and refuses later calls with LSM_CLOSED', async () => {
      const log = await make(1);
      await log.start();
      await log.destroy();
      await log[Symbol.asyncDispose]();
      await log.close();
      await expect(log.produce(0, [enc('x')])).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_CLOSED'));
    });

    it('rejects bad input with LSM_INVALID_ARGUMENT', async () => {
      await withLog(2, async (log) => {
        await expect(log.produce(2, [enc('x')])).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_INVALID_ARGUMENT'));
        await expect(log.produce(-1, [enc('x')])).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_INVALID_ARGUMENT'));
        await expect(log.produce(0, ['x' as unknown as Uint8Array])).rejects.toSatisfy((e) => LsmError.is(e, 'LSM_INVALID_ARGUMENT'));
        expect(() => log.consume(5)).toThrow(LsmError);
        expect(() => log.consume(0, { maxBatch: 0 })).toThrow(LsmError);
      });
    });
  });
}
