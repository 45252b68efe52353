import { LsmError } from '../errors.js';
import type { Matcher } from './types.js';

/** @internal Postings of one (org, metric): tag key -> tag value -> series slots. */
export type Postings = Map<string, Map<string, Set<number>>>;

function union(sets: Iterable<Set<number>>): Set<number> {
  const out = new Set<number>();
  for (const s of sets) for (const x of s) out.add(x);
  return out;
}

function minus(all: ReadonlySet<number>, s: ReadonlySet<number>): Set<number> {
  const out = new Set<number>();
  for (const x of all) if (!s.has(x)) out.add(x);
  return out;
}

function compile(re: string): RegExp {
  try {
    return new RegExp(`^(?:${re})$`, 'u');
  } catch (err) {
    throw new LsmError('LSM_INVALID_ARGUMENT', `bad regular expression ${JSON.stringify(re)}`, { cause: err });
  }
}

/** @internal Validates a matcher tree at the edge (depth-limited). */
export function checkMatcher(m: unknown, depth = 0): void {
  if (depth > 32) throw new LsmError('LSM_INVALID_ARGUMENT', 'matcher nested too deeply');
  if (typeof m !== 'object' || m === null) throw new LsmError('LSM_INVALID_ARGUMENT', 'matcher must be an object');
  const o = m as Record<string, unknown>;
  if ('and' in o || 'or' in o) {
    const list = o['and'] ?? o['or'];
    if (!Array.isArray(list)) throw new LsmError('LSM_INVALID_ARGUMENT', 'and/or takes an array of matchers');
    for (const x of list) checkMatcher(x, depth + 1);
    return;
  }
  if ('not' in o) return checkMatcher(o['not'], depth + 1);
  if (typeof o['tag'] !== 'string') throw new LsmError('LSM_INVALID_ARGUMENT', 'matcher.tag must be a string');
  const op = o['op'];
  if (op === 'exists' || op === '!exists') return;
  if (op !== '=' && op !== '!=' && op !== '=~' && op !== '!~') throw new LsmError('LSM_INVALID_ARGUMENT', `unknown matcher op ${String(op)}`);
  if (typeof o['value'] !== 'string') throw new LsmError('LSM_INVALID_ARGUMENT', 'matcher.value must be a string');
  if (op === '=~' || op === '!~') compile(o['value']);
}

/**
 * @internal Evaluates a matcher over postings lists. `all` is every series of the metric. Negations
 * (`!=`, `!~`, `not`) are complements within `all`, so a series without the tag matches `tag != x`.
 */
export function evalMatcher(m: Matcher, p: Postings, all: ReadonlySet<number>): Set<number> {
  if ('and' in m) {
    let acc: Set<number> | undefined;
    for (const x of m.and) {
      const s = evalMatcher(x, p, all);
      if (acc === undefined) acc = s;
      else for (const id of acc) if (!s.has(id)) acc.delete(id);
      if (acc.size === 0) break;
    }
    return acc ?? new Set(all);
  }
  if ('or' in m) return union(m.or.map((x) => evalMatcher(x, p, all)));
  if ('not' in m) return minus(all, evalMatcher(m.not, p, all));
  const values = p.get(m.tag);
  switch (m.op) {
    case 'exists':
      return values ? union(values.values()) : new Set();
    case '!exists':
      return minus(all, values ? union(values.values()) : new Set());
    case '=':
      return new Set(values?.get(m.value) ?? []);
    case '!=':
      return minus(all, values?.get(m.value) ?? new Set());
    case '=~':
    case '!~': {
      const re = compile(m.value);
      const hit = new Set<number>();
      if (values) for (const [v, s] of values) if (re.test(v)) for (const x of s) hit.add(x);
      return m.op === '=~' ? hit : minus(all, hit);
    }
  }
}
