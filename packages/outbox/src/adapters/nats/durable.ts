import type { ConsumerInfoLike, JetStreamManagerLike } from './driver.js';

/** Whether a JetStream API error says the consumer does not exist (error code 10014). */
function isNotFound(err: unknown): boolean {
  const e = err as { api_error?: { err_code?: number }; code?: string | number; message?: string } | null;
  return e?.api_error?.err_code === 10014 || String(e?.code) === '404' || /consumer not found/i.test(String(e?.message));
}

/** The durable consumer's current state, or undefined when it does not exist. @internal */
export async function durableInfo(jsm: JetStreamManagerLike, stream: string, durable: string): Promise<ConsumerInfoLike | undefined> {
  try {
    return await jsm.consumers.info(stream, durable);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * The start fields of an existing consumer's config, so that an `add` with otherwise the same config updates it
 * instead of failing (the server refuses to change `deliver_policy`).
 */
function startOf(info: ConsumerInfoLike | undefined): Record<string, unknown> {
  const c = info?.config;
  if (c?.deliver_policy !== 'by_start_sequence' || c.opt_start_seq === undefined) return {};
  return { deliver_policy: 'by_start_sequence', opt_start_seq: c.opt_start_seq };
}

/**
 * Creates the durable consumer with `config`, or updates the fields the server lets change (`ack_wait`,
 * `max_ack_pending`) of an existing one, keeping where it starts.
 *
 * @returns The consumer sequence the next delivery will carry (`delivered.consumer_seq + 1`).
 * @internal
 */
export async function addDurable(jsm: JetStreamManagerLike, stream: string, config: Record<string, unknown>, existing?: ConsumerInfoLike): Promise<number> {
  const info = await jsm.consumers.add(stream, { ...config, ...startOf(existing) });
  return (info.delivered?.consumer_seq ?? 0) + 1;
}

/**
 * Re-creates the durable consumer so that it delivers again everything after its ack floor, in stream order: reads
 * its ack floor, deletes it, and adds it back with `deliver_policy: 'by_start_sequence'` from the first
 * unacknowledged stream sequence (never before where the deleted one started). Messages acked above the floor come
 * again (the inbox absorbs them); deliveries held by anyone else are void (their acks go nowhere). nats-server 2.9
 * has no API to reset a consumer, hence delete and add.
 *
 * @returns The consumer sequence of the first delivery of the new consumer (1).
 * @internal
 */
export async function restartDurable(jsm: JetStreamManagerLike, stream: string, config: Record<string, unknown>): Promise<number> {
  const durable = config['durable_name'] as string;
  const info = await durableInfo(jsm, stream, durable);
  if (info === undefined) return addDurable(jsm, stream, config);
  const floor = info.ack_floor?.stream_seq ?? 0;
  const from = info.config?.deliver_policy === 'by_start_sequence' ? (info.config.opt_start_seq ?? 1) : 1;
  const start = Math.max(floor + 1, from);
  try {
    await jsm.consumers.delete(stream, durable);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const added = await jsm.consumers.add(stream, { ...config, deliver_policy: 'by_start_sequence', opt_start_seq: start });
  return (added.delivered?.consumer_seq ?? 0) + 1;
}
