/**
 * Spawns `control-plane` (from the TypeScript sources, through tsx) against the fake API server, checks
 * /healthz and /metrics, that an xDS client gets the cluster's endpoints, and that SIGTERM exits 0.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createEndpointSet } from '@dataplane/balancer';
import { xdsEndpointSource } from '@dataplane/balancer/xds';
import { FakeKubeApi, fixture } from './k8s-fake-api.js';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

async function waitFor(fn: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('npx @dataplane/balancer control-plane', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('serves health, metrics and xDS from the cluster, and exits 0 on SIGTERM', async () => {
    const api = new FakeKubeApi();
    await api.start();
    cleanup.push(() => api.close());
    api.upsert('services', fixture('service.json'));
    api.upsert('endpointslices', fixture('endpointslice.json'));
    const dir = mkdtempSync(join(tmpdir(), 'dataplane-cp-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: fake',
        '  cluster:',
        `    server: ${api.url}`,
        '    insecure-skip-tls-verify: true',
        'users:',
        '- name: tester',
        '  user:',
        '    token: test-token',
        'contexts:',
        '- name: fake',
        '  context: {cluster: fake, user: tester}',
        'current-context: fake',
        '',
      ].join('\n'),
    );
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CLI, 'control-plane', '--kubeconfig', kubeconfig, '--xds-host', '127.0.0.1', '--xds-port', '0', '--http-host', '127.0.0.1', '--http-port', '0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    cleanup.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    await waitFor(() => out.includes('"listening"') || child.exitCode !== null, 60_000);
    expect(child.exitCode, err).toBeNull();
    const { xdsPort, httpPort } = JSON.parse(out.split('\n').find((l) => l.includes('"listening"'))!) as { xdsPort: number; httpPort: number };

    await waitFor(async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status === 200);
    // the token of the kubeconfig reached the API server
    expect(api.authorizations.length).toBeGreaterThan(0);
    expect(api.authorizations.every((a) => a === 'Bearer test-token')).toBe(true);

    const set = createEndpointSet();
    const source = xdsEndpointSource({ server: `127.0.0.1:${xdsPort}`, service: 'checkout.shop', set });
    cleanup.push(() => source.close());
    await source.start(AbortSignal.timeout(30_000));
    expect(set.list().map((e) => e.id).sort()).toEqual(['checkout-7d9f8c6b5-abcde', 'checkout-7d9f8c6b5-fghij']);

    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^dataplane_k8s_synced 1$/m);
    expect(metrics).toMatch(/^dataplane_topology_endpoints 2$/m);
    expect(metrics).toMatch(/^dataplane_xds_streams 1$/m);
    await source.close();

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('"stopped"');
  });

  it('exits 2 with a usage error without --kubeconfig', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'control-plane'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(err).toContain('--kubeconfig');
  });
});
