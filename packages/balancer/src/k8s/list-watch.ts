import * as http from 'node:http';
import * as https from 'node:https';
import { BalancerError } from '../errors.js';
import type { K8sConnection, K8sObjectMeta, K8sWatchEvent } from './types.js';

/** Options of one list+watch loop (internal; see the watcher's options for the documented defaults). */
export interface ListWatchOptions<T> {
  connection: K8sConnection;
  /** Collection path, e.g. `/apis/discovery.k8s.io/v1/endpointslices`. */
  path: string;
  labelSelector?: string | undefined;
  pageSize: number;
  watchTimeoutSeconds: number;
  idleTimeoutMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  random: () => number;
  /** The full state after a (re-)list. */
  onReset(items: T[]): void;
  /** One watch event (ADDED, MODIFIED or DELETED). */
  onEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T): void;
  onError?: ((err: BalancerError) => void) | undefined;
}

/** Counters of one loop. */
export interface ListWatchStats {
  lists: number;
  watches: number;
  events: number;
  bookmarks: number;
  gone: number;
  reconnects: number;
  watchdogRestarts: number;
  errors: number;
  resourceVersion: string | undefined;
}

class GoneError extends Error {}

interface Requested {
  status: number;
  res: http.IncomingMessage;
}

/**
 * One list+watch loop over a collection: list (paginated), then watch from the list's resourceVersion with
 * bookmarks; resume from the last seen resourceVersion after a disconnect (jittered exponential backoff);
 * re-list after 410 Gone; restart a watch that stays silent longer than `idleTimeoutMs` (watchdog).
 * resourceVersion values are opaque strings: stored and echoed, never compared.
 */
export class ListWatch<T extends { metadata?: K8sObjectMeta | undefined }> {
  readonly counters: ListWatchStats = {
    lists: 0,
    watches: 0,
    events: 0,
    bookmarks: 0,
    gone: 0,
    reconnects: 0,
    watchdogRestarts: 0,
    errors: 0,
    resourceVersion: undefined,
  };
  #opts: ListWatchOptions<T>;
  #closed = false;
  #current: http.ClientRequest | undefined;
  #sleepTimer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;
  #attempt = 0;
  #loop: Promise<void> | undefined;

  constructor(opts: ListWatchOptions<T>) {
    this.#opts = opts;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#current?.destroy();
    if (this.#sleepTimer) clearTimeout(this.#sleepTimer);
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      try {
        if (this.counters.resourceVersion === undefined) {
          const { items, resourceVersion } = await this.#list();
          this.counters.resourceVersion = resourceVersion;
          this.counters.lists += 1;
          this.#opts.onReset(items);
        }
        await this.#watch(this.counters.resourceVersion);
        this.#attempt = 0; // the server ended the watch normally (timeoutSeconds): resume at once
      } catch (err) {
        if (this.#closed) return;
        if (err instanceof GoneError) {
          this.counters.gone += 1;
          this.counters.resourceVersion = undefined;
          continue;
        }
        this.counters.errors += 1;
        this.counters.reconnects += 1;
        this.#opts.onError?.(
          BalancerError.is(err) ? err : new BalancerError('BALANCER_WATCH_FAILED', `${this.#opts.path}: ${String((err as Error)?.message ?? err)}`, { cause: err, retryable: true }),
        );
        await this.#sleep();
      }
    }
  }

  #sleep(): Promise<void> {
    const cap = Math.min(this.#opts.backoffMaxMs, this.#opts.backoffInitialMs * 2 ** Math.min(this.#attempt, 20));
    this.#attempt += 1;
    const ms = Math.floor(cap / 2 + (this.#opts.random() * cap) / 2);
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#sleepTimer = setTimeout(resolve, ms);
    });
  }

  #url(params: Record<string, string | undefined>): URL {
    const url = new URL(this.#opts.path, this.#opts.connection.server);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
    if (this.#opts.labelSelector) url.searchParams.set('labelSelector', this.#opts.labelSelector);
    return url;
  }

  #request(url: URL): Promise<Requested> {
    const c = this.#opts.connection;
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, {
        method: 'GET',
        headers: { Accept: 'application/json', ...(c.headers ?? {}) },
        ...(url.protocol === 'https:' ? { ca: c.ca, cert: c.cert, key: c.key, rejectUnauthorized: c.rejectUnauthorized ?? true } : {}),
      });
      this.#current = req;
      req.on('response', (res) => resolve({ status: res.statusCode ?? 0, res }));
      req.on('error', reject);
      req.end();
    });
  }

  async #readJson(res: http.IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  }

  async #list(): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const { status, res } = await this.#request(this.#url({ limit: String(this.#opts.pageSize), continue: cont }));
      if (status === 410) {
        res.resume();
        cont = undefined; // the continue token expired: restart the list from the beginning
        items.length = 0;
        continue;
      }
      if (status !== 200) {
        res.resume();
        throw new BalancerError('BALANCER_WATCH_FAILED', `list ${this.#opts.path} answered HTTP ${status}`, { retryable: true });
      }
      const body = (await this.#readJson(res)) as { items?: T[] | null; metadata?: { resourceVersion?: string; continue?: string } };
      if (!body || typeof body !== 'object') throw new BalancerError('BALANCER_WATCH_FAILED', `list ${this.#opts.path}: not an object`);
      for (const item of body.items ?? []) items.push(item);
      resourceVersion = body.metadata?.resourceVersion ?? '';
      cont = body.metadata?.continue || undefined;
    } while (cont !== undefined && !this.#closed);
    if (resourceVersion === '') throw new BalancerError('BALANCER_WATCH_FAILED', `list ${this.#opts.path}: no resourceVersion`);
    return { items, resourceVersion };
  }

  async #watch(resourceVersion: string): Promise<void> {
    const url = this.#url({
      watch: '1',
      resourceVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(this.#opts.watchTimeoutSeconds),
    });
    const { status, res } = await this.#request(url);
    if (status === 410) {
      res.resume();
      throw new GoneError();
    }
    if (status !== 200) {
      res.resume();
      throw new BalancerError('BALANCER_WATCH_FAILED', `watch ${this.#opts.path} answered HTTP ${status}`, { retryable: true });
    }
    this.counters.watches += 1;
    const req = this.#current!;
    let idle: ReturnType<typeof setTimeout> | undefined;
    let idleFired = false;
    const arm = (): void => {
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => {
        idleFired = true;
        this.counters.watchdogRestarts += 1;
        req.destroy();
      }, this.#opts.idleTimeoutMs);
    };
    arm();
    let buf = '';
    try {
      for await (const chunk of res) {
        arm();
        buf += (chunk as Buffer).toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line !== '') this.#onLine(line);
        }
      }
    } catch (err) {
      if (idleFired && !this.#closed) return; // the watchdog cut a silent watch: resume from the last resourceVersion
      throw err;
    } finally {
      if (idle) clearTimeout(idle);
    }
    if (idleFired && !this.#closed) return;
    if (buf.trim() !== '') this.#onLine(buf.trim());
    if (!res.complete && !this.#closed) throw new BalancerError('BALANCER_WATCH_FAILED', `watch ${this.#opts.path} was cut`, { retryable: true });
  }

  #onLine(line: string): void {
    let ev: K8sWatchEvent<T>;
    try {
      ev = JSON.parse(line) as K8sWatchEvent<T>;
    } catch (err) {
      throw new BalancerError('BALANCER_WATCH_FAILED', `watch ${this.#opts.path}: malformed event line`, { cause: err, retryable: true });
    }
    if (!ev || typeof ev !== 'object' || !ev.object || typeof ev.object !== 'object')
      throw new BalancerError('BALANCER_WATCH_FAILED', `watch ${this.#opts.path}: malformed event`, { retryable: true });
    if (ev.type === 'ERROR') {
      if (ev.object.code === 410) throw new GoneError();
      throw new BalancerError('BALANCER_WATCH_FAILED', `watch ${this.#opts.path}: ${ev.object.message ?? ev.object.reason ?? 'error event'}`, {
        retryable: true,
      });
    }
    const rv = ev.object.metadata?.resourceVersion;
    if (ev.type === 'BOOKMARK') {
      this.counters.bookmarks += 1;
      if (rv) this.counters.resourceVersion = rv;
      return;
    }
    if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED' && ev.type !== 'DELETED') return;
    this.counters.events += 1;
    this.#opts.onEvent(ev.type, ev.object);
    if (rv) this.counters.resourceVersion = rv;
  }
}
