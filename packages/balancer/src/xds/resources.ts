import { GRPC_POLICY_NAME, GRPC_POLICY_TYPED_STRUCT_URL } from '../adapters/grpc/policy-name.js';
import { type AnyMessage, packAny, type ProtoRoot, toProtoStruct, TYPE_URLS } from './protos.js';
import { healthOf, type TopologyService } from './topology.js';

/** Filter-metadata namespace under which endpoint attributes (conditions, labels, node, hints) are carried. */
export const METADATA_NAMESPACE = 'dataplane.balancer';

const ADS_SOURCE = { ads: {}, resource_api_version: 'V3' };

/** Builds the API Listener (for gRPC clients dialing `xds:///<name>`) of a service. */
export function buildListener(root: ProtoRoot, svc: TopologyService): AnyMessage {
  const hcm = packAny(root, 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', {
    stat_prefix: svc.name,
    codec_type: 'AUTO',
    rds: { config_source: ADS_SOURCE, route_config_name: svc.name },
    http_filters: [
      {
        name: 'envoy.filters.http.router',
        typed_config: packAny(root, 'envoy.extensions.filters.http.router.v3.Router', {}),
      },
    ],
  });
  return packAny(root, 'envoy.config.listener.v3.Listener', { name: svc.name, api_listener: { api_listener: hcm } });
}

/** Builds the RouteConfiguration of a service: every request to the service's one cluster. */
export function buildRoute(root: ProtoRoot, svc: TopologyService): AnyMessage {
  return packAny(root, 'envoy.config.route.v3.RouteConfiguration', {
    name: svc.name,
    virtual_hosts: [
      {
        name: svc.name,
        domains: ['*'],
        routes: [{ match: { prefix: '' }, route: { cluster: svc.name } }],
      },
    ],
  });
}

/**
 * Builds the EDS Cluster of a service. Its `load_balancing_policy` is `wrr_locality` whose endpoint-picking
 * policy is our grpc-js policy (a TypedStruct naming it, with `localZone` from the client's node locality) and
 * `round_robin` as the fallback for clients that do not have our policy registered.
 */
export function buildCluster(root: ProtoRoot, svc: TopologyService, clientZone: string | undefined): AnyMessage {
  const typedStruct = packAny(root, 'xds.type.v3.TypedStruct', {
    type_url: GRPC_POLICY_TYPED_STRUCT_URL,
    value: toProtoStruct(clientZone ? { picker: 'p2c', localZone: clientZone } : { picker: 'p2c' }),
  });
  const endpointPicking = {
    policies: [
      { typed_extension_config: { name: GRPC_POLICY_NAME, typed_config: typedStruct } },
      {
        typed_extension_config: {
          name: 'envoy.load_balancing_policies.round_robin',
          typed_config: packAny(root, 'envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin', {}),
        },
      },
    ],
  };
  return packAny(root, 'envoy.config.cluster.v3.Cluster', {
    name: svc.name,
    type: 'EDS',
    eds_cluster_config: { eds_config: ADS_SOURCE, service_name: svc.name },
    connect_timeout: { seconds: 5 },
    load_balancing_policy: {
      policies: [
        {
          typed_extension_config: {
            name: 'envoy.load_balancing_policies.wrr_locality',
            typed_config: packAny(root, 'envoy.extensions.load_balancing_policies.wrr_locality.v3.WrrLocality', {
              endpoint_picking_policy: endpointPicking,
            }),
          },
        },
      ],
    },
  });
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** Appends field 2 (length-delimited) holding `bytes` to `parts` (both CLA.endpoints and LocalityLbEndpoints.lb_endpoints are field 2). */
function pushField2(parts: Uint8Array[], bytes: Uint8Array): number {
  const head = Uint8Array.from([0x12, ...varint(bytes.length)]);
  parts.push(head, bytes);
  return head.length + bytes.length;
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Encodes the ClusterLoadAssignment of a service incrementally: each LbEndpoint is encoded (and validated)
 * once and cached by its content, and the message is assembled from the cached bytes (protobuf fields may be
 * concatenated), so a change of one endpoint among thousands costs one endpoint's encoding.
 *
 * One locality per zone, weighted by its count of HEALTHY endpoints (at least 1, the minimum Envoy accepts, so
 * a locality with only draining endpoints is kept); serving && !terminating -> HEALTHY, terminating ->
 * DRAINING, otherwise UNHEALTHY. Endpoint attributes travel in filter metadata under {@link METADATA_NAMESPACE}.
 */
export class LoadAssignmentEncoder {
  readonly #root: ProtoRoot;
  readonly #check: (res: AnyMessage) => boolean;
  #cache = new Map<string, Uint8Array>();
  /** Content key per endpoint object: topology objects are immutable and reused across updates. */
  #keys = new WeakMap<object, string>();

  /** @param check - Validates a freshly encoded part (LbEndpoint or the skeleton); false withholds the whole assignment. */
  constructor(root: ProtoRoot, check: (res: AnyMessage) => boolean = () => true) {
    this.#root = root;
    this.#check = check;
  }

  /** The encoded assignment, or undefined when a part failed validation. */
  encode(svc: TopologyService): AnyMessage | undefined {
    const root = this.#root;
    const byZone = new Map<string, TopologyService['endpoints'][number][]>();
    for (const ep of svc.endpoints) {
      const zone = ep.zone ?? '';
      let list = byZone.get(zone);
      if (!list) byZone.set(zone, (list = []));
      list.push(ep);
    }
    const next = new Map<string, Uint8Array>();
    const LbEndpoint = root.lookupType('envoy.config.endpoint.v3.LbEndpoint');
    const Locality = root.lookupType('envoy.config.endpoint.v3.LocalityLbEndpoints');
    const Cla = root.lookupType('envoy.config.endpoint.v3.ClusterLoadAssignment');
    const skeleton = { cluster_name: svc.name, endpoints: [] as Record<string, unknown>[] };
    const claParts: Uint8Array[] = [];
    let claTotal = 0;
    const head = Cla.encode(Cla.fromObject({ cluster_name: svc.name })).finish();
    claParts.push(head);
    claTotal += head.length;
    for (const zone of [...byZone.keys()].sort()) {
      const eps = [...byZone.get(zone)!].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      let healthy = 0;
      const locParts: Uint8Array[] = [];
      let locTotal = 0;
      for (const ep of eps) {
        const health = healthOf(ep);
        if (health === 'HEALTHY') healthy += 1;
        let key = this.#keys.get(ep);
        if (key === undefined) {
          key = JSON.stringify([ep.id, ep.ip, ep.port, health, ep.weight, ep.ready, ep.serving, ep.terminating, ep.nodeName, ep.hintsForZones, ep.labels]);
          this.#keys.set(ep, key);
        }
        let bytes = next.get(key) ?? this.#cache.get(key);
        if (!bytes) {
          const meta: Record<string, unknown> = { id: ep.id, ready: ep.ready, serving: ep.serving, terminating: ep.terminating, labels: { ...ep.labels } };
          if (ep.nodeName) meta.nodeName = ep.nodeName;
          if (ep.hintsForZones.length > 0) meta.hintsForZones = [...ep.hintsForZones];
          bytes = LbEndpoint.encode(
            LbEndpoint.fromObject({
              endpoint: { address: { socket_address: { address: ep.ip, port_value: ep.port } }, hostname: ep.id },
              health_status: health,
              load_balancing_weight: { value: Math.max(1, Math.round(ep.weight)) },
              metadata: { filter_metadata: { [METADATA_NAMESPACE]: toProtoStruct(meta) } },
            }),
          ).finish();
          if (!this.#check({ type_url: 'type.googleapis.com/envoy.config.endpoint.v3.LbEndpoint', value: bytes })) return undefined;
        }
        next.set(key, bytes);
        locTotal += pushField2(locParts, bytes);
      }
      const locObj = { locality: zone ? { zone } : {}, load_balancing_weight: { value: Math.max(1, healthy) }, priority: 0 };
      skeleton.endpoints.push(locObj);
      const locHead = Locality.encode(Locality.fromObject(locObj)).finish();
      locParts.unshift(locHead);
      locTotal += locHead.length;
      claTotal += pushField2(claParts, concat(locParts, locTotal));
    }
    if (!this.#check(packAny(root, 'envoy.config.endpoint.v3.ClusterLoadAssignment', skeleton))) return undefined;
    this.#cache = next;
    return { type_url: TYPE_URLS.endpoint, value: concat(claParts, claTotal) };
  }
}

/** Builds the ClusterLoadAssignment of a service in one go (see {@link LoadAssignmentEncoder}). */
export function buildLoadAssignment(root: ProtoRoot, svc: TopologyService): AnyMessage {
  return new LoadAssignmentEncoder(root).encode(svc)!;
}

/** The four resources of one service, by type URL. */
export function buildAll(root: ProtoRoot, svc: TopologyService): Map<string, AnyMessage> {
  return new Map([
    [TYPE_URLS.listener, buildListener(root, svc)],
    [TYPE_URLS.route, buildRoute(root, svc)],
    [TYPE_URLS.cluster, buildCluster(root, svc, undefined)],
    [TYPE_URLS.endpoint, buildLoadAssignment(root, svc)],
  ]);
}
