import { OutboxError } from '../errors.js';
import type { OutboxEvent } from '../envelope/envelope.js';
import type { DeliveryHandler, SubscribeOptions, Subscription, Transport } from './types.js';

interface Group {
  types: Set<string>;
  queue: OutboxEvent[];
  handlers: Array<{ handler: DeliveryHandler; running: boolean; closed: boolean; inflight: Promise<void> | undefined }>;
}

/**
 * In-process transport, the embedded default: events are delivered to every subscribed group, in publish order, one
 * at a time per group (so per-aggregate order holds), and re-offered when a handler rejects. Nothing survives the
 * process: pair it with a durable outbox store so the relay republishes after a restart.
 *
 * @example
 * ```ts
 * import { MemoryTransport, createEvent } from '@dataplane/outbox';
 *
 * const t = new MemoryTransport();
 * await t.subscribe({ group: 'g', aggregateTypes: ['order'] }, async (e) => console.log(e.type));
 * await t.publish([createEvent({ aggregateType: 'order', aggregateId: '1', type: 'OrderPlaced', payload: {} })]);
 * await t.close();
 * ```
 * @since 0.1.0
 */
export class MemoryTransport implements Transport {
  readonly #groups = new Map<string, Group>();
  #closed = false;
  /** Delay before re-offering an event whose handler rejected. */
  readonly #retryMs: number;

  /** @param options - `retryMs`: delay before redelivery after a rejection. @defaultValue `{ retryMs: 10 }` */
  constructor(options: { retryMs?: number | undefined } = {}) {
    this.#retryMs = options.retryMs ?? 10;
  }

  /** {@inheritDoc Transport.publish} */
  async publish(events: readonly OutboxEvent[]): Promise<void> {
    if (this.#closed) throw new OutboxError('OUTBOX_CLOSED', 'transport is closed');
    for (const g of this.#groups.values()) {
      for (const e of events) if (g.types.has(e.aggregateType)) g.queue.push(e);
      this.#pump(g);
    }
  }

  /** {@inheritDoc Transport.subscribe} */
  async subscribe(options: SubscribeOptions, handler: DeliveryHandler): Promise<Subscription> {
    if (this.#closed) throw new OutboxError('OUTBOX_CLOSED', 'transport is closed');
    let g = this.#groups.get(options.group);
    if (g === undefined) {
      g = { types: new Set(), queue: [], handlers: [] };
      this.#groups.set(options.group, g);
    }
    for (const t of options.aggregateTypes) g.types.add(t);
    const h = { handler, running: false, closed: false, inflight: undefined as Promise<void> | undefined };
    g.handlers.push(h);
    const group = g;
    this.#pump(g);
    return {
      close: async () => {
        h.closed = true;
        await h.inflight;
        group.handlers = group.handlers.filter((x) => x !== h);
      },
    };
  }

  #pump(g: Group): void {
    if (g.handlers.some((h) => h.running)) return;
    const h = g.handlers.find((x) => !x.closed);
    if (h === undefined || g.queue.length === 0) return;
    h.running = true;
    h.inflight = (async () => {
      let attempt = 0;
      while (!h.closed && g.queue.length > 0) {
        const e = g.queue[0]!;
        try {
          attempt++;
          await h.handler(e, { deliveryCount: attempt });
          g.queue.shift();
          attempt = 0;
        } catch {
          await new Promise((r) => setTimeout(r, this.#retryMs));
        }
      }
      h.running = false;
    })();
    void h.inflight.then(() => this.#pump(g));
  }

  /** Events waiting in a group (for tests and stats). */
  pending(group: string): number {
    return this.#groups.get(group)?.queue.length ?? 0;
  }

  /** {@inheritDoc Transport.close} */
  async close(): Promise<void> {
    this.#closed = true;
    for (const g of this.#groups.values()) for (const h of g.handlers) h.closed = true;
    await Promise.all([...this.#groups.values()].flatMap((g) => g.handlers.map((h) => h.inflight)));
  }
}
