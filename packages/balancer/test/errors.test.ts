import { describe, expect, it } from 'vitest';
import { BalancerError } from '@dataplane/balancer';

describe('BalancerError', () => {
  it('carries a code, a prefixed message and a cause', () => {
    const cause = new Error('root');
    const err = new BalancerError('BALANCER_INVALID_ARGUMENT', 'bad input', { cause });
    expect(err.code).toBe('BALANCER_INVALID_ARGUMENT');
    expect(err.message).toBe('[@dataplane/balancer] bad input');
    expect(err.cause).toBe(cause);
    expect(err.name).toBe('BalancerError');
    expect(err.retryable).toBe(false);
  });

  it('is recognised by brand, also across copies, and by code', () => {
    const err = new BalancerError('BALANCER_NO_ENDPOINT', 'x', { retryable: true });
    expect(BalancerError.is(err)).toBe(true);
    expect(BalancerError.is(err, 'BALANCER_NO_ENDPOINT')).toBe(true);
    expect(BalancerError.is(err, 'BALANCER_INVALID_ARGUMENT')).toBe(false);
    // a structurally identical object from another copy of the package carries the same global brand
    const foreign = Object.assign(new Error('x'), { [Symbol.for('dataplane.balancer.error')]: true, code: 'BALANCER_NO_ENDPOINT' });
    expect(BalancerError.is(foreign)).toBe(true);
    expect(BalancerError.is(new Error('plain'))).toBe(false);
    expect(BalancerError.is(null)).toBe(false);
    expect(err.retryable).toBe(true);
  });
});
