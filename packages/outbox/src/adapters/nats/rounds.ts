import type { OutboxEvent } from '../../envelope/envelope.js';

/**
 * Splits a batch into rounds in which every aggregate appears at most once: round k holds the k-th event of each
 * aggregate, in batch order. Publishing round k+1 only after the stream confirmed all of round k means a failure
 * partway through can never leave a later event of an aggregate stored before an earlier one. A batch with one event
 * per aggregate is one round (the array given).
 *
 * @example
 * ```ts
 * splitRounds([a1, b1, a2]); // [[a1, b1], [a2]]
 * ```
 * @internal
 */
export function splitRounds(events: readonly OutboxEvent[]): (readonly OutboxEvent[])[] {
  const seen = new Map<string, number>();
  const rounds: OutboxEvent[][] = [];
  for (const e of events) {
    const key = `${e.aggregateType}\u0000${e.aggregateId}`;
    const r = seen.get(key) ?? 0;
    seen.set(key, r + 1);
    (rounds[r] ??= []).push(e);
  }
  return rounds.length === 1 ? [events] : rounds;
}

/**
 * For each event of a batch, the index of the previous event of the same aggregate in the batch (-1 for an
 * aggregate's first), and the number of events of the aggregate with the most events (the longest chain, which is
 * what {@link splitRounds} returns as its number of rounds). The pipelined publisher sends an event once its
 * predecessor was acknowledged, so an aggregate's chain waits for its own PubAcks only, not for a whole round.
 *
 * @example
 * ```ts
 * chainAfter([a1, b1, a2]); // { after: Int32Array [-1, -1, 0], depth: 2 }
 * ```
 * @internal
 */
export function chainAfter(events: readonly OutboxEvent[]): { after: Int32Array; depth: number } {
  const last = new Map<string, number>();
  const count = new Map<string, number>();
  const after = new Int32Array(events.length);
  let depth = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const key = `${e.aggregateType}\u0000${e.aggregateId}`;
    after[i] = last.get(key) ?? -1;
    last.set(key, i);
    const c = (count.get(key) ?? 0) + 1;
    count.set(key, c);
    if (c > depth) depth = c;
  }
  return { after, depth };
}
