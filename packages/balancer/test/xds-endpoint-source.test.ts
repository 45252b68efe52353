import { afterEach, describe, expect, it } from 'vitest';
import { BalancerError, createEndpointSet } from '@dataplane/balancer';
import { createXdsServer, xdsEndpointSource, type TopologyEndpoint, type XdsServer } from '@dataplane/balancer/xds';

function tep(id: string, port: number, over: Partial<TopologyEndpoint> = {}): TopologyEndpoint {
  return { id, ip: '10.1.0.1', port, zone: 'z1', ready: true, serving: true, terminating: false, hintsForZones: [], labels: {}, weight: 1, ...over };
}

async function waitFor(fn: () => boolean, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!fn()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('xdsEndpointSource', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('keeps an EndpointSet equal to the served endpoints, with conditions, zone, weight and labels', async () => {
    const server = createXdsServer({ port: 0 });
    cleanup.push(() => server.close());
    await server.start();
    server.setTopology({
      services: [
        {
          name: 'svc',
          endpoints: [
            tep('pod-a', 8001, { labels: { shard: '3' }, weight: 2 }),
            tep('pod-b', 8002, { zone: 'z2', terminating: true, ready: false }),
          ],
        },
      ],
    });
    const set = createEndpointSet();
    const source = xdsEndpointSource({ server: `127.0.0.1:${server.port}`, service: 'svc', set, node: { id: 'src', zone: 'z1' } });
    cleanup.push(() => source.close());
    await source.start(AbortSignal.timeout(20_000));
    const a = set.get('pod-a')!;
    expect(a).toMatchObject({ address: '10.1.0.1:8001', zone: 'z1', weight: 2, ready: true, serving: true, terminating: false, labels: { shard: '3' } });
    expect(set.get('pod-b')).toMatchObject({ zone: 'z2', ready: false, serving: true, terminating: true });

    server.setTopology({ services: [{ name: 'svc', endpoints: [tep('pod-c', 8003)] }] });
    await waitFor(() => set.list().map((e) => e.id).join() === 'pod-c');
    await waitFor(() => server.stats().acks >= 1 && source.stats().updates === 2);
    expect(source.stats()).toMatchObject({ connected: true, updates: 2, nacks: 0, endpoints: 1 });
  });

  it('keeps the last endpoints while the control plane is down and resubscribes to a new one', async () => {
    let server: XdsServer = createXdsServer({ port: 0 });
    await server.start();
    const port = server.port;
    server.setTopology({ services: [{ name: 'svc', endpoints: [tep('pod-a', 8001), tep('pod-b', 8002)] }] });
    const set = createEndpointSet();
    const source = xdsEndpointSource({ server: `127.0.0.1:${port}`, service: 'svc', set, backoffInitialMs: 20, backoffMaxMs: 200 });
    cleanup.push(() => source.close());
    await source.start();
    await server.close();
    await new Promise((r) => setTimeout(r, 300));
    expect(set.list().map((e) => e.id).sort()).toEqual(['pod-a', 'pod-b']);
    expect(source.stats().reconnects).toBeGreaterThan(0);

    server = createXdsServer({ port });
    cleanup.push(() => server.close());
    await server.start();
    server.setTopology({ services: [{ name: 'svc', endpoints: [tep('pod-b', 8002), tep('pod-c', 8003)] }] });
    await waitFor(() => set.list().map((e) => e.id).sort().join() === 'pod-b,pod-c');
  });

  it('validates its options and honours an abort signal', async () => {
    const set = createEndpointSet();
    expect(() => xdsEndpointSource({ server: 'nope', service: 's', set })).toThrow(BalancerError);
    expect(() => xdsEndpointSource({ server: '127.0.0.1:1', service: '', set })).toThrow(BalancerError);
    // nothing listens on port 1: start() waits until aborted
    const source = xdsEndpointSource({ server: '127.0.0.1:1', service: 's', set, backoffInitialMs: 10, backoffMaxMs: 50 });
    cleanup.push(() => source.close());
    const err = await source.start(AbortSignal.timeout(200)).catch((e: unknown) => e);
    expect(BalancerError.is(err, 'BALANCER_ABORTED')).toBe(true);
    await source.close();
    const closed = await source.start().catch((e: unknown) => e);
    expect(BalancerError.is(closed, 'BALANCER_CLOSED')).toBe(true);
  });
});
