import { LsmError } from '../errors.js';
import { checkQuery, mergeResults, type PointQuery, type SeriesResult } from '../shards/query.js';
import { partitionFor, seriesKey } from '../tsdb/series.js';
import { checkAssignment } from './assignment.js';

/** One node as the router sees it: the partitions it owns and how to query it. */
export interface RouterNode {
  partitions: readonly number[];
  query(q: PointQuery, signal?: AbortSignal): Promise<SeriesResult[]>;
}

/** Options of {@link createQueryRouter}. */
export interface QueryRouterOptions {
  /** The nodes; together they must own every partition exactly once. */
  nodes: readonly RouterNode[];
  /** Number of log partitions. */
  partitions: number;
}

/** Options of {@link QueryRouter.query}. */
export interface RouteOptions {
  /**
   * `q.where` is the series' complete tag set: the series is known, so only the node owning its partition
   * is asked. @defaultValue false
   */
  exact?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

/** Sends a query to the nodes that own the series it selects. */
export interface QueryRouter {
  /**
   * Runs a query on the owning node (exact series) or on every node (tag filter), merging the results.
   *
   * @throws LsmError `LSM_INVALID_ARGUMENT` for a bad query; whatever the nodes throw.
   */
  query(q: PointQuery, options?: RouteOptions): Promise<SeriesResult[]>;
  /** The node index owning a series. */
  ownerOf(metric: string, tags?: Readonly<Record<string, string>>): number;
}

/**
 * Creates a query router over nodes with a static partition assignment. Series live in partition
 * `partitionFor(seriesKey(metric, tags), partitions)`, so producers and router agree on placement.
 *
 * @param options - nodes and partition count.
 * @returns the router.
 * @throws LsmError `LSM_INVALID_ARGUMENT` when the assignment is not a partition of `0..partitions-1`.
 * @example
 * ```ts
 * import { createQueryRouter } from '@dataplane/lsm';
 *
 * const router = createQueryRouter({
 *   partitions: 2,
 *   nodes: [
 *     { partitions: [0], query: async () => [] },
 *     { partitions: [1], query: async () => [] },
 *   ],
 * });
 * await router.query({ metric: 'cpu', where: { host: 'a' }, fromMs: 0, toMs: 1 }, { exact: true });
 * ```
 * @since 0.1.0
 */
export function createQueryRouter(options: QueryRouterOptions): QueryRouter {
  const owner = checkAssignment(
    options.nodes.map((n) => n.partitions),
    options.partitions,
  );
  const ownerOf = (metric: string, tags?: Readonly<Record<string, string>>) => owner.get(partitionFor(seriesKey(metric, tags), options.partitions))!;
  return {
    ownerOf,
    async query(q, opts = {}) {
      checkQuery(q);
      if (opts.signal?.aborted) throw new LsmError('LSM_ABORTED', 'query aborted', { cause: opts.signal.reason });
      if (opts.exact) return options.nodes[ownerOf(q.metric, q.where)]!.query(q, opts.signal);
      return mergeResults(await Promise.all(options.nodes.map((n) => n.query(q, opts.signal))));
    },
  };
}
