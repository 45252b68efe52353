import { RagError } from '../errors.js';

/** Query intent. */
export type Intent = 'definition' | 'factual' | 'comparison' | 'procedural' | 'explanatory' | 'list' | 'conversational';

/** Query complexity: 1 simple, 2 moderate, 3 complex. */
export type Complexity = 1 | 2 | 3;

/** Classification of a query, with the rules that fired. */
export interface QueryClass {
  intent: Intent;
  complexity: Complexity;
  reasons: string[];
}

/** A model the router may pick. */
export interface RouteModel {
  /** Model name passed to the generator. */
  name: string;
  /** Relative cost (smaller is cheaper); the cheapest model serving the query wins. */
  cost: number;
  /** Highest complexity the model serves. */
  maxComplexity: Complexity;
  /** Intents it serves. @defaultValue all */
  intents?: readonly Intent[] | undefined;
}

/** The router's decision. */
export interface RouteDecision {
  model: string;
  classification: QueryClass;
  /** Human-readable explanation. */
  explanation: string;
}

/** An optional model-based classifier; its answer overrides the rules when it returns one. */
export type ClassifierHook = (query: string, rules: QueryClass, opts: { signal?: AbortSignal | undefined }) => Promise<QueryClass | undefined>;

const RULES: [Intent, RegExp][] = [
  ['comparison', /\b(compare|comparison|versus|vs\.?|difference between|differ|better than|worse than)\b/i],
  ['procedural', /^\s*(how (do|can|should|to) |steps? |procedure)|\bhow to\b/i],
  ['definition', /^\s*(what is|what are|what's|define|definition of|meaning of)\b/i],
  ['list', /^\s*(list|which|name (the|all))\b|\b(examples of|types of|kinds of)\b/i],
  ['explanatory', /^\s*(why|how does|how do|how is|how are|explain|what causes|what happens)\b/i],
  ['conversational', /^\s*(hi|hello|thanks|thank you|ok|okay)\b/i],
];

/**
 * Classifies a query by rules: intent from its wording; complexity from its length, clauses and intent
 * (comparisons and multi-part questions are complex).
 *
 * @param query - the question.
 * @returns intent, complexity and the reasons.
 * @example
 * ```ts
 * import { classifyQuery } from '@dataplane/rag';
 *
 * classifyQuery('compare swept and delta wings at transonic speed').intent; // 'comparison'
 * ```
 * @since 0.1.0
 */
export function classifyQuery(query: string): QueryClass {
  const reasons: string[] = [];
  let intent: Intent = 'factual';
  for (const [name, re] of RULES) {
    if (re.test(query)) {
      intent = name;
      reasons.push(`intent ${name}: matched ${re.source.slice(0, 40)}`);
      break;
    }
  }
  if (reasons.length === 0) reasons.push('intent factual: no specific pattern');
  const words = query.trim().split(/\s+/).filter((w) => w !== '').length;
  const clauses = (query.match(/\b(and|or|but|while|whereas|if|when)\b|[,;?]/gi) ?? []).length;
  let complexity: Complexity = 1;
  if (words > 12 || clauses >= 2 || intent === 'explanatory' || intent === 'procedural') complexity = 2;
  if (words > 25 || clauses >= 4 || intent === 'comparison') complexity = 3;
  if (intent === 'conversational') complexity = 1;
  reasons.push(`complexity ${complexity}: ${words} words, ${clauses} clause markers, intent ${intent}`);
  return { intent, complexity, reasons };
}

/** Options of {@link createRouter}. */
export interface RouterOptions {
  /** The configured models (at least one). */
  models: readonly RouteModel[];
  /** Optional model-based classifier. */
  classifier?: ClassifierHook | undefined;
}

/** Picks a model per query. */
export interface Router {
  route(query: string, opts?: { signal?: AbortSignal | undefined }): Promise<RouteDecision>;
}

/**
 * A router that picks the cheapest configured model serving the query's intent and complexity (the most
 * capable model when none does), explaining the decision.
 *
 * @param options - models and optional classifier.
 * @returns the router.
 * @throws RagError `RAG_INVALID_ARGUMENT` when no model is configured or a model is invalid.
 * @example
 * ```ts
 * import { createRouter } from '@dataplane/rag';
 *
 * const router = createRouter({ models: [{ name: 'small', cost: 1, maxComplexity: 1 }, { name: 'large', cost: 10, maxComplexity: 3 }] });
 * (await router.route('what is lift')).model; // 'small'
 * ```
 * @since 0.1.0
 */
export function createRouter(options: RouterOptions): Router {
  const models = [...(options.models ?? [])];
  if (models.length === 0) throw new RagError('RAG_INVALID_ARGUMENT', 'router needs at least one model');
  for (const m of models) {
    if (typeof m.name !== 'string' || m.name === '' || !Number.isFinite(m.cost) || ![1, 2, 3].includes(m.maxComplexity)) {
      throw new RagError('RAG_INVALID_ARGUMENT', `invalid route model ${JSON.stringify(m)}`);
    }
  }
  const byCost = models.sort((a, b) => a.cost - b.cost || a.name.localeCompare(b.name));
  return {
    async route(query, opts = {}) {
      const rules = classifyQuery(query);
      let cls = rules;
      if (options.classifier !== undefined) {
        const hooked = await options.classifier(query, rules, opts);
        if (hooked !== undefined) cls = { ...hooked, reasons: [...hooked.reasons, 'classified by model hook'] };
      }
      const fit = byCost.find((m) => m.maxComplexity >= cls.complexity && (m.intents === undefined || m.intents.includes(cls.intent)));
      if (fit !== undefined) {
        return { model: fit.name, classification: cls, explanation: `${fit.name} is the cheapest model (cost ${fit.cost}) serving ${cls.intent} queries of complexity ${cls.complexity}` };
      }
      const strongest = [...byCost].sort((a, b) => b.maxComplexity - a.maxComplexity || b.cost - a.cost)[0] as RouteModel;
      return { model: strongest.name, classification: cls, explanation: `no model serves ${cls.intent} queries of complexity ${cls.complexity}; using the most capable, ${strongest.name}` };
    },
  };
}
