export { GRPC_POLICY_NAME, GRPC_POLICY_TYPED_STRUCT_URL, TYPED_STRUCT_TYPE_URL } from './policy-name.js';
export type { GrpcPolicyConfig } from './policy-name.js';
export { registerGrpcPolicy } from './policy.js';
export type { RegisterGrpcPolicyOptions } from './policy.js';
