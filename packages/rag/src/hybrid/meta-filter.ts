import { RagError } from '../errors.js';
import type { MetaFilter, MetaValue, SearchOptions } from '../retrieval-types.js';

type Pred = (meta: Readonly<Record<string, MetaValue>>, id: string) => boolean;

/**
 * Compiles a {@link SearchOptions.filter} (predicate or declarative {@link MetaFilter}) to a predicate.
 *
 * @throws RagError `RAG_INVALID_ARGUMENT` on a malformed filter.
 * @internal
 */
export function compileFilter(filter: SearchOptions['filter']): Pred | undefined {
  if (filter === undefined) return undefined;
  if (typeof filter === 'function') return filter;
  if (typeof filter !== 'object' || filter === null) throw new RagError('RAG_INVALID_ARGUMENT', 'filter must be a function or an object');
  const checks: Pred[] = [];
  for (const [key, cond] of Object.entries(filter as MetaFilter)) {
    if (Array.isArray(cond)) {
      const set = new Set<MetaValue>(cond);
      checks.push((m) => set.has(m[key] as MetaValue));
    } else if (typeof cond === 'object' && cond !== null) {
      const r = cond as { gte?: number; lte?: number; gt?: number; lt?: number };
      for (const b of Object.keys(r)) {
        if (!['gte', 'lte', 'gt', 'lt'].includes(b)) throw new RagError('RAG_INVALID_ARGUMENT', `unknown range bound "${b}" in filter.${key}`);
      }
      checks.push((m) => {
        const v = m[key];
        if (typeof v !== 'number') return false;
        return (
          (r.gte === undefined || v >= r.gte) &&
          (r.lte === undefined || v <= r.lte) &&
          (r.gt === undefined || v > r.gt) &&
          (r.lt === undefined || v < r.lt)
        );
      });
    } else if (typeof cond === 'string' || typeof cond === 'number' || typeof cond === 'boolean') {
      checks.push((m) => m[key] === cond);
    } else {
      throw new RagError('RAG_INVALID_ARGUMENT', `invalid filter value for "${key}"`);
    }
  }
  return (meta, id) => checks.every((c) => c(meta, id));
}
