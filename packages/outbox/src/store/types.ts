import type { NewEvent, OutboxEvent } from '../envelope/envelope.js';

/**
 * What a {@link PollingRelay} drives: an outbox table that hands out batches of unsent events, in append order per
 * aggregate, and marks a batch sent only when `publish` resolved.
 *
 * @since 0.1.0
 */
export interface OutboxSource {
  /**
   * Claims up to `max` unsent events (no other relay can claim events of the same aggregates meanwhile), calls
   * `publish` with them in order, and marks them sent only if it resolved. Returns how many were published.
   */
  claim(max: number, publish: (events: readonly OutboxEvent[]) => Promise<void>): Promise<number>;
  /** Deletes events sent more than `olderThanMs` ago; returns how many. */
  cleanup(olderThanMs: number): Promise<number>;
}

/** An outbox store: {@link OutboxSource} plus `append` inside the caller's transaction `Tx`. */
export interface OutboxStore<Tx> extends OutboxSource {
  /** Creates the tables (idempotent). */
  migrate(): Promise<void>;
  /** Validates and inserts events using the caller's open transaction; returns the stored envelopes. */
  append(tx: Tx, events: NewEvent | OutboxEvent | ReadonlyArray<NewEvent | OutboxEvent>): Promise<OutboxEvent[]>;
}

/**
 * A consumer-side inbox: runs an effect and records the event id in one transaction of the consumer's database, so
 * an event delivered twice takes effect once.
 *
 * @since 0.1.0
 */
export interface Inbox<Ctx> {
  /** Creates the tables (idempotent). */
  migrate(): Promise<void>;
  /** Runs `effect` unless `consumer` already handled `event.id`; both commit together or not at all. */
  process(consumer: string, event: OutboxEvent, effect: (ctx: Ctx) => Promise<void>): Promise<'handled' | 'duplicate'>;
  /** Stores an event that failed `attempts` times. */
  deadLetter(consumer: string, event: OutboxEvent, error: string, attempts: number): Promise<void>;
  /** Lists dead letters of a consumer, oldest first. */
  listDeadLetters(consumer: string, options?: { limit?: number | undefined }): Promise<DeadLetter[]>;
  /** Removes a dead letter (after a successful replay). */
  removeDeadLetter(consumer: string, eventId: string): Promise<boolean>;
  /**
   * Optional: dead letters of `consumer` whose replay an operator requested (e.g. `dataplane-outbox dead-letters
   * replay`), oldest first, at most `limit`. A `Consumer` whose inbox has this method and
   * {@link Inbox.clearReplayRequest} replays them every `deadLetterReplayIntervalMs`.
   */
  listReplayRequests?(consumer: string, limit: number): Promise<DeadLetter[]>;
  /**
   * Optional: clears the replay request of a dead letter that stays (its replay failed, or was skipped). With
   * `error`, the letter records it and counts one more attempt; its `failedAt` is kept, so the order of one
   * aggregate's letters is kept too.
   */
  clearReplayRequest?(consumer: string, eventId: string, error?: string | undefined): Promise<void>;
}

/** A stored dead letter. */
export interface DeadLetter {
  consumer: string;
  event: OutboxEvent;
  error: string;
  attempts: number;
  failedAt: string;
  /** When an operator requested its replay (ISO 8601), if a request is pending and the inbox records them. */
  replayRequestedAt?: string | undefined;
}
