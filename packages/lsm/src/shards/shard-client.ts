import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { LsmError } from '../errors.js';
import { reviveError, type ShardRequest, type ShardResponse } from './protocol.js';
import type { ShardHostOptions } from './shard-host.js';

type Pending = { resolve: (v: unknown) => void; reject: (e: unknown) => void };
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * @internal Starts the shard worker script: the built .js next to the bundle, or, when running from the
 * TypeScript sources (tests), the .ts source through tsx's loader (registered inside the worker first,
 * since `--import tsx` in `execArgv` does not apply to a worker's entry on Node 20).
 */
export function startShardWorker(workerData: unknown): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./workers/shard-worker.js', here), { workerData });
  const entry = new URL('../workers/shard-worker.ts', here).href;
  const tsx = pathToFileURL(createRequire(here).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

/** @internal The main-thread handle of one shard worker: request/response over postMessage. */
export class ShardClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: LsmError | undefined;
  /** Requests sent and not answered yet. */
  inFlight = 0;

  constructor(opts: ShardHostOptions) {
    this.worker = startShardWorker(opts);
    this.worker.on('message', (res: ShardResponse) => {
      const p = this.pending.get(res.id);
      if (!p) return;
      this.pending.delete(res.id);
      this.inFlight--;
      if (res.ok) p.resolve(res.result);
      else p.reject(reviveError(res.error));
    });
    const die = (err: unknown) => {
      this.failure ??= new LsmError('LSM_IO', `shard ${opts.shard} worker stopped: ${String((err as Error)?.message ?? err)}`, { cause: err });
      for (const p of this.pending.values()) p.reject(this.failure);
      this.pending.clear();
      this.inFlight = 0;
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`exit code ${code}`)));
  }

  request<T>(msg: DistributiveOmit<ShardRequest, 'id'>, transfer?: ArrayBuffer[]): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.inFlight++;
      this.worker.postMessage({ ...msg, id }, transfer ?? []);
    });
  }

  async terminate(): Promise<void> {
    this.failure ??= new LsmError('LSM_CLOSED', 'shard closed');
    await this.worker.terminate();
  }
}
