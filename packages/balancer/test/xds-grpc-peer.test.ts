/**
 * A real peer: a @grpc/grpc-js-xds client resolves xds:///<service> through our ADS server (bootstrap passed
 * per channel) and calls several local gRPC backends. Adding, removing and draining endpoints moves its
 * traffic within a second; the client keeps serving through a control-plane restart and resubscribes.
 */
import * as grpc from '@grpc/grpc-js';
import * as xds from '@grpc/grpc-js-xds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createXdsServer, type XdsNack, type XdsServer } from '@dataplane/balancer/xds';
import { type Backend, bootstrap, EchoClient, ep, startBackend, stopBackend, waitUntil, who } from './xds-helpers.js';

xds.register();

const BOOTSTRAP_KEY = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config';

async function spread(client: grpc.Client, calls: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < calls; i++) {
    const id = await who(client);
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  return seen;
}

describe('grpc-js-xds client against our ADS server', () => {
  let backends: Backend[] = [];
  let server: XdsServer;
  const nacks: XdsNack[] = [];

  beforeAll(async () => {
    backends = await Promise.all(['b0', 'b1', 'b2', 'b3'].map(startBackend));
    server = createXdsServer({ port: 0, onNack: (n) => nacks.push(n) });
    await server.start();
  });
  afterAll(async () => {
    await server?.close();
    await Promise.all(backends.map(stopBackend));
  });

  it('routes across backends and follows add, remove and drain within a second', async () => {
    const [b0, b1, b2, b3] = backends as [Backend, Backend, Backend, Backend];
    server.setTopology({ services: [{ name: 'echo', endpoints: [ep(b0), ep(b1)] }] });
    const client = new EchoClient('xds:///echo', grpc.credentials.createInsecure(), {
      [BOOTSTRAP_KEY]: bootstrap(server.port, 'z1', 'peer-1'),
    });
    try {
      const first = await spread(client, 20);
      expect([...first.keys()].sort()).toEqual(['b0', 'b1']);

      // add b2: it receives traffic (the propagation delay itself is measured by bench/xds-propagation.ts)
      server.setTopology({ services: [{ name: 'echo', endpoints: [ep(b0), ep(b1), ep(b2)] }] });
      await waitUntil(async () => (await who(client)) === 'b2', 10_000, 0);

      // remove b0: within a second it receives none
      server.setTopology({ services: [{ name: 'echo', endpoints: [ep(b1), ep(b2)] }] });
      await waitUntil(async () => !(await spread(client, 6)).has('b0'), 10_000, 0);
      const afterRemove = await spread(client, 30);
      expect(afterRemove.has('b0')).toBe(false);

      // drain b1 (terminating -> DRAINING) and add b3: traffic leaves b1
      server.setTopology({
        services: [{ name: 'echo', endpoints: [ep(b1, 'z1', { terminating: true, ready: false }), ep(b2), ep(b3)] }],
      });
      await waitUntil(async () => !(await spread(client, 6)).has('b1'), 10_000, 0);
      const afterDrain = await spread(client, 30);
      expect(afterDrain.has('b1')).toBe(false);
      expect([...afterDrain.keys()].sort()).toEqual(['b2', 'b3']);
      expect(nacks).toEqual([]);
      expect(server.stats().acks).toBeGreaterThan(0);
    } finally {
      client.close();
    }
  });

  it('keeps serving through a control-plane restart and picks up changes after it', async () => {
    const [b0, b1, b2] = backends as [Backend, Backend, Backend];
    server.setTopology({ services: [{ name: 'echo2', endpoints: [ep(b0), ep(b1)] }] });
    const port = server.port;
    const client = new EchoClient('xds:///echo2', grpc.credentials.createInsecure(), {
      [BOOTSTRAP_KEY]: bootstrap(port, 'z1', 'peer-2'),
    });
    try {
      expect([...(await spread(client, 10)).keys()].sort()).toEqual(['b0', 'b1']);
      await server.close();
      // the control plane is down: calls still go to the last known endpoints
      const during = await spread(client, 10);
      expect([...during.keys()].every((k) => k === 'b0' || k === 'b1')).toBe(true);
      // a new control plane on the same port with a changed topology: the client resubscribes
      server = createXdsServer({ port, onNack: (n) => nacks.push(n) });
      await server.start();
      server.setTopology({ services: [{ name: 'echo2', endpoints: [ep(b2)] }] });
      await waitUntil(async () => (await who(client)) === 'b2', 30_000, 50);
      const after = await spread(client, 10);
      expect([...after.keys()]).toEqual(['b2']);
    } finally {
      client.close();
    }
  });
});
