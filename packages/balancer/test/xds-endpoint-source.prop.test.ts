/**
 * Property: for any sequence of topologies served for a service, the EndpointSet fed by xdsEndpointSource
 * converges to exactly the served endpoints (ids, addresses, zones, weights, conditions, labels), whichever
 * path an update takes (incremental upserts/removes for small diffs, replaceAll for large ones).
 * Runs: FC_NUM_RUNS (default 15); fast-check prints the seed on failure.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEndpointSet, type Endpoint } from '@dataplane/balancer';
import { createXdsServer, type TopologyEndpoint, xdsEndpointSource, type XdsServer } from '@dataplane/balancer/xds';

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 15);

const endpointArb = fc.record({
  n: fc.integer({ min: 0, max: 40 }),
  zone: fc.constantFrom('z1', 'z2', 'z3'),
  port: fc.integer({ min: 1, max: 65535 }),
  weight: fc.integer({ min: 1, max: 5 }),
  serving: fc.boolean(),
  terminating: fc.boolean(),
  shard: fc.constantFrom('a', 'b'),
});

const topologyArb = fc.uniqueArray(endpointArb, { selector: (e) => e.n, maxLength: 30 }).map((eps) =>
  eps.map(
    (e): TopologyEndpoint => ({
      id: `pod-${e.n}`,
      ip: `10.9.0.${e.n}`,
      port: e.port,
      zone: e.zone,
      ready: e.serving && !e.terminating,
      serving: e.serving,
      terminating: e.terminating,
      hintsForZones: [],
      labels: { shard: e.shard },
      weight: e.weight,
    }),
  ),
);

function view(eps: readonly Endpoint[]): string[] {
  return eps
    .map((e) => JSON.stringify([e.id, e.address, e.zone, e.weight, e.ready, e.serving, e.terminating, e.labels]))
    .sort();
}

function model(eps: readonly TopologyEndpoint[]): string[] {
  return eps.map((e) => JSON.stringify([e.id, `${e.ip}:${e.port}`, e.zone, e.weight, e.ready, e.serving, e.terminating, e.labels])).sort();
}

async function converge(fn: () => boolean, timeoutMs = 20_000): Promise<boolean> {
  const t0 = Date.now();
  while (!fn()) {
    if (Date.now() - t0 > timeoutMs) return false;
    await new Promise((r) => setTimeout(r, 2));
  }
  return true;
}

describe('xdsEndpointSource converges to the served endpoints (property)', () => {
  let server: XdsServer;
  let run = 0;
  beforeAll(async () => {
    server = createXdsServer({ port: 0 });
    await server.start();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('after every step of any sequence of topologies', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(topologyArb, { minLength: 1, maxLength: 6 }), async (steps) => {
        const name = `prop-${run++}`;
        server.upsertService({ name, endpoints: steps[0]! });
        const set = createEndpointSet();
        const source = xdsEndpointSource({ server: `127.0.0.1:${server.port}`, service: name, set });
        try {
          await source.start(AbortSignal.timeout(20_000));
          for (const step of steps) {
            server.upsertService({ name, endpoints: step });
            const want = model(step);
            const ok = await converge(() => JSON.stringify(view(set.list())) === JSON.stringify(want));
            expect(view(set.list())).toEqual(want);
            if (!ok) return false;
          }
          return true;
        } finally {
          await source.close();
          server.removeService(name);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
