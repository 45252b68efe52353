import { describe, expect, it } from 'vitest';
import { BalancerError, createEndpointSet } from '@dataplane/balancer';
import type { EndpointChange } from '@dataplane/balancer';

describe('EndpointSet', () => {
  it('applies defaults, versions changes and notifies subscribers', () => {
    let now = 1000;
    const set = createEndpointSet({ clock: () => now });
    const seen: EndpointChange[] = [];
    const off = set.subscribe((c) => seen.push(c));
    set.upsert({ id: 'a', address: '10.0.0.1:80' });
    expect(set.version).toBe(1);
    expect(set.get('a')).toMatchObject({ weight: 1, ready: true, serving: true, terminating: false, addedAt: 1000 });
    now = 2000;
    set.upsert({ id: 'a', address: '10.0.0.1:80' }); // no change: no version bump, addedAt kept
    expect(set.version).toBe(1);
    set.upsert({ id: 'a', address: '10.0.0.1:80', ready: false });
    expect(set.version).toBe(2);
    expect(set.get('a')?.addedAt).toBe(1000);
    set.replaceAll([{ id: 'b', address: '10.0.0.2:80' }, { id: 'c', address: '10.0.0.3:80', zone: 'z' }]);
    expect(set.version).toBe(3);
    expect(set.list().map((e) => e.id).sort()).toEqual(['b', 'c']);
    expect(seen.map((c) => c.type)).toEqual(['added', 'updated', 'removed', 'added', 'added']);
    off();
    set.remove('b');
    set.remove('zzz');
    expect(seen).toHaveLength(5);
    expect(set.list().map((e) => e.id)).toEqual(['c']);
  });

  it('rejects malformed input with a typed error and keeps the set unchanged', () => {
    const set = createEndpointSet();
    for (const bad of [
      { id: '', address: 'x:1' },
      { id: 'a', address: '' },
      { id: 'a', address: 'x:1', weight: 0 },
      { id: 'a', address: 'x:1', weight: Number.NaN },
    ]) {
      expect(() => set.upsert(bad)).toThrow(BalancerError);
    }
    expect(() => set.replaceAll([{ id: 'a', address: 'x:1' }, { id: 'a', address: 'x:2' }])).toThrow(
      expect.objectContaining({ code: 'BALANCER_INVALID_ARGUMENT' }),
    );
    expect(set.version).toBe(0);
  });

  it('tracks in-flight, peak-EWMA latency and success EWMA', () => {
    let now = 0;
    const set = createEndpointSet({ clock: () => now, latencyDecayMs: 1000 });
    set.upsert({ id: 'a', address: 'x:1' });
    set.onStart('a');
    set.onStart('a');
    expect(set.statsOf('a').inFlight).toBe(2);
    set.onEnd('a', 100, true);
    expect(set.statsOf('a')).toMatchObject({ inFlight: 1, ewmaLatencyMs: 100, total: 1 });
    now = 1000;
    set.onEnd('a', 0, false);
    const s = set.statsOf('a');
    expect(s.ewmaLatencyMs).toBeCloseTo(100 * Math.exp(-1), 6);
    expect(s.consecutiveFailures).toBe(1);
    expect(s.successEwma).toBeLessThan(1);
    set.onEnd('a', 500, true); // peak: jumps up at once
    expect(set.statsOf('a').ewmaLatencyMs).toBe(500);
    expect(set.statsOf('a').inFlight).toBe(0);
    expect(set.statsOf('nope').inFlight).toBe(0);
  });
});
