import { BalancerError } from '../errors.js';
import type { K8sConnection } from './types.js';

interface KubeConfigLike {
  loadFromFile(file: string): void;
  loadFromCluster(): void;
  getCurrentCluster(): { server: string; skipTLSVerify?: boolean } | null;
  applyToHTTPSOptions(opts: Record<string, unknown>): Promise<void>;
}

/**
 * Reads a kubeconfig file (or the in-cluster service account when `file` is undefined) with
 * `@kubernetes/client-node` and returns a {@link K8sConnection}: server URL, bearer token or client
 * certificate, CA and TLS verification of the current context.
 *
 * @param file - Path of the kubeconfig; undefined means in-cluster configuration.
 * @returns The connection.
 * @throws BalancerError `BALANCER_DRIVER_MISSING` without `@kubernetes/client-node`; `BALANCER_INVALID_ARGUMENT`
 * when the file cannot be read or has no current cluster.
 * @example
 * ```ts
 * import { connectionFromKubeconfig, createK8sWatcher } from '@dataplane/balancer/k8s';
 *
 * const connection = await connectionFromKubeconfig(process.env.KUBECONFIG);
 * const watcher = createK8sWatcher({ connection, namespace: 'default' });
 * ```
 * @since 0.1.0
 */
export async function connectionFromKubeconfig(file: string | undefined): Promise<K8sConnection> {
  let mod: { KubeConfig: new () => KubeConfigLike };
  try {
    mod = (await import('@kubernetes/client-node')) as unknown as typeof mod;
  } catch (err) {
    throw new BalancerError('BALANCER_DRIVER_MISSING', 'reading a kubeconfig needs @kubernetes/client-node: npm install @kubernetes/client-node@^1.4', {
      cause: err,
    });
  }
  const kc = new mod.KubeConfig();
  try {
    if (file === undefined) kc.loadFromCluster();
    else kc.loadFromFile(file);
  } catch (err) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', `cannot read kubeconfig ${file ?? '(in-cluster)'}`, { cause: err });
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) throw new BalancerError('BALANCER_INVALID_ARGUMENT', `kubeconfig ${file ?? '(in-cluster)'} has no current cluster`);
  const opts: Record<string, unknown> = {};
  try {
    await kc.applyToHTTPSOptions(opts);
  } catch (err) {
    throw new BalancerError('BALANCER_INVALID_ARGUMENT', `cannot apply kubeconfig ${file ?? '(in-cluster)'}: ${String(err)}`, { cause: err });
  }
  const agentOpts = ((opts.agent as { options?: Record<string, unknown> } | undefined)?.options ?? opts) as Record<string, unknown>;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries((opts.headers as Record<string, unknown> | undefined) ?? {})) if (typeof v === 'string') headers[k] = v;
  const conn: K8sConnection = { server: cluster.server, headers, rejectUnauthorized: !cluster.skipTLSVerify };
  if (agentOpts.ca) conn.ca = agentOpts.ca as string;
  if (agentOpts.cert) conn.cert = agentOpts.cert as string;
  if (agentOpts.key) conn.key = agentOpts.key as string;
  return conn;
}
