/**
 * Redis Streams as a partitioned log: `@dataplane/lsm/redis`.
 *
 * @packageDocumentation
 */
import type { Redis } from 'ioredis';
import { LsmError } from '../../errors.js';
import type { ConsumeOptions, LogBatch, LogRecord, LogSource, LogSourceStats } from '../../log/log-source.js';
import { checkPartition, checkPartitionCount, checkTopic, checkValues, positiveInt, throwIfAborted } from '../../log/validate.js';

const SEQ_BITS = 22n;
const SEQ_MAX = (1n << SEQ_BITS) - 1n;

/**
 * Maps a Redis stream id `ms-seq` to a comparable `bigint` offset (`ms << 22 | seq`).
 *
 * @param id - a stream id such as `1700000000000-3`.
 * @returns its offset.
 * @throws LsmError `LSM_INVALID_ARGUMENT` when the id is malformed or its sequence part is >= 2^22.
 * @example
 * ```ts
 * import { redisIdToOffset } from '@dataplane/lsm/redis';
 *
 * redisIdToOffset('5-1'); // 20971521n
 * ```
 * @since 0.1.0
 */
export function redisIdToOffset(id: string): bigint {
  const m = /^(\d+)-(\d+)$/.exec(id);
  if (!m) throw new LsmError('LSM_INVALID_ARGUMENT', `not a stream id: ${JSON.stringify(id)}`);
  const seq = BigInt(m[2]!);
  if (seq > SEQ_MAX) throw new LsmError('LSM_INVALID_ARGUMENT', `stream id sequence ${seq} exceeds 2^22-1`);
  return (BigInt(m[1]!) << SEQ_BITS) | seq;
}

/**
 * The inverse of {@link redisIdToOffset}.
 *
 * @param offset - an offset made by {@link redisIdToOffset}.
 * @returns the stream id `ms-seq`.
 * @example
 * ```ts
 * import { offsetToRedisId } from '@dataplane/lsm/redis';
 *
 * offsetToRedisId(20971521n); // '5-1'
 * ```
 * @since 0.1.0
 */
export function offsetToRedisId(offset: bigint): string {
  return `${offset >> SEQ_BITS}-${offset & SEQ_MAX}`;
}

/** Options of {@link createRedisLog}. */
export interface RedisLogOptions {
  /** An ioredis client the caller owns (never closed by the log). Blocking reads use `client.duplicate()`. */
  client: Redis;
  /** Topic name; partition `i` is the stream `${keyPrefix}${topic}:${i}`. */
  topic: string;
  /** Number of partitions. */
  partitions: number;
  /** Prefix of every stream key. @defaultValue '' */
  keyPrefix?: string | undefined;
  /** Records per pipelined XADD round trip in produce(). @defaultValue 1000 */
  produceChunk?: number | undefined;
}

/**
 * A {@link LogSource} on Redis Streams: one stream per partition; offsets are stream ids mapped to
 * `bigint` by {@link redisIdToOffset}.
 *
 * @remarks
 * Reads use `XREAD COUNT n BLOCK pollMs` on a duplicated connection per consume() call, so blocking never
 * stalls the caller's client. Redis Streams has no deduplication: a producer that retries may append a
 * record twice; exactly-once application comes from the consumer storing its offsets (see `LogNode`).
 *
 * @param options - client, topic, partitions.
 * @returns the log source.
 * @throws LsmError `LSM_INVALID_ARGUMENT` for a bad topic, partition count or missing client.
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { createRedisLog } from '@dataplane/lsm/redis';
 *
 * const client = new Redis('redis://127.0.0.1:6379');
 * const log = createRedisLog({ client, topic: 'metrics', partitions: 8 });
 * await log.produce(3, [new TextEncoder().encode('cpu 1')]);
 * ```
 * @since 0.1.0
 */
export function createRedisLog(options: RedisLogOptions): LogSource {
  const { client, topic, partitions } = options;
  if (client == null || typeof client.duplicate !== 'function') {
    throw new LsmError('LSM_INVALID_ARGUMENT', 'client must be an ioredis client (install ioredis: npm install ioredis)');
  }
  checkTopic(topic);
  checkPartitionCount(partitions);
  const keyPrefix = options.keyPrefix ?? '';
  const produceChunk = positiveInt('produceChunk', options.produceChunk, 1000);
  const key = (p: number) => `${keyPrefix}${topic}:${p}`;
  const st: LogSourceStats = { produced: 0, consumed: 0, batches: 0 };
  const readers = new Set<Redis>();
  let closed = false;

  function ensureOpen() {
    if (closed) throw new LsmError('LSM_CLOSED', 'log is closed');
  }

  async function lastId(p: number): Promise<string | undefined> {
    const r = (await client.xrevrange(key(p), '+', '-', 'COUNT', 1)) as [string, string[]][];
    return r[0]?.[0];
  }

  const source: LogSource = {
    topic,
    partitions,
    async start() {
      ensureOpen();
    },
    async produce(partition, values, signal) {
      ensureOpen();
      checkPartition(partition, partitions);
      checkValues(values);
      const out: bigint[] = [];
      for (let i = 0; i < values.length; i += produceChunk) {
        throwIfAborted(signal);
        const pipe = client.pipeline();
        const end = Math.min(values.length, i + produceChunk);
        for (let j = i; j < end; j++) {
          const v = values[j]!;
          pipe.xadd(key(partition), '*', 'v', Buffer.from(v.buffer, v.byteOffset, v.byteLength));
        }
        const res = await pipe.exec();
        if (res === null) throw new LsmError('LSM_IO', 'redis pipeline was discarded');
        for (const [err, id] of res) {
          if (err) throw new LsmError('LSM_IO', `XADD failed: ${err.message}`, { cause: err, retryable: true });
          out.push(redisIdToOffset(String(id)));
        }
      }
      st.produced += values.length;
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
          ensureOpen();
          let cursor = opts.after === undefined ? '0-0' : offsetToRedisId(opts.after);
          let end: bigint | undefined;
          if (!follow) {
            const last = await lastId(partition);
            if (last === undefined) return;
            end = redisIdToOffset(last);
            if (opts.after !== undefined && opts.after >= end) return;
          }
          const conn = client.duplicate();
          readers.add(conn);
          const onAbort = () => conn.disconnect();
          signal?.addEventListener('abort', onAbort, { once: true });
          try {
            while (!closed && !signal?.aborted) {
              let res: [Buffer, [Buffer, Buffer[]][]][] | null;
              try {
                res = (await (follow
                  ? conn.xreadBuffer('COUNT', maxBatch, 'BLOCK', pollMs, 'STREAMS', key(partition), cursor)
                  : conn.xreadBuffer('COUNT', maxBatch, 'STREAMS', key(partition), cursor))) as typeof res;
              } catch (err) {
                if (closed || signal?.aborted) return;
                throw new LsmError('LSM_IO', `XREAD failed: ${(err as Error).message}`, { cause: err, retryable: true });
              }
              const entries = res?.[0]?.[1];
              if (!entries || entries.length === 0) {
                if (!follow) return;
                continue;
              }
              const records: LogRecord[] = [];
              let stop = false;
              for (const [idBuf, fields] of entries) {
                const offset = redisIdToOffset(idBuf.toString());
                if (end !== undefined && offset > end) {
                  stop = true;
                  break;
                }
                let value: Uint8Array = new Uint8Array(0);
                for (let f = 0; f + 1 < fields.length; f += 2) {
                  if (fields[f]!.toString() === 'v') value = new Uint8Array(fields[f + 1]!);
                }
                records.push({ offset, value });
              }
              cursor = entries[entries.length - 1]![0].toString();
              if (records.length > 0) {
                st.consumed += records.length;
                st.batches++;
                yield { partition, records };
              }
              if (stop || (end !== undefined && records.length > 0 && records[records.length - 1]!.offset >= end)) return;
            }
          } finally {
            signal?.removeEventListener('abort', onAbort);
            readers.delete(conn);
            conn.disconnect();
          }
        },
      };
    },
    async endOffset(partition) {
      ensureOpen();
      checkPartition(partition, partitions);
      const last = await lastId(partition);
      return last === undefined ? undefined : redisIdToOffset(last);
    },
    async destroy() {
      ensureOpen();
      const keys = Array.from({ length: partitions }, (_, i) => key(i));
      await client.del(...keys);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const r of readers) r.disconnect();
      readers.clear();
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

export type { LogSource, LogBatch, LogRecord, ConsumeOptions, LogSourceStats } from '../../log/log-source.js';
