import { describe, expect, it } from 'vitest';
import { chunkDocument } from '@dataplane/rag';

describe('chunkDocument formats', () => {
  it('markdown keeps the heading path and skips fenced pseudo-headings', () => {
    const md = '# Guide\n\nIntro text.\n\n## Install\n\nRun it.\n\n```\n# not a heading\n```\n\n## Use\n\nCall it.';
    const ps = chunkDocument(md, { format: 'markdown', docId: 'g' });
    expect(ps.map((p) => p.headingPath)).toEqual([['Guide'], ['Guide', 'Install'], ['Guide', 'Use']]);
    expect(ps[1]?.text).toContain('# not a heading');
  });

  it('html extracts visible text, headings and maps offsets into the source', () => {
    const html = '<html><head><title>x</title><style>p{}</style></head><body><h1>Wings</h1><p>Lift &amp; drag <b>grow</b>.</p><script>evil()</script><h2>Flaps</h2><p>Flaps add lift.</p></body></html>';
    const ps = chunkDocument(html, { format: 'html', docId: 'w' });
    expect(ps.map((p) => p.headingPath)).toEqual([['Wings'], ['Wings', 'Flaps']]);
    expect(ps[0]?.text).toBe('Lift & drag grow.');
    expect(html.slice(ps[0]?.start, ps[0]?.end)).toBe('Lift &amp; drag <b>grow</b>.');
    expect(ps.some((p) => p.text.includes('evil'))).toBe(false);
  });

  it('tolerates malformed html and rejects invalid sizes', () => {
    expect(chunkDocument('<p>open <b>never closed <', { format: 'html' })[0]?.text).toBe('open never closed');
    expect(() => chunkDocument('x', { maxTokens: 0 })).toThrow(expect.objectContaining({ code: 'RAG_INVALID_ARGUMENT' }));
    expect(() => chunkDocument('x', { maxTokens: 5, overlapTokens: 5 })).toThrow(expect.objectContaining({ code: 'RAG_INVALID_ARGUMENT' }));
    expect(chunkDocument('')).toEqual([]);
  });

  it('prefers ending windows at sentence ends', () => {
    const text = 'One two three four five six. Seven eight nine ten.';
    const ps = chunkDocument(text, { maxTokens: 8, overlapTokens: 0 });
    expect(ps[0]?.text).toBe('One two three four five six.');
  });
});
