import { describe, expect, it } from 'vitest';
import { classifyQuery, createRouter } from '@dataplane/rag';

const models = [
  { name: 'large', cost: 10, maxComplexity: 3 as const },
  { name: 'small', cost: 1, maxComplexity: 1 as const },
  { name: 'medium', cost: 3, maxComplexity: 2 as const },
];

describe('query classification and routing', () => {
  it('classifies intent and complexity by rules, with reasons', () => {
    expect(classifyQuery('what is a boundary layer')).toMatchObject({ intent: 'definition', complexity: 1 });
    expect(classifyQuery('why does the boundary layer separate')).toMatchObject({ intent: 'explanatory', complexity: 2 });
    expect(classifyQuery('compare swept wings versus delta wings')).toMatchObject({ intent: 'comparison', complexity: 3 });
    expect(classifyQuery('how to compute heat transfer')).toMatchObject({ intent: 'procedural' });
    expect(classifyQuery('thanks')).toMatchObject({ intent: 'conversational', complexity: 1 });
    expect(classifyQuery('pressure distribution on cones').reasons.length).toBeGreaterThan(1);
  });

  it('picks the cheapest model serving the query and explains it', async () => {
    const router = createRouter({ models });
    expect((await router.route('what is lift')).model).toBe('small');
    expect((await router.route('why does the boundary layer separate')).model).toBe('medium');
    const d = await router.route('compare swept wings versus delta wings');
    expect(d.model).toBe('large');
    expect(d.explanation).toContain('cheapest');
    const only = createRouter({ models: [{ name: 'tiny', cost: 1, maxComplexity: 1 }] });
    expect((await only.route('compare a and b')).explanation).toContain('most capable');
    const restricted = createRouter({ models: [{ name: 'defs', cost: 1, maxComplexity: 3, intents: ['definition'] }, { name: 'general', cost: 2, maxComplexity: 3 }] });
    expect((await restricted.route('what is lift')).model).toBe('defs');
    expect((await restricted.route('lift of cones')).model).toBe('general');
  });

  it('lets a model hook override the rules, and validates models', async () => {
    const router = createRouter({ models, classifier: (_q, rules) => Promise.resolve({ ...rules, complexity: 3 }) });
    const d = await router.route('what is lift');
    expect(d.model).toBe('large');
    expect(d.classification.reasons).toContain('classified by model hook');
    expect(() => createRouter({ models: [] })).toThrow(expect.objectContaining({ code: 'RAG_INVALID_ARGUMENT' }));
    expect(() => createRouter({ models: [{ name: 'x', cost: Number.NaN, maxComplexity: 1 }] })).toThrow(expect.objectContaining({ code: 'RAG_INVALID_ARGUMENT' }));
  });
});
