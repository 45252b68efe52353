import { LsmError } from '../errors.js';

/**
 * A static assignment of partitions to nodes, round-robin: node `i` owns partitions `p` with
 * `p % nodes === i`.
 *
 * @param nodes - number of nodes.
 * @param partitions - number of partitions.
 * @returns for each node, its partitions.
 * @throws LsmError `LSM_INVALID_ARGUMENT` for non-positive counts.
 * @example
 * ```ts
 * import { assignPartitions } from '@dataplane/lsm';
 *
 * assignPartitions(2, 8); // [[0, 2, 4, 6], [1, 3, 5, 7]]
 * ```
 * @since 0.1.0
 */
export function assignPartitions(nodes: number, partitions: number): number[][] {
  if (!Number.isInteger(nodes) || nodes < 1 || !Number.isInteger(partitions) || partitions < 1) {
    throw new LsmError('LSM_INVALID_ARGUMENT', 'nodes and partitions must be positive integers');
  }
  return Array.from({ length: nodes }, (_, i) => Array.from({ length: partitions }, (_, p) => p).filter((p) => p % nodes === i));
}

/**
 * Checks that an assignment gives every partition `0..partitions-1` to exactly one node.
 *
 * @param assignment - for each node, its partitions.
 * @param partitions - number of partitions.
 * @returns a map partition -> node index.
 * @throws LsmError `LSM_INVALID_ARGUMENT` naming the first partition that is unowned, owned twice or out of range.
 * @example
 * ```ts
 * import { checkAssignment } from '@dataplane/lsm';
 *
 * checkAssignment([[0, 1], [2, 3]], 4).get(2); // 1
 * ```
 * @since 0.1.0
 */
export function checkAssignment(assignment: readonly (readonly number[])[], partitions: number): Map<number, number> {
  const owner = new Map<number, number>();
  assignment.forEach((ps, node) => {
    for (const p of ps) {
      if (!Number.isInteger(p) || p < 0 || p >= partitions) throw new LsmError('LSM_INVALID_ARGUMENT', `node ${node}: partition ${p} is out of range`);
      if (owner.has(p)) throw new LsmError('LSM_INVALID_ARGUMENT', `partition ${p} is owned by nodes ${owner.get(p)} and ${node}`);
      owner.set(p, node);
    }
  });
  for (let p = 0; p < partitions; p++) if (!owner.has(p)) throw new LsmError('LSM_INVALID_ARGUMENT', `partition ${p} has no owner`);
  return owner;
}
