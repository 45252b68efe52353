const DOT = 46;
const ZERO = 48;

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
  let tokens = 1;
  for (let i = 0; i < reply.length; i++) if (reply.charCodeAt(i) === DOT) tokens++;
  const want = tokens === 9 ? 6 : tokens >= 11 ? 8 : -1;
  if (want < 0) return -1;
  let t = 0;
  let i = 0;
  while (t < want) if (reply.charCodeAt(i++) === DOT) t++;
  let n = 0;
  let digits = 0;
  for (; i < reply.length; i++, digits++) {
    const c = reply.charCodeAt(i);
    if (c === DOT) break;
    const d = c - ZERO;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return digits === 0 ? -1 : n;
}
