/**
 * NatsJetStreamTransport's lease (orderedDelivery): one active subscriber per group, against the machine's NATS
 * server (issue #10). Each test uses its own stream and its own lease bucket (TTL 2 s), so the shared server is safe.
 * The handover and takeover times are printed.
 * The crash test runs the holder in a child process (the built package) and SIGKILLs it with deliveries in hand.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxError } from '@dataplane/outbox';
import { NatsJetStreamTransport, type NatsJetStreamTransportOptions } from '@dataplane/outbox/nats';
import { events, until, orderWatch, stallProxy } from './fixtures/nats-kit.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
/** The lease TTL of these tests; LEASE_TTL_MS=5000 measures the failover with the default. */
const TTL = Number(process.env.LEASE_TTL_MS ?? 2_000);
const run = randomBytes(4).toString('hex');
const pkgDir = fileURLToPath(new URL('..', import.meta.url));
let nc: NatsConnection;
let n = 0;
const streams: string[] = [];
const children = new Set<ChildProcess>();

beforeAll(async () => {
  nc = await connect({ servers: NATS_URL });
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  const jsm = await nc.jetstreamManager();
  for (const s of streams) await jsm.streams.delete(s).catch(() => {});
  await nc.close();
});

interface Fresh {
  stream: string;
  prefix: string;
  bucket: string;
  opts: (connection: NatsConnection, extra?: Partial<NatsJetStreamTransportOptions>) => NatsJetStreamTransportOptions;
}

function fresh(): Fresh {
  const k = `${run}_${n++}`;
  const stream = `DPNL_${k}`;
  const prefix = `dpnl${k}`;
  const bucket = `dpnl_${k}`;
  streams.push(stream, `KV_${bucket}`);
  return { stream, prefix, bucket, opts: (connection, extra = {}) => ({ connection, stream, subjectPrefix: prefix, leaseBucket: bucket, leaseTtlMs: TTL, ackWaitMs: 30_000, ...extra }) };
}

/** The holder in a child process: subscribes to group g, prints `s <id>` when a handler starts and `a <id>` when it resolved. */
const CHILD = `
import { connect } from 'nats';
import { NatsJetStreamTransport } from '@dataplane/outbox/nats';
const o = JSON.parse(process.env.LEASE_OPTS);
const nc = await connect({ servers: o.url });
const t = new NatsJetStreamTransport({ connection: nc, stream: o.stream, subjectPrefix: o.prefix, leaseBucket: o.bucket, leaseTtlMs: o.ttl, ackWaitMs: 30000 });
await t.subscribe({ group: 'g', aggregateTypes: ['acct'], consumer: 'child', maxInFlight: 16 }, async (e) => {
  process.stdout.write('s ' + e.id + '\\n');
  await new Promise((r) => setTimeout(r, 2));
  process.stdout.write('a ' + e.id + '\\n');
});
process.stdout.write('ready ' + t.stats().leaseHeld + '\\n');
`;

describe('NatsJetStreamTransport lease: one active subscriber per group (orderedDelivery)', () => {
  it('two subscribers on one group: only the holder handles events; after the holder closes the standby takes over, in order, nothing lost', async () => {
    const f = fresh();
    const nc2 = await connect({ servers: NATS_URL });
    const a = new NatsJetStreamTransport(f.opts(nc));
    const b = new NatsJetStreamTransport(f.opts(nc2));
    const all = events(2_000, 16);
    const watch = orderWatch(all);
    const byA: string[] = [];
    const byB: string[] = [];
    const subA = await a.subscribe({ group: 'g', aggregateTypes: ['acct'], consumer: 'a' }, async (e) => {
      byA.push(e.id);
      watch.see(e.id);
    });
    const subB = await b.subscribe({ group: 'g', aggregateTypes: ['acct'], consumer: 'b' }, async (e) => {
      byB.push(e.id);
      watch.see(e.id);
    });
    expect(a.stats()).toMatchObject({ leaseHeld: 1, leaseAcquired: 1, leaseLost: 0 });
    expect(b.stats()).toMatchObject({ leaseHeld: 0, leaseAcquired: 0 });
    // the first half, and longer than the TTL: the holder keeps renewing, the standby stays idle
    await a.publish(all.slice(0, 1_000));
    await until(() => byA.length >= 1_000);
    await new Promise((r) => setTimeout(r, TTL * 1.5));
    expect(byB).toEqual([]);
    expect(a.stats()).toMatchObject({ leaseHeld: 1, leaseLost: 0 });
    const kv = await nc.jetstream().views.kv(f.bucket);
    expect(new TextDecoder().decode((await kv.get(`${f.stream}.g`))!.value)).toMatch(/^a\//);

    // the second half is published while the holder closes
    const publishing = (async () => {
      for (let i = 1_000; i < 2_000; i += 50) {
        await a.publish(all.slice(i, i + 50));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await until(() => byA.length >= 1_100);
    const t0 = performance.now();
    await subA.close();
    const closedMs = performance.now() - t0;
    await until(() => b.stats().leaseHeld === 1);
    const failoverMs = performance.now() - t0;
    await publishing;
    await until(() => watch.complete() || watch.inversions.length > 0);
    console.log(`lease handover after close: close() ${closedMs.toFixed(0)} ms, standby holding ${failoverMs.toFixed(0)} ms after close() was called; handled by a ${byA.length}, by b ${byB.length}`);
    expect(watch.inversions).toEqual([]);
    expect(watch.complete()).toBe(true);
    expect(byB.length).toBeGreaterThan(0);
    expect(failoverMs).toBeLessThan(TTL); // the release wakes the standby: no wait for the entry to expire
    expect(b.stats()).toMatchObject({ leaseHeld: 1, leaseAcquired: 1, leaseLost: 0 });
    expect(a.stats()).toMatchObject({ leaseHeld: 0, leaseAcquired: 1, leaseLost: 0 });
    await subB.close();
    await a.close();
    await b.close();
    await nc2.close();
  }, 120_000);

  it('a holder SIGKILLed with deliveries in hand: the standby takes over after the lease expires, re-reads from the ack floor, in order, nothing lost', async () => {
    const f = fresh();
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
      cwd: pkgDir,
      env: { ...process.env, LEASE_OPTS: JSON.stringify({ url: NATS_URL, stream: f.stream, prefix: f.prefix, bucket: f.bucket, ttl: TTL }) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.add(child);
    child.on('exit', () => children.delete(child));
    const started: string[] = [];
    const acked = new Set<string>();
    let ready = '';
    let buf = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const [k, v] = buf.slice(0, i).split(' ') as [string, string];
        buf = buf.slice(i + 1);
        if (k === 's') started.push(v);
        else if (k === 'a') acked.add(v);
        else if (k === 'ready') ready = v;
      }
    });
    await until(() => ready !== '', 30_000);
    expect(ready).toBe('1');

    const b = new NatsJetStreamTransport(f.opts(nc));
    const all = events(4_000, 16);
    const byB: string[] = [];
    const subB = await b.subscribe({ group: 'g', aggregateTypes: ['acct'], consumer: 'b' }, async (e) => void byB.push(e.id));
    expect(b.stats().leaseHeld).toBe(0);
    for (let i = 0; i < all.length; i += 500) await b.publish(all.slice(i, i + 500));
    await until(() => started.length >= 800);
    const t0 = performance.now();
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const inHand = started.length - acked.size;
    await until(() => b.stats().leaseHeld === 1, 10 * TTL);
    const failoverMs = performance.now() - t0;
    const watch = orderWatch(all);
    for (const id of started) watch.see(id);
    const seenB: string[] = [];
    await until(() => {
      for (const id of byB.splice(0)) {
        watch.see(id);
        seenB.push(id);
      }
      return watch.complete() || watch.inversions.length > 0;
    });
    const childSeen = new Set(started);
    const again = seenB.filter((id) => childSeen.has(id));
    console.log(`lease takeover after SIGKILL: ${failoverMs.toFixed(0)} ms (TTL ${TTL}); child started ${started.length}, ${inHand} without a resolved handler; standby handled ${seenB.length}, ${again.length} of them again`);
    expect(watch.inversions).toEqual([]);
    expect(watch.complete()).toBe(true);
    // the standby handles again what the killed holder had in hand (an inbox absorbs those), not what it had acked
    // below the ack floor: the consumer restarts from there, not from the start of the stream
    expect(again.length).toBeGreaterThan(0);
    expect(again.length).toBeLessThan(started.length / 2);
    expect(failoverMs).toBeLessThan(3 * TTL);
    await subB.close();
    await b.close();
  }, 120_000);

  it('a holder cut off from the server fences itself (handles nothing more, even after the partition heals), the standby takes over in order', async () => {
    const f = fresh();
    const proxy = await stallProxy(NATS_URL);
    const ncA = await connect({ servers: proxy.url, reconnect: false });
    const a = new NatsJetStreamTransport(f.opts(ncA, { onError: () => {} })); // its lease renewals time out while cut off
    const b = new NatsJetStreamTransport(f.opts(nc));
    const all = events(3_000, 12);
    const watch = orderWatch(all);
    const byA: string[] = [];
    const byB: string[] = [];
    const slow = (): Promise<void> => new Promise((r) => setTimeout(r, 1));
    const subA = await a.subscribe({ group: 'g', aggregateTypes: ['acct'], consumer: 'a', maxInFlight: 8 }, async (e) => {
      byA.push(e.id);
      watch.see(e.id);
      await slow();
    });
    const subB = await b.subscribe({ group: 'g', aggregateTypes: ['acct'], consumer: 'b', maxInFlight: 8 }, async (e) => {
      byB.push(e.id);
      watch.see(e.id);
      await slow();
    });
    expect(a.stats().leaseHeld).toBe(1);
    for (let i = 0; i < all.length; i += 500) await b.publish(all.slice(i, i + 500));
    await until(() => byA.length >= 500);
    const t0 = performance.now();
    proxy.stall();
    await until(() => a.stats().leaseLost === 1, 5 * TTL);
    const fencedMs = performance.now() - t0;
    const handledByA = byA.length;
    await until(() => b.stats().leaseHeld === 1, 5 * TTL);
    const takenMs = performance.now() - t0;
    proxy.heal();
    await until(() => watch.complete() || watch.inversions.length > 0);
    await new Promise((r) => setTimeout(r, TTL)); // the healed holder stays a standby and hands nothing over
    console.log(`lease after a partition: holder fenced after ${fencedMs.toFixed(0)} ms, standby holding after ${takenMs.toFixed(0)} ms (TTL ${TTL})`);
    expect(watch.inversions).toEqual([]);
    expect(watch.complete()).toBe(true);
    expect(fencedMs).toBeLessThan(takenMs); // it stopped before anyone else could start
    expect(byA.length).toBe(handledByA);
    expect(a.stats()).toMatchObject({ leaseHeld: 0, leaseAcquired: 1, leaseLost: 1 });
    expect(b.stats()).toMatchObject({ leaseHeld: 1, leaseAcquired: 1, leaseLost: 0 });
    await subB.close();
    await subA.close();
    await a.close();
    await b.close();
    await ncA.close();
    proxy.close();
  }, 120_000);

  it('with orderedDelivery false there is no lease: both subscribers of a group handle events', async () => {
    const f = fresh();
    const a = new NatsJetStreamTransport(f.opts(nc, { orderedDelivery: false }));
    const seen = [new Set<string>(), new Set<string>()];
    const subs = [
      await a.subscribe({ group: 'g', aggregateTypes: ['acct'], maxInFlight: 1 }, async (e) => {
        seen[0]!.add(e.id);
        await new Promise((r) => setTimeout(r, 1));
      }),
      await a.subscribe({ group: 'g', aggregateTypes: ['acct'], maxInFlight: 1 }, async (e) => {
        seen[1]!.add(e.id);
        await new Promise((r) => setTimeout(r, 1));
      }),
    ];
    await a.publish(events(400, 8));
    await until(() => seen[0]!.size + seen[1]!.size >= 400);
    expect(seen[0]!.size).toBeGreaterThan(0);
    expect(seen[1]!.size).toBeGreaterThan(0);
    expect(a.stats()).toMatchObject({ leaseHeld: 0, leaseAcquired: 0 });
    const jsm = await nc.jetstreamManager();
    await expect(jsm.streams.info(`KV_${f.bucket}`)).rejects.toThrow();
    for (const s of subs) await s.close();
    await a.close();
  }, 60_000);

  it('a standby closed before it ever held leaves the holder alone', async () => {
    const f = fresh();
    const a = new NatsJetStreamTransport(f.opts(nc));
    const subA = await a.subscribe({ group: 'g', aggregateTypes: ['acct'] }, async () => {});
    const subB = await a.subscribe({ group: 'g', aggregateTypes: ['acct'] }, async () => {});
    expect(a.stats()).toMatchObject({ leaseHeld: 1, leaseAcquired: 1 });
    await subB.close();
    await new Promise((r) => setTimeout(r, TTL));
    expect(a.stats()).toMatchObject({ leaseHeld: 1, leaseAcquired: 1, leaseLost: 0 });
    await subA.close();
    expect(a.stats()).toMatchObject({ leaseHeld: 0, leaseAcquired: 1, leaseLost: 0 });
    await a.close();
  }, 30_000);

  it('validates leaseTtlMs and leaseBucket, and refuses a lease bucket whose entries never expire', async () => {
    for (const bad of [{ leaseTtlMs: 999 }, { leaseTtlMs: 1500.5 }, { leaseTtlMs: '5000' as never }, { leaseBucket: 'a.b' }, { leaseBucket: '' }]) {
      let err: unknown;
      try {
        new NatsJetStreamTransport({ connection: nc, ...bad });
      } catch (e) {
        err = e;
      }
      expect(OutboxError.is(err, 'OUTBOX_INVALID_ARGUMENT'), JSON.stringify(bad)).toBe(true);
    }
    const f = fresh();
    await nc.jetstream().views.kv(f.bucket); // no TTL
    const t = new NatsJetStreamTransport(f.opts(nc));
    const err = await t.subscribe({ group: 'g', aggregateTypes: ['acct'] }, async () => {}).catch((e: unknown) => e);
    expect(OutboxError.is(err, 'OUTBOX_INVALID_ARGUMENT')).toBe(true);
    expect(t.stats().leaseHeld).toBe(0);
    await t.close();
  }, 30_000);
});
