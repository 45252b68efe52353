import type { Row } from '../cdc/change-event.js';
import { compareVersions, type ReplicaStore, type ReplicaVersion, type ReplicaWrite } from './replica.js';

interface Entry {
  row: Row | null;
  version: ReplicaVersion;
}

/**
 * An in-memory {@link ReplicaStore}: the reference implementation of the store contract, for tests and for
 * replicas that can be rebuilt from a snapshot at start.
 *
 * @example
 * ```ts
 * import { createMemoryReplicaStore } from '@dataplane/outbox';
 *
 * const store = createMemoryReplicaStore();
 * await store.init();
 * ```
 * @since 0.1.0
 */
export function createMemoryReplicaStore(): ReplicaStore {
  const rows = new Map<string, Entry>();
  let truncatedAt: ReplicaVersion | undefined;
  let position: ReplicaVersion | undefined;
  const bump = (v: ReplicaVersion) => {
    if (!position || compareVersions(v, position) > 0) position = v;
  };
  return {
    async init() {},
    async apply(writes: readonly ReplicaWrite[], truncate?: ReplicaVersion) {
      if (truncate && (!truncatedAt || compareVersions(truncate, truncatedAt) > 0)) {
        truncatedAt = truncate;
        for (const [k, e] of rows) if (compareVersions(e.version, truncate) <= 0) rows.set(k, { row: null, version: truncate });
        bump(truncate);
      }
      for (const w of writes) {
        if (truncatedAt && compareVersions(w.version, truncatedAt) <= 0) continue;
        const cur = rows.get(w.key);
        if (!cur || compareVersions(w.version, cur.version) > 0) rows.set(w.key, { row: w.row, version: w.version });
        bump(w.version);
      }
    },
    async get(key) {
      return rows.get(key)?.row ?? undefined;
    },
    async all() {
      return [...rows.values()].flatMap((e) => (e.row ? [e.row] : []));
    },
    async count() {
      let n = 0;
      for (const e of rows.values()) if (e.row) n++;
      return n;
    },
    async position() {
      return position;
    },
  };
}
