/**
 * Structural views of the drivers the CDC adapter uses (`pg` and `pg-logical-replication`), loaded lazily so
 * that a missing driver is a typed error saying what to install, and so the published types never name them.
 */
import { OutboxError } from '../../errors.js';

/** The subset of a `pg` client the adapter uses. */
export interface PgClientLike {
  connect(): Promise<unknown>;
  query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export interface PgModule {
  Client: new (config: Record<string, unknown>) => PgClientLike;
}

export interface ReplicationServiceLike {
  on(event: 'data', listener: (lsn: string, msg: unknown) => Promise<void> | void): unknown;
  on(event: 'heartbeat', listener: (lsn: string, timestamp: number, shouldRespond: boolean) => Promise<void> | void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'start', listener: () => void): unknown;
  subscribe(plugin: unknown, slot: string, startLsn?: string): Promise<unknown>;
  acknowledge(lsn: string, ping?: boolean): Promise<boolean>;
  stop(): Promise<unknown>;
  destroy(): Promise<unknown>;
  isStop(): boolean;
}

export interface LogicalReplicationModule {
  LogicalReplicationService: new (clientConfig: Record<string, unknown>, config: Record<string, unknown>) => ReplicationServiceLike;
  PgoutputPlugin: new (options: { protoVersion: 1 | 2; publicationNames: string[] }) => unknown;
}

async function load<T>(name: string): Promise<T> {
  try {
    const mod = (await import(name)) as T & { default?: T };
    return (mod.default && typeof mod.default === 'object' ? { ...mod.default, ...mod } : mod) as T;
  } catch (cause) {
    throw new OutboxError('OUTBOX_DRIVER_MISSING', `the CDC adapter needs the optional peer dependency "${name}": npm install ${name}`, { cause });
  }
}

export const loadPg = (): Promise<PgModule> => load<PgModule>('pg');
export const loadLogicalReplication = (): Promise<LogicalReplicationModule> => load<LogicalReplicationModule>('pg-logical-replication');
