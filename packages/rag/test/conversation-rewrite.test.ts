import { describe, expect, it } from 'vitest';
import { createSession, rewriteFollowUp, type Generator } from '@dataplane/rag';

const session = { id: 's', turns: [{ question: 'how do delta wings behave at supersonic speed', standalone: 'how do delta wings behave at supersonic speed', answer: 'x', sources: [] }] };

describe('follow-up rewriting', () => {
  it('adds the previous topic to follow-ups and leaves standalone questions alone', async () => {
    expect(await rewriteFollowUp('what about their drag?', session)).toBe('what about their drag? delta wings behave supersonic speed');
    expect(await rewriteFollowUp('and at hypersonic speed?', session)).toBe('and at hypersonic speed? delta wings behave supersonic');
    expect(await rewriteFollowUp('heat transfer in laminar boundary layers', session)).toBe('heat transfer in laminar boundary layers');
    expect(await rewriteFollowUp('what about it?', createSession('x'))).toBe('what about it?');
  });

  it('uses a generator when given, and sessions are plain JSON', async () => {
    const gen: Generator = { id: 'g', generate: (r) => Promise.resolve({ text: `delta wing drag\nextra`, model: 'g', usage: { promptTokens: r.question.length, completionTokens: 1, totalTokens: 1 }, finishReason: 'stop' }) };
    expect(await rewriteFollowUp('and its drag?', session, { generator: gen })).toBe('delta wing drag');
    expect(JSON.parse(JSON.stringify(session))).toEqual(session);
    expect(createSession('a')).toEqual({ id: 'a', turns: [] });
  });
});
