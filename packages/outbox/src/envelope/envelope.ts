import { OutboxError } from '../errors.js';
import { isUuid, uuidv7 } from './uuid.js';

/**
 * The event envelope every store, relay, transport and consumer of `@dataplane/outbox` carries.
 *
 * @since 0.1.0
 */
export interface OutboxEvent<P = unknown> {
  /** UUIDv7; the deduplication key end to end (Nats-Msg-Id, inbox primary key). */
  id: string;
  /** Kind of aggregate, e.g. `order`; selects the NATS subject / Redis stream. */
  aggregateType: string;
  /** The aggregate instance; events of one aggregate are delivered in append order. */
  aggregateId: string;
  /** Event type, e.g. `OrderPlaced`. */
  type: string;
  /** Payload schema version (integer >= 1). */
  version: number;
  /** JSON-serialisable payload. */
  payload: P;
  /** String headers (trace ids, tenant...). */
  headers: Record<string, string>;
  /** ISO-8601 time the event happened. */
  occurredAt: string;
}

/** Input of {@link createEvent}: the envelope without the fields that have defaults. */
export interface NewEvent<P = unknown> {
  aggregateType: string;
  aggregateId: string;
  type: string;
  payload: P;
  /** @defaultValue 1 */
  version?: number | undefined;
  /** @defaultValue {} */
  headers?: Record<string, string> | undefined;
  /** @defaultValue a new UUIDv7 */
  id?: string | undefined;
  /** @defaultValue the clock's now */
  occurredAt?: string | Date | undefined;
}

const NAME_RE = /^[A-Za-z0-9_-]{1,128}$/;
const MAX_ID = 256;

function bad(message: string): never {
  throw new OutboxError('OUTBOX_INVALID_EVENT', message);
}

/**
 * Builds and validates an envelope, filling `id` (UUIDv7), `version` (1), `headers` and `occurredAt`.
 *
 * @param input - The event.
 * @param clock - Time source. @defaultValue Date.now
 * @returns A validated {@link OutboxEvent}.
 * @throws OutboxError `OUTBOX_INVALID_EVENT` when a field is missing or malformed.
 * @example
 * ```ts
 * import { createEvent } from '@dataplane/outbox';
 *
 * const e = createEvent({ aggregateType: 'order', aggregateId: 'o-1', type: 'OrderPlaced', payload: { total: 10 } });
 * ```
 * @since 0.1.0
 */
export function createEvent<P>(input: NewEvent<P>, clock: () => number = Date.now): OutboxEvent<P> {
  if (typeof input !== 'object' || input === null) bad('event must be an object');
  const now = clock();
  const occurred = input.occurredAt instanceof Date ? input.occurredAt.toISOString() : (input.occurredAt ?? new Date(now).toISOString());
  const e: OutboxEvent<P> = {
    id: input.id ?? uuidv7(now),
    aggregateType: input.aggregateType,
    aggregateId: input.aggregateId,
    type: input.type,
    version: input.version ?? 1,
    payload: input.payload,
    headers: input.headers ?? {},
    occurredAt: occurred,
  };
  return validateEvent(e);
}

/**
 * Checks an envelope (e.g. one decoded from a broker) field by field.
 *
 * @param e - Anything.
 * @returns `e`, typed.
 * @throws OutboxError `OUTBOX_INVALID_EVENT` naming the first bad field.
 * @example
 * ```ts
 * import { validateEvent } from '@dataplane/outbox';
 *
 * const ok = validateEvent(JSON.parse('{"id":"0193a0e2-7c1d-7000-8000-000000000000","aggregateType":"order","aggregateId":"1","type":"T","version":1,"payload":{},"headers":{},"occurredAt":"2025-01-01T00:00:00.000Z"}'));
 * ```
 * @since 0.1.0
 */
export function validateEvent<P = unknown>(e: unknown): OutboxEvent<P> {
  if (typeof e !== 'object' || e === null || Array.isArray(e)) bad('event must be an object');
  const o = e as Record<string, unknown>;
  if (!isUuid(o.id)) bad(`id must be a UUID, got ${JSON.stringify(o.id)}`);
  if (typeof o.aggregateType !== 'string' || !NAME_RE.test(o.aggregateType)) bad('aggregateType must match [A-Za-z0-9_-]{1,128}');
  if (typeof o.aggregateId !== 'string' || o.aggregateId.length === 0 || o.aggregateId.length > MAX_ID) bad('aggregateId must be a non-empty string of at most 256 characters');
  if (typeof o.type !== 'string' || o.type.length === 0 || o.type.length > 256) bad('type must be a non-empty string of at most 256 characters');
  if (typeof o.version !== 'number' || !Number.isInteger(o.version) || o.version < 1) bad('version must be an integer >= 1');
  if (o.payload === undefined) bad('payload is required (use null for none)');
  if (typeof o.headers !== 'object' || o.headers === null || Array.isArray(o.headers)) bad('headers must be an object of strings');
  for (const [k, v] of Object.entries(o.headers as object)) if (typeof v !== 'string') bad(`header ${k} must be a string`);
  if (typeof o.occurredAt !== 'string' || Number.isNaN(Date.parse(o.occurredAt))) bad('occurredAt must be an ISO-8601 date string');
  return o as unknown as OutboxEvent<P>;
}

/**
 * Serialises an envelope for a broker (JSON).
 *
 * @param e - The event.
 * @returns JSON text.
 * @throws OutboxError `OUTBOX_INVALID_EVENT` when the payload is not JSON-serialisable (cycles, BigInt).
 * @example
 * ```ts
 * import { createEvent, encodeEvent } from '@dataplane/outbox';
 *
 * const text = encodeEvent(createEvent({ aggregateType: 'a', aggregateId: '1', type: 'T', payload: null }));
 * ```
 * @since 0.1.0
 */
export function encodeEvent(e: OutboxEvent): string {
  try {
    return JSON.stringify(e);
  } catch (err) {
    throw new OutboxError('OUTBOX_INVALID_EVENT', `event ${e.id} is not JSON-serialisable`, { cause: err });
  }
}

/**
 * Parses and validates an envelope received from a broker.
 *
 * @param text - JSON text or UTF-8 bytes.
 * @returns The event.
 * @throws OutboxError `OUTBOX_INVALID_EVENT` on malformed input.
 * @example
 * ```ts
 * import { createEvent, decodeEvent, encodeEvent } from '@dataplane/outbox';
 *
 * const e = decodeEvent(encodeEvent(createEvent({ aggregateType: 'a', aggregateId: '1', type: 'T', payload: 1 })));
 * ```
 * @since 0.1.0
 */
export function decodeEvent(text: string | Uint8Array): OutboxEvent {
  let v: unknown;
  try {
    v = JSON.parse(typeof text === 'string' ? text : new TextDecoder().decode(text));
  } catch (err) {
    throw new OutboxError('OUTBOX_INVALID_EVENT', 'event is not valid JSON', { cause: err });
  }
  return validateEvent(v);
}

/** FNV-1a 32-bit hash of an aggregate id: its partition is `hash % partitions`. @internal */
export function aggregateHash(aggregateId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < aggregateId.length; i++) {
    h ^= aggregateId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
