import { BalancerError } from '../errors.js';
import { connectionFromKubeconfig } from '../k8s/kubeconfig.js';
import type { CliCommand } from '../sim/cli-simulate.js';
import { startControlPlane } from './control-plane.js';

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new BalancerError('BALANCER_INVALID_ARGUMENT', `${name} needs a value`);
  return v;
}

function port(args: readonly string[], name: string, dflt: number): number {
  const raw = flag(args, name);
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new BalancerError('BALANCER_INVALID_ARGUMENT', `${name} must be a port number, got ${raw}`);
  return n;
}

/**
 * `control-plane`: watches Kubernetes and serves xDS until SIGTERM/SIGINT, then closes cleanly (exit 0).
 * Prints one JSON line `{"event":"listening","xdsPort":N,"httpPort":N}` once both servers listen.
 */
export const controlPlaneCommand: CliCommand = {
  summary: 'watch Services/EndpointSlices and serve them over xDS (ADS), with /healthz and /metrics',
  usage:
    'control-plane (--kubeconfig <file> | --in-cluster) [--namespace ns] [--label-selector sel] [--xds-host 0.0.0.0] [--xds-port 18000] [--http-host 0.0.0.0] [--http-port 9090]',
  async run(args, io) {
    const kubeconfig = flag(args, '--kubeconfig');
    if (kubeconfig === undefined && !args.includes('--in-cluster'))
      throw new BalancerError('BALANCER_INVALID_ARGUMENT', 'pass --kubeconfig <file> or --in-cluster');
    const connection = await connectionFromKubeconfig(kubeconfig);
    const cp = await startControlPlane({
      connection,
      namespace: flag(args, '--namespace'),
      labelSelector: flag(args, '--label-selector'),
      xdsHost: flag(args, '--xds-host'),
      xdsPort: port(args, '--xds-port', 18000),
      httpHost: flag(args, '--http-host'),
      httpPort: port(args, '--http-port', 9090),
      log: (line) => io.err(line + '\n'),
    });
    io.out(JSON.stringify({ event: 'listening', xdsPort: cp.xdsPort, httpPort: cp.httpPort }) + '\n');
    const signal = await new Promise<string>((resolve) => {
      const on = (s: string) => () => resolve(s);
      process.once('SIGTERM', on('SIGTERM'));
      process.once('SIGINT', on('SIGINT'));
    });
    await cp.close();
    io.out(JSON.stringify({ event: 'stopped', signal }) + '\n');
    return 0;
  },
};
