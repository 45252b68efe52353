/**
 * PostgreSQL (node-postgres) outbox store and inbox: `@dataplane/outbox/pg`. Pass your own `pg.Pool`; this module
 * does not import `pg`.
 *
 * @packageDocumentation
 */
export { PgOutboxStore } from './store.js';
export type { PgOutboxStoreOptions, PgPoolLike, PgQueryable } from './store.js';
export { PgInbox } from './inbox.js';
export type { PgInboxOptions, PgInboxStats } from './inbox.js';
