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
export { createRng } from './random/xoshiro.js';
export type { Rng } from './random/xoshiro.js';
export { createPicker } from './pickers/create-picker.js';
export type { CreatePickerOptions } from './pickers/create-picker.js';
export { roundRobin, random, p2c, weighted } from './pickers/basic.js';
export type { P2cOptions } from './pickers/basic.js';
export { zoneAware, zoneRouting } from './pickers/zone-aware.js';
export type { ZoneAwareOptions, ZoneRouting } from './pickers/zone-aware.js';
export { slowStart, slowStartFactor } from './pickers/slow-start.js';
export type { SlowStartOptions } from './pickers/slow-start.js';
export { outlierAware } from './pickers/outlier-aware.js';
export type { OutlierOptions } from './pickers/outlier-aware.js';
export type { Picker, PickerFactory, PickerStats } from './pickers/types.js';
export { resolveScenario, SIM_ROUTINGS } from './sim/scenario.js';
export type { Scenario, SimRouting, ResolvedScenario } from './sim/scenario.js';
export { simulateRun } from './sim/engine.js';
export type { SimRunResult } from './sim/engine.js';
export { simulateScenario, minPodsForSlo, renderSvg } from './sim/report.js';
export type { SimReport, SimProgress } from './sim/report.js';
export { supermarketMeanTime, ballsIntoBinsMaxLoad } from './sim/theory.js';
