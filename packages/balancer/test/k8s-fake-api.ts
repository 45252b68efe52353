/**
 * A local fake of the Kubernetes API server speaking the real list/watch wire protocol for Services and
 * discovery.k8s.io/v1 EndpointSlices: paginated lists (limit/continue) with a list resourceVersion; watches
 * as chunked JSON lines (headers flushed before the first event) that replay history after the requested
 * resourceVersion, send BOOKMARKs when asked, an ERROR 410 event (or an HTTP 410) when the requested version
 * was compacted, and can be cut or held silent.
 */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Kind = 'services' | 'endpointslices';

interface Stored {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  obj: any;
}

interface OpenWatch {
  kind: Kind;
  ns: string | undefined;
  res: http.ServerResponse;
}

export function fixture(name: string): any {
  return JSON.parse(readFileSync(new URL(`./fixtures/k8s/${name}`, import.meta.url), 'utf8'));
}

export class FakeKubeApi {
  server = http.createServer((req, res) => this.#handle(req, res));
  port = 0;
  rv = 4711;
  readonly objects: Record<Kind, Map<string, any>> = { services: new Map(), endpointslices: new Map() };
  readonly history: Record<Kind, Stored[]> = { services: [], endpointslices: [] };
  compactedBelow = 0;
  /** Answer watches below the compaction point with HTTP 410 instead of an ERROR event. */
  goneAsStatus = false;
  /** Accept watches but never write to them (a silent, hung watch). */
  silent = false;
  /** Fail the next N list requests with HTTP 500. */
  failLists = 0;
  /** Write one malformed line on the next watch. */
  garbageOnce = false;
  readonly requests: URL[] = [];
  /** The Authorization header of each request. */
  readonly authorizations: (string | undefined)[] = [];
  readonly watches = new Set<OpenWatch>();

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const w of this.watches) w.res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  upsert(kind: Kind, obj: any): void {
    const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
    const type = this.objects[kind].has(key) ? 'MODIFIED' : 'ADDED';
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    this.objects[kind].set(key, stored);
    this.#emit(kind, { rv: this.rv, type, obj: stored });
  }

  remove(kind: Kind, ns: string, name: string): void {
    const key = `${ns}/${name}`;
    const obj = this.objects[kind].get(key);
    if (!obj) return;
    this.objects[kind].delete(key);
    const gone = structuredClone(obj);
    gone.metadata.resourceVersion = String(++this.rv);
    this.#emit(kind, { rv: this.rv, type: 'DELETED', obj: gone });
  }

  /** Sends a BOOKMARK at the current resourceVersion on every open watch that asked for bookmarks. */
  bookmark(): void {
    for (const w of this.watches) {
      const kindName = w.kind === 'services' ? 'Service' : 'EndpointSlice';
      w.res.write(JSON.stringify({ type: 'BOOKMARK', object: { kind: kindName, metadata: { resourceVersion: String(this.rv) } } }) + '\n');
    }
  }

  /** Cuts every open watch connection. */
  dropWatches(): void {
    for (const w of this.watches) w.res.destroy();
    this.watches.clear();
  }

  /** Forgets history: resuming from any older resourceVersion is now 410 Gone. */
  compact(): void {
    this.compactedBelow = this.rv + 1;
    this.history.services = [];
    this.history.endpointslices = [];
  }

  /** Sends `ERROR 410 Expired` on every open watch and ends it (as an etcd compaction does). */
  expireWatches(): void {
    this.compact();
    for (const w of this.watches) {
      w.res.end(JSON.stringify({ type: 'ERROR', object: gone() }) + '\n');
    }
    this.watches.clear();
  }

  listCount(kind: Kind): number {
    return this.requests.filter((u) => u.pathname.endsWith(kind) && !isWatch(u)).length;
  }

  watchRequests(kind: Kind): URL[] {
    return this.requests.filter((u) => u.pathname.endsWith(kind) && isWatch(u));
  }

  #emit(kind: Kind, ev: Stored): void {
    this.history[kind].push(ev);
    for (const w of this.watches) {
      if (w.kind !== kind || this.silent) continue;
      if (w.ns && ev.obj.metadata.namespace !== w.ns) continue;
      w.res.write(JSON.stringify({ type: ev.type, object: ev.obj }) + '\n');
    }
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push(url);
    this.authorizations.push(req.headers.authorization);
    const m = /^\/(?:api\/v1|apis\/discovery\.k8s\.io\/v1)(?:\/namespaces\/([^/]+))?\/(services|endpointslices)$/.exec(url.pathname);
    if (!m || req.method !== 'GET') {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ kind: 'Status', code: 404 }));
      return;
    }
    const ns = m[1];
    const kind = m[2] as Kind;
    if (isWatch(url)) this.#watch(kind, ns, url, res);
    else this.#list(kind, ns, url, res);
  }

  #list(kind: Kind, ns: string | undefined, url: URL, res: http.ServerResponse): void {
    if (this.failLists > 0) {
      this.failLists -= 1;
      res.writeHead(500, { 'Content-Type': 'application/json' }).end(JSON.stringify({ kind: 'Status', code: 500, message: 'etcdserver: request timed out' }));
      return;
    }
    const all = [...this.objects[kind].values()].filter((o) => !ns || o.metadata.namespace === ns);
    const limit = Number(url.searchParams.get('limit') ?? all.length) || all.length;
    const offset = Number(url.searchParams.get('continue') ?? 0);
    const items = all.slice(offset, offset + limit).map((o) => {
      const { kind: _k, apiVersion: _a, ...rest } = o; // list items carry no kind/apiVersion
      return rest;
    });
    const next = offset + limit < all.length ? String(offset + limit) : undefined;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(
      JSON.stringify({
        kind: kind === 'services' ? 'ServiceList' : 'EndpointSliceList',
        apiVersion: kind === 'services' ? 'v1' : 'discovery.k8s.io/v1',
        metadata: { resourceVersion: String(this.rv), ...(next ? { continue: next } : {}) },
        items,
      }),
    );
  }

  #watch(kind: Kind, ns: string | undefined, url: URL, res: http.ServerResponse): void {
    const from = Number(url.searchParams.get('resourceVersion') ?? 0);
    if (from < this.compactedBelow - 1) {
      if (this.goneAsStatus) {
        res.writeHead(410, { 'Content-Type': 'application/json' }).end(JSON.stringify(gone()));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      res.end(JSON.stringify({ type: 'ERROR', object: gone() }) + '\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const w: OpenWatch = { kind, ns, res };
    this.watches.add(w);
    res.on('close', () => this.watches.delete(w));
    if (this.garbageOnce) {
      this.garbageOnce = false;
      res.write('{"type":"MODIFIED","object":{"metadata":\n');
    }
    if (this.silent) return;
    for (const ev of this.history[kind]) {
      if (ev.rv <= from) continue;
      if (ns && ev.obj.metadata.namespace !== ns) continue;
      res.write(JSON.stringify({ type: ev.type, object: ev.obj }) + '\n');
    }
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    if (timeout > 0) {
      const t = setTimeout(() => res.end(), timeout * 1000);
      res.on('close', () => clearTimeout(t));
    }
  }
}

function gone(): any {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'too old resource version: 1 (4800)', reason: 'Expired', code: 410 };
}

function isWatch(url: URL): boolean {
  const w = url.searchParams.get('watch');
  return w === '1' || w === 'true';
}
