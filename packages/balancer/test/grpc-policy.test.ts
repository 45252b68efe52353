import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EndpointSet } from '@dataplane/balancer';
import { GRPC_POLICY_NAME, GRPC_POLICY_TYPED_STRUCT_URL, registerGrpcPolicy } from '@dataplane/balancer/grpc';

// A raw-bytes unary service: no .proto needed.
const identity = (b: Buffer) => b;
const service: grpc.ServiceDefinition = {
  echo: {
    path: '/dataplane.test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};
const Client = grpc.makeGenericClientConstructor(service, 'Echo');

interface Backend {
  name: string;
  address: string;
  hits: number;
  server: grpc.Server;
}

async function backend(name: string, behaviour: { delayMs?: number; fail?: boolean } = {}): Promise<Backend> {
  const server = new grpc.Server();
  const be = { name, address: '', hits: 0, server };
  server.addService(service, {
    echo: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      be.hits++;
      setTimeout(() => {
        if (behaviour.fail) cb({ code: grpc.status.UNAVAILABLE, details: 'failing on purpose' });
        else cb(null, Buffer.from(name));
      }, behaviour.delayMs ?? 0);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  be.address = `127.0.0.1:${port}`;
  return be;
}

// A test resolver whose address list can change during a test.
const targets = new Map<string, { addrs: string[]; listeners: Set<grpc.experimental.ResolverListener> }>();
function publish(name: string): void {
  const t = targets.get(name)!;
  const endpoints = t.addrs.map((a) => {
    const [host, port] = a.split(':');
    return { addresses: [{ host: host!, port: Number(port) }] };
  });
  for (const l of t.listeners) l({ ok: true, value: endpoints }, {}, null, '');
}
class TestResolver implements grpc.experimental.Resolver {
  private readonly name: string;
  constructor(target: grpc.experimental.GrpcUri, private readonly listener: grpc.experimental.ResolverListener) {
    this.name = target.path;
    targets.get(this.name)!.listeners.add(listener);
  }
  updateResolution(): void {
    queueMicrotask(() => publish(this.name));
  }
  destroy(): void {
    targets.get(this.name)?.listeners.delete(this.listener);
  }
  static getDefaultAuthority(target: grpc.experimental.GrpcUri): string {
    return target.path;
  }
}

const sets: EndpointSet[] = [];
const backends: Backend[] = [];
const clients: grpc.Client[] = [];

beforeAll(async () => {
  grpc.experimental.registerResolver('dptest', TestResolver);
  await registerGrpcPolicy({ grpc, onEndpointSet: (s) => sets.push(s) });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(backends.map((b) => new Promise<void>((r) => b.server.tryShutdown(() => r()))));
});

function channel(name: string, addrs: string[], config: object): grpc.Client {
  targets.set(name, { addrs, listeners: new Set() });
  const c = new Client(`dptest:${name}`, grpc.credentials.createInsecure(), {
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ [GRPC_POLICY_NAME]: config }] }),
  });
  clients.push(c);
  return c;
}

function call(c: grpc.Client): Promise<grpc.status> {
  return new Promise((resolve) => {
    (c as unknown as { echo: (req: Buffer, opts: object, cb: (e: grpc.ServiceError | null) => void) => void }).echo(
      Buffer.from('x'),
      { deadline: Date.now() + 20_000 },
      (err) => resolve(err ? err.code : grpc.status.OK),
    );
  });
}

describe('grpc-js policy dataplane_p2c', () => {
  it('exposes the xDS TypedStruct type_url ending in the policy name', () => {
    expect(GRPC_POLICY_TYPED_STRUCT_URL.endsWith(`/${GRPC_POLICY_NAME}`)).toBe(true);
  });

  it('p2c with outlier detection avoids a slow server and ejects a failing one', async () => {
    const bs = [
      await backend('fast1', { delayMs: 2 }),
      await backend('fast2', { delayMs: 2 }),
      await backend('slow', { delayMs: 150 }),
      await backend('failing', { fail: true }),
    ];
    backends.push(...bs);
    const c = channel('p2c', bs.map((b) => b.address), { picker: 'p2c' });
    expect(await call(c)).toBeTypeOf('number'); // connects
    let left = 240;
    const codes: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (left-- > 0) codes.push(await call(c));
      }),
    );
    const [fast1, fast2, slow, failing] = bs as [Backend, Backend, Backend, Backend];
    expect(codes).toHaveLength(240);
    expect(failing.hits).toBeLessThanOrEqual(14);
    expect(slow.hits).toBeLessThan(fast1.hits / 2);
    expect(slow.hits).toBeLessThan(fast2.hits / 2);
    const set = sets.find((x) => x.list().some((e) => e.address === slow.address))!;
    expect(set.list()).toHaveLength(4);
    const stats = set.statsOf(set.list().find((e) => e.address === slow.address)!.id);
    expect(stats.total).toBe(slow.hits);
    expect(stats.inFlight).toBe(0);
  });

  it('round robin spreads evenly and picks up a server added mid-test', async () => {
    const bs = [await backend('a'), await backend('b'), await backend('c')];
    backends.push(...bs);
    const c = channel('rr', bs.map((b) => b.address), { picker: 'round-robin', outlierDetection: false });
    // wait until every subchannel is READY (bounded)
    for (let i = 0; i < 200 && bs.some((b) => b.hits === 0); i++) await call(c);
    expect(bs.every((b) => b.hits > 0)).toBe(true);
    const base = bs.map((b) => b.hits);
    for (let i = 0; i < 30; i++) expect(await call(c)).toBe(grpc.status.OK);
    expect(bs.map((b, i) => b.hits - base[i]!)).toEqual([10, 10, 10]);
    const d = await backend('d');
    backends.push(d);
    targets.get('rr')!.addrs.push(d.address);
    publish('rr');
    for (let i = 0; i < 400 && d.hits === 0; i++) await call(c);
    expect(d.hits).toBeGreaterThan(0);
    const all = [...bs, d];
    const mid = all.map((b) => b.hits);
    for (let i = 0; i < 40; i++) await call(c);
    expect(all.map((b, i) => b.hits - mid[i]!)).toEqual([10, 10, 10, 10]);
  });
});
