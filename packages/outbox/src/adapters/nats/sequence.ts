const DOT = 46;
const ZERO = 48;
const DOTS = new Int32Array(12);

/**
 * The consumer (delivery) sequence in a JetStream ack subject, without splitting it: the 7th token of
 * `$JS.ACK.<stream>.<consumer>.<count>.<sseq>.<dseq>.<ts>.<pending>` (9 tokens, servers before 2.9) or the 9th of
 * `$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<count>.<sseq>.<dseq>.<ts>.<pending>[.<random>]` (11 or more).
 *
 * @returns The sequence, or -1 when `reply` is not an ack subject of either shape.
 * @example
 * ```ts
 * deliverySequence('$JS.ACK.S.C.1.42.7.1700000000000000000.0'); // 7
 * ```
 * @internal
 */
export function deliverySequence(reply: string): number {
  if (!reply.startsWith('$JS.ACK.')) return -1;
  // one pass: where the first dots are (a shared scratch array, no allocation)
  let dots = 0;
  for (let i = 8; i < reply.length; i++) {
    if (reply.charCodeAt(i) === DOT) {
      if (dots < DOTS.length) DOTS[dots] = i;
      dots++;
    }
  }
  // tokens after `$JS.ACK.`: 7 (old shape) or 9 and more; the sequence is token 5 or 7 of them (from 1)
  const tokens = dots + 1;
  const want = tokens === 7 ? 4 : tokens >= 9 ? 6 : -1;
  if (want < 0) return -1;
  const from = DOTS[want - 1]! + 1;
  const to = DOTS[want]!;
  if (to === from) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = reply.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}
