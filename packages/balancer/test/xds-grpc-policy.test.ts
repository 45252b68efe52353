/**
 * End to end with our own grpc-js policy: the Cluster's TypedStruct selects `dataplane_p2c` in a
 * @grpc/grpc-js-xds client once the policy is registered (otherwise the round_robin fallback is used,
 * see xds-grpc-peer.test.ts), and the policy's endpoint set follows the served EDS, draining included.
 */
import * as grpc from '@grpc/grpc-js';
import * as xds from '@grpc/grpc-js-xds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EndpointSet } from '@dataplane/balancer';
import { registerGrpcPolicy } from '@dataplane/balancer/grpc';
import { createXdsServer, type XdsNack, type XdsServer } from '@dataplane/balancer/xds';
import { type Backend, bootstrap, EchoClient, ep, startBackend, stopBackend, waitUntil, who } from './xds-helpers.js';

const BOOTSTRAP_KEY = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config';

describe('grpc-js-xds client with the dataplane_p2c policy selected over CDS', () => {
  let backends: Backend[] = [];
  let server: XdsServer;
  const nacks: XdsNack[] = [];
  const sets: { set: EndpointSet; target: string }[] = [];

  beforeAll(async () => {
    xds.register();
    await registerGrpcPolicy({ grpc, onEndpointSet: (set, target) => sets.push({ set, target }) });
    backends = await Promise.all(['p0', 'p1', 'p2'].map(startBackend));
    server = createXdsServer({ port: 0, onNack: (n) => nacks.push(n) });
    await server.start();
  });
  afterAll(async () => {
    await server?.close();
    await Promise.all(backends.map(stopBackend));
  });

  it('uses our policy, and its endpoint set follows adds and drains', async () => {
    const [p0, p1, p2] = backends as [Backend, Backend, Backend];
    server.setTopology({ services: [{ name: 'pol', endpoints: [ep(p0), ep(p1)] }] });
    const client = new EchoClient('xds:///pol', grpc.credentials.createInsecure(), { [BOOTSTRAP_KEY]: bootstrap(server.port, 'z1', 'pol-client') });
    try {
      const seen = new Set<string>();
      for (let i = 0; i < 20; i++) seen.add(await who(client));
      expect([...seen].sort()).toEqual(['p0', 'p1']);
      expect(sets.length).toBeGreaterThan(0); // our policy was instantiated by grpc-js-xds
      expect(nacks).toEqual([]);

      server.setTopology({ services: [{ name: 'pol', endpoints: [ep(p0, 'z1', { terminating: true, ready: false }), ep(p1), ep(p2)] }] });
      await waitUntil(async () => {
        const ids = new Set<string>();
        for (let i = 0; i < 10; i++) ids.add(await who(client));
        return !ids.has('p0') && ids.has('p2');
      }, 15_000, 0);
      const live = sets.flatMap((s) => s.set.list().map((e) => e.address));
      expect(live).toContain(`127.0.0.1:${p2.port}`);
      expect(live).not.toContain(`127.0.0.1:${p0.port}`);
    } finally {
      client.close();
    }
  });
});
