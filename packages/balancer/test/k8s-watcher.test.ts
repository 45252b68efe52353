import { afterEach, describe, expect, it } from 'vitest';
import { BalancerError } from '@dataplane/balancer';
import { createK8sWatcher, type K8sWatcher, type K8sWatcherOptions, type Topology } from '@dataplane/balancer/k8s';
import { FakeKubeApi, fixture } from './k8s-fake-api.js';

async function waitFor(fn: () => boolean, timeoutMs = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!fn()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function slice(name: string, endpoints: any[], extra: Record<string, string> = {}): any {
  const s = fixture('endpointslice.json');
  s.metadata.name = name;
  s.metadata.labels = { ...s.metadata.labels, ...extra };
  s.endpoints = endpoints;
  return s;
}

function sliceEp(pod: string, ip: string, zone: string, conditions: Record<string, boolean | null> = { ready: true, serving: true, terminating: false }): any {
  return { addresses: [ip], conditions, targetRef: { kind: 'Pod', namespace: 'shop', name: pod }, nodeName: `node-${zone}`, zone };
}

function ids(t: Topology, name = 'checkout.shop'): string[] {
  return (t.services.find((s) => s.name === name)?.endpoints ?? []).map((e) => e.id).sort();
}

describe('K8sWatcher against a fake API server speaking the list/watch protocol', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function setup(opts: Partial<K8sWatcherOptions> = {}, extraSlices: any[] = []): Promise<{ api: FakeKubeApi; watcher: K8sWatcher; topologies: Topology[]; errors: BalancerError[] }> {
    const api = new FakeKubeApi();
    await api.start();
    cleanup.push(() => api.close());
    api.upsert('services', fixture('service.json'));
    api.upsert('endpointslices', fixture('endpointslice.json'));
    for (const x of extraSlices) api.upsert('endpointslices', x);
    const topologies: Topology[] = [];
    const errors: BalancerError[] = [];
    const watcher = createK8sWatcher({
      connection: { server: api.url },
      onTopology: (t) => topologies.push(t),
      onError: (e) => errors.push(e),
      backoffInitialMs: 10,
      backoffMaxMs: 50,
      random: () => 0.5,
      ...opts,
    });
    cleanup.push(() => watcher.close());
    await watcher.start(AbortSignal.timeout(15_000));
    await waitFor(() => api.watches.size === 2);
    return { api, watcher, topologies, errors };
  }

  it('lists, merges slices per service and keeps zone, node, conditions, hints and shard labels', async () => {
    const { api, watcher } = await setup({ pageSize: 1 }, [slice('checkout-other', [], { shard: 'c' })]);
    const svc = watcher.topology.services.find((s) => s.name === 'checkout.shop')!;
    expect(svc.endpoints.map((e) => ({ ...e, labels: { ...e.labels } })).sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      {
        id: 'checkout-7d9f8c6b5-abcde',
        ip: '10.244.1.17',
        port: 50051,
        zone: 'eu-west-1a',
        nodeName: 'node-a1',
        ready: true,
        serving: true,
        terminating: false,
        hintsForZones: ['eu-west-1a'],
        labels: { shard: 'a' },
        weight: 1,
      },
      {
        id: 'checkout-7d9f8c6b5-fghij',
        ip: '10.244.2.9',
        port: 50051,
        zone: 'eu-west-1b',
        nodeName: 'node-b1',
        ready: false,
        serving: true,
        terminating: true,
        hintsForZones: ['eu-west-1b'],
        labels: { shard: 'a' },
        weight: 1,
      },
    ]);
    // a second slice of the same service is merged; conditions left unset follow the API's defaults
    api.upsert('endpointslices', slice('checkout-9zz1q', [sliceEp('checkout-new', '10.244.3.3', 'eu-west-1c', { ready: null, serving: null, terminating: null })], { shard: 'b' }));
    await waitFor(() => ids(watcher.topology).length === 3);
    const added = watcher.topology.services[0]!.endpoints.find((e) => e.id === 'checkout-new')!;
    expect(added).toMatchObject({ ready: true, serving: true, terminating: false, labels: { shard: 'b' } });
    // pagination was used: the second page was asked with the continue token
    expect(api.requests.filter((u) => u.searchParams.get('continue') !== null).length).toBeGreaterThan(0);
    // the watch asked for bookmarks and started from the list's resourceVersion
    const w = api.watchRequests('endpointslices')[0]!;
    expect(w.searchParams.get('allowWatchBookmarks')).toBe('true');
    expect(w.searchParams.get('resourceVersion')).toMatch(/^\d+$/);
  });

  it('applies MODIFIED and DELETED events and ignores ExternalName services', async () => {
    const { api, watcher } = await setup();
    const s = fixture('endpointslice.json');
    s.endpoints[0].conditions = { ready: false, serving: true, terminating: true };
    api.upsert('endpointslices', s);
    await waitFor(() => watcher.topology.services[0]?.endpoints.every((e) => e.terminating) === true);
    const ext = fixture('service.json');
    ext.metadata.name = 'external';
    ext.spec = { type: 'ExternalName', externalName: 'example.com' };
    api.upsert('services', ext);
    const multi = fixture('service.json');
    multi.metadata.name = 'multi';
    multi.spec.ports = [{ name: 'grpc', port: 1 }, { name: 'http', port: 2 }];
    api.upsert('services', multi);
    await waitFor(() => watcher.topology.services.length === 3);
    expect(watcher.topology.services.map((x) => x.name)).toEqual(['checkout.shop', 'multi.shop:grpc', 'multi.shop:http']);
    api.remove('endpointslices', 'shop', 'checkout-x7k2p');
    await waitFor(() => ids(watcher.topology).length === 0);
    api.remove('services', 'shop', 'checkout');
    await waitFor(() => !watcher.topology.services.some((x) => x.name === 'checkout.shop'));
  });

  it('resumes from the last resourceVersion (bookmarks included) after a disconnect, without re-listing', async () => {
    const { api, watcher } = await setup();
    api.bookmark();
    await waitFor(() => watcher.stats().sliceWatch.bookmarks >= 1);
    const rvAtBookmark = String(api.rv);
    api.dropWatches();
    // changes while disconnected are replayed from history on resume
    api.upsert('endpointslices', slice('checkout-9zz1q', [sliceEp('checkout-late', '10.244.3.4', 'eu-west-1a')]));
    await waitFor(() => ids(watcher.topology).includes('checkout-late'));
    const resumed = api.watchRequests('endpointslices').at(-1)!;
    expect(Number(resumed.searchParams.get('resourceVersion'))).toBeGreaterThanOrEqual(Number(rvAtBookmark));
    expect(api.listCount('endpointslices')).toBe(1);
    expect(watcher.stats().sliceWatch.reconnects).toBeGreaterThanOrEqual(1);
  });

  it('re-lists after 410 Gone, as an ERROR event and as an HTTP status, and converges', async () => {
    const { api, watcher } = await setup();
    api.upsert('endpointslices', slice('checkout-9zz1q', [sliceEp('p-gone', '10.244.9.9', 'eu-west-1a')]));
    await waitFor(() => ids(watcher.topology).includes('p-gone'));
    api.expireWatches(); // ERROR 410 event on the open watch
    await waitFor(() => api.listCount('endpointslices') >= 2);
    expect(watcher.stats().sliceWatch.gone).toBeGreaterThanOrEqual(1);

    // now an HTTP 410 on resume, with a deletion that happened while the watch was down
    api.goneAsStatus = true;
    api.dropWatches();
    api.remove('endpointslices', 'shop', 'checkout-9zz1q');
    api.compact();
    await waitFor(() => !ids(watcher.topology).includes('p-gone'));
    expect(api.listCount('endpointslices')).toBeGreaterThanOrEqual(3);
  });

  it('restarts a silent watch (watchdog) and recovers from malformed lines and failing lists', async () => {
    const { api, watcher, errors } = await setup({ idleTimeoutMs: 300 });
    api.silent = true;
    api.dropWatches();
    await waitFor(() => watcher.stats().sliceWatch.watchdogRestarts >= 1);
    api.silent = false;
    api.upsert('endpointslices', slice('checkout-9zz1q', [sliceEp('p-after-silence', '10.244.5.5', 'eu-west-1a')]));
    await waitFor(() => ids(watcher.topology).includes('p-after-silence'));

    api.garbageOnce = true;
    api.dropWatches();
    await waitFor(() => errors.some((e) => /malformed/.test(e.message)));
    api.upsert('endpointslices', slice('checkout-9zz1q', [sliceEp('p-after-garbage', '10.244.5.6', 'eu-west-1a')]));
    await waitFor(() => ids(watcher.topology).includes('p-after-garbage'));

    api.failLists = 2;
    api.compact();
    api.dropWatches();
    api.upsert('endpointslices', slice('checkout-9zz1q', [sliceEp('p-after-500', '10.244.5.7', 'eu-west-1a')]));
    await waitFor(() => ids(watcher.topology).includes('p-after-500'));
    expect(errors.some((e) => e.code === 'BALANCER_WATCH_FAILED' && /HTTP 500/.test(e.message))).toBe(true);
  });

  it('validates options and start() honours its signal', async () => {
    expect(() => createK8sWatcher({ connection: { server: 'not a url' } })).toThrow(BalancerError);
    expect(() => createK8sWatcher({ connection: { server: 'http://127.0.0.1:1' }, idleTimeoutMs: 0 })).toThrow(BalancerError);
    const w = createK8sWatcher({ connection: { server: 'http://127.0.0.1:1' }, backoffInitialMs: 10, backoffMaxMs: 20 });
    cleanup.push(() => w.close());
    const err = await w.start(AbortSignal.timeout(200)).catch((e: unknown) => e);
    expect(BalancerError.is(err, 'BALANCER_ABORTED')).toBe(true);
  });
});
