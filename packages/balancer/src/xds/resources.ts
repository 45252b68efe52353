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

/**
 * Builds the ClusterLoadAssignment of a service: one locality per zone, weighted by its count of HEALTHY
 * endpoints (at least 1, the minimum Envoy accepts, so a locality with only draining endpoints is kept);
 * serving && !terminating -> HEALTHY, terminating -> DRAINING, otherwise UNHEALTHY.
 */
export function buildLoadAssignment(root: ProtoRoot, svc: TopologyService): AnyMessage {
  const byZone = new Map<string, TopologyService['endpoints'][number][]>();
  for (const ep of svc.endpoints) {
    const zone = ep.zone ?? '';
    let list = byZone.get(zone);
    if (!list) byZone.set(zone, (list = []));
    list.push(ep);
  }
  const zones = [...byZone.keys()].sort();
  const endpoints = zones.map((zone) => {
    const eps = [...byZone.get(zone)!].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    let healthy = 0;
    const lbEndpoints = eps.map((ep) => {
      const health = healthOf(ep);
      if (health === 'HEALTHY') healthy += 1;
      const meta: Record<string, unknown> = {
        id: ep.id,
        ready: ep.ready,
        serving: ep.serving,
        terminating: ep.terminating,
        labels: { ...ep.labels },
      };
      if (ep.nodeName) meta.nodeName = ep.nodeName;
      if (ep.hintsForZones.length > 0) meta.hintsForZones = [...ep.hintsForZones];
      return {
        endpoint: { address: { socket_address: { address: ep.ip, port_value: ep.port } }, hostname: ep.id },
        health_status: health,
        load_balancing_weight: { value: Math.max(1, Math.round(ep.weight)) },
        metadata: { filter_metadata: { [METADATA_NAMESPACE]: toProtoStruct(meta) } },
      };
    });
    return {
      locality: zone ? { zone } : {},
      lb_endpoints: lbEndpoints,
      load_balancing_weight: { value: Math.max(1, healthy) },
      priority: 0,
    };
  });
  return packAny(root, 'envoy.config.endpoint.v3.ClusterLoadAssignment', { cluster_name: svc.name, endpoints });
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
