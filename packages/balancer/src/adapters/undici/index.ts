import type * as Undici from 'undici';
import type { Dispatcher } from 'undici';
import { BalancerError } from '../../errors.js';
import type { EndpointSet } from '../../endpoints/types.js';
import { p2c } from '../../pickers/basic.js';
import { createPicker } from '../../pickers/create-picker.js';
import type { CreatePickerOptions } from '../../pickers/create-picker.js';
import type { PickerFactory } from '../../pickers/types.js';

type UndiciModule = typeof Undici;

/**
 * Options of {@link createBalancedDispatcher}.
 *
 * @since 0.1.0
 */
export interface BalancedDispatcherOptions {
  /** The endpoints to spread requests over. */
  set: EndpointSet;
  /** The picker algorithm. @defaultValue `p2c()` */
  picker?: PickerFactory | undefined;
  /** Options of the picker (randomness, panic threshold). @defaultValue `{}` */
  pickerOptions?: CreatePickerOptions | undefined;
  /** Scheme used to reach endpoints. @defaultValue 'http' */
  protocol?: 'http' | 'https' | undefined;
  /** Speak HTTP/2: cleartext prior knowledge (h2c) over http, ALPN over https. @defaultValue false */
  http2?: boolean | undefined;
  /** Connections per endpoint for HTTP/1.1. @defaultValue 8 */
  connectionsPerEndpoint?: number | undefined;
  /** Extra options for each endpoint's undici Pool / H2CClient (for example `connect` TLS options). @defaultValue `{}` */
  clientOptions?: Record<string, unknown> | undefined;
  /** Which status codes count as failures for outlier detection. @defaultValue `status >= 500` */
  isFailure?: ((statusCode: number) => boolean) | undefined;
  /** Monotonic clock in ms for latencies. @defaultValue `performance.now` */
  clock?: (() => number) | undefined;
  /** The undici module to use (otherwise `import('undici')`). @defaultValue undefined */
  undici?: UndiciModule | undefined;
}

/**
 * A plain snapshot of a balanced dispatcher's counters.
 *
 * @since 0.1.0
 */
export interface BalancedDispatcherStats {
  readonly dispatched: number;
  readonly completed: number;
  readonly failed: number;
  readonly noEndpoint: number;
  readonly inFlight: number;
  readonly pools: number;
}

/**
 * An undici Dispatcher that picks an endpoint per request and reports latency and outcome to the set.
 *
 * @since 0.1.0
 */
export type BalancedDispatcher = Dispatcher & {
  /** Counters snapshot. */
  stats(): BalancedDispatcherStats;
  [Symbol.asyncDispose](): Promise<void>;
};

type AnyHandler = Record<string, ((...args: unknown[]) => unknown) | undefined>;

const NEW_STYLE = ['onRequestStart', 'onRequestUpgrade', 'onResponseStart', 'onResponseData', 'onResponseEnd', 'onResponseError'];
const LEGACY = ['onConnect', 'onUpgrade', 'onHeaders', 'onData', 'onComplete', 'onError', 'onBodySent', 'onResponseStarted', 'onRequestSent'];

async function loadUndici(injected: UndiciModule | undefined): Promise<UndiciModule> {
  if (injected !== undefined) return injected;
  try {
    return await import('undici');
  } catch (cause) {
    throw new BalancerError('BALANCER_DRIVER_MISSING', 'the undici adapter needs undici: npm install undici@^7', { cause });
  }
}

/**
 * Creates an undici Dispatcher that balances each request over an {@link EndpointSet}: the picker chooses an
 * endpoint, the request goes through that endpoint's connection pool (HTTP/1.1, or HTTP/2), and its latency and
 * outcome (`isFailure(status)` or a transport error) are fed back to the set with `onStart`/`onEnd`.
 * The request's own origin is ignored: the path goes to the picked endpoint, and the `host` header is kept.
 *
 * @param opts - the set, picker and transport options.
 * @returns the dispatcher; use it as `dispatcher` in `undici.request`, `fetch`, or as a global dispatcher.
 * @throws BalancerError `BALANCER_DRIVER_MISSING` when undici is not installed, `BALANCER_INVALID_ARGUMENT` on bad
 *   options. Requests fail with `BALANCER_NO_ENDPOINT` when the picker has no endpoint, `BALANCER_CLOSED` after close.
 * @example
 * ```ts
 * import { request } from 'undici';
 * import { createEndpointSet, p2c } from '@dataplane/balancer';
 * import { createBalancedDispatcher } from '@dataplane/balancer/undici';
 *
 * const set = createEndpointSet();
 * set.replaceAll([{ id: 'a', address: '127.0.0.1:8081' }, { id: 'b', address: '127.0.0.1:8082' }]);
 * const dispatcher = await createBalancedDispatcher({ set, picker: p2c() });
 * const res = await request('http://my-service/health', { dispatcher });
 * await dispatcher.close();
 * ```
 * @since 0.1.0
 */
export async function createBalancedDispatcher(opts: BalancedDispatcherOptions): Promise<BalancedDispatcher> {
  if (typeof opts !== 'object' || opts === null || typeof opts.set?.subscribe !== 'function') {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'createBalancedDispatcher needs { set }');
  }
  const connections = opts.connectionsPerEndpoint ?? 8;
  if (!Number.isInteger(connections) || connections < 1) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'connectionsPerEndpoint must be an integer >= 1');
  }
  const protocol = opts.protocol ?? 'http';
  if (protocol !== 'http' && protocol !== 'https') {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', "protocol must be 'http' or 'https'");
  }
  const undici = await loadUndici(opts.undici);
  const { set } = opts;
  const picker = createPicker(set, opts.picker ?? p2c(), opts.pickerOptions);
  const isFailure = opts.isFailure ?? ((s: number) => s >= 500);
  const clock = opts.clock ?? (() => performance.now());
  const http2 = opts.http2 ?? false;

  class Balanced extends undici.Dispatcher {
    private readonly pools = new Map<string, { address: string; pool: Dispatcher }>();
    private closed = false;
    private counters = { dispatched: 0, completed: 0, failed: 0, noEndpoint: 0, inFlight: 0 };
    private readonly unsubscribe = set.subscribe((change) => {
      if (change.type === 'removed' || (change.type === 'updated' && change.previous.address !== change.endpoint.address)) {
        const entry = this.pools.get(change.endpoint.id);
        if (entry !== undefined) {
          this.pools.delete(change.endpoint.id);
          entry.pool.close().catch(() => undefined);
        }
      }
    });

    private poolFor(id: string, address: string): Dispatcher {
      const entry = this.pools.get(id);
      if (entry !== undefined && entry.address === address) return entry.pool;
      const origin = `${protocol}://${address}`;
      const extra = opts.clientOptions ?? {};
      const pool: Dispatcher =
        http2 && protocol === 'http'
          ? new undici.H2CClient(origin, extra as ConstructorParameters<typeof undici.H2CClient>[1])
          : new undici.Pool(origin, { connections, ...(http2 ? { allowH2: true } : {}), ...extra });
      this.pools.set(id, { address, pool });
      return pool;
    }

    override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      const h = handler as unknown as AnyHandler;
      const newStyle = typeof h.onRequestStart === 'function' || typeof h.onResponseStart === 'function';
      const fail = (err: Error): boolean => {
        if (newStyle) h.onResponseError?.call(handler, stubController(), err);
        else h.onError?.call(handler, err);
        return true;
      };
      if (this.closed) return fail(new BalancerError('BALANCER_CLOSED', 'the balanced dispatcher is closed'));
      const ep = picker.pick();
      if (ep === undefined) {
        this.counters.noEndpoint++;
        return fail(new BalancerError('BALANCER_NO_ENDPOINT', 'no endpoint available', { retryable: true }));
      }
      const id = ep.id;
      const started = clock();
      let status = 0;
      let settled = false;
      this.counters.dispatched++;
      this.counters.inFlight++;
      set.onStart(id);
      const settle = (ok: boolean): void => {
        if (settled) return;
        settled = true;
        this.counters.inFlight--;
        if (ok) this.counters.completed++;
        else this.counters.failed++;
        set.onEnd(id, clock() - started, ok);
      };
      const wrapped: AnyHandler = {};
      for (const m of newStyle ? NEW_STYLE : LEGACY) {
        const fn = h[m];
        if (typeof fn !== 'function') continue;
        wrapped[m] = (...args: unknown[]) => {
          if (m === 'onResponseStart') status = args[1] as number;
          else if (m === 'onHeaders') status = args[0] as number;
          else if (m === 'onResponseEnd' || m === 'onComplete') settle(!isFailure(status));
          else if (m === 'onResponseError' || m === 'onError') settle(false);
          else if (m === 'onUpgrade' || m === 'onRequestUpgrade') settle(true);
          return fn.apply(handler, args);
        };
      }
      for (const m of ['onResponseEnd', 'onComplete', 'onResponseError', 'onError']) {
        if (wrapped[m] === undefined && (newStyle ? NEW_STYLE : LEGACY).includes(m)) {
          wrapped[m] = () => {
            settle(m === 'onResponseEnd' || m === 'onComplete' ? !isFailure(status) : false);
            return undefined;
          };
        }
      }
      try {
        const pool = this.poolFor(id, ep.address);
        return pool.dispatch({ ...options, origin: `${protocol}://${ep.address}` }, wrapped as unknown as Dispatcher.DispatchHandler);
      } catch (err) {
        settle(false);
        return fail(err instanceof Error ? err : new Error(String(err)));
      }
    }

    stats(): BalancedDispatcherStats {
      return { ...this.counters, pools: this.pools.size };
    }

    override close(): Promise<void>;
    override close(callback: () => void): void;
    override close(callback?: () => void): Promise<void> | void {
      const p = this.shutdown((d) => d.close());
      if (callback === undefined) return p;
      p.then(callback, callback);
    }

    override destroy(): Promise<void>;
    override destroy(err: Error | null): Promise<void>;
    override destroy(callback: () => void): void;
    override destroy(err: Error | null, callback: () => void): void;
    override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
      const err = typeof a === 'function' ? null : (a ?? null);
      const cb = typeof a === 'function' ? a : b;
      const p = this.shutdown((d) => d.destroy(err));
      if (cb === undefined) return p;
      p.then(cb, cb);
    }

    private async shutdown(how: (d: Dispatcher) => Promise<void>): Promise<void> {
      if (!this.closed) {
        this.closed = true;
        this.unsubscribe();
        picker.close();
      }
      const pools = [...this.pools.values()];
      this.pools.clear();
      await Promise.all(pools.map((e) => how(e.pool).catch(() => undefined)));
    }

    async [Symbol.asyncDispose](): Promise<void> {
      await this.close();
    }
  }
  return new Balanced() as unknown as BalancedDispatcher;
}

function stubController(): Record<string, unknown> {
  return {
    abort() {},
    pause() {},
    resume() {},
    paused: false,
    aborted: false,
    reason: null,
  };
}
