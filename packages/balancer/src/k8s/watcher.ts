import { BalancerError } from '../errors.js';
import type { Topology } from '../xds/topology.js';
import { ListWatch, type ListWatchStats } from './list-watch.js';
import { buildTopology, keyOf } from './topology-builder.js';
import type { K8sConnection, K8sEndpointSlice, K8sService } from './types.js';

/**
 * Options of {@link createK8sWatcher}.
 *
 * @since 0.1.0
 */
export interface K8sWatcherOptions {
  /** How to reach the API server (see `connectionFromKubeconfig`). */
  connection: K8sConnection;
  /** Watch one namespace only. @defaultValue all namespaces */
  namespace?: string | undefined;
  /** Label selector applied to Services and EndpointSlices. @defaultValue none */
  labelSelector?: string | undefined;
  /** Called with the whole topology after the first sync and after every change (coalesced per tick). @defaultValue undefined */
  onTopology?: ((topology: Topology) => void) | undefined;
  /** Called on each list/watch failure (the watcher retries by itself). @defaultValue undefined */
  onError?: ((err: BalancerError) => void) | undefined;
  /** Page size of list calls. @defaultValue 500 */
  pageSize?: number | undefined;
  /** `timeoutSeconds` asked of the server per watch; the watch is then resumed. @defaultValue 300 */
  watchTimeoutSeconds?: number | undefined;
  /** Watchdog: a watch silent for this long (no event, no bookmark) is restarted. @defaultValue 90000 */
  idleTimeoutMs?: number | undefined;
  /** First retry delay in milliseconds (jittered, doubling). @defaultValue 200 */
  backoffInitialMs?: number | undefined;
  /** Largest retry delay in milliseconds. @defaultValue 10000 */
  backoffMaxMs?: number | undefined;
  /** Random source in [0, 1) for the jitter. @defaultValue Math.random */
  random?: (() => number) | undefined;
}

/**
 * A plain snapshot of a watcher's state.
 *
 * @since 0.1.0
 */
export interface K8sWatcherStats {
  /** Both collections were listed at least once. */
  readonly synced: boolean;
  readonly services: number;
  readonly slices: number;
  readonly updates: number;
  readonly serviceWatch: Readonly<ListWatchStats>;
  readonly sliceWatch: Readonly<ListWatchStats>;
}

/**
 * Watches Services and discovery.k8s.io/v1 EndpointSlices and keeps a {@link Topology} for the xDS server.
 *
 * @remarks
 * Each collection runs list (paginated) then watch with `allowWatchBookmarks=true`, tracks the last
 * resourceVersion (opaque) from events and bookmarks, resumes from it after a disconnect with jittered
 * exponential backoff, re-lists after 410 Gone (as a status or as an ERROR event), and restarts a watch that
 * stays silent longer than `idleTimeoutMs`. Slices of a Service are merged; zone, nodeName, ready / serving /
 * terminating, hints and non-Kubernetes slice labels (shard labels) are kept.
 *
 * @example
 * ```ts
 * import { createK8sWatcher } from '@dataplane/balancer/k8s';
 *
 * await using watcher = createK8sWatcher({ connection: { server: 'https://10.0.0.1:6443' }, namespace: 'shop' });
 * await watcher.start(AbortSignal.timeout(30_000));
 * const stop = watcher.subscribe((t) => console.log(t.services.length));
 * stop();
 * ```
 * @since 0.1.0
 */
export class K8sWatcher implements AsyncDisposable {
  readonly #services = new Map<string, K8sService>();
  readonly #slices = new Map<string, K8sEndpointSlice>();
  readonly #svcWatch: ListWatch<K8sService>;
  readonly #sliceWatch: ListWatch<K8sEndpointSlice>;
  readonly #onTopology: K8sWatcherOptions['onTopology'];
  readonly #listeners = new Set<(t: Topology) => void>();
  #synced = { services: false, slices: false };
  #scheduled = false;
  #updates = 0;
  #topology: Topology = { services: [] };
  #started = false;
  #closed = false;
  #syncWaiters: (() => void)[] = [];

  constructor(opts: K8sWatcherOptions) {
    if (!opts?.connection || typeof opts.connection.server !== 'string')
      throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'connection.server is required');
    try {
      new URL(opts.connection.server);
    } catch (err) {
      throw new BalancerError('BALANCER_INVALID_ARGUMENT', `connection.server is not a URL: ${opts.connection.server}`, { cause: err });
    }
    const num = (v: number | undefined, d: number, name: string): number => {
      const x = v ?? d;
      if (!Number.isFinite(x) || x <= 0) throw new BalancerError('BALANCER_INVALID_ARGUMENT', `${name} must be a positive number`);
      return x;
    };
    const common = {
      connection: opts.connection,
      labelSelector: opts.labelSelector,
      pageSize: Math.floor(num(opts.pageSize, 500, 'pageSize')),
      watchTimeoutSeconds: Math.floor(num(opts.watchTimeoutSeconds, 300, 'watchTimeoutSeconds')),
      idleTimeoutMs: num(opts.idleTimeoutMs, 90_000, 'idleTimeoutMs'),
      backoffInitialMs: num(opts.backoffInitialMs, 200, 'backoffInitialMs'),
      backoffMaxMs: num(opts.backoffMaxMs, 10_000, 'backoffMaxMs'),
      random: opts.random ?? Math.random,
      onError: opts.onError,
    };
    const ns = opts.namespace ? `/namespaces/${encodeURIComponent(opts.namespace)}` : '';
    this.#onTopology = opts.onTopology;
    this.#svcWatch = new ListWatch<K8sService>({
      ...common,
      path: `/api/v1${ns}/services`,
      onReset: (items) => this.#reset(this.#services, items, 'services'),
      onEvent: (type, obj) => this.#apply(this.#services, type, obj),
    });
    this.#sliceWatch = new ListWatch<K8sEndpointSlice>({
      ...common,
      path: `/apis/discovery.k8s.io/v1${ns}/endpointslices`,
      onReset: (items) => this.#reset(this.#slices, items, 'slices'),
      onEvent: (type, obj) => this.#apply(this.#slices, type, obj),
    });
  }

  /** The latest topology (empty before the first sync). */
  get topology(): Topology {
    return this.#topology;
  }

  /**
   * Starts both list+watch loops and resolves after the first full sync. Idempotent.
   *
   * @param signal - Aborting it rejects the wait for the sync (the watcher keeps running until `close()`).
   * @throws BalancerError `BALANCER_ABORTED` when aborted first; `BALANCER_CLOSED` after close.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.#closed) throw new BalancerError('BALANCER_CLOSED', 'the watcher is closed');
    if (!this.#started) {
      this.#started = true;
      this.#svcWatch.start();
      this.#sliceWatch.start();
    }
    if (this.#synced.services && this.#synced.slices) return;
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(new BalancerError('BALANCER_ABORTED', 'aborted before the first sync', { cause: signal?.reason }));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#syncWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  /** Calls `listener` with each new topology; returns the unsubscribe function. */
  subscribe(listener: (topology: Topology) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A plain snapshot of the state and counters. */
  stats(): K8sWatcherStats {
    return {
      synced: this.#synced.services && this.#synced.slices,
      services: this.#services.size,
      slices: this.#slices.size,
      updates: this.#updates,
      serviceWatch: { ...this.#svcWatch.counters },
      sliceWatch: { ...this.#sliceWatch.counters },
    };
  }

  /** Stops both loops. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.#svcWatch.close(), this.#sliceWatch.close()]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #reset<T extends K8sService | K8sEndpointSlice>(store: Map<string, T>, items: T[], which: 'services' | 'slices'): void {
    store.clear();
    for (const item of items) {
      const key = keyOf(item);
      if (key) store.set(key, item);
    }
    this.#synced[which] = true;
    this.#schedule();
  }

  #apply<T extends K8sService | K8sEndpointSlice>(store: Map<string, T>, type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T): void {
    const key = keyOf(obj);
    if (!key) return;
    if (type === 'DELETED') store.delete(key);
    else store.set(key, obj);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled || !this.#synced.services || !this.#synced.slices) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      if (this.#closed) return;
      this.#topology = buildTopology(this.#services.values(), this.#slices.values());
      this.#updates += 1;
      for (const w of this.#syncWaiters.splice(0)) w();
      this.#onTopology?.(this.#topology);
      for (const l of this.#listeners) l(this.#topology);
    });
  }
}

/**
 * Creates a watcher of Services and EndpointSlices (see {@link K8sWatcher}); call `start()`.
 *
 * @param opts - Options; see {@link K8sWatcherOptions}.
 * @returns The watcher, not yet started.
 * @throws BalancerError `BALANCER_INVALID_ARGUMENT` on bad options.
 * @example
 * ```ts
 * import { createK8sWatcher } from '@dataplane/balancer/k8s';
 * import { createXdsServer } from '@dataplane/balancer/xds';
 *
 * await using xds = createXdsServer({ port: 18000 });
 * await using watcher = createK8sWatcher({
 *   connection: { server: 'https://10.0.0.1:6443', headers: { Authorization: 'Bearer ...' } },
 *   onTopology: (t) => xds.setTopology(t),
 * });
 * await Promise.all([xds.start(), watcher.start(AbortSignal.timeout(30_000))]);
 * ```
 * @since 0.1.0
 */
export function createK8sWatcher(opts: K8sWatcherOptions): K8sWatcher {
  return new K8sWatcher(opts);
}
