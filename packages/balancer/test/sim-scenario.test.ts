import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BalancerError, renderSvg, resolveScenario, simulateScenario } from '@dataplane/balancer';
import { main } from '../src/cli.js';

const scenarioFile = new URL('../scenarios/p2c-vs-per-connection.json', import.meta.url);

describe('documented scenario: p2c vs per-connection routing', () => {
  it('p2c meets the SLO with >= 20% fewer pods than per-connection routing and within 10% of JSQ', () => {
    const raw = JSON.parse(readFileSync(scenarioFile, 'utf8')) as Record<string, unknown>;
    const s = resolveScenario({ ...raw, routings: ['kube-proxy-random', 'kube-proxy-rr', 'p2c', 'jsq'] });
    const report = simulateScenario(s);
    const { minPods } = report;
    const p2c = minPods.p2c!;
    const jsq = minPods.jsq!;
    const perConn = Math.min(minPods['kube-proxy-random']!, minPods['kube-proxy-rr']!);
    expect(p2c).toBeGreaterThan(0);
    expect(p2c).toBeLessThanOrEqual(0.8 * perConn);
    expect(p2c).toBeLessThanOrEqual(1.1 * jsq);
    // per-connection routing is skewed, per-request p2c is not
    const run = (r: string) => report.runs.find((x) => x.routing === r)!;
    expect(run('kube-proxy-random').skew).toBeGreaterThan(run('p2c').skew);
    expect(renderSvg(report)).toContain('<svg');
  });
});

describe('zone-aware routing in the simulator', () => {
  it('keeps traffic local when every zone has capacity for its callers', () => {
    const s = resolveScenario({
      pods: 30,
      zones: [{ name: 'a' }, { name: 'b' }, { name: 'c' }],
      clients: 30,
      requests: 5000,
      routings: ['zone-aware-p2c', 'p2c'],
    });
    const za = simulateScenario(s).runs;
    expect(za[0]!.localZoneShare).toBe(1);
    expect(za[1]!.localZoneShare).toBeLessThan(0.5);
  });
});

describe('scenario validation and CLI', () => {
  it('rejects bad scenarios with a typed error', () => {
    expect(() => resolveScenario({})).toThrow(BalancerError);
    expect(() => resolveScenario({ pods: 3, routings: ['nope'] })).toThrow(/unknown routing/);
    expect(() => resolveScenario({ pods: 3, load: -1 })).toThrow(BalancerError);
    expect(() => resolveScenario(null)).toThrow(BalancerError);
  });

  it('simulate writes JSON and SVG and prints a table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'balancer-sim-'));
    try {
      const file = join(dir, 'small.json');
      writeFileSync(file, JSON.stringify({ pods: 6, requests: 2000, routings: ['p2c', 'kube-proxy-random'], sloP99Ms: 200 }));
      let out = '';
      let err = '';
      const code = await main(['simulate', '--scenario', file, '--out', dir], {
        out: (s) => (out += s),
        err: (s) => (err += s),
        isTty: false,
      });
      expect(code).toBe(0);
      expect(out).toMatch(/p2c/);
      expect(err).toMatch(/runs/);
      const json = JSON.parse(readFileSync(join(dir, 'small.result.json'), 'utf8')) as { runs: unknown[] };
      expect(json.runs).toHaveLength(2);
      expect(readFileSync(join(dir, 'small.svg'), 'utf8')).toContain('</svg>');
      let e2 = '';
      expect(await main(['simulate'], { out: () => {}, err: (s) => (e2 += s), isTty: false })).toBe(2);
      expect(e2).toMatch(/--scenario/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
