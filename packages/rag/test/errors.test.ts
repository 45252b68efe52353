import { describe, expect, it } from 'vitest';
import { RagError } from '@dataplane/rag';

describe('RagError', () => {
  it('carries a code, a prefixed message and a cause', () => {
    const cause = new Error('root');
    const err = new RagError('RAG_INVALID_ARGUMENT', 'bad input', { cause });
    expect(err.code).toBe('RAG_INVALID_ARGUMENT');
    expect(err.message).toBe('[@dataplane/rag] bad input');
    expect(err.cause).toBe(cause);
    expect(err.name).toBe('RagError');
    expect(err.retryable).toBe(false);
  });

  it('is recognised by brand, also across copies, and by code', () => {
    const err = new RagError('RAG_NOT_FOUND', 'x', { retryable: true });
    expect(RagError.is(err)).toBe(true);
    expect(RagError.is(err, 'RAG_NOT_FOUND')).toBe(true);
    expect(RagError.is(err, 'RAG_INVALID_ARGUMENT')).toBe(false);
    // a structurally identical object from another copy of the package carries the same global brand
    const foreign = Object.assign(new Error('x'), { [Symbol.for('dataplane.rag.error')]: true, code: 'RAG_NOT_FOUND' });
    expect(RagError.is(foreign)).toBe(true);
    expect(RagError.is(new Error('plain'))).toBe(false);
    expect(RagError.is(null)).toBe(false);
    expect(err.retryable).toBe(true);
  });
});
