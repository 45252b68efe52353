/**
 * One endpoint of a service as the control plane sees it (built from EndpointSlices or set by hand).
 *
 * @since 0.1.0
 */
export interface TopologyEndpoint {
  /** Stable id: the pod name when known, else `ip:port`. */
  readonly id: string;
  /** IP address (or host name) to connect to. */
  readonly ip: string;
  /** Port to connect to. */
  readonly port: number;
  /** Zone (topology.kubernetes.io/zone), if known. */
  readonly zone?: string | undefined;
  /** Node the endpoint runs on, if known. */
  readonly nodeName?: string | undefined;
  /** EndpointSlice `conditions.ready`. @defaultValue true */
  readonly ready: boolean;
  /** EndpointSlice `conditions.serving`. @defaultValue true */
  readonly serving: boolean;
  /** EndpointSlice `conditions.terminating`. @defaultValue false */
  readonly terminating: boolean;
  /** Zones this endpoint is hinted for (`hints.forZones`). @defaultValue `[]` */
  readonly hintsForZones: readonly string[];
  /** Shard and other labels carried to clients. @defaultValue `{}` */
  readonly labels: Readonly<Record<string, string>>;
  /** Relative weight (a positive integer). @defaultValue 1 */
  readonly weight: number;
}

/**
 * One service (one xDS Listener, RouteConfiguration, Cluster and ClusterLoadAssignment, all with this `name`).
 *
 * @since 0.1.0
 */
export interface TopologyService {
  /** The xDS resource name and the `xds:///<name>` target clients dial. */
  readonly name: string;
  /** Its endpoints; order does not matter. */
  readonly endpoints: readonly TopologyEndpoint[];
}

/**
 * The whole topology the control plane serves.
 *
 * @since 0.1.0
 */
export interface Topology {
  readonly services: readonly TopologyService[];
}

/** Health an endpoint is served with: serving and not terminating is HEALTHY, terminating is DRAINING. */
export function healthOf(ep: TopologyEndpoint): 'HEALTHY' | 'DRAINING' | 'UNHEALTHY' {
  if (ep.terminating) return 'DRAINING';
  return ep.serving ? 'HEALTHY' : 'UNHEALTHY';
}
