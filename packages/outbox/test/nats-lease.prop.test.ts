/**
 * The subscriber lease's state machine (LeaseKeeper: acquire, renew, expire, release, fence) against a simple model,
 * on a fake clock and a fake KV whose entries expire `ttl` after their last write. Several keepers compete for one
 * key; commands advance time, cut a keeper off (its calls time out), make it lose responses (the write lands, the
 * reply does not), slow it down, crash it (it stops without a word) or close it.
 *
 * Safety, checked after every timer that fires: a keeper that believes it holds the lease (and is not crashed) is
 * the writer of the live entry, so no two keepers ever consume at once; `onAcquired`/`onLost` alternate and match
 * `held`. Liveness: once every keeper is reachable again, within 3 × ttl exactly one open keeper holds the lease.
 * Also what the subscriber does when its keeper fences it (PullSubscriber.pause).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEvent, encodeEvent } from '@dataplane/outbox';
import type { JsMsgLike } from '../src/adapters/nats/driver.js';
import { LeaseKeeper, type LeaseClock, type LeaseStore } from '../src/adapters/nats/lease.js';
import { PullSubscriber } from '../src/adapters/nats/subscriber.js';

const RUNS = Number(process.env.FC_NUM_RUNS ?? 200);
const TTL = 1000;

type Mode = 'ok' | 'cut' | 'lossy' | 'slowReply';

interface Node {
  id: number;
  keeper: LeaseKeeper;
  holder: string;
  mode: Mode;
  latency: number;
  dead: boolean;
  closed: boolean;
  /** Set by onAcquired, cleared by onLost: whether this keeper's consumer runs. */
  consuming: boolean;
  startFailed: boolean;
  errors: string[];
}

class FakeClock {
  t = 0;
  #id = 0;
  readonly timers = new Map<number, { at: number; fn: () => void }>();

  setTimeout(fn: () => void, ms: number): number {
    const id = ++this.#id;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }

  /** Runs every timer due within `ms`, in time order, letting promises settle after each, and calls `check` after each. */
  async advance(ms: number, check: () => void): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      let best: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (best === undefined || e[1].at < best[1].at)) best = e;
      if (best === undefined) break;
      this.timers.delete(best[0]);
      this.t = best[1].at;
      best[1].fn();
      await settle();
      check();
    }
    this.t = end;
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** One key of a KV bucket with max_age = TTL; revisions are stream sequences. */
class FakeKv {
  seq = 0;
  entry: { value: string; revision: number; writtenAt: number } | undefined;
  readonly watchers = new Set<() => void>();
  constructor(readonly clock: FakeClock) {}

  live(): { value: string; revision: number; writtenAt: number } | undefined {
    if (this.entry !== undefined && this.clock.t >= this.entry.writtenAt + TTL) this.entry = undefined;
    return this.entry;
  }

  write(value: string, expected: number): number | undefined {
    const cur = this.live();
    if ((cur?.revision ?? 0) !== expected) return undefined;
    this.entry = { value, revision: ++this.seq, writtenAt: this.clock.t };
    return this.seq;
  }

  remove(expected: number): void {
    const cur = this.live();
    if (cur === undefined || cur.revision !== expected) return;
    this.seq++;
    this.entry = undefined;
    for (const w of this.watchers) this.clock.setTimeout(w, 0);
  }
}

/** A node's view of the KV: calls take `latency` (landing after half of it, or at once with slowReply); cut off, they time out (TTL/4) without landing; lossy, they land and the reply is lost. */
function storeOf(kv: FakeKv, node: () => Node): LeaseStore {
  const call = <T>(apply: () => T): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const n = node();
      if (n.dead) return; // never answers
      if (n.mode === 'cut') {
        kv.clock.setTimeout(() => reject(new Error('timeout')), TTL / 4);
        return;
      }
      const lossy = n.mode === 'lossy';
      const half = n.mode === 'slowReply' ? 1 : Math.floor(n.latency / 2);
      // the write lands half-way (slowReply: at once), the reply comes after the rest
      kv.clock.setTimeout(() => {
        if (node().dead) return;
        const r = apply();
        kv.clock.setTimeout(() => {
          if (node().dead) return;
          if (lossy) reject(new Error('timeout'));
          else resolve(r);
        }, n.latency - half);
      }, half);
    });
  return {
    create: (value) => call(() => kv.write(value, 0)),
    update: (value, revision) => call(() => kv.write(value, revision)),
    remove: (revision) => call(() => kv.remove(revision)),
    watch: async (onRelease) => {
      const w = (): void => {
        if (!node().dead) onRelease();
      };
      kv.watchers.add(w);
      return () => kv.watchers.delete(w);
    },
  };
}

class World {
  readonly clock = new FakeClock();
  readonly kv = new FakeKv(this.clock);
  readonly nodes: Node[] = [];

  add(mode: Mode, latency: number): void {
    const id = this.nodes.length;
    const node = (): Node => this.nodes[id]!;
    const clock: LeaseClock = {
      now: () => this.clock.t,
      setTimeout: (fn, ms) => this.clock.setTimeout(() => !node().dead && fn(), ms),
      clearTimeout: (h) => this.clock.clearTimeout(h),
    };
    const holder = `n${id}/${id}`;
    const errors: string[] = [];
    const keeper = new LeaseKeeper({
      store: storeOf(this.kv, node),
      ttlMs: TTL,
      holder,
      clock,
      onError: (err) => void errors.push(String(err)),
      onAcquired: async () => {
        const n = node();
        if (n.consuming) throw new Error(`node ${id} acquired twice without losing in between`);
        n.consuming = true;
      },
      onLost: () => {
        const n = node();
        // (a keeper that is closing may still lose the lease after its subscriber stopped)
        if (!n.consuming && !n.closed) throw new Error(`node ${id} lost a lease it had not acquired`);
        n.consuming = false;
      },
    });
    this.nodes.push({ id, keeper, holder, mode, latency, dead: false, closed: false, consuming: false, startFailed: false, errors });
    void keeper.start().catch(() => (node().startFailed = true));
  }

  close(i: number): void {
    const n = this.nodes[i]!;
    n.closed = true;
    void n.keeper.close(async () => {
      n.consuming = false; // the subscriber stops before the lease is released
    });
  }

  /** Safety: every live keeper that holds the lease wrote the live entry; holding and consuming agree. */
  check = (): void => {
    const entry = this.kv.live();
    let holders = 0;
    for (const n of this.nodes) {
      if (n.dead) continue;
      if (n.keeper.held) {
        holders++;
        expect(entry?.value, `node ${n.id} holds the lease at t=${this.clock.t}`).toBe(n.holder);
      }
      if (!n.closed) expect(n.consuming, `node ${n.id} consuming = held at t=${this.clock.t}`).toBe(n.keeper.held);
    }
    expect(holders).toBeLessThanOrEqual(1);
  };
}

type Cmd = fc.AsyncCommand<{ nodes: number }, World>;
const node = fc.nat({ max: 3 });
const mode = fc.constantFrom<Mode>('ok', 'ok', 'cut', 'lossy', 'slowReply');
const latency = fc.constantFrom(0, 1, 10, 50, 200, 400, 700, 900);

const commands: fc.Arbitrary<Cmd>[] = [
  fc.tuple(mode, latency).map(([m, l]): Cmd => ({
    check: (model) => model.nodes < 4,
    run: async (model, w) => {
      model.nodes++;
      w.add(m, l);
      await settle();
      w.check();
    },
    toString: () => `start(${m}, ${l})`,
  })),
  fc.integer({ min: 1, max: 2 * TTL }).map((ms): Cmd => ({
    check: () => true,
    run: (_, w) => w.clock.advance(ms, w.check),
    toString: () => `advance(${ms})`,
  })),
  fc.tuple(node, mode, latency).map(([i, m, l]): Cmd => ({
    check: (model) => i < model.nodes,
    run: async (_, w) => {
      w.nodes[i]!.mode = m;
      w.nodes[i]!.latency = l;
    },
    toString: () => `net(${i}, ${m}, ${l})`,
  })),
  node.map((i): Cmd => ({
    check: (model) => i < model.nodes,
    run: async (_, w) => {
      w.nodes[i]!.dead = true;
    },
    toString: () => `crash(${i})`,
  })),
  node.map((i): Cmd => ({
    check: (model) => i < model.nodes,
    run: async (_, w) => {
      if (!w.nodes[i]!.closed && !w.nodes[i]!.dead) w.close(i);
      await settle();
      w.check();
    },
    toString: () => `close(${i})`,
  })),
];

describe('LeaseKeeper (fake clock, fake KV)', () => {
  it('never lets two keepers hold the lease, and hands it over once the network heals', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 40 }), async (cmds) => {
        const w = new World();
        await fc.asyncModelRun(() => ({ model: { nodes: 0 }, real: w }), cmds);
        // heal: everyone reachable and quick; a crashed holder's entry expires within TTL
        for (const n of w.nodes) {
          n.mode = 'ok';
          n.latency = 1;
        }
        await w.clock.advance(3 * TTL, w.check);
        const open = w.nodes.filter((n) => !n.dead && !n.closed && !n.startFailed);
        const held = open.filter((n) => n.keeper.held);
        expect(held.length).toBe(open.length > 0 ? 1 : 0);
        if (held.length === 1) expect(w.kv.live()?.value).toBe(held[0]!.holder);
        // closed keepers hold nothing; every loss followed an acquisition
        for (const n of w.nodes) {
          const st = n.keeper.stats();
          if (n.closed && !n.dead) expect(st.held).toBe(false);
          expect(st.lost).toBeLessThanOrEqual(st.acquired);
          expect(n.errors.filter((e) => !e.includes('timeout'))).toEqual([]);
        }
        for (const n of w.nodes) if (!n.dead && !n.closed) w.close(n.id);
        await w.clock.advance(TTL, () => {});
      }),
      { numRuns: RUNS },
    );
  }, 120_000);

  it('a closed holder releases at once; the standby acquires on the watch, before any poll', async () => {
    const w = new World();
    w.add('ok', 1);
    await w.clock.advance(10, w.check);
    w.add('ok', 1);
    await w.clock.advance(10, w.check);
    expect(w.nodes[0]!.keeper.held).toBe(true);
    expect(w.nodes[1]!.keeper.held).toBe(false);
    await w.clock.advance(TTL, w.check); // renewals keep it
    expect(w.nodes[0]!.keeper.stats()).toEqual({ held: true, acquired: 1, lost: 0 });
    const t = w.clock.t;
    w.close(0);
    await w.clock.advance(10, w.check);
    expect(w.nodes[1]!.keeper.held).toBe(true);
    expect(w.clock.t - t).toBeLessThan(TTL / 4);
    expect(w.nodes[0]!.keeper.stats()).toEqual({ held: false, acquired: 1, lost: 0 });
  });

  it('a slow holder fences itself from the START of its last successful write (the write lands before its reply)', async () => {
    const w = new World();
    w.add('slowReply', 350);
    await w.clock.advance(3 * TTL, w.check);
    expect(w.nodes[0]!.keeper.held).toBe(true);
    w.nodes[0]!.mode = 'cut';
    await w.clock.advance(2 * TTL, w.check);
    expect(w.nodes[0]!.keeper.stats()).toEqual({ held: false, acquired: 1, lost: 1 });
  });

  it('a holder whose entry someone else overwrote loses the lease at its next renewal, before its fence', async () => {
    const w = new World();
    w.add('ok', 1);
    await w.clock.advance(10, w.check);
    const e = w.kv.live()!;
    w.kv.entry = { value: 'intruder', revision: ++w.kv.seq, writtenAt: w.clock.t };
    let lostAt = -1;
    await w.clock.advance(TTL, () => {
      if (lostAt < 0 && !w.nodes[0]!.keeper.held) lostAt = w.clock.t;
    });
    expect(e.value).toBe('n0/0');
    expect(lostAt).toBeGreaterThan(0);
    expect(lostAt).toBeLessThan(TTL / 3 + 20); // the renewal, not the fence (0.8 TTL)
    expect(w.nodes[0]!.keeper.stats()).toEqual({ held: false, acquired: 1, lost: 1 });
  });

  it('a holder cut off fences itself before its entry expires, and the standby takes over after the expiry', async () => {
    const w = new World();
    w.add('ok', 1);
    await w.clock.advance(10, w.check);
    w.add('ok', 1);
    await w.clock.advance(TTL, w.check);
    w.nodes[0]!.mode = 'cut';
    let fencedAt = -1;
    let takenAt = -1;
    await w.clock.advance(2 * TTL, () => {
      w.check();
      if (fencedAt < 0 && !w.nodes[0]!.keeper.held) fencedAt = w.clock.t;
      if (takenAt < 0 && w.nodes[1]!.keeper.held) takenAt = w.clock.t;
    });
    expect(fencedAt).toBeGreaterThan(0);
    expect(takenAt).toBeGreaterThan(fencedAt);
    expect(w.nodes[0]!.keeper.stats().lost).toBe(1);
    expect(w.nodes[1]!.keeper.held).toBe(true);
  });
});

describe('PullSubscriber.pause (what a holder does when it fences itself)', () => {
  it('drops unstarted messages without acking them, lets running handlers finish and ack, ignores later messages of the paused consume, and pulls again on start', async () => {
    const callbacks: ((m: JsMsgLike) => void)[] = [];
    const closed: number[] = [];
    const replies: string[] = [];
    let dseq = 0;
    const msg = (i: number): JsMsgLike => {
      const seq = ++dseq;
      const e = createEvent({ aggregateType: 't', aggregateId: `a${i}`, type: 'E', payload: i });
      return {
        data: new TextEncoder().encode(encodeEvent(e)),
        reply: `$JS.ACK.S.g.1.${i}.${seq}.0.0`,
        info: { redeliveryCount: 1 },
        ack: () => void replies.push(`ack ${i}`),
        nak: () => void replies.push(`nak ${i}`),
        term: () => void replies.push(`term ${i}`),
      };
    };
    const running: (() => void)[] = [];
    const started: number[] = [];
    const s = new PullSubscriber(
      (e) => {
        started.push(e.payload as number);
        return new Promise<void>((resolve) => running.push(resolve));
      },
      {
        maxInFlight: 2,
        nakDelayMs: 0,
        closeNakDelayMs: 0,
        onError: () => {},
        flush: undefined,
        open: async (callback) => {
          const k = callbacks.push(callback) - 1;
          return { close: async () => void closed.push(k), closed: () => new Promise<void>(() => {}) };
        },
        resync: async () => 1,
      },
    );
    await s.start(1);
    for (let i = 1; i <= 5; i++) callbacks[0]!(msg(i));
    expect(started).toEqual([1, 2]);
    expect(s.stats()).toMatchObject({ inFlight: 2, queued: 3 });
    s.pause();
    expect(closed).toEqual([0]);
    expect(s.stats()).toMatchObject({ inFlight: 2, queued: 0, dropped: 3 });
    callbacks[0]!(msg(6)); // still arriving from the paused consume: dropped too
    for (const r of running.splice(0)) r();
    await s.settled();
    expect(started).toEqual([1, 2]);
    expect(replies).toEqual(['ack 1', 'ack 2']); // 3..6 neither acked nor nak'ed
    dseq = 0;
    await s.start(1); // the lease again: a new consume (the consumer was re-created: sequences from 1)
    expect(callbacks.length).toBe(2);
    callbacks[1]!(msg(3));
    expect(started).toEqual([1, 2, 3]);
    for (const r of running.splice(0)) r();
    await s.close();
    expect(replies).toEqual(['ack 1', 'ack 2', 'ack 3']);
  });
});
