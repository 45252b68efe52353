/**
 * Propagation latency: an EndpointSlice change at a (fake, loopback) Kubernetes API server until the client's
 * EndpointSet (what its picker reads) shows it, through the whole control plane: K8s watch -> topology ->
 * xDS server (validation included) -> ADS stream -> xdsEndpointSource -> EndpointSet.
 * Peer: @kubernetes/client-node's informer on the same API server, i.e. the watch leg alone, no xDS hop.
 */
import * as k8s from '@kubernetes/client-node';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BenchCase, percentile } from '@dataplane/bench';
import { createEndpointSet } from '../src/endpoints/endpoint-set.js';
import { createK8sWatcher } from '../src/k8s/watcher.js';
import { createXdsServer } from '../src/xds/server.js';
import { xdsEndpointSource } from '../src/xds/endpoint-source.js';
import { FakeKubeApi, fixture } from '../test/k8s-fake-api.js';

const PER_SLICE = 100;

function makeSlices(endpoints: number): any[] {
  const slices: any[] = [];
  for (let s = 0; s * PER_SLICE < endpoints; s++) {
    const slice = fixture('endpointslice.json');
    slice.metadata.name = `checkout-${s}`;
    slice.endpoints = [];
    for (let i = s * PER_SLICE; i < Math.min(endpoints, (s + 1) * PER_SLICE); i++) {
      slice.endpoints.push({
        addresses: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
        conditions: { ready: true, serving: true, terminating: false },
        targetRef: { kind: 'Pod', namespace: 'shop', name: `pod-${i}` },
        nodeName: `node-${i % 20}`,
        zone: `zone-${i % 3}`,
      });
    }
    slices.push(slice);
  }
  return slices;
}

/** Flips endpoint i's `terminating` condition in its slice and publishes the slice. */
function flip(api: FakeKubeApi, slices: any[], i: number): boolean {
  const slice = slices[Math.floor(i / PER_SLICE)];
  const ep = slice.endpoints[i % PER_SLICE];
  const terminating = !ep.conditions.terminating;
  ep.conditions = { ready: !terminating, serving: true, terminating };
  api.upsert('endpointslices', slice);
  return terminating;
}

function waitFor(fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = (): void => {
      if (fn()) resolve();
      else if (Date.now() - t0 > timeoutMs) reject(new Error('timeout'));
      else setImmediate(tick);
    };
    tick();
  });
}

export const xdsPropagation: BenchCase = {
  name: 'xds-propagation',
  async run(ctx) {
    const endpoints = ctx.quick ? 300 : 1000;
    const changes = ctx.quick ? 200 : 1000;
    const api = new FakeKubeApi();
    await api.start();
    api.upsert('services', fixture('service.json'));
    const slices = makeSlices(endpoints);
    for (const s of slices) api.upsert('endpointslices', s);

    // ours: the whole control plane
    const xds = createXdsServer({ port: 0 });
    await xds.start();
    const watcher = createK8sWatcher({ connection: { server: api.url }, onTopology: (t) => xds.setTopology(t) });
    await watcher.start();
    const set = createEndpointSet();
    const source = xdsEndpointSource({ server: `127.0.0.1:${xds.port}`, service: 'checkout.shop', set });
    await source.start();
    await waitFor(() => set.list().length === endpoints);
    const ours: number[] = [];
    for (let c = 0; c < changes; c++) {
      const i = (c * 7919) % endpoints;
      const t0 = performance.now();
      const terminating = flip(api, slices, i);
      await waitFor(() => set.get(`pod-${i}`)?.terminating === terminating);
      ours.push(performance.now() - t0);
      ctx.progress('ours', c + 1, changes);
    }
    await source.close();
    await watcher.close();
    await xds.close();

    // peer: client-node informer (watch leg only)
    const dir = mkdtempSync(join(ctx.tmpDir('kc'), 'k'));
    const file = join(dir, 'kubeconfig');
    writeFileSync(
      file,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: f\n  cluster: {server: '${api.url}', insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: f\n  context: {cluster: f, user: u}\ncurrent-context: f\n`,
    );
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(file);
    const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
    const informer = k8s.makeInformer(kc, '/apis/discovery.k8s.io/v1/endpointslices', () => discovery.listEndpointSliceForAllNamespaces());
    const seen = new Map<string, any>();
    const onObj = (obj: any): void => void seen.set(obj.metadata.name, obj);
    informer.on('add', onObj);
    informer.on('update', onObj);
    informer.on('error', () => undefined);
    await informer.start();
    await waitFor(() => seen.size === slices.length);
    const peer: number[] = [];
    for (let c = 0; c < changes; c++) {
      const i = (c * 7919) % endpoints;
      const name = `checkout-${Math.floor(i / PER_SLICE)}`;
      const t0 = performance.now();
      const terminating = flip(api, slices, i);
      await waitFor(() => seen.get(name)?.endpoints?.[i % PER_SLICE]?.conditions?.terminating === terminating);
      peer.push(performance.now() - t0);
      ctx.progress('client-node informer', c + 1, changes);
    }
    await informer.stop();
    await api.close();

    const notes = { endpoints, changes, slices: slices.length, goalP99Ms: 50, machine: '2 cores shared with concurrent work', peerScope: 'watch leg only (no xDS hop)' };
    for (const p of [50, 99]) {
      ctx.report({
        metric: `p${p}`,
        unit: 'ms',
        higherIsBetter: false,
        ours: percentile(ours, p),
        peers: { 'client-node-informer': percentile(peer, p) },
        notes,
      });
    }
  },
};
