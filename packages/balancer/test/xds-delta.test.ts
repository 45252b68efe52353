import { afterEach, describe, expect, it } from 'vitest';
import { createXdsServer, decodeXdsResource, TYPE_URLS, validateXdsResource, type TopologyEndpoint, type XdsNack } from '@dataplane/balancer/xds';
import { adsClient, type RawStream } from './xds-ads-client.js';

function ep(id: string, port: number): TopologyEndpoint {
  return { id, ip: '10.2.0.1', port, zone: 'z1', ready: true, serving: true, terminating: false, hintsForZones: [], labels: {}, weight: 1 };
}

async function waitFor(fn: () => boolean): Promise<void> {
  for (let i = 0; !fn(); i++) {
    if (i > 2000) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('XdsServer incremental (delta) ADS', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('sends only changed resources, removals, honours initial versions and counts ACK/NACK', async () => {
    const nacks: XdsNack[] = [];
    const server = createXdsServer({
      port: 0,
      onNack: (n) => nacks.push(n),
      topology: { services: [{ name: 'a', endpoints: [ep('a1', 1)] }, { name: 'b', endpoints: [ep('b1', 2)] }] },
    });
    await server.start();
    const { client, delta } = adsClient(server.port);
    const s: RawStream = delta();
    cleanup.push(() => server.close(), () => client.close(), () => s.end());

    // EDS for 'a' only
    s.send({ node: { id: 'd', locality: { zone: 'z1' } }, type_url: TYPE_URLS.endpoint, resource_names_subscribe: ['a'] });
    const r1 = await s.nth(1);
    expect(r1.resources.map((r: any) => r.name)).toEqual(['a']);
    expect(validateXdsResource(r1.resources[0].resource)).toEqual([]);
    s.send({ type_url: TYPE_URLS.endpoint, response_nonce: r1.nonce });
    await waitFor(() => server.stats().acks === 1);

    // a change to b is not sent (not subscribed); a change to a is, alone
    server.upsertService({ name: 'b', endpoints: [ep('b2', 3)] });
    server.upsertService({ name: 'a', endpoints: [ep('a2', 4)] });
    const r2 = await s.nth(2);
    expect(r2.resources.map((r: any) => r.name)).toEqual(['a']);
    expect(r2.resources[0].version).not.toBe(r1.resources[0].version);
    const cla = decodeXdsResource(r2.resources[0].resource) as any;
    expect(cla.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value).toBe(4);
    // NACK it: reported once, not re-sent
    s.send({ type_url: TYPE_URLS.endpoint, response_nonce: r2.nonce, error_detail: { code: 3, message: 'no' } });
    await waitFor(() => nacks.length === 1);

    // subscribing to b sends b; removing a sends a removal
    s.send({ type_url: TYPE_URLS.endpoint, resource_names_subscribe: ['b'] });
    const r3 = await s.nth(3);
    expect(r3.resources.map((r: any) => r.name)).toEqual(['b']);
    server.removeService('a');
    const r4 = await s.nth(4);
    expect(r4.removed_resources).toEqual(['a']);
    expect(s.responses).toHaveLength(4);
  });

  it('wildcard CDS on a new stream skips resources the client already holds', async () => {
    const server = createXdsServer({ port: 0, topology: { services: [{ name: 'a', endpoints: [ep('a1', 1)] }] } });
    await server.start();
    const { client, delta } = adsClient(server.port);
    cleanup.push(() => server.close(), () => client.close());
    const s1 = delta();
    cleanup.push(() => s1.end());
    s1.send({ node: { id: 'd' }, type_url: TYPE_URLS.cluster });
    const r1 = await s1.nth(1);
    expect(r1.resources.map((r: any) => r.name)).toEqual(['a']);
    const version = r1.resources[0].version as string;
    // a reconnecting client declares what it has: nothing to send until something changes
    const s2 = delta();
    cleanup.push(() => s2.end());
    s2.send({ node: { id: 'd' }, type_url: TYPE_URLS.cluster, initial_resource_versions: { a: version } });
    server.upsertService({ name: 'c', endpoints: [ep('c1', 5)] });
    const r2 = await s2.nth(1);
    expect(r2.resources.map((r: any) => r.name)).toEqual(['c']);
  });
});
