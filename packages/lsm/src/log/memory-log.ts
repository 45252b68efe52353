import { LsmError } from '../errors.js';
import type { ConsumeOptions, LogBatch, LogRecord, LogSource, LogSourceStats } from './log-source.js';
import { checkPartition, checkPartitionCount, checkTopic, checkValues, positiveInt, sleep, throwIfAborted } from './validate.js';

/** Options of {@link createMemoryLog}. */
export interface MemoryLogOptions {
  /** Topic name. @defaultValue 'memory' */
  topic?: string | undefined;
  /** Number of partitions. @defaultValue 1 */
  partitions?: number | undefined;
}

/**
 * An in-process {@link LogSource} (offsets 1, 2, 3… per partition). For tests, examples and single-process
 * use; it is not durable.
 *
 * @param options - topic and partition count.
 * @returns a started-on-demand log source.
 * @throws LsmError `LSM_INVALID_ARGUMENT` for a bad topic or partition count.
 * @example
 * ```ts
 * import { createMemoryLog } from '@dataplane/lsm';
 *
 * const log = createMemoryLog({ partitions: 2 });
 * await log.produce(0, [new TextEncoder().encode('hello')]);
 * for await (const batch of log.consume(0, { follow: false })) console.log(batch.records.length);
 * ```
 * @since 0.1.0
 */
export function createMemoryLog(options: MemoryLogOptions = {}): LogSource {
  const topic = options.topic ?? 'memory';
  const partitions = options.partitions ?? 1;
  checkTopic(topic);
  checkPartitionCount(partitions);
  const parts: LogRecord[][] = Array.from({ length: partitions }, () => []);
  const waiters = new Set<() => void>();
  const st: LogSourceStats = { produced: 0, consumed: 0, batches: 0 };
  let closed = false;

  function wake() {
    for (const w of waiters) w();
    waiters.clear();
  }

  const source: LogSource = {
    topic,
    partitions,
    async start() {},
    async produce(partition, values, signal) {
      if (closed) throw new LsmError('LSM_CLOSED', 'log is closed');
      checkPartition(partition, partitions);
      checkValues(values);
      throwIfAborted(signal);
      const p = parts[partition]!;
      const out: bigint[] = [];
      for (const v of values) {
        const offset = BigInt(p.length + 1);
        p.push({ offset, value: v.slice() });
        out.push(offset);
      }
      st.produced += values.length;
      wake();
      return out;
    },
    consume(partition: number, opts: ConsumeOptions = {}): AsyncIterable<LogBatch> {
      checkPartition(partition, partitions);
      const maxBatch = positiveInt('maxBatch', opts.maxBatch, 1000);
      const pollMs = positiveInt('pollMs', opts.pollMs, 1000);
      const follow = opts.follow ?? true;
      const signal = opts.signal;
      return {
        async *[Symbol.asyncIterator]() {
          const p = parts[partition]!;
          let next = opts.after === undefined ? 0 : Number(opts.after);
          const end = p.length;
          while (!closed && !signal?.aborted) {
            if (!follow && next >= end) return;
            if (next >= p.length) {
              await new Promise<void>((resolve) => {
                waiters.add(resolve);
                void sleep(pollMs, signal).then(resolve);
              });
              continue;
            }
            const stop = Math.min(p.length, next + maxBatch, follow ? Infinity : end);
            const records = p.slice(next, stop);
            next = stop;
            st.consumed += records.length;
            st.batches++;
            yield { partition, records };
          }
        },
      };
    },
    async endOffset(partition) {
      checkPartition(partition, partitions);
      const n = parts[partition]!.length;
      return n === 0 ? undefined : BigInt(n);
    },
    async destroy() {
      for (const p of parts) p.length = 0;
    },
    async close() {
      closed = true;
      wake();
    },
    stats() {
      return { ...st };
    },
    async [Symbol.asyncDispose]() {
      await source.close();
    },
  };
  return source;
}
