/**
 * The name under which the grpc-js load-balancing policy of `@dataplane/balancer/grpc` registers itself with
 * `experimental.registerLoadBalancerType`. Select it with a service config
 * `{"loadBalancingConfig":[{"dataplane_p2c":{}}]}` or, over xDS, with {@link GRPC_POLICY_TYPED_STRUCT_URL}.
 *
 * @example
 * ```ts
 * import { GRPC_POLICY_NAME } from '@dataplane/balancer';
 *
 * const serviceConfig = JSON.stringify({ loadBalancingConfig: [{ [GRPC_POLICY_NAME]: {} }] });
 * ```
 * @since 0.1.0
 */
export const GRPC_POLICY_NAME = 'dataplane_p2c';

/**
 * The `type_url` the xDS control plane puts in a CDS `Cluster.load_balancing_policy.policies[].typed_extension_config`
 * `typed_config` of type `xds.type.v3.TypedStruct` (`type.googleapis.com/xds.type.v3.TypedStruct`) to select the policy:
 * grpc-js-xds takes the policy name from the TypedStruct `type_url` after its last `/`, with the
 * struct `value` as its JSON config ({@link GrpcPolicyConfig}).
 *
 * @example
 * ```ts
 * import { GRPC_POLICY_TYPED_STRUCT_URL } from '@dataplane/balancer';
 *
 * const typedConfig = {
 *   '@type': 'type.googleapis.com/xds.type.v3.TypedStruct',
 *   type_url: GRPC_POLICY_TYPED_STRUCT_URL,
 *   value: { picker: 'p2c' },
 * };
 * ```
 * @since 0.1.0
 */
export const GRPC_POLICY_TYPED_STRUCT_URL = `type.googleapis.com/${GRPC_POLICY_NAME}`;

/** The `type.googleapis.com/xds.type.v3.TypedStruct` wrapper type URL. */
export const TYPED_STRUCT_TYPE_URL = 'type.googleapis.com/xds.type.v3.TypedStruct';

/**
 * The JSON config of the grpc-js policy (in a service config or in the TypedStruct `value`).
 *
 * @since 0.1.0
 */
export interface GrpcPolicyConfig {
  /** Which picker to use per call. @defaultValue 'p2c' */
  picker?: 'p2c' | 'peak-ewma' | 'round-robin' | 'random' | 'weighted' | undefined;
  /** The caller's zone for zone-aware routing; no zone-aware routing when absent. @defaultValue undefined */
  localZone?: string | undefined;
  /** Slow-start window in milliseconds; 0 disables slow start. @defaultValue 0 */
  slowStartWindowMs?: number | undefined;
  /** Enable outlier ejection on gRPC status codes. @defaultValue true */
  outlierDetection?: boolean | undefined;
}
