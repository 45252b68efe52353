/**
 * Client-side, per-request load balancing (power-of-two-choices, zone affinity, slow start, outlier ejection), an xDS control plane fed by Kubernetes EndpointSlices, and a cluster simulator.
 *
 * @packageDocumentation
 */
export { BalancerError } from './errors.js';
export type { BalancerErrorCode, BalancerErrorOptions } from './errors.js';
