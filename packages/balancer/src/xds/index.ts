/**
 * The xDS control plane of `@dataplane/balancer`: an Envoy v3 ADS server fed by a topology, a validator of
 * served resources against the Envoy v3 rules, and {@link xdsEndpointSource}, a client feeding an EndpointSet.
 *
 * Needs the optional peers `@grpc/grpc-js`, `@grpc/grpc-js-xds` (its Envoy protos) and `@grpc/proto-loader`.
 *
 * @packageDocumentation
 */
export { createXdsServer, XdsServer } from './server.js';
export type { XdsServerOptions, XdsServerStats, XdsNack, XdsInvalidResource } from './server.js';
export { validateXdsResource } from './validate.js';
export type { ValidationIssue } from './validate.js';
export type { Topology, TopologyService, TopologyEndpoint } from './topology.js';
export { TYPE_URLS, encodeXdsResource, decodeXdsResource } from './protos.js';
export type { AnyMessage } from './protos.js';
export { METADATA_NAMESPACE } from './resources.js';
export { xdsEndpointSource, XdsEndpointSource } from './endpoint-source.js';
export type { XdsEndpointSourceOptions, XdsEndpointSourceStats } from './endpoint-source.js';
