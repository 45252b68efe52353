import * as grpc from '@grpc/grpc-js';
import type { TopologyEndpoint } from '@dataplane/balancer/xds';

const ECHO_PATH = '/dataplane.test.Echo/Who';
const identity = (b: Buffer): Buffer => b;

/** The generic echo service definition: the server answers its own id. */
export const echoDefinition: grpc.ServiceDefinition = {
  Who: {
    path: ECHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
} as grpc.ServiceDefinition;

export interface Backend {
  id: string;
  port: number;
  server: grpc.Server;
}

/** Starts a gRPC backend on loopback that answers its `id`. */
export async function startBackend(id: string): Promise<Backend> {
  const server = new grpc.Server();
  server.addService(echoDefinition, {
    Who: (_call: unknown, cb: (err: null, res: Buffer) => void) => cb(null, Buffer.from(id)),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { id, port, server };
}

export function stopBackend(b: Backend): Promise<void> {
  return new Promise((resolve) => b.server.tryShutdown(() => resolve()));
}

export const EchoClient = grpc.makeGenericClientConstructor(echoDefinition, 'Echo');

/** Calls Who once; resolves to the answering backend's id. */
export function who(client: grpc.Client, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, (...a: unknown[]) => void>).Who!(
      Buffer.alloc(0),
      { deadline: Date.now() + timeoutMs },
      (err: Error | null, res: Buffer) => (err ? reject(err) : resolve(res.toString())),
    );
  });
}

/** A topology endpoint for a loopback backend. */
export function ep(b: Backend, zone = 'z1', over: Partial<TopologyEndpoint> = {}): TopologyEndpoint {
  return {
    id: b.id,
    ip: '127.0.0.1',
    port: b.port,
    zone,
    ready: true,
    serving: true,
    terminating: false,
    hintsForZones: [],
    labels: {},
    weight: 1,
    ...over,
  };
}

/** Bootstrap JSON for grpc-js-xds pointing at our server on loopback. */
export function bootstrap(port: number, zone = 'z1', id = 'test-client'): string {
  return JSON.stringify({
    xds_servers: [{ server_uri: `127.0.0.1:${port}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id, cluster: 'test', locality: { zone } },
  });
}

/** Polls `fn` until it returns true or `timeoutMs` passes; returns the elapsed milliseconds. */
export async function waitUntil(fn: () => boolean | Promise<boolean>, timeoutMs = 10_000, stepMs = 10): Promise<number> {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return Date.now() - t0;
}
