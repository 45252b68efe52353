import { LsmError } from '../errors.js';
import { CoDel } from './codel.js';

/** What the scheduler does to heavy queries while CoDel sees a standing queue. */
export type OverloadMode = 'deprioritise' | 'drop' | 'off';

/** Options of {@link createQueryScheduler}. */
export interface QuerySchedulerOptions {
  /** CoDel target: the acceptable standing queue delay, ms. @defaultValue 5 */
  targetMs?: number | undefined;
  /** CoDel interval: how long the delay must stay above target before shedding, ms. @defaultValue 100 */
  intervalMs?: number | undefined;
  /** Queries with `cost >= heavyCost` are heavy (see `estimateQueryCost`). @defaultValue 100_000 */
  heavyCost?: number | undefined;
  /**
   * `'deprioritise'`: while overloaded, light queries are served before heavy ones and heavy ones wait.
   * `'drop'`: additionally, heavy queries are refused at CoDel's pace. `'off'`: plain FIFO. @defaultValue 'deprioritise'
   */
  mode?: OverloadMode | undefined;
  /** Queries running at once. @defaultValue 1 */
  concurrency?: number | undefined;
  /** Most queued queries; beyond it run() refuses at once. @defaultValue 10_000 */
  maxQueue?: number | undefined;
  /** Clock in milliseconds. @defaultValue performance.now */
  clock?: (() => number) | undefined;
}

/** A plain snapshot of a {@link QueryScheduler}. */
export interface QuerySchedulerStats {
  queuedLight: number;
  queuedHeavy: number;
  running: number;
  completed: number;
  failed: number;
  /** Heavy queries refused by CoDel (mode 'drop'). */
  dropped: number;
  /** Queries refused because the queue was full. */
  rejectedFull: number;
  /** Heavy queries that yielded their turn to light ones. */
  deprioritised: number;
  /** Whether CoDel currently sees a standing delay above target. */
  overloaded: boolean;
}

/** A per-shard query queue controlled by CoDel. */
export interface QueryScheduler {
  /**
   * Queues `task` with a cost and runs it when its turn comes.
   *
   * @throws LsmError `LSM_OVERLOADED` (retryable) when dropped by CoDel or the queue is full;
   *   `LSM_ABORTED` when `signal` aborts while queued; `LSM_CLOSED` after close().
   */
  run<T>(cost: number, task: () => Promise<T> | T, signal?: AbortSignal): Promise<T>;
  /** A plain snapshot. */
  stats(): QuerySchedulerStats;
  /** Refuses queued and new queries with `LSM_CLOSED`; running ones finish. Idempotent. */
  close(): void;
}

interface Item {
  seq: number;
  at: number;
  task: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  heavy: boolean;
  done: boolean;
}

/** A FIFO queue with O(1) shift (head index, compacted when half empty). */
class Fifo {
  private items: (Item | undefined)[] = [];
  private head = 0;
  get size() {
    return this.items.length - this.head;
  }
  push(i: Item) {
    this.items.push(i);
  }
  peek(): Item | undefined {
    while (this.head < this.items.length && this.items[this.head]!.done) this.shift();
    return this.items[this.head];
  }
  shift(): Item | undefined {
    const it = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return it;
  }
}

/**
 * Creates a CoDel-controlled query scheduler for one shard.
 *
 * @remarks
 * Every query carries a cost. Below `heavyCost` it is light. The queue is FIFO while the delay stays
 * under `targetMs`; when the oldest queued query has waited more than `targetMs` for a whole `intervalMs`
 * (a standing queue, not a burst), CoDel declares overload: light queries then go first, and in `'drop'`
 * mode heavy queries are refused at CoDel's rate (`interval / sqrt(n)` apart) with a retryable
 * `LSM_OVERLOADED`. Light queries are never dropped. Ingest does not go through this queue, so a query
 * burst cannot stall it.
 *
 * @param options - CoDel target and interval, heavy threshold, mode, concurrency, clock.
 * @returns the scheduler.
 * @throws LsmError `LSM_INVALID_ARGUMENT` for a bad option.
 * @example
 * ```ts
 * import { createQueryScheduler, estimateQueryCost } from '@dataplane/lsm';
 *
 * const sched = createQueryScheduler({ targetMs: 5, intervalMs: 100, mode: 'drop' });
 * const cost = estimateQueryCost({ series: 10, fromMs: 0, toMs: 60_000, stepMs: 1000 });
 * const rows = await sched.run(cost, async () => ['result']);
 * ```
 * @since 0.1.0
 */
export function createQueryScheduler(options: QuerySchedulerOptions = {}): QueryScheduler {
  const target = num('targetMs', options.targetMs, 5);
  const interval = num('intervalMs', options.intervalMs, 100);
  const heavyCost = num('heavyCost', options.heavyCost, 100_000);
  const mode = options.mode ?? 'deprioritise';
  if (mode !== 'deprioritise' && mode !== 'drop' && mode !== 'off') throw new LsmError('LSM_INVALID_ARGUMENT', `mode must be 'deprioritise', 'drop' or 'off'`);
  const concurrency = int('concurrency', options.concurrency, 1);
  const maxQueue = int('maxQueue', options.maxQueue, 10_000);
  const clock = options.clock ?? (() => performance.now());
  const codel = new CoDel(target, interval);
  const light = new Fifo();
  const heavy = new Fifo();
  let seq = 0;
  let queued = 0;
  let queuedHeavy = 0;
  let running = 0;
  let closed = false;
  const st = { completed: 0, failed: 0, dropped: 0, rejectedFull: 0, deprioritised: 0 };

  function finish(item: Item) {
    item.done = true;
    queued--;
    if (item.heavy) queuedHeavy--;
    if (item.onAbort) item.signal?.removeEventListener('abort', item.onAbort);
  }

  function pump() {
    while (running < concurrency) {
      const l = light.peek();
      const h = heavy.peek();
      if (l === undefined && h === undefined) return;
      const now = clock();
      const oldest = l === undefined ? h! : h === undefined ? l : l.seq < h.seq ? l : h;
      let item: Item;
      let isHeavy: boolean;
      if (mode !== 'off' && codel.dropping && l !== undefined) {
        item = l;
        isHeavy = false;
        if (h !== undefined && h.seq < l.seq) st.deprioritised++;
      } else {
        item = oldest;
        isHeavy = oldest === h;
      }
      const shed = mode === 'off' ? false : codel.onDequeue(now - oldest.at, now, queued <= 1);
      (isHeavy ? heavy : light).shift();
      finish(item);
      if (shed && isHeavy && mode === 'drop') {
        st.dropped++;
        item.reject(
          new LsmError('LSM_OVERLOADED', `heavy query shed by CoDel (standing delay above ${target} ms)`, {
            retryable: true,
            retryAfterMs: interval,
          }),
        );
        continue;
      }
      start(item);
    }
  }

  function start(item: Item) {
    running++;
    let p: Promise<unknown>;
    try {
      p = Promise.resolve(item.task());
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (v) => {
        st.completed++;
        item.resolve(v);
      },
      (e) => {
        st.failed++;
        item.reject(e);
      },
    ).finally(() => {
      running--;
      // Yield to the event loop before the next query, so work that arrived meanwhile (a shard worker's
      // messages: light queries, ingest) is queued and CoDel can order it.
      setImmediate(pump);
    });
  }

  return {
    run<T>(cost: number, task: () => Promise<T> | T, signal?: AbortSignal): Promise<T> {
      if (closed) return Promise.reject(new LsmError('LSM_CLOSED', 'scheduler is closed'));
      if (!(cost >= 0) || typeof task !== 'function') {
        return Promise.reject(new LsmError('LSM_INVALID_ARGUMENT', 'run() needs a cost >= 0 and a task function'));
      }
      if (signal?.aborted) return Promise.reject(new LsmError('LSM_ABORTED', 'query aborted', { cause: signal.reason }));
      if (queued >= maxQueue) {
        st.rejectedFull++;
        return Promise.reject(new LsmError('LSM_OVERLOADED', `query queue full (${maxQueue})`, { retryable: true, retryAfterMs: interval }));
      }
      return new Promise<T>((resolve, reject) => {
        const item: Item = {
          seq: seq++,
          at: clock(),
          task,
          resolve: resolve as (v: unknown) => void,
          reject,
          signal,
          onAbort: undefined,
          heavy: cost >= heavyCost,
          done: false,
        };
        if (signal) {
          item.onAbort = () => {
            if (item.done) return;
            finish(item);
            reject(new LsmError('LSM_ABORTED', 'query aborted while queued', { cause: signal.reason }));
          };
          signal.addEventListener('abort', item.onAbort, { once: true });
        }
        queued++;
        if (item.heavy) queuedHeavy++;
        (item.heavy ? heavy : light).push(item);
        pump();
      });
    },
    stats() {
      return { queuedLight: queued - queuedHeavy, queuedHeavy, running, overloaded: codel.dropping, ...st };
    },
    close() {
      if (closed) return;
      closed = true;
      for (const q of [light, heavy]) {
        for (let it = q.peek(); it !== undefined; it = q.peek()) {
          q.shift();
          finish(it);
          it.reject(new LsmError('LSM_CLOSED', 'scheduler closed'));
        }
      }
    },
  };
}

function num(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v < 0) throw new LsmError('LSM_INVALID_ARGUMENT', `${name} must be a finite number >= 0`);
  return v;
}

function int(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1) throw new LsmError('LSM_INVALID_ARGUMENT', `${name} must be a positive integer`);
  return v;
}
