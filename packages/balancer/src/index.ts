/**
 * Client-side, per-request load balancing (power-of-two-choices, zone affinity, slow start, outlier ejection), an xDS control plane fed by Kubernetes EndpointSlices, and a cluster simulator.
 *
 * @packageDocumentation
 */
export { BalancerError } from './errors.js';
export type { BalancerErrorCode, BalancerErrorOptions } from './errors.js';
export type { Endpoint, EndpointInput, EndpointChange, EndpointStats, EndpointSet } from './endpoints/types.js';
export { createEndpointSet } from './endpoints/endpoint-set.js';
export type { EndpointSetOptions } from './endpoints/endpoint-set.js';
export {
  GRPC_POLICY_NAME,
  GRPC_POLICY_TYPED_STRUCT_URL,
  TYPED_STRUCT_TYPE_URL,
} from './adapters/grpc/policy-name.js';
export type { GrpcPolicyConfig } from './adapters/grpc/policy-name.js';
