import { OutboxError } from '../errors.js';
import type { OutboxEvent } from '../envelope/envelope.js';

/** The subset of the Standard Schema v1 interface (zod 4, valibot, arktype...) this package uses. */
export interface StandardSchemaV1<Output = unknown> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
  };
}

/** A Standard Schema validation result. */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<{ readonly message: string; readonly path?: ReadonlyArray<PropertyKey | { key: PropertyKey }> | undefined }> };

/** How one event type is defined: a schema per version and an upcaster from each version to the next. */
export interface EventDefinition {
  /** Payload schema of each version, keyed by version number (1, 2, ...). */
  versions: Record<number, StandardSchemaV1>;
  /** `upcasters[v]` turns a version-`v` payload into a version-`v + 1` payload. */
  upcasters?: Record<number, (payload: unknown) => unknown> | undefined;
}

/**
 * Payload schemas per event type and version, with upcasting to the newest version. Producers validate before
 * `append`; consumers call {@link EventRegistry.upcast} so handlers see only the newest shape.
 *
 * @example
 * ```ts
 * import { EventRegistry } from '@dataplane/outbox';
 * import { z } from 'zod';
 *
 * const registry = new EventRegistry().define('OrderPlaced', {
 *   versions: { 1: z.object({ total: z.number() }), 2: z.object({ total: z.number(), currency: z.string() }) },
 *   upcasters: { 1: (p) => ({ ...(p as object), currency: 'EUR' }) },
 * });
 * ```
 * @since 0.1.0
 */
export class EventRegistry {
  readonly #defs = new Map<string, { latest: number; def: EventDefinition }>();

  /**
   * Registers an event type.
   *
   * @param type - Event type name.
   * @param def - Schemas and upcasters.
   * @returns this, for chaining.
   * @throws OutboxError `OUTBOX_INVALID_ARGUMENT` when versions are not 1..n or an upcaster is missing.
   */
  define(type: string, def: EventDefinition): this {
    const vs = Object.keys(def.versions).map(Number).sort((a, b) => a - b);
    if (vs.length === 0 || vs.some((v, i) => v !== i + 1)) throw new OutboxError('OUTBOX_INVALID_ARGUMENT', `${type}: versions must be 1..n`);
    for (let v = 1; v < vs.length; v++) {
      if (typeof def.upcasters?.[v] !== 'function') throw new OutboxError('OUTBOX_INVALID_ARGUMENT', `${type}: missing upcaster from version ${v}`);
    }
    this.#defs.set(type, { latest: vs.length, def });
    return this;
  }

  /** The newest version of a type, or undefined when unknown. */
  latestVersion(type: string): number | undefined {
    return this.#defs.get(type)?.latest;
  }

  /**
   * Validates an event's payload against the schema of its own version.
   *
   * @param event - The event.
   * @returns The event with the schema's output as payload.
   * @throws OutboxError `OUTBOX_INVALID_EVENT` for an unknown type/version or a payload the schema rejects.
   */
  async validate<P = unknown>(event: OutboxEvent): Promise<OutboxEvent<P>> {
    const d = this.#defs.get(event.type);
    if (d === undefined) throw new OutboxError('OUTBOX_INVALID_EVENT', `unknown event type ${event.type}`);
    const schema = d.def.versions[event.version];
    if (schema === undefined) throw new OutboxError('OUTBOX_INVALID_EVENT', `${event.type} has no version ${event.version}`);
    const payload = await check(schema, event.payload, `${event.type} v${event.version}`);
    return { ...event, payload: payload as P };
  }

  /**
   * Validates an event at its version, then upcasts it step by step to the newest version, validating each step.
   *
   * @param event - An event of any known version.
   * @returns The event at the newest version.
   * @throws OutboxError `OUTBOX_INVALID_EVENT` as {@link EventRegistry.validate}, or when an upcaster's output is rejected.
   */
  async upcast<P = unknown>(event: OutboxEvent): Promise<OutboxEvent<P>> {
    let e = await this.validate(event);
    const d = this.#defs.get(event.type)!;
    while (e.version < d.latest) {
      const next = d.def.upcasters![e.version]!(e.payload);
      const v = e.version + 1;
      e = { ...e, version: v, payload: await check(d.def.versions[v]!, next, `${e.type} v${v} (upcast)`) };
    }
    return e as OutboxEvent<P>;
  }
}

async function check(schema: StandardSchemaV1, value: unknown, what: string): Promise<unknown> {
  const r = await schema['~standard'].validate(value);
  if (r.issues !== undefined) {
    const msg = r.issues
      .slice(0, 3)
      .map((i) => `${(i.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new OutboxError('OUTBOX_INVALID_EVENT', `${what} payload rejected: ${msg}`);
  }
  return r.value;
}
