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
