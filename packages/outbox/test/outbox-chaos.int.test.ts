/**
 * Chaos test (issue 10), over Redis Streams and over NATS JetStream: producers append events over many aggregates to a
 * pg outbox while 2 polling relay processes and the consumer processes (pg inbox) are SIGKILLed at random moments and
 * restarted, and a private broker (on a free port with its own data directory, so the shared services are untouched)
 * is restarted. At the end every event's effect exists exactly once and per-aggregate order held.
 *
 * - Redis: `redis-server --appendonly yes --appendfsync always`, stopped with SIGTERM; 2 consumer processes, one per
 *   stream partition.
 * - NATS: `nats-server -js -sd <dir>`, SIGKILLed; ONE consumer process (one durable group, `orderedDelivery` on: a
 *   lost delivery re-creates the durable consumer from its ack floor), SIGKILLed like the relays.
 *
 * Sizes: OUTBOX_CHAOS_EVENTS (default 20000), OUTBOX_CHAOS_AGGREGATES (default 200); OUTBOX_CHAOS_REDIS_RESTARTS and
 * OUTBOX_CHAOS_NATS_RESTARTS (default 2 each, spread over the run); OUTBOX_CHAOS_KILL_MS (mean pause between SIGKILLs,
 * default 750); OUTBOX_CHAOS_TAIL_MS (after the appends, keep killing while the consumers catch up, up to this long,
 * default 15000); OUTBOX_CHAOS_VERBOSE=1 shows the children's stderr. One transport: `-t redis` or `-t nats`. The
 * harness is test/fixtures/chaos-harness.ts; children run the built package (`npm run build -w @dataplane/outbox`).
 */
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { ChaosRun, type ChaosTransport } from './fixtures/chaos-harness.js';

const EVENTS = Number(process.env.OUTBOX_CHAOS_EVENTS ?? 20_000);
const restarts = (kind: ChaosTransport): number => Number(process.env[`OUTBOX_CHAOS_${kind.toUpperCase()}_RESTARTS`] ?? 2);
const servers: Record<ChaosTransport, string> = { redis: 'redis-server', nats: 'nats-server' };

describe.each(['redis', 'nats'] as const)('outbox chaos: pg -> relays -> %s -> inbox consumers, with SIGKILLs and broker restarts', (kind) => {
  const run = new ChaosRun(kind, {
    pgUrl: process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/test',
    events: EVENTS,
    aggregates: Number(process.env.OUTBOX_CHAOS_AGGREGATES ?? 200),
    restarts: restarts(kind),
    killMs: Number(process.env.OUTBOX_CHAOS_KILL_MS ?? 750),
    tailMs: Number(process.env.OUTBOX_CHAOS_TAIL_MS ?? 15_000),
    verbose: process.env.OUTBOX_CHAOS_VERBOSE === '1',
  });
  afterAll(() => run.dispose());

  it(`delivers each of ${EVENTS} events' effect exactly once, in order per aggregate`, async () => {
    // scripts/services.sh installs both servers; without one this test must fail, not pass by skipping
    expect(spawnSync(servers[kind], ['--version'], { stdio: 'ignore' }).status, `${servers[kind]} is not on PATH (run scripts/services.sh)`).toBe(0);
    const r = await run.run();
    const { violations, ...counts } = r;
    console.log('outbox chaos report', JSON.stringify(counts));
    expect(r.brokerRestarts).toBe(restarts(kind));
    expect(r.kills).toBeGreaterThan(0);
    expect(violations).toEqual([]);
    expect(r.lost).toBe(0);
    expect(r.applied).toBe(r.appended);
    expect(r.expected).toBe(r.appended);
    expect(r.backlog).toBe(0);
  }, 600_000);
});
