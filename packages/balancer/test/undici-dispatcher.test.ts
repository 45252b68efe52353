import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { createServer as createH2Server } from 'node:http2';
import type { Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { BalancerError, createEndpointSet, createRng, outlierAware, p2c, roundRobin } from '@dataplane/balancer';
import { createBalancedDispatcher } from '@dataplane/balancer/undici';

interface Backend {
  name: string;
  address: string;
  hits: number;
  close(): Promise<void>;
}

type Behaviour = { delayMs?: number; status?: number };

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

async function listen(server: Server | Http2Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function backend(name: string, kind: 'h1' | 'h2', b: Behaviour = {}): Promise<Backend> {
  const state = { hits: 0 };
  const handler = (_req: unknown, res: { statusCode: number; end(s: string): void }) => {
    state.hits++;
    setTimeout(() => {
      res.statusCode = b.status ?? 200;
      res.end(name);
    }, b.delayMs ?? 0);
  };
  const server = kind === 'h1' ? createServer(handler) : createH2Server(handler);
  const address = await listen(server);
  const be: Backend = {
    name,
    address,
    get hits() {
      return state.hits;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if ('closeAllConnections' in server) server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  closers.push(be.close);
  return be;
}

async function get(dispatcher: Dispatcher): Promise<number> {
  const res = await request('http://service.local/x', { dispatcher });
  await res.body.text();
  return res.statusCode;
}

describe('undici balanced dispatcher (HTTP/1.1)', () => {
  it('p2c steers away from a slowed server and outlier ejection drops a failing one', async () => {
    const fast1 = await backend('fast1', 'h1', { delayMs: 2 });
    const fast2 = await backend('fast2', 'h1', { delayMs: 2 });
    const slow = await backend('slow', 'h1', { delayMs: 150 });
    const failing = await backend('failing', 'h1', { status: 503 });
    const set = createEndpointSet();
    set.replaceAll([fast1, fast2, slow, failing].map((b) => ({ id: b.name, address: b.address })));
    const dispatcher = await createBalancedDispatcher({
      set,
      picker: outlierAware(p2c(), { consecutiveFailures: 3, maxEjectionPercent: 25 }),
      pickerOptions: { random: createRng(9).next },
    });
    closers.push(() => dispatcher.close());
    // 8 concurrent workers, 240 requests in total
    let left = 240;
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (left-- > 0) statuses.push(await get(dispatcher));
      }),
    );
    expect(statuses).toHaveLength(240);
    expect(failing.hits).toBeLessThanOrEqual(6);
    expect(slow.hits).toBeLessThan(fast1.hits / 2);
    expect(slow.hits).toBeLessThan(fast2.hits / 2);
    expect(set.statsOf('slow').ewmaLatencyMs).toBeGreaterThan(set.statsOf('fast1').ewmaLatencyMs);
    const st = dispatcher.stats();
    expect(st.dispatched).toBe(240);
    expect(st.inFlight).toBe(0);
    expect(st.failed).toBe(failing.hits);
  });

  it('fails requests with BALANCER_NO_ENDPOINT when the set is empty, and after close with BALANCER_CLOSED', async () => {
    const set = createEndpointSet();
    const dispatcher = await createBalancedDispatcher({ set });
    await expect(get(dispatcher)).rejects.toSatisfy((e) => BalancerError.is(e, 'BALANCER_NO_ENDPOINT'));
    await dispatcher.close();
    await dispatcher.close();
    await expect(get(dispatcher)).rejects.toSatisfy((e) => BalancerError.is(e, 'BALANCER_CLOSED'));
  });
});

describe('undici balanced dispatcher (HTTP/2 cleartext)', () => {
  it('round robin spreads evenly and includes a server added mid-test', async () => {
    const bs = [await backend('a', 'h2'), await backend('b', 'h2'), await backend('c', 'h2')];
    const set = createEndpointSet();
    set.replaceAll(bs.map((b) => ({ id: b.name, address: b.address })));
    const dispatcher = await createBalancedDispatcher({ set, picker: roundRobin(), http2: true });
    closers.push(() => dispatcher.close());
    for (let i = 0; i < 30; i++) expect(await get(dispatcher)).toBe(200);
    expect(bs.map((b) => b.hits)).toEqual([10, 10, 10]);
    const d = await backend('d', 'h2');
    set.upsert({ id: 'd', address: d.address });
    for (let i = 0; i < 40; i++) await get(dispatcher);
    expect([...bs, d].map((b) => b.hits)).toEqual([20, 20, 20, 10]);
    set.remove('a');
    for (let i = 0; i < 30; i++) await get(dispatcher);
    expect(bs[0]!.hits).toBe(20);
    expect(dispatcher.stats().pools).toBe(3);
  });
});
