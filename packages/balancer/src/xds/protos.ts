import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { BalancerError } from '../errors.js';

/** The subset of a protobufjs reflection `Type` the xDS code uses (declared structurally: no protobufjs import). */
export interface ProtoType {
  readonly fullName: string;
  readonly fieldsArray: readonly ProtoField[];
  readonly oneofsArray: readonly ProtoOneof[];
  encode(message: unknown): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
  fromObject(object: Record<string, unknown>): unknown;
  toObject(message: unknown, options?: Record<string, unknown>): Record<string, unknown>;
  verify(message: Record<string, unknown>): string | null;
}

/** A protobufjs reflection field. */
export interface ProtoField {
  readonly name: string;
  readonly repeated: boolean;
  readonly map: boolean;
  readonly type: string;
  readonly parsedOptions: readonly Record<string, unknown>[] | null | undefined;
  readonly resolvedType: ProtoType | ProtoEnum | null;
  resolve(): ProtoField;
}

/** A protobufjs reflection oneof. */
export interface ProtoOneof {
  readonly name: string;
  readonly oneof: readonly string[];
  readonly parsedOptions: readonly Record<string, unknown>[] | null | undefined;
}

/** A protobufjs reflection enum. */
export interface ProtoEnum {
  readonly values: Readonly<Record<string, number>>;
  readonly valuesById: Readonly<Record<number, string>>;
}

/** The protobufjs `Root` subset we use. */
export interface ProtoRoot {
  lookupType(name: string): ProtoType;
}

/** xDS v3 resource type URLs. */
export const TYPE_URLS = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
} as const;

/** The four resource type URLs in the order dependents need them. */
export const ALL_TYPE_URLS: readonly string[] = [TYPE_URLS.listener, TYPE_URLS.route, TYPE_URLS.cluster, TYPE_URLS.endpoint];

const PROTO_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.proto',
  'envoy/extensions/load_balancing_policies/wrr_locality/v3/wrr_locality.proto',
  'xds/type/v3/typed_struct.proto',
];

let cached: ProtoRoot | undefined;

/**
 * Loads the Envoy v3 protos that `@grpc/grpc-js-xds` ships (its `deps/` folder), once per process.
 *
 * @throws BalancerError `BALANCER_DRIVER_MISSING` when `@grpc/grpc-js-xds` or `@grpc/proto-loader` is not installed.
 */
export function loadXdsProtos(): ProtoRoot {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  let depsDir: string;
  let loaderRequire: NodeJS.Require;
  try {
    depsDir = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
    loaderRequire = createRequire(require.resolve('@grpc/proto-loader'));
  } catch (err) {
    throw new BalancerError(
      'BALANCER_DRIVER_MISSING',
      'the xDS server needs the Envoy v3 protos: npm install @grpc/grpc-js-xds@^1.14 @grpc/proto-loader@^0.8',
      { cause: err },
    );
  }
  const util = loaderRequire('./util') as {
    loadProtosWithOptionsSync(files: string[], opts: Record<string, unknown>): ProtoRoot;
  };
  const protobufDir = dirname(loaderRequire.resolve('protobufjs/package.json'));
  cached = util.loadProtosWithOptionsSync(PROTO_FILES, {
    keepCase: true,
    includeDirs: [
      join(depsDir, 'envoy-api'),
      join(depsDir, 'xds'),
      join(depsDir, 'googleapis'),
      join(depsDir, 'protoc-gen-validate'),
      protobufDir,
    ],
  });
  return cached;
}

/** `toObject` options: enums as names, 64-bit as strings, defaults filled, oneof discriminators set. */
export const TO_OBJECT = { longs: String, enums: String, defaults: false, oneofs: true, bytes: Buffer } as const;

/** An encoded `google.protobuf.Any`. */
export interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}

/** Encodes `object` as the message `typeName` wrapped in an Any. */
export function packAny(root: ProtoRoot, typeName: string, object: Record<string, unknown>): AnyMessage {
  const type = root.lookupType(typeName);
  return { type_url: `type.googleapis.com/${typeName}`, value: type.encode(type.fromObject(object)).finish() };
}

/** Converts a JSON value to a `google.protobuf.Value` object (protobufjs' built-in well-known types use camelCase names). */
export function toProtoValue(v: unknown): Record<string, unknown> {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toProtoValue) } };
  return { structValue: toProtoStruct(v as Record<string, unknown>) };
}

/** Converts a JSON object to a `google.protobuf.Struct` object (protobufjs' built-in well-known types use camelCase names). */
export function toProtoStruct(obj: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) fields[k] = toProtoValue(v);
  return { fields };
}

/** Converts a decoded `google.protobuf.Struct` object (toObject, oneofs) back to JSON. */
export function fromProtoStruct(struct: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = (struct as { fields?: Record<string, unknown> } | undefined)?.fields ?? {};
  for (const [k, v] of Object.entries(fields)) out[k] = fromProtoValue(v);
  return out;
}

function fromProtoValue(v: unknown): unknown {
  const val = v as Record<string, unknown>;
  switch (val.kind) {
    case 'numberValue':
      return val.numberValue;
    case 'stringValue':
      return val.stringValue;
    case 'boolValue':
      return val.boolValue;
    case 'structValue':
      return fromProtoStruct(val.structValue);
    case 'listValue':
      return ((val.listValue as { values?: unknown[] }).values ?? []).map(fromProtoValue);
    default:
      return null;
  }
}

/**
 * Encodes a plain object (proto field names, snake_case) as an xDS resource of the Envoy v3 type `typeName`,
 * for example to check a hand-written resource with {@link validateXdsResource}.
 *
 * @param typeName - Full message name, e.g. `envoy.config.cluster.v3.Cluster`.
 * @param object - The message as a plain object; nested Any fields take `{ type_url, value }`.
 * @returns The `type_url` and encoded bytes.
 * @throws BalancerError `BALANCER_INVALID_ARGUMENT` for an unknown type; `BALANCER_DRIVER_MISSING` without the protos.
 * @example
 * ```ts
 * import { encodeXdsResource, validateXdsResource } from '@dataplane/balancer/xds';
 *
 * const res = encodeXdsResource('envoy.config.cluster.v3.Cluster', { name: 'echo', type: 'EDS' });
 * console.log(validateXdsResource(res)); // []
 * ```
 * @since 0.1.0
 */
export function encodeXdsResource(typeName: string, object: Record<string, unknown>): AnyMessage {
  const root = loadXdsProtos();
  try {
    root.lookupType(typeName);
  } catch (err) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', `unknown message type ${typeName}`, { cause: err });
  }
  return packAny(root, typeName, object);
}

/**
 * Decodes an xDS resource (an Any of a known Envoy v3 type) into a plain object with proto field names,
 * enums as names and 64-bit integers as strings; nested Any fields stay `{ type_url, value }`.
 *
 * @param resource - The `type_url` and encoded bytes.
 * @returns The decoded message.
 * @throws BalancerError `BALANCER_INVALID_ARGUMENT` for an unknown type or undecodable bytes.
 * @example
 * ```ts
 * import { decodeXdsResource, encodeXdsResource } from '@dataplane/balancer/xds';
 *
 * const res = encodeXdsResource('envoy.config.cluster.v3.Cluster', { name: 'echo' });
 * console.log(decodeXdsResource(res).name); // 'echo'
 * ```
 * @since 0.1.0
 */
export function decodeXdsResource(resource: { type_url: string; value: Uint8Array }): Record<string, unknown> {
  const root = loadXdsProtos();
  const name = resource.type_url.slice(resource.type_url.lastIndexOf('/') + 1);
  try {
    const type = root.lookupType(name);
    return type.toObject(type.decode(resource.value), TO_OBJECT);
  } catch (err) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', `cannot decode ${resource.type_url}`, { cause: err });
  }
}
