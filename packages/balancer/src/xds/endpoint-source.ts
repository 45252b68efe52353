import type * as grpc from '@grpc/grpc-js';
import type { EndpointInput, EndpointSet } from '../endpoints/types.js';
import { BalancerError } from '../errors.js';
import { adsServiceDefinition, type DiscoveryRequest, type DiscoveryResponse, loadGrpc } from './grpc-loader.js';
import { fromProtoStruct, loadXdsProtos, TO_OBJECT, TYPE_URLS } from './protos.js';
import { METADATA_NAMESPACE } from './resources.js';

/**
 * Options of {@link xdsEndpointSource}.
 *
 * @since 0.1.0
 */
export interface XdsEndpointSourceOptions {
  /** The ADS server, `host:port` (plaintext). */
  server: string;
  /** The ClusterLoadAssignment (service) name to follow. */
  service: string;
  /** The set to keep equal to the served endpoints. */
  set: EndpointSet;
  /** Node identity sent to the server; `zone` becomes `node.locality.zone`. @defaultValue `{ id: 'dataplane-<pid>' }` */
  node?: { id?: string | undefined; cluster?: string | undefined; zone?: string | undefined } | undefined;
  /** First reconnect delay in milliseconds (full jitter, doubling). @defaultValue 100 */
  backoffInitialMs?: number | undefined;
  /** Largest reconnect delay in milliseconds. @defaultValue 5000 */
  backoffMaxMs?: number | undefined;
  /** Random source in [0, 1) for the jitter. @defaultValue Math.random */
  random?: (() => number) | undefined;
}

/**
 * A plain snapshot of an {@link XdsEndpointSource}'s counters.
 *
 * @since 0.1.0
 */
export interface XdsEndpointSourceStats {
  readonly connected: boolean;
  /** Last accepted version (`''` before the first). */
  readonly version: string;
  readonly updates: number;
  readonly nacks: number;
  readonly reconnects: number;
  readonly endpoints: number;
}

type AdsCall = grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;

/**
 * Follows one service's ClusterLoadAssignment over ADS and keeps an EndpointSet equal to it.
 *
 * @remarks
 * Each accepted update replaces the set atomically (one version bump) and is ACKed; an update that cannot be
 * applied (bad address or port) is NACKed and the set keeps its last good endpoints. When the control plane
 * goes away the set keeps serving its last endpoints while the source reconnects with jittered exponential
 * backoff and resubscribes, sending its last accepted version. A response that no longer contains the service
 * leaves the set unchanged.
 *
 * @example
 * ```ts
 * import { createEndpointSet } from '@dataplane/balancer';
 * import { xdsEndpointSource } from '@dataplane/balancer/xds';
 *
 * const set = createEndpointSet();
 * await using source = xdsEndpointSource({ server: '127.0.0.1:18000', service: 'checkout.shop', set });
 * await source.start(AbortSignal.timeout(10_000));
 * console.log(source.stats().version);
 * ```
 * @since 0.1.0
 */
export class XdsEndpointSource implements AsyncDisposable {
  readonly #opts: Required<Omit<XdsEndpointSourceOptions, 'node'>> & { node: DiscoveryRequest['node'] };
  #client: grpc.Client | undefined;
  #call: AdsCall | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #attempt = 0;
  #closed = false;
  #version = '';
  #counters = { updates: 0, nacks: 0, reconnects: 0 };
  #connected = false;
  #firstResolve: (() => void) | undefined;
  #first: Promise<void>;
  readonly #decoder = new AssignmentDecoder();
  #applied: Map<string, EndpointInput> | undefined;

  constructor(opts: XdsEndpointSourceOptions) {
    if (typeof opts?.server !== 'string' || !/^[^:]+:\d+$/.test(opts.server))
      throw new BalancerError('BALANCER_INVALID_ARGUMENT', `server must be host:port, got ${String(opts?.server)}`);
    if (typeof opts.service !== 'string' || opts.service.length === 0)
      throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'service must be a non-empty string');
    if (!opts.set || typeof opts.set.replaceAll !== 'function') throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'set must be an EndpointSet');
    const node = opts.node ?? {};
    this.#opts = {
      server: opts.server,
      service: opts.service,
      set: opts.set,
      backoffInitialMs: opts.backoffInitialMs ?? 100,
      backoffMaxMs: opts.backoffMaxMs ?? 5000,
      random: opts.random ?? Math.random,
      node: {
        id: node.id ?? `dataplane-${process.pid}`,
        cluster: node.cluster ?? '',
        ...(node.zone ? { locality: { zone: node.zone } } : {}),
      },
    };
    this.#first = new Promise((resolve) => (this.#firstResolve = resolve));
  }

  /**
   * Connects and subscribes; resolves once the first update was applied to the set. Idempotent.
   *
   * @param signal - Aborting it rejects the wait (the source keeps running; call {@link XdsEndpointSource.close}).
   * @throws BalancerError `BALANCER_ABORTED` when `signal` aborts first; `BALANCER_CLOSED` after close.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.#closed) throw new BalancerError('BALANCER_CLOSED', 'the xDS endpoint source is closed');
    if (!this.#client) {
      const grpcJs = loadGrpc();
      const Ctor = grpcJs.makeGenericClientConstructor(adsServiceDefinition(), 'AggregatedDiscoveryService');
      this.#client = new Ctor(this.#opts.server, grpcJs.credentials.createInsecure(), {
        'grpc.initial_reconnect_backoff_ms': this.#opts.backoffInitialMs,
        'grpc.max_reconnect_backoff_ms': this.#opts.backoffMaxMs,
      });
      this.#connect();
    }
    if (!signal) return this.#first;
    if (signal.aborted) throw new BalancerError('BALANCER_ABORTED', 'aborted', { cause: signal.reason });
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(new BalancerError('BALANCER_ABORTED', 'aborted', { cause: signal.reason }));
      signal.addEventListener('abort', onAbort, { once: true });
      void this.#first.then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  /** A plain snapshot of the counters. */
  stats(): XdsEndpointSourceStats {
    return { connected: this.#connected, version: this.#version, ...this.#counters, endpoints: this.#opts.set.list().length };
  }

  /** Stops following; the set keeps its endpoints. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#call?.cancel();
    this.#client?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #connect(): void {
    if (this.#closed || !this.#client) return;
    const method = (this.#client as unknown as Record<string, () => AdsCall>).StreamAggregatedResources!;
    const call = method.call(this.#client);
    this.#call = call;
    let done = false;
    const retry = (): void => {
      if (done) return;
      done = true;
      this.#connected = false;
      if (this.#closed) return;
      const cap = Math.min(this.#opts.backoffMaxMs, this.#opts.backoffInitialMs * 2 ** Math.min(this.#attempt, 20));
      this.#attempt += 1;
      this.#counters.reconnects += 1;
      this.#timer = setTimeout(() => this.#connect(), Math.floor(this.#opts.random() * cap));
    };
    call.on('data', (res: DiscoveryResponse) => this.#onResponse(call, res));
    call.on('error', retry);
    call.on('end', retry);
    call.write({
      node: this.#opts.node,
      type_url: TYPE_URLS.endpoint,
      resource_names: [this.#opts.service],
      version_info: this.#version,
    });
  }

  #onResponse(call: AdsCall, res: DiscoveryResponse): void {
    this.#connected = true;
    this.#attempt = 0;
    if (res.type_url !== TYPE_URLS.endpoint) return;
    let error: string | undefined;
    try {
      const decoded = this.#decode(res);
      if (decoded) this.#apply(decoded);
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    if (error === undefined) {
      this.#version = res.version_info;
      this.#counters.updates += 1;
      this.#firstResolve?.();
      this.#firstResolve = undefined;
    } else this.#counters.nacks += 1;
    call.write({
      node: this.#opts.node,
      type_url: TYPE_URLS.endpoint,
      resource_names: [this.#opts.service],
      version_info: this.#version,
      response_nonce: res.nonce,
      ...(error === undefined ? {} : { error_detail: { code: 3, message: error } }),
    });
  }

  /**
   * Applies an update: a few changed endpoints are upserted/removed one by one (cheap on a large set); a larger
   * change, or the first update, replaces the whole set atomically.
   */
  #apply(d: Decoded): void {
    const set = this.#opts.set;
    const prev = this.#applied;
    this.#applied = new Map(d.inputs.map((i) => [i.id, i]));
    if (prev === undefined || d.fresh.length > 16) {
      set.replaceAll(d.inputs);
      return;
    }
    const gone: string[] = [];
    for (const id of prev.keys()) if (!this.#applied.has(id)) gone.push(id);
    if (gone.length + d.fresh.length > 16) {
      set.replaceAll(d.inputs);
      return;
    }
    for (const input of d.fresh) if (this.#applied.get(input.id) === input) set.upsert(input);
    for (const id of gone) set.remove(id);
  }

  /** The endpoints of our service in `res`, or undefined when the response does not contain it. */
  #decode(res: DiscoveryResponse): Decoded | undefined {
    for (const any of res.resources ?? []) {
      const inputs = this.#decoder.decode(any.value, this.#opts.service);
      if (inputs) return inputs;
    }
    return undefined;
  }
}

function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++]!;
    result += (b & 127) * 2 ** shift;
    if (b < 128) return [result, pos];
    shift += 7;
    if (shift > 63) throw new Error('varint too long');
  }
}

/** Calls `fn(field, bytes)` for each length-delimited field of a message; skips the others. */
function eachField(buf: Uint8Array, fn: (field: number, bytes: Uint8Array) => void): void {
  let pos = 0;
  while (pos < buf.length) {
    let tag: number;
    [tag, pos] = readVarint(buf, pos);
    const wire = tag & 7;
    const field = Math.floor(tag / 8);
    if (wire === 0) [, pos] = readVarint(buf, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      let len: number;
      [len, pos] = readVarint(buf, pos);
      if (pos + len > buf.length) throw new Error('truncated field');
      fn(field, buf.subarray(pos, pos + len));
      pos += len;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
}

/**
 * Decodes ClusterLoadAssignments incrementally: the message is walked on the wire format and each LbEndpoint
 * is decoded once and cached by its bytes and zone, so an update that changes one endpoint among thousands
 * decodes one endpoint.
 */
class AssignmentDecoder {
  #cache = new Map<string, EndpointInput>();

  decode(bytes: Uint8Array, service: string): Decoded | undefined {
    const root = loadXdsProtos();
    let name = '';
    const localities: Uint8Array[] = [];
    eachField(bytes, (field, b) => {
      if (field === 1) name = Buffer.from(b).toString('utf8');
      else if (field === 2) localities.push(b);
    });
    if (name !== service) return undefined;
    const Locality = root.lookupType('envoy.config.core.v3.Locality');
    const LbEndpoint = root.lookupType('envoy.config.endpoint.v3.LbEndpoint');
    const next = new Map<string, EndpointInput>();
    const out: EndpointInput[] = [];
    const fresh: EndpointInput[] = [];
    const seen = new Set<string>();
    for (const loc of localities) {
      let zone = '';
      const eps: Uint8Array[] = [];
      eachField(loc, (field, b) => {
        if (field === 1) zone = String((Locality.toObject(Locality.decode(b), TO_OBJECT) as { zone?: string }).zone ?? '');
        else if (field === 2) eps.push(b);
      });
      for (const b of eps) {
        const key = `${zone}\u0000${Buffer.from(b).toString('latin1')}`;
        let input = next.get(key) ?? this.#cache.get(key);
        if (!input) {
          input = lbToInput(LbEndpoint.toObject(LbEndpoint.decode(b), TO_OBJECT) as LbObject, zone);
          fresh.push(input);
        }
        next.set(key, input);
        if (seen.has(input.id)) continue;
        seen.add(input.id);
        out.push(input);
      }
    }
    this.#cache = next;
    return { inputs: out, fresh };
  }
}

/** A decoded assignment: every endpoint, and those decoded afresh (new or changed since the last one). */
interface Decoded {
  inputs: EndpointInput[];
  fresh: EndpointInput[];
}

interface LbObject {
  endpoint?: { address?: { socket_address?: { address?: string; port_value?: number } }; hostname?: string };
  health_status?: string;
  load_balancing_weight?: { value?: number };
  metadata?: { filter_metadata?: Record<string, unknown> };
}

/** Converts one decoded LbEndpoint to an EndpointSet input; throws on an unusable endpoint. */
function lbToInput(lb: LbObject, zone: string): EndpointInput {
  const sa = lb.endpoint?.address?.socket_address;
  const host = sa?.address ?? '';
  const port = sa?.port_value ?? 0;
  if (host === '' || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`endpoint with invalid address ${host}:${port}`);
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const meta = lb.metadata?.filter_metadata?.[METADATA_NAMESPACE];
  const m = meta ? fromProtoStruct(meta) : {};
  const health = lb.health_status ?? 'UNKNOWN';
  const healthy = health === 'HEALTHY' || health === 'UNKNOWN';
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries((m.labels as Record<string, unknown> | undefined) ?? {})) if (typeof v === 'string') labels[k] = v;
  return {
    id: typeof m.id === 'string' && m.id !== '' ? m.id : address,
    address,
    ...(zone ? { zone } : {}),
    weight: lb.load_balancing_weight?.value ?? 1,
    ready: typeof m.ready === 'boolean' ? m.ready && healthy : healthy,
    serving: typeof m.serving === 'boolean' ? m.serving : healthy || health === 'DRAINING',
    terminating: typeof m.terminating === 'boolean' ? m.terminating : health === 'DRAINING',
    labels,
  };
}

/**
 * Creates a source that keeps `opts.set` equal to one service's endpoints served over xDS (ADS, EDS).
 *
 * @param opts - Options; see {@link XdsEndpointSourceOptions}.
 * @returns The source; call `start()` to connect and wait for the first update.
 * @throws BalancerError `BALANCER_INVALID_ARGUMENT` on bad options.
 * @example
 * ```ts
 * import { createEndpointSet } from '@dataplane/balancer';
 * import { xdsEndpointSource } from '@dataplane/balancer/xds';
 *
 * const set = createEndpointSet();
 * await using source = xdsEndpointSource({ server: '127.0.0.1:18000', service: 'echo', set, node: { zone: 'z1' } });
 * await source.start(AbortSignal.timeout(10_000));
 * console.log(set.list().map((e) => e.address));
 * ```
 * @since 0.1.0
 */
export function xdsEndpointSource(opts: XdsEndpointSourceOptions): XdsEndpointSource {
  return new XdsEndpointSource(opts);
}
