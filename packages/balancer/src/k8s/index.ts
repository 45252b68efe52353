/**
 * Kubernetes discovery for `@dataplane/balancer`: a list+watch of Services and discovery.k8s.io/v1
 * EndpointSlices (bookmarks, opaque resourceVersion, 410 re-list, backoff, watchdog) that builds the topology
 * the xDS server (`@dataplane/balancer/xds`) serves. Reading a kubeconfig needs `@kubernetes/client-node`.
 *
 * @packageDocumentation
 */
export { createK8sWatcher, K8sWatcher } from './watcher.js';
export type { K8sWatcherOptions, K8sWatcherStats } from './watcher.js';
export type { ListWatchStats } from './list-watch.js';
export { buildTopology, xdsNameOf } from './topology-builder.js';
export { connectionFromKubeconfig } from './kubeconfig.js';
export type { K8sConnection, K8sService, K8sEndpointSlice, K8sSliceEndpoint, K8sObjectMeta, K8sWatchEvent } from './types.js';
export type { Topology, TopologyService, TopologyEndpoint } from '../xds/topology.js';
