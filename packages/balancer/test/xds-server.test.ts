import { afterEach, describe, expect, it } from 'vitest';
import { BalancerError, GRPC_POLICY_NAME, GRPC_POLICY_TYPED_STRUCT_URL } from '@dataplane/balancer';
import {
  createXdsServer,
  decodeXdsResource,
  TYPE_URLS,
  validateXdsResource,
  type TopologyEndpoint,
  type TopologyService,
  type XdsNack,
  type XdsServer,
} from '@dataplane/balancer/xds';
import { adsClient, type RawStream } from './xds-ads-client.js';

function ep(id: string, zone: string, over: Partial<TopologyEndpoint> = {}): TopologyEndpoint {
  return { id, ip: '10.0.0.' + id.slice(1), port: 8080, zone, ready: true, serving: true, terminating: false, hintsForZones: [], labels: {}, weight: 1, ...over };
}

const SVC: TopologyService = {
  name: 'api.default',
  endpoints: [
    ep('p1', 'z1', { labels: { shard: '0' }, nodeName: 'n1', hintsForZones: ['z1'] }),
    ep('p2', 'z1'),
    ep('p3', 'z1', { terminating: true, ready: false }),
    ep('p4', 'z2'),
    ep('p5', 'z2', { serving: false, ready: false }),
  ],
};

async function waitFor(fn: () => boolean): Promise<void> {
  for (let i = 0; !fn(); i++) {
    if (i > 1000) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const NODE = { id: 'n', cluster: 'c', locality: { zone: 'z2' } };

describe('XdsServer (state of the world ADS)', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function setup(opts: { onNack?: (n: XdsNack) => void } = {}): Promise<{ server: XdsServer; stream: RawStream }> {
    const server = createXdsServer({ port: 0, topology: { services: [SVC] }, ...opts });
    await server.start();
    const { client, stream } = adsClient(server.port);
    const s = stream();
    cleanup.push(() => server.close(), () => client.close(), () => s.end());
    return { server, stream: s };
  }

  it('serves LDS/RDS/CDS/EDS that pass the Envoy v3 validation rules', async () => {
    const { stream } = await setup();
    stream.send({ node: NODE, type_url: TYPE_URLS.listener, resource_names: [] });
    const lds = await stream.nth(1);
    expect(lds.resources).toHaveLength(1);
    stream.send({ type_url: TYPE_URLS.route, resource_names: ['api.default'] });
    stream.send({ type_url: TYPE_URLS.cluster, resource_names: ['api.default'] });
    stream.send({ type_url: TYPE_URLS.endpoint, resource_names: ['api.default'] });
    await stream.nth(4);
    const byType = new Map(stream.responses.map((r) => [r.type_url, r]));
    expect([...byType.keys()].sort()).toEqual(Object.values(TYPE_URLS).sort());
    for (const r of stream.responses) {
      expect(r.nonce).not.toBe('');
      for (const res of r.resources) expect(validateXdsResource(res)).toEqual([]);
    }
    const listener = decodeXdsResource(byType.get(TYPE_URLS.listener)!.resources[0]!);
    expect(listener.name).toBe('api.default');
    const hcm = decodeXdsResource((listener.api_listener as any).api_listener);
    expect((hcm.rds as any).route_config_name).toBe('api.default');

    const cluster = decodeXdsResource(byType.get(TYPE_URLS.cluster)!.resources[0]!);
    expect(cluster.type).toBe('EDS');
    const wrr = decodeXdsResource((cluster.load_balancing_policy as any).policies[0].typed_extension_config.typed_config);
    const picking = (wrr.endpoint_picking_policy as any).policies.map((p: any) => p.typed_extension_config);
    expect(picking.map((p: any) => p.name)).toEqual([GRPC_POLICY_NAME, 'envoy.load_balancing_policies.round_robin']);
    const ts = decodeXdsResource(picking[0].typed_config);
    expect(ts.type_url).toBe(GRPC_POLICY_TYPED_STRUCT_URL);
    expect((ts.value as any).fields.localZone.stringValue).toBe('z2'); // from node.locality

    const cla = decodeXdsResource(byType.get(TYPE_URLS.endpoint)!.resources[0]!) as any;
    const locs = cla.endpoints.map((l: any) => ({
      zone: l.locality.zone,
      weight: l.load_balancing_weight.value,
      health: l.lb_endpoints.map((e: any) => [e.endpoint.hostname, e.health_status]),
    }));
    expect(locs).toEqual([
      { zone: 'z1', weight: 2, health: [['p1', 'HEALTHY'], ['p2', 'HEALTHY'], ['p3', 'DRAINING']] },
      { zone: 'z2', weight: 1, health: [['p4', 'HEALTHY'], ['p5', 'UNHEALTHY']] },
    ]);
  });

  it('ACKs, reports a NACK once without re-sending, ignores stale nonces, pushes the next change', async () => {
    const nacks: XdsNack[] = [];
    const { server, stream } = await setup({ onNack: (n) => nacks.push(n) });
    stream.send({ node: NODE, type_url: TYPE_URLS.endpoint, resource_names: ['api.default'] });
    const r1 = await stream.nth(1);
    stream.send({ type_url: TYPE_URLS.endpoint, resource_names: ['api.default'], version_info: r1.version_info, response_nonce: r1.nonce });
    await waitFor(() => server.stats().acks === 1);
    // a change: new version, new nonce
    server.upsertService({ ...SVC, endpoints: SVC.endpoints.slice(0, 2) });
    const r2 = await stream.nth(2);
    expect(r2.version_info).not.toBe(r1.version_info);
    expect(r2.nonce).not.toBe(r1.nonce);
    // NACK r2: the client keeps r1
    stream.send({
      type_url: TYPE_URLS.endpoint,
      resource_names: ['api.default'],
      version_info: r1.version_info,
      response_nonce: r2.nonce,
      error_detail: { code: 3, message: 'rejected for the test' },
    });
    // a stale request (old nonce) is ignored
    stream.send({ type_url: TYPE_URLS.endpoint, resource_names: ['other'], version_info: r1.version_info, response_nonce: r1.nonce });
    // the same topology again changes nothing: nothing is re-sent
    server.upsertService({ ...SVC, endpoints: SVC.endpoints.slice(0, 2) });
    await new Promise((r) => setTimeout(r, 300));
    expect(stream.responses).toHaveLength(2);
    expect(nacks).toEqual([
      expect.objectContaining({ typeUrl: TYPE_URLS.endpoint, rejectedVersion: r2.version_info, keptVersion: r1.version_info, message: 'rejected for the test', zone: 'z2' }),
    ]);
    const st = server.stats();
    expect(st).toMatchObject({ acks: 1, nacks: 1, staleRequests: 1, streams: 1, services: 1 });
    expect(st.streamsByZone).toEqual({ z2: 1 });
    // the next real change is sent
    server.upsertService({ ...SVC, endpoints: SVC.endpoints.slice(0, 1) });
    const r3 = await stream.nth(3);
    expect((decodeXdsResource(r3.resources[0]!) as any).endpoints[0].lb_endpoints).toHaveLength(1);
  });

  it('sends a deletion to wildcard LDS/CDS subscribers when a service goes away', async () => {
    const { server, stream } = await setup();
    stream.send({ node: NODE, type_url: TYPE_URLS.cluster, resource_names: [] });
    const r1 = await stream.nth(1);
    expect(r1.resources).toHaveLength(1);
    stream.send({ type_url: TYPE_URLS.cluster, version_info: r1.version_info, response_nonce: r1.nonce });
    server.setTopology({ services: [] });
    const r2 = await stream.nth(2);
    expect(r2.resources ?? []).toEqual([]);
  });

  it('rejects malformed topology input with a typed error', () => {
    const server = createXdsServer({ port: 0 });
    const bad = (svc: unknown): unknown => {
      try {
        server.setTopology({ services: [svc as TopologyService] });
      } catch (err) {
        return err;
      }
      return undefined;
    };
    expect(BalancerError.is(bad({ name: '', endpoints: [] }), 'BALANCER_INVALID_ARGUMENT')).toBe(true);
    expect(BalancerError.is(bad({ name: 'x', endpoints: [ep('p1', 'z', { port: 0 })] }), 'BALANCER_INVALID_ARGUMENT')).toBe(true);
    expect(BalancerError.is(bad({ name: 'x', endpoints: [ep('p1', 'z', { port: 1.5 })] }), 'BALANCER_INVALID_ARGUMENT')).toBe(true);
    expect(() => server.setTopology({ services: [SVC, SVC] })).toThrow(/duplicate/);
    expect(() => createXdsServer({ port: 70000 })).toThrow(BalancerError);
  });
});
