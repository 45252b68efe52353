import { LsmError, type LsmErrorCode } from '../errors.js';
import type { PointQuery } from './query.js';
import type { LogPosition, ShardHost } from './shard-host.js';

/** @internal Messages from the main thread to a shard worker. */
export type ShardRequest =
  | { id: number; type: 'write'; buf: ArrayBuffer; pos: LogPosition | undefined }
  | { id: number; type: 'query'; q: PointQuery }
  | { id: number; type: 'flush' }
  | { id: number; type: 'offsets'; durable: boolean }
  | { id: number; type: 'stats' }
  | { id: number; type: 'keys' }
  | { id: number; type: 'close' };

/** @internal A serialised error. */
export interface WireError {
  code: string;
  message: string;
  retryable: boolean;
  retryAfterMs: number | undefined;
}

/** @internal Replies of a shard worker. */
export type ShardResponse = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: WireError };

/** @internal Rebuilds an LsmError from the wire (messages already carry the package prefix). */
export function reviveError(e: WireError): LsmError {
  const err = new LsmError(e.code as LsmErrorCode, e.message.replace(/^\[@dataplane\/lsm\] /, ''), {
    retryable: e.retryable,
    retryAfterMs: e.retryAfterMs,
  });
  return err;
}

/** @internal Runs one request against a shard host and replies (transferring result buffers). */
export function handleShardMessage(host: ShardHost, msg: ShardRequest, reply: (res: ShardResponse, transfer?: ArrayBuffer[]) => void): void {
  const fail = (err: unknown) =>
    reply({
      id: msg.id,
      ok: false,
      error: LsmError.is(err)
        ? { code: err.code, message: err.message, retryable: err.retryable, retryAfterMs: err.retryAfterMs }
        : { code: 'LSM_IO', message: String((err as Error)?.message ?? err), retryable: false, retryAfterMs: undefined },
    });
  try {
    switch (msg.type) {
      case 'write':
        host.write(msg.buf, msg.pos).then((applied) => reply({ id: msg.id, ok: true, result: applied }), fail);
        return;
      case 'query':
        host.query(msg.q).then((rows) => {
          const transfer: ArrayBuffer[] = [];
          for (const r of rows) transfer.push(r.t.buffer as ArrayBuffer, r.v.buffer as ArrayBuffer);
          reply({ id: msg.id, ok: true, result: rows }, transfer);
        }, fail);
        return;
      case 'keys':
        reply({ id: msg.id, ok: true, result: host.keys() });
        return;
      case 'flush':
        host.flush().then(() => reply({ id: msg.id, ok: true, result: undefined }), fail);
        return;
      case 'offsets':
        reply({ id: msg.id, ok: true, result: msg.durable ? host.durableOffsets() : host.offsets() });
        return;
      case 'stats':
        reply({ id: msg.id, ok: true, result: host.stats() });
        return;
      case 'close':
        host.close().then(() => reply({ id: msg.id, ok: true, result: undefined }), fail);
        return;
    }
  } catch (err) {
    fail(err);
  }
}
