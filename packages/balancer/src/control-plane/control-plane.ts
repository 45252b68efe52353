import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BalancerError } from '../errors.js';
import { createK8sWatcher, type K8sWatcher } from '../k8s/watcher.js';
import type { K8sConnection } from '../k8s/types.js';
import { createXdsServer, type XdsServer } from '../xds/server.js';
import { renderMetrics } from './metrics.js';

/** Options of {@link startControlPlane}. */
export interface ControlPlaneOptions {
  connection: K8sConnection;
  /** @defaultValue all namespaces */
  namespace?: string | undefined;
  /** @defaultValue none */
  labelSelector?: string | undefined;
  /** @defaultValue '0.0.0.0' */
  xdsHost?: string | undefined;
  /** @defaultValue 18000 */
  xdsPort?: number | undefined;
  /** @defaultValue '0.0.0.0' */
  httpHost?: string | undefined;
  /** @defaultValue 9090 */
  httpPort?: number | undefined;
  /** Called with log lines (JSON). @defaultValue none */
  log?: ((line: string) => void) | undefined;
}

/** A running control plane. */
export interface ControlPlane extends AsyncDisposable {
  readonly xds: XdsServer;
  readonly watcher: K8sWatcher;
  readonly xdsPort: number;
  readonly httpPort: number;
  close(): Promise<void>;
}

/**
 * Starts the control plane: the Kubernetes watcher feeding the xDS server, and an HTTP server with
 * `/healthz` (200 once synced and serving, else 503) and `/metrics` (Prometheus text).
 *
 * @throws BalancerError `BALANCER_WATCH_FAILED` when a port cannot be bound.
 */
export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const log = opts.log ?? (() => undefined);
  const xds = createXdsServer({
    host: opts.xdsHost ?? '0.0.0.0',
    port: opts.xdsPort ?? 18000,
    onNack: (n) => log(JSON.stringify({ event: 'nack', ...n })),
    onInvalid: (i) => log(JSON.stringify({ event: 'invalid-resource', ...i })),
  });
  const watcher = createK8sWatcher({
    connection: opts.connection,
    namespace: opts.namespace,
    labelSelector: opts.labelSelector,
    onTopology: (t) => xds.setTopology(t),
    onError: (e) => log(JSON.stringify({ event: 'watch-error', message: e.message })),
  });
  const httpServer = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' || path === '/readyz') {
      const ok = watcher.stats().synced && xds.stats().started;
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ok' : 'starting' }));
    } else if (path === '/metrics') {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end(renderMetrics(xds.stats(), watcher.stats(), watcher.topology));
    } else res.writeHead(404).end();
  });
  const xdsPort = await xds.start();
  const httpPort = await new Promise<number>((resolve, reject) => {
    httpServer.once('error', (err) => reject(new BalancerError('BALANCER_WATCH_FAILED', `cannot listen for HTTP on port ${opts.httpPort ?? 9090}`, { cause: err })));
    httpServer.listen(opts.httpPort ?? 9090, opts.httpHost ?? '0.0.0.0', () => resolve((httpServer.address() as AddressInfo).port));
  }).catch(async (err: unknown) => {
    await xds.close();
    throw err;
  });
  void watcher.start().catch(() => undefined); // /healthz reports the sync
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await watcher.close();
      await xds.close();
      httpServer.closeAllConnections();
      await new Promise<void>((r) => httpServer.close(() => r()));
    })());
  return { xds, watcher, xdsPort, httpPort, close, [Symbol.asyncDispose]: close };
}
