/**
 * NATS JetStream as a partitioned log: `@dataplane/lsm/nats`.
 *
 * @packageDocumentation
 */
import type { AckPolicy, Consumer, ConsumerConfig, DeliverPolicy, JetStreamManager, JsMsg, NatsConnection } from 'nats';
import { LsmError } from '../../errors.js';
import type { ConsumeOptions, LogBatch, LogRecord, LogSource, LogSourceStats } from '../../log/log-source.js';
import { checkPartition, checkPartitionCount, checkTopic, checkValues, positiveInt, throwIfAborted } from '../../log/validate.js';

/** Options of {@link createJetStreamLog}. */
export interface JetStreamLogOptions {
  /** A NATS connection the caller owns (never closed by the log). */
  connection: NatsConnection;
  /** Stream name; partition `i` is the subject `${topic}.${i}`. */
  topic: string;
  /** Number of partitions. */
  partitions: number;
  /**
   * `'durable'`: a named pull consumer per partition (`${consumerName}_${i}`), explicit acks (`AckPolicy.All`
   * after each batch), recreated at the requested start sequence on each consume(). `'ordered'`: an ordered
   * consumer (ephemeral, no acks, the client re-creates it on gaps). @defaultValue 'durable'
   */
  consumer?: 'durable' | 'ordered' | undefined;
  /** Prefix of durable consumer names. @defaultValue 'lsm' */
  consumerName?: string | undefined;
  /** Stream storage when the stream is created by start(). @defaultValue 'file' */
  storage?: 'file' | 'memory' | undefined;
  /** Publishes in flight at once in produce(). @defaultValue 1000 */
  produceWindow?: number | undefined;
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: string; api_error?: { err_code?: number; code?: number } } | undefined;
  return e?.code === '404' || e?.api_error?.code === 404;
}

/**
 * A {@link LogSource} on NATS JetStream: one stream named `topic` with one subject per partition; offsets
 * are stream sequences (gapped per partition, monotonic).
 *
 * @remarks
 * JetStream is replicated and clustered, so this is how a deployment gets a durable, replicated WAL. Use
 * `Nats-Msg-Id` style deduplication on the producer side if the producer may retry; the consumer side gets
 * exactly-once application from offsets stored with its data.
 *
 * @param options - connection, topic, partitions, consumer kind.
 * @returns the log source.
 * @throws LsmError `LSM_INVALID_ARGUMENT` for a bad topic, partition count or missing connection.
 * @example
 * ```ts
 * import { connect } from 'nats';
 * import { createJetStreamLog } from '@dataplane/lsm/nats';
 *
 * const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
 * const log = createJetStreamLog({ connection: nc, topic: 'metrics', partitions: 8 });
 * await log.start();
 * await log.produce(0, [new TextEncoder().encode('cpu 1')]);
 * ```
 * @since 0.1.0
 */
export function createJetStreamLog(options: JetStreamLogOptions): LogSource {
  const { connection, topic, partitions } = options;
  if (connection == null || typeof connection.jetstream !== 'function') {
    throw new LsmError('LSM_INVALID_ARGUMENT', 'connection must be a NatsConnection (install nats: npm install nats)');
  }
  checkTopic(topic);
  checkPartitionCount(partitions);
  const mode = options.consumer ?? 'durable';
  if (mode !== 'durable' && mode !== 'ordered') throw new LsmError('LSM_INVALID_ARGUMENT', `consumer must be 'durable' or 'ordered'`);
  const consumerName = options.consumerName ?? 'lsm';
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(consumerName)) throw new LsmError('LSM_INVALID_ARGUMENT', 'consumerName must match [A-Za-z0-9_-]{1,100}');
  const produceWindow = positiveInt('produceWindow', options.produceWindow, 1000);
  const js = connection.jetstream();
  const subject = (p: number) => `${topic}.${p}`;
  const st: LogSourceStats = { produced: 0, consumed: 0, batches: 0 };
  let jsmP: Promise<JetStreamManager> | undefined;
  let closed = false;
  const jsm = () => (jsmP ??= connection.jetstreamManager());

  function ensureOpen() {
    if (closed) throw new LsmError('LSM_CLOSED', 'log is closed');
  }

  async function lastSeq(p: number): Promise<bigint | undefined> {
    try {
      const m = await (await jsm()).streams.getMessage(topic, { last_by_subj: subject(p) });
      return BigInt(m.seq);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw new LsmError('LSM_IO', `JetStream getMessage failed: ${(err as Error).message}`, { cause: err, retryable: true });
    }
  }

  async function openConsumer(p: number, after: bigint | undefined, maxBatch: number): Promise<Consumer> {
    // Always a start sequence (1 = the beginning): the ordered consumer keeps deliver_policy across resets.
    const start: Partial<ConsumerConfig> = {
      deliver_policy: 'by_start_sequence' as unknown as DeliverPolicy,
      opt_start_seq: after === undefined ? 1 : Number(after + 1n),
    };
    if (mode === 'ordered') {
      return js.consumers.get(topic, { filterSubjects: subject(p), ...start } as never);
    }
    const name = `${consumerName}_${p}`;
    const m = await jsm();
    try {
      await m.consumers.delete(topic, name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    await m.consumers.add(topic, {
      durable_name: name,
      filter_subject: subject(p),
      ack_policy: 'all' as unknown as AckPolicy,
      max_ack_pending: Math.max(2 * maxBatch, 1000),
      ...start,
    });
    return js.consumers.get(topic, name);
  }

  const source: LogSource = {
    topic,
    partitions,
    async start() {
      ensureOpen();
      const m = await jsm();
      try {
        await m.streams.info(topic);
      } catch (err) {
        if (!isNotFound(err)) throw new LsmError('LSM_IO', `JetStream stream info failed: ${(err as Error).message}`, { cause: err });
        await m.streams.add({ name: topic, subjects: [`${topic}.*`], storage: (options.storage ?? 'file') as never });
      }
    },
    async produce(partition, values, signal) {
      ensureOpen();
      checkPartition(partition, partitions);
      checkValues(values);
      const out: bigint[] = new Array<bigint>(values.length);
      for (let i = 0; i < values.length; i += produceWindow) {
        throwIfAborted(signal);
        const end = Math.min(values.length, i + produceWindow);
        const acks = [];
        for (let j = i; j < end; j++) acks.push(js.publish(subject(partition), values[j]!));
        try {
          const res = await Promise.all(acks);
          for (let j = i; j < end; j++) out[j] = BigInt(res[j - i]!.seq);
        } catch (err) {
          throw new LsmError('LSM_IO', `JetStream publish failed: ${(err as Error).message}`, { cause: err, retryable: true });
        }
      }
      st.produced += values.length;
      return out;
    },
    consume(partition: number, opts: ConsumeOptions = {}): AsyncIterable<LogBatch> {
      checkPartition(partition, partitions);
      const maxBatch = positiveInt('maxBatch', opts.maxBatch, 1000);
      const pollMs = Math.max(1000, positiveInt('pollMs', opts.pollMs, 1000));
      const follow = opts.follow ?? true;
      const signal = opts.signal;
      return {
        async *[Symbol.asyncIterator]() {
          ensureOpen();
          let end: bigint | undefined;
          if (!follow) {
            end = await lastSeq(partition);
            if (end === undefined || (opts.after !== undefined && opts.after >= end)) return;
          }
          let consumer = await openConsumer(partition, opts.after, maxBatch);
          // Durable mode: the consumer sequence of the next delivery. A starved process can drop delivered
          // messages (a fetch's client-side timer fires before its messages are read); with AckPolicy.All
          // the next ack would cover them. A jump in the consumer sequence (or a redelivery) shows it: the
          // consumer is then recreated right after the last offset handed out, so nothing is skipped.
          let nextDelivery = 1;
          let lastOffset = opts.after;
          try {
            while (!closed && !signal?.aborted) {
              // Fetch what is pending now without waiting for a full batch; when nothing is pending, wait
              // (up to pollMs) for the first record only, so a follower sees new records at once.
              const pending = (await consumer.info(false)).num_pending;
              if (!follow && pending === 0) return;
              const want = pending > 0 ? Math.min(maxBatch, pending) : 1;
              const msgs = await consumer.fetch({ max_messages: want, expires: pollMs });
              const onAbort = () => msgs.stop();
              signal?.addEventListener('abort', onAbort, { once: true });
              const records: LogRecord[] = [];
              let last: JsMsg | undefined;
              let stop = false;
              let gap = false;
              try {
                for await (const m of msgs) {
                  if (gap) continue;
                  if (mode === 'durable' && (m.redelivered || m.info.deliverySequence !== nextDelivery)) {
                    gap = true;
                    continue;
                  }
                  nextDelivery++;
                  last = m;
                  const offset = BigInt(m.seq);
                  if (lastOffset !== undefined && offset <= lastOffset) continue;
                  if (end !== undefined && offset > end) {
                    stop = true;
                    continue;
                  }
                  // m.data may view the client's reusable read buffer: copy it before the next read.
                  records.push({ offset, value: new Uint8Array(m.data) });
                  if (end !== undefined && offset >= end) stop = true;
                }
              } finally {
                signal?.removeEventListener('abort', onAbort);
              }
              if (records.length > 0) {
                lastOffset = records[records.length - 1]!.offset;
                st.consumed += records.length;
                st.batches++;
                yield { partition, records };
              }
              if (gap) {
                if (stop) return;
                consumer = await openConsumer(partition, lastOffset, maxBatch);
                nextDelivery = 1;
                continue;
              }
              if (mode === 'durable' && last !== undefined) last.ack();
              if (stop) return;
            }
          } finally {
            // A durable consumer is kept (its ack floor shows the lag in NATS tooling); the next consume()
            // of this partition replaces it at the requested start. An ordered one is ephemeral.
            if (mode === 'ordered') await consumer.delete().catch(() => undefined);
          }
        },
      };
    },
    async endOffset(partition) {
      ensureOpen();
      checkPartition(partition, partitions);
      return lastSeq(partition);
    },
    async destroy() {
      ensureOpen();
      try {
        await (await jsm()).streams.delete(topic);
      } catch (err) {
        if (!isNotFound(err)) throw new LsmError('LSM_IO', `JetStream stream delete failed: ${(err as Error).message}`, { cause: err });
      }
    },
    async close() {
      closed = true;
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
