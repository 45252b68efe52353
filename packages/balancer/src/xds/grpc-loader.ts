import { createRequire } from 'node:module';
import type * as grpc from '@grpc/grpc-js';
import { BalancerError } from '../errors.js';
import { loadXdsProtos, TO_OBJECT } from './protos.js';

/** Loads `@grpc/grpc-js` lazily so a missing optional peer is a typed error. */
export function loadGrpc(): typeof grpc {
  const require = createRequire(import.meta.url);
  try {
    return require('@grpc/grpc-js') as typeof grpc;
  } catch (err) {
    throw new BalancerError('BALANCER_DRIVER_MISSING', 'the xDS server and client need @grpc/grpc-js: npm install @grpc/grpc-js@^1.10', {
      cause: err,
    });
  }
}

/** A decoded DiscoveryRequest (keepCase field names). */
export interface DiscoveryRequest {
  version_info?: string;
  node?: { id?: string; cluster?: string; locality?: { region?: string; zone?: string; sub_zone?: string } };
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string };
}

/** A DiscoveryResponse (keepCase field names). */
export interface DiscoveryResponse {
  version_info: string;
  resources: { type_url: string; value: Uint8Array }[];
  type_url: string;
  nonce: string;
}

/** A decoded DeltaDiscoveryRequest (keepCase field names). */
export interface DeltaDiscoveryRequest {
  node?: DiscoveryRequest['node'];
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string };
}

/** A DeltaDiscoveryResponse (keepCase field names). */
export interface DeltaDiscoveryResponse {
  system_version_info: string;
  resources: { name: string; version: string; resource: { type_url: string; value: Uint8Array } }[];
  type_url: string;
  removed_resources: string[];
  nonce: string;
}

/** The incremental (delta) ADS method path. */
export const DELTA_ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';

/** The ADS method path. */
export const ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

/** A grpc-js service definition of ADS (state of the world) with protobufjs (de)serialisers. */
export function adsServiceDefinition(): grpc.ServiceDefinition {
  const root = loadXdsProtos();
  const Req = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
  const Res = root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
  const DReq = root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
  const DRes = root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
  return {
    StreamAggregatedResources: {
      path: ADS_PATH,
      requestStream: true,
      responseStream: true,
      requestSerialize: (m: DiscoveryRequest) => Buffer.from(Req.encode(Req.fromObject(m as Record<string, unknown>)).finish()),
      requestDeserialize: (b: Buffer) => Req.toObject(Req.decode(b), TO_OBJECT) as DiscoveryRequest,
      responseSerialize: (m: DiscoveryResponse) => Buffer.from(Res.encode(Res.fromObject(m as unknown as Record<string, unknown>)).finish()),
      responseDeserialize: (b: Buffer) => Res.toObject(Res.decode(b), TO_OBJECT) as unknown as DiscoveryResponse,
      originalName: 'streamAggregatedResources',
    },
    DeltaAggregatedResources: {
      path: DELTA_ADS_PATH,
      requestStream: true,
      responseStream: true,
      requestSerialize: (m: DeltaDiscoveryRequest) => Buffer.from(DReq.encode(DReq.fromObject(m as Record<string, unknown>)).finish()),
      requestDeserialize: (b: Buffer) => DReq.toObject(DReq.decode(b), TO_OBJECT) as DeltaDiscoveryRequest,
      responseSerialize: (m: DeltaDiscoveryResponse) => Buffer.from(DRes.encode(DRes.fromObject(m as unknown as Record<string, unknown>)).finish()),
      responseDeserialize: (b: Buffer) => DRes.toObject(DRes.decode(b), TO_OBJECT) as unknown as DeltaDiscoveryResponse,
      originalName: 'deltaAggregatedResources',
    },
  } as grpc.ServiceDefinition;
}
