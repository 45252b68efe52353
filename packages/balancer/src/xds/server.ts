import type * as grpc from '@grpc/grpc-js';
import { BalancerError } from '../errors.js';
import {
  adsServiceDefinition,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type DiscoveryRequest,
  type DiscoveryResponse,
  loadGrpc,
} from './grpc-loader.js';
import { type AnyMessage, loadXdsProtos, type ProtoRoot, TYPE_URLS } from './protos.js';
import { buildCluster, buildListener, buildRoute, LoadAssignmentEncoder } from './resources.js';
import type { Topology, TopologyService } from './topology.js';
import { type ValidationIssue, validateXdsResource } from './validate.js';

/**
 * A NACK received from a client: the client rejected `rejectedVersion` and keeps serving `keptVersion`.
 *
 * @since 0.1.0
 */
export interface XdsNack {
  readonly typeUrl: string;
  readonly nodeId: string;
  readonly zone: string | undefined;
  readonly nonce: string;
  readonly rejectedVersion: string;
  readonly keptVersion: string;
  readonly message: string;
}

/**
 * A resource that failed validation against the Envoy v3 rules and was therefore not served.
 *
 * @since 0.1.0
 */
export interface XdsInvalidResource {
  readonly typeUrl: string;
  readonly name: string;
  readonly issues: readonly ValidationIssue[];
}

/**
 * Options of {@link createXdsServer}.
 *
 * @since 0.1.0
 */
export interface XdsServerOptions {
  /** Address to listen on. @defaultValue '127.0.0.1' */
  host?: string | undefined;
  /** Port to listen on; 0 picks a free port (read it from {@link XdsServer.port}). @defaultValue 18000 */
  port?: number | undefined;
  /** Validate every resource against the Envoy v3 proto rules before serving it. @defaultValue true */
  validate?: boolean | undefined;
  /** Called on each NACK (the rejected version is never re-sent). @defaultValue undefined */
  onNack?: ((nack: XdsNack) => void) | undefined;
  /** Called for each resource that failed validation and was withheld. @defaultValue undefined */
  onInvalid?: ((invalid: XdsInvalidResource) => void) | undefined;
  /** The initial topology. @defaultValue no services */
  topology?: Topology | undefined;
}

/**
 * A plain snapshot of the server's counters.
 *
 * @since 0.1.0
 */
export interface XdsServerStats {
  readonly started: boolean;
  readonly version: number;
  readonly services: number;
  readonly streams: number;
  readonly requests: number;
  readonly responses: number;
  readonly acks: number;
  readonly nacks: number;
  readonly staleRequests: number;
  readonly invalidResources: number;
  /** Connected streams per client zone (`''` when a client sent no locality). */
  readonly streamsByZone: Readonly<Record<string, number>>;
}

interface ServiceEntry {
  svc: TopologyService;
  listener: AnyMessage;
  route: AnyMessage;
  endpoints: AnyMessage;
  encoder: LoadAssignmentEncoder;
  /** Version of each resource (bumped only when its bytes change). */
  lv: number;
  rv: number;
  ev: number;
  cv: number;
  clusters: Map<string, AnyMessage>;
}

interface Subscription {
  names: Set<string> | null;
  sent: Map<string, number>;
  nonce: string;
  version: string;
}

interface DeltaSubscription {
  wildcard: boolean;
  names: Set<string>;
  /** What the client holds: name -> version. */
  sent: Map<string, string>;
  nonce: string;
}

interface DeltaStreamState {
  call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
  nodeId: string;
  zone: string | undefined;
  subs: Map<string, DeltaSubscription>;
}

interface StreamState {
  call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  nodeId: string;
  zone: string | undefined;
  subs: Map<string, Subscription>;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/**
 * An Envoy v3 Aggregated Discovery Service (state of the world) serving, per service of the topology, a
 * Listener (API listener for gRPC clients), a RouteConfiguration, an EDS Cluster and a ClusterLoadAssignment.
 *
 * @remarks
 * Each response carries a fresh nonce and the topology version. A request echoing the latest nonce ACKs it,
 * or NACKs it when it carries `error_detail`: the NACK is counted and reported, the client keeps its last
 * good version, and the rejected content is never re-sent (only a later change of the topology is). A
 * request echoing an older nonce is stale and ignored. LDS and CDS requests with no names are wildcards.
 * The Cluster names our grpc-js policy with `localZone` taken from the client's `node.locality.zone`.
 * Incremental xDS (`DeltaAggregatedResources`) is served on the same port.
 *
 * @example
 * ```ts
 * import { createXdsServer } from '@dataplane/balancer/xds';
 *
 * await using server = createXdsServer({ port: 0, onNack: (n) => console.warn(n.message) });
 * const port = await server.start();
 * server.setTopology({ services: [] });
 * console.log(port, server.stats().streams);
 * ```
 * @since 0.1.0
 */
export class XdsServer implements AsyncDisposable {
  readonly #opts: { host: string; port: number; validate: boolean };
  readonly #onNack: XdsServerOptions['onNack'];
  readonly #onInvalid: XdsServerOptions['onInvalid'];
  readonly #services = new Map<string, ServiceEntry>();
  readonly #streams = new Set<StreamState>();
  readonly #deltaStreams = new Set<DeltaStreamState>();
  #root: ProtoRoot | undefined;
  #server: grpc.Server | undefined;
  #port = 0;
  #version = 0;
  #nonce = 0;
  #starting: Promise<number> | undefined;
  #closed = false;
  #counters = { requests: 0, responses: 0, acks: 0, nacks: 0, staleRequests: 0, invalidResources: 0 };

  constructor(opts: XdsServerOptions = {}) {
    const port = opts.port ?? 18000;
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new BalancerError('BALANCER_INVALID_ARGUMENT', `port must be an integer in [0, 65535], got ${String(port)}`);
    this.#opts = { host: opts.host ?? '127.0.0.1', port, validate: opts.validate ?? true };
    this.#onNack = opts.onNack;
    this.#onInvalid = opts.onInvalid;
    if (opts.topology) this.setTopology(opts.topology);
  }

  /** The port the server listens on (0 before {@link XdsServer.start} resolved). */
  get port(): number {
    return this.#port;
  }

  /** The current topology version (bumped on every change of a served resource). */
  get version(): number {
    return this.#version;
  }

  /**
   * Starts listening. Idempotent.
   *
   * @param signal - Aborting it closes the server.
   * @returns The bound port.
   * @throws BalancerError `BALANCER_CLOSED` after {@link XdsServer.close}; `BALANCER_WATCH_FAILED` when the port cannot be bound.
   */
  start(signal?: AbortSignal): Promise<number> {
    if (this.#closed) return Promise.reject(new BalancerError('BALANCER_CLOSED', 'the xDS server is closed'));
    this.#starting ??= new Promise<number>((resolve, reject) => {
      const grpcJs = loadGrpc();
      const server = new grpcJs.Server({ 'grpc.keepalive_permit_without_calls': 1 });
      server.addService(adsServiceDefinition(), {
        StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) => this.#onStream(call),
        DeltaAggregatedResources: (call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>) => this.#onDeltaStream(call),
      });
      server.bindAsync(`${this.#opts.host}:${this.#opts.port}`, grpcJs.ServerCredentials.createInsecure(), (err, port) => {
        if (err) {
          reject(new BalancerError('BALANCER_WATCH_FAILED', `cannot listen on ${this.#opts.host}:${this.#opts.port}`, { cause: err }));
          return;
        }
        this.#server = server;
        this.#port = port;
        resolve(port);
      });
    });
    signal?.addEventListener('abort', () => void this.close(), { once: true });
    return this.#starting;
  }

  /**
   * Replaces the whole topology: services not in it are removed. Only resources whose bytes changed are pushed.
   *
   * @param topology - The new topology.
   * @throws BalancerError `BALANCER_INVALID_ARGUMENT` on a malformed service (empty or duplicate name, bad port).
   */
  setTopology(topology: Topology): void {
    const names = new Set<string>();
    for (const svc of topology.services) {
      if (names.has(svc.name)) throw new BalancerError('BALANCER_INVALID_ARGUMENT', `duplicate service name ${svc.name}`);
      names.add(svc.name);
    }
    let changed = false;
    for (const name of [...this.#services.keys()]) if (!names.has(name)) changed = this.#remove(name) || changed;
    for (const svc of topology.services) changed = this.#upsert(svc) || changed;
    if (changed) this.#pushAll();
  }

  /**
   * Adds or replaces one service.
   *
   * @throws BalancerError `BALANCER_INVALID_ARGUMENT` on a malformed service.
   */
  upsertService(svc: TopologyService): void {
    if (this.#upsert(svc)) this.#pushAll();
  }

  /** Removes one service; unknown names are ignored. */
  removeService(name: string): void {
    if (this.#remove(name)) this.#pushAll();
  }

  /** A plain snapshot of the counters. */
  stats(): XdsServerStats {
    const streamsByZone: Record<string, number> = {};
    for (const s of [...this.#streams, ...this.#deltaStreams]) streamsByZone[s.zone ?? ''] = (streamsByZone[s.zone ?? ''] ?? 0) + 1;
    return {
      started: this.#server !== undefined,
      version: this.#version,
      services: this.#services.size,
      streams: this.#streams.size + this.#deltaStreams.size,
      ...this.#counters,
      streamsByZone,
    };
  }

  /** Ends every stream and stops listening. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#starting?.catch(() => undefined);
    for (const s of this.#streams) s.call.end();
    this.#streams.clear();
    for (const s of this.#deltaStreams) s.call.end();
    this.#deltaStreams.clear();
    const server = this.#server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 1000);
      server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #validServiceOrThrow(svc: TopologyService): void {
    if (typeof svc?.name !== 'string' || svc.name.length === 0)
      throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'a service needs a non-empty name');
    if (!Array.isArray(svc.endpoints)) throw new BalancerError('BALANCER_INVALID_ARGUMENT', `service ${svc.name}: endpoints must be an array`);
    for (const ep of svc.endpoints) {
      if (!Number.isInteger(ep.port) || ep.port < 1 || ep.port > 65535)
        throw new BalancerError('BALANCER_INVALID_ARGUMENT', `service ${svc.name}: endpoint ${ep.id} has an invalid port ${String(ep.port)}`);
      if (typeof ep.ip !== 'string' || ep.ip.length === 0)
        throw new BalancerError('BALANCER_INVALID_ARGUMENT', `service ${svc.name}: endpoint ${ep.id} has no address`);
    }
  }

  #check(typeUrl: string, name: string, res: AnyMessage): boolean {
    if (!this.#opts.validate) return true;
    const issues = validateXdsResource(res);
    if (issues.length === 0) return true;
    this.#counters.invalidResources += 1;
    this.#onInvalid?.({ typeUrl, name, issues });
    return false;
  }

  #upsert(svc: TopologyService): boolean {
    this.#validServiceOrThrow(svc);
    const root = (this.#root ??= loadXdsProtos());
    const prev = this.#services.get(svc.name);
    const encoder = prev?.encoder ?? new LoadAssignmentEncoder(root, (res) => this.#check(TYPE_URLS.endpoint, svc.name, res));
    const endpoints = encoder.encode(svc);
    if (!endpoints) return false;
    if (prev) {
      prev.svc = svc;
      if (sameBytes(prev.endpoints.value, endpoints.value)) return false;
      prev.endpoints = endpoints;
      prev.ev = ++this.#version;
      return true;
    }
    const listener = buildListener(root, svc);
    const route = buildRoute(root, svc);
    if (!this.#check(TYPE_URLS.listener, svc.name, listener) || !this.#check(TYPE_URLS.route, svc.name, route)) return false;
    if (!this.#check(TYPE_URLS.cluster, svc.name, buildCluster(root, svc, 'zone'))) return false;
    const v = ++this.#version;
    this.#services.set(svc.name, { svc, listener, route, endpoints, encoder, lv: v, rv: v, ev: v, cv: v, clusters: new Map() });
    return true;
  }

  #remove(name: string): boolean {
    if (!this.#services.delete(name)) return false;
    this.#version += 1;
    return true;
  }

  #resource(entry: ServiceEntry, typeUrl: string, zone: string | undefined): [AnyMessage, number] {
    switch (typeUrl) {
      case TYPE_URLS.listener:
        return [entry.listener, entry.lv];
      case TYPE_URLS.route:
        return [entry.route, entry.rv];
      case TYPE_URLS.endpoint:
        return [entry.endpoints, entry.ev];
      default: {
        let c = entry.clusters.get(zone ?? '');
        if (!c) entry.clusters.set(zone ?? '', (c = buildCluster(this.#root!, entry.svc, zone)));
        return [c, entry.cv];
      }
    }
  }

  #onStream(call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>): void {
    this.#serve(call, this.#streams, { call, nodeId: '', zone: undefined, subs: new Map() } as StreamState, (st, req) => this.#onRequest(st, req));
  }

  /** Shared lifecycle of a state-of-the-world or delta stream: register, dispatch requests, unregister. */
  #serve<S, Req>(call: grpc.ServerDuplexStream<Req, unknown>, streams: Set<S>, state: S, onRequest: (state: S, req: Req) => void): void {
    if (this.#closed) {
      call.end();
      return;
    }
    streams.add(state);
    const drop = (): void => {
      streams.delete(state);
    };
    call.on('data', (req: Req) => {
      try {
        onRequest(state, req);
      } catch (err) {
        call.destroy(err as Error);
        drop();
      }
    });
    call.on('end', () => {
      drop();
      call.end();
    });
    call.on('error', drop);
    call.on('cancelled', drop);
    call.on('close', drop);
  }

  /** Records the client's node id and zone (node.locality) from a request that carries a node. */
  #readNode(state: { nodeId: string; zone: string | undefined }, node: DiscoveryRequest['node']): void {
    if (!node) return;
    state.nodeId = node.id ?? state.nodeId;
    const zone = node.locality?.zone;
    if (zone !== undefined && zone !== '') state.zone = zone;
  }

  #onRequest(state: StreamState, req: DiscoveryRequest): void {
    this.#counters.requests += 1;
    this.#readNode(state, req.node);
    const typeUrl = req.type_url ?? '';
    if (![TYPE_URLS.listener, TYPE_URLS.route, TYPE_URLS.cluster, TYPE_URLS.endpoint].includes(typeUrl as never)) return;
    let sub = state.subs.get(typeUrl);
    const nonce = req.response_nonce ?? '';
    if (sub && nonce !== '' && nonce !== sub.nonce) {
      this.#counters.staleRequests += 1;
      return;
    }
    const wildcardable = typeUrl === TYPE_URLS.listener || typeUrl === TYPE_URLS.cluster;
    const requested = req.resource_names ?? [];
    const names = requested.length === 0 && wildcardable ? null : new Set(requested.filter((n) => n !== '*'));
    const first = !sub;
    if (!sub) {
      sub = { names, sent: new Map(), nonce: '', version: '' };
      state.subs.set(typeUrl, sub);
    }
    if (nonce !== '' && nonce === sub.nonce) {
      if (req.error_detail) {
        this.#counters.nacks += 1;
        this.#onNack?.({
          typeUrl,
          nodeId: state.nodeId,
          zone: state.zone,
          nonce,
          rejectedVersion: sub.version,
          keptVersion: req.version_info ?? '',
          message: req.error_detail.message ?? '',
        });
      } else this.#counters.acks += 1;
    }
    const namesChanged = !sameNames(sub.names, names);
    sub.names = names;
    if (first || namesChanged) this.#send(state, typeUrl, sub, first && (names === null || names.size > 0));
  }

  #pushAll(): void {
    for (const state of this.#streams) for (const [typeUrl, sub] of state.subs) this.#send(state, typeUrl, sub, false);
    for (const state of this.#deltaStreams) for (const [typeUrl, sub] of state.subs) this.#sendDelta(state, typeUrl, sub);
  }

  #onDeltaStream(call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>): void {
    this.#serve(call, this.#deltaStreams, { call, nodeId: '', zone: undefined, subs: new Map() } as DeltaStreamState, (st, req) => this.#onDeltaRequest(st, req));
  }

  /**
   * Incremental xDS: subscriptions change by `resource_names_subscribe` / `_unsubscribe` (a first LDS/CDS
   * request without names, or `*`, is a wildcard); only resources whose version differs from what the client
   * holds (`initial_resource_versions`, then what was sent) are sent, and deleted ones are listed in
   * `removed_resources`. ACK/NACK as in state of the world: a NACKed version is not re-sent.
   */
  #onDeltaRequest(state: DeltaStreamState, req: DeltaDiscoveryRequest): void {
    this.#counters.requests += 1;
    this.#readNode(state, req.node);
    const typeUrl = req.type_url ?? '';
    if (![TYPE_URLS.listener, TYPE_URLS.route, TYPE_URLS.cluster, TYPE_URLS.endpoint].includes(typeUrl as never)) return;
    const subscribe = req.resource_names_subscribe ?? [];
    const unsubscribe = req.resource_names_unsubscribe ?? [];
    let sub = state.subs.get(typeUrl);
    if (!sub) {
      const wildcardable = typeUrl === TYPE_URLS.listener || typeUrl === TYPE_URLS.cluster;
      sub = { wildcard: wildcardable && subscribe.length === 0, names: new Set(), sent: new Map(), nonce: '' };
      for (const [name, version] of Object.entries(req.initial_resource_versions ?? {})) sub.sent.set(name, version);
      state.subs.set(typeUrl, sub);
    }
    const nonce = req.response_nonce ?? '';
    if (nonce !== '' && nonce === sub.nonce) {
      if (req.error_detail) {
        this.#counters.nacks += 1;
        this.#onNack?.({
          typeUrl,
          nodeId: state.nodeId,
          zone: state.zone,
          nonce,
          rejectedVersion: String(this.#version),
          keptVersion: '',
          message: req.error_detail.message ?? '',
        });
      } else this.#counters.acks += 1;
    } else if (nonce !== '') this.#counters.staleRequests += 1;
    for (const name of subscribe) {
      if (name === '*') sub.wildcard = true;
      else sub.names.add(name);
    }
    for (const name of unsubscribe) {
      if (name === '*') sub.wildcard = false;
      else {
        sub.names.delete(name);
        if (!sub.wildcard) sub.sent.delete(name);
      }
    }
    this.#sendDelta(state, typeUrl, sub);
  }

  #sendDelta(state: DeltaStreamState, typeUrl: string, sub: DeltaSubscription): void {
    const resources: DeltaDiscoveryResponse['resources'] = [];
    const removed: string[] = [];
    const wanted = sub.wildcard ? new Set([...this.#services.keys(), ...sub.names]) : sub.names;
    for (const name of wanted) {
      const entry = this.#services.get(name);
      if (!entry) {
        if (sub.sent.delete(name)) removed.push(name);
        continue;
      }
      const [res, v] = this.#resource(entry, typeUrl, state.zone);
      const version = String(v);
      if (sub.sent.get(name) === version) continue;
      sub.sent.set(name, version);
      resources.push({ name, version, resource: res });
    }
    if (sub.wildcard) {
      for (const name of [...sub.sent.keys()]) {
        if (!this.#services.has(name)) {
          sub.sent.delete(name);
          removed.push(name);
        }
      }
    }
    if (resources.length === 0 && removed.length === 0) return;
    sub.nonce = String(++this.#nonce);
    this.#counters.responses += 1;
    state.call.write({ system_version_info: String(this.#version), resources, type_url: typeUrl, removed_resources: removed, nonce: sub.nonce });
  }

  #send(state: StreamState, typeUrl: string, sub: Subscription, force: boolean): void {
    const want = new Map<string, number>();
    const resources: AnyMessage[] = [];
    const names = sub.names ?? this.#services.keys();
    for (const name of names) {
      const entry = this.#services.get(name);
      if (!entry) continue;
      const [res, v] = this.#resource(entry, typeUrl, state.zone);
      want.set(name, v);
      resources.push(res);
    }
    if (!force && sameVersions(sub.sent, want)) return;
    sub.sent = want;
    sub.nonce = String(++this.#nonce);
    sub.version = String(this.#version);
    this.#counters.responses += 1;
    state.call.write({ version_info: sub.version, resources, type_url: typeUrl, nonce: sub.nonce });
  }
}

function sameNames(a: Set<string> | null, b: Set<string> | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.size !== b.size) return false;
  for (const n of a) if (!b.has(n)) return false;
  return true;
}

function sameVersions(a: Map<string, number>, b: Map<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

/**
 * Creates an Envoy v3 ADS server (see {@link XdsServer}); call `start()` to listen.
 *
 * @param opts - Options; see {@link XdsServerOptions}.
 * @returns The server, not yet listening.
 * @throws BalancerError `BALANCER_INVALID_ARGUMENT` on a bad port or topology.
 * @example
 * ```ts
 * import { createXdsServer } from '@dataplane/balancer/xds';
 *
 * await using server = createXdsServer({ port: 0 });
 * await server.start();
 * server.setTopology({ services: [{ name: 'echo', endpoints: [
 *   { id: 'a', ip: '10.0.0.1', port: 50051, zone: 'z1', ready: true, serving: true, terminating: false,
 *     hintsForZones: [], labels: {}, weight: 1 },
 * ] }] });
 * ```
 * @since 0.1.0
 */
export function createXdsServer(opts: XdsServerOptions = {}): XdsServer {
  return new XdsServer(opts);
}
