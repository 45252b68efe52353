import { describe, expect, it } from 'vitest';
import { encodeXdsResource, validateXdsResource } from '@dataplane/balancer/xds';

const CLA = 'envoy.config.endpoint.v3.ClusterLoadAssignment';

describe('validateXdsResource (protoc-gen-validate rules over decoded messages)', () => {
  it('accepts a minimal valid ClusterLoadAssignment', () => {
    const res = encodeXdsResource(CLA, {
      cluster_name: 'a',
      endpoints: [
        {
          locality: { zone: 'z' },
          load_balancing_weight: { value: 1 },
          lb_endpoints: [{ endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 80 } } } }],
        },
      ],
    });
    expect(validateXdsResource(res)).toEqual([]);
  });

  it('reports each violated rule with its path', () => {
    const rules = (object: Record<string, unknown>, type = CLA): string[] =>
      validateXdsResource(encodeXdsResource(type, object)).map((i) => `${i.path} ${i.rule}`);
    // cluster_name: string.min_len 1
    expect(rules({ cluster_name: '' })).toEqual(['cluster_name string.min_len']);
    // locality weight: uint32.gte 1 on a UInt32Value; priority: uint32.lte 128
    expect(rules({ cluster_name: 'a', endpoints: [{ load_balancing_weight: { value: 0 }, priority: 129 }] })).toEqual([
      'endpoints[0].load_balancing_weight.value uint32.gte',
      'endpoints[0].priority uint32.lte',
    ]);
    // socket address: address min_len 1, port_value lte 65535
    expect(
      rules({ cluster_name: 'a', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '', port_value: 70000 } } } }] }] }),
    ).toEqual([
      'endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address string.min_len',
      'endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value uint32.lte',
    ]);
    // Cluster: name min_len, connect_timeout duration.gt 0
    expect(rules({ name: '', connect_timeout: { seconds: 0 } }, 'envoy.config.cluster.v3.Cluster')).toEqual([
      'name string.min_len',
      'connect_timeout duration.gt',
    ]);
    // RouteConfiguration: virtual host needs a name and at least one domain; a route needs a match
    expect(rules({ name: 'r', virtual_hosts: [{ name: '', domains: [], routes: [{ route: { cluster: 'c' } }] }] }, 'envoy.config.route.v3.RouteConfiguration')).toEqual([
      'virtual_hosts[0].name string.min_len',
      'virtual_hosts[0].domains repeated.min_items',
      'virtual_hosts[0].routes[0].match message.required',
    ]);
  });

  it('reports undecodable bytes and unknown types instead of throwing', () => {
    expect(validateXdsResource({ type_url: 'type.googleapis.com/nope.Nope', value: new Uint8Array() })[0]?.rule).toBe('type_url');
    expect(validateXdsResource({ type_url: `type.googleapis.com/${CLA}`, value: new Uint8Array([0x0a, 0xff]) })[0]?.rule).toBe('decode');
  });
});
