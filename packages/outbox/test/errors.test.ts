import { describe, expect, it } from 'vitest';
import { OutboxError } from '@dataplane/outbox';

describe('OutboxError', () => {
  it('carries a code, a prefixed message and a cause', () => {
    const cause = new Error('root');
    const err = new OutboxError('OUTBOX_INVALID_EVENT', 'bad input', { cause });
    expect(err.code).toBe('OUTBOX_INVALID_EVENT');
    expect(err.message).toBe('[@dataplane/outbox] bad input');
    expect(err.cause).toBe(cause);
    expect(err.name).toBe('OutboxError');
    expect(err.retryable).toBe(false);
  });

  it('is recognised by brand, also across copies, and by code', () => {
    const err = new OutboxError('OUTBOX_INVALID_ARGUMENT', 'x', { retryable: true });
    expect(OutboxError.is(err)).toBe(true);
    expect(OutboxError.is(err, 'OUTBOX_INVALID_ARGUMENT')).toBe(true);
    expect(OutboxError.is(err, 'OUTBOX_INVALID_EVENT')).toBe(false);
    // a structurally identical object from another copy of the package carries the same global brand
    const foreign = Object.assign(new Error('x'), { [Symbol.for('dataplane.outbox.error')]: true, code: 'OUTBOX_INVALID_ARGUMENT' });
    expect(OutboxError.is(foreign)).toBe(true);
    expect(OutboxError.is(new Error('plain'))).toBe(false);
    expect(OutboxError.is(null)).toBe(false);
    expect(err.retryable).toBe(true);
  });
});
