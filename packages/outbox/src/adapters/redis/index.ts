/**
 * Redis Streams transport (ioredis): `@dataplane/outbox/redis`. Pass your own ioredis client; this module does not
 * import ioredis.
 *
 * @packageDocumentation
 */
export { RedisStreamsTransport } from './transport.js';
export type { RedisStreamsTransportOptions, RedisLike } from './transport.js';
