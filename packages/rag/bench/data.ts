import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadBeir, type BeirDataset } from '../src/index.js';

/** The Cranfield collection in ../shared/data (relative to the repo root). */
export const CRANFIELD = fileURLToPath(new URL('../../../../shared/data/cranfield', import.meta.url));

export async function cranfield(): Promise<BeirDataset> {
  if (!existsSync(CRANFIELD)) throw new Error(`the Cranfield dataset is missing at ${CRANFIELD}`);
  return loadBeir(CRANFIELD, 'all');
}

/** Heap bytes in use after a full GC (needs --expose-gc; otherwise without GC). */
export function heapUsed(): number {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g !== undefined) {
    g();
    g();
  }
  return process.memoryUsage().heapUsed;
}
