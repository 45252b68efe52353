/**
 * Worker-thread entry of one shard (a build entry of its own, not a public subpath). It owns a
 * {@link ShardHost} and answers the main thread's messages in order.
 *
 * @internal
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LsmError } from '../errors.js';
import { ShardHost, type ShardHostOptions } from '../shards/shard-host.js';
import { handleShardMessage, type ShardRequest } from '../shards/protocol.js';

const port = parentPort;
if (port === null) throw new LsmError('LSM_INVALID_ARGUMENT', 'shard-worker must run in a worker thread');
const opened = ShardHost.open(workerData as ShardHostOptions);
// An open failure is answered to each request below; do not let it crash the worker as unhandled.
opened.catch(() => undefined);
port.on('message', (msg: ShardRequest) => {
  void opened.then(
    (host) => handleShardMessage(host, msg, (res, transfer) => port.postMessage(res, transfer)),
    (err: unknown) => port.postMessage({ id: msg.id, ok: false, error: serialiseError(err) }),
  );
});

function serialiseError(err: unknown) {
  return LsmError.is(err)
    ? { code: err.code, message: err.message, retryable: err.retryable, retryAfterMs: err.retryAfterMs }
    : { code: 'LSM_IO', message: String((err as Error)?.message ?? err), retryable: false, retryAfterMs: undefined };
}
