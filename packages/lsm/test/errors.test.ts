import { describe, expect, it } from 'vitest';
import { LsmError } from '@dataplane/lsm';

describe('LsmError', () => {
  it('carries a code, a prefixed message and a cause', () => {
    const cause = new Error('root');
    const err = new LsmError('LSM_INVALID_ARGUMENT', 'bad input', { cause });
    expect(err.code).toBe('LSM_INVALID_ARGUMENT');
    expect(err.message).toBe('[@dataplane/lsm] bad input');
    expect(err.cause).toBe(cause);
    expect(err.name).toBe('LsmError');
    expect(err.retryable).toBe(false);
  });

  it('is recognised by brand, also across copies, and by code', () => {
    const err = new LsmError('LSM_CLOSED', 'x', { retryable: true });
    expect(LsmError.is(err)).toBe(true);
    expect(LsmError.is(err, 'LSM_CLOSED')).toBe(true);
    expect(LsmError.is(err, 'LSM_INVALID_ARGUMENT')).toBe(false);
    // a structurally identical object from another copy of the package carries the same global brand
    const foreign = Object.assign(new Error('x'), { [Symbol.for('dataplane.lsm.error')]: true, code: 'LSM_CLOSED' });
    expect(LsmError.is(foreign)).toBe(true);
    expect(LsmError.is(new Error('plain'))).toBe(false);
    expect(LsmError.is(null)).toBe(false);
    expect(err.retryable).toBe(true);
  });
});
