import { RagError } from '../errors.js';
import type { Embedder } from '../retrieval-types.js';

/** One part of {@link blendEmbedders}: an embedder and its share of the cosine. */
export interface BlendPart {
  embedder: Embedder;
  /** Relative weight (> 0); weights are normalised to sum to 1. */
  weight: number;
}

/**
 * Concatenates the (L2-normalised) vectors of several embedders, each scaled by the square root of its
 * normalised weight, so the cosine of two blended vectors is the weighted sum of the parts' cosines.
 *
 * @remarks
 * The blend is renormalised, so when a part embeds a text to the zero vector (no known word) the other
 * parts carry the whole cosine for that text. Parts run concurrently; the id lists the parts and weights,
 * so an index built with one blend refuses to reload with another.
 *
 * @param parts - at least one embedder with a positive weight.
 * @returns an {@link Embedder} of dimension the sum of the parts' dimensions.
 * @throws RagError `RAG_INVALID_ARGUMENT` when there is no part or a weight is not positive.
 * @example
 * ```ts
 * import { blendEmbedders, createGloveEmbedder, createLsaEmbedder } from '@dataplane/rag';
 *
 * const corpus = ['supersonic flow over a swept wing', 'heat transfer in a boundary layer'];
 * const embedder = blendEmbedders([
 *   { embedder: await createLsaEmbedder({ corpus }), weight: 0.8 },
 *   { embedder: await createGloveEmbedder(), weight: 0.2 },
 * ]);
 * ```
 * @since 0.2.0
 */
export function blendEmbedders(parts: readonly BlendPart[]): Embedder {
  if (!Array.isArray(parts) || parts.length === 0) throw new RagError('RAG_INVALID_ARGUMENT', 'blendEmbedders needs at least one part');
  for (const p of parts) {
    if (!(p.weight > 0) || !Number.isFinite(p.weight)) throw new RagError('RAG_INVALID_ARGUMENT', `blend weights must be positive, got ${String(p.weight)}`);
  }
  const total = parts.reduce((s, p) => s + p.weight, 0);
  const scales = parts.map((p) => Math.sqrt(p.weight / total));
  const dimensions = parts.reduce((s, p) => s + p.embedder.dimensions, 0);
  const id = `blend(${parts.map((p) => `${p.embedder.id}*${Number((p.weight / total).toFixed(4))}`).join('+')})`;
  return {
    id,
    dimensions,
    async embed(texts, opts = {}) {
      const outs = await Promise.all(parts.map((p) => p.embedder.embed(texts, opts)));
      return texts.map((_, i) => {
        const v = new Float32Array(dimensions);
        let o = 0;
        parts.forEach((p, j) => {
          const part = outs[j]?.[i];
          if (part === undefined || part.length !== p.embedder.dimensions) {
            throw new RagError('RAG_INVALID_ARGUMENT', `embedder ${p.embedder.id} returned a bad vector for text ${i}`);
          }
          const s = scales[j] as number;
          for (let c = 0; c < part.length; c++) v[o + c] = (part[c] as number) * s;
          o += part.length;
        });
        let norm = 0;
        for (let c = 0; c < dimensions; c++) norm += (v[c] as number) ** 2;
        if (norm > 0) {
          const inv = 1 / Math.sqrt(norm);
          for (let c = 0; c < dimensions; c++) v[c] = (v[c] as number) * inv;
        }
        return v;
      });
    },
  };
}
