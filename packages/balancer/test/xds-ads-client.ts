import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const deps = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');

/** An independent ADS test client built with @grpc/proto-loader's own loadSync (not our loader). */
export function adsClient(port: number): { client: grpc.Client; stream: () => RawStream; delta: () => RawStream } {
  const def = protoLoader.loadSync('envoy/service/discovery/v3/ads.proto', {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
    includeDirs: [join(deps, 'envoy-api'), join(deps, 'xds'), join(deps, 'googleapis'), join(deps, 'protoc-gen-validate'), dirname(require.resolve('protobufjs/package.json'))],
  });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const Ctor = pkg.envoy.service.discovery.v3.AggregatedDiscoveryService;
  const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as grpc.Client;
  return {
    client,
    stream: () => new RawStream((client as any).StreamAggregatedResources()),
    delta: () => new RawStream((client as any).DeltaAggregatedResources()),
  };
}

export interface Resp {
  version_info: string;
  system_version_info?: string;
  removed_resources?: string[];
  nonce: string;
  type_url: string;
  resources: any[];
}

/** A duplex ADS stream with a queue of responses. */
export class RawStream {
  readonly responses: Resp[] = [];
  #waiters: (() => void)[] = [];
  constructor(readonly call: grpc.ClientDuplexStream<any, Resp>) {
    call.on('data', (r: Resp) => {
      this.responses.push(r);
      for (const w of this.#waiters.splice(0)) w();
    });
    call.on('error', () => undefined);
  }
  send(req: Record<string, unknown>): void {
    this.call.write(req);
  }
  /** Waits for the n-th response (1-based). */
  async nth(n: number, timeoutMs = 10_000): Promise<Resp> {
    const t0 = Date.now();
    while (this.responses.length < n) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`no response #${n} within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.responses[n - 1]!;
  }
  end(): void {
    this.call.cancel();
  }
}
