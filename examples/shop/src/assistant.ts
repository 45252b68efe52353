/**
 * The operator assistant: @dataplane/rag's answer pipeline over the project's guides, package READMEs and the
 * shop's runbooks (chunked under their headings), with the offline extractive generator: every answer sentence
 * comes from a retrieved passage, carries its citation, and is checked by the citation verifier.
 */
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { createAnswerPipeline, createExtractiveGenerator, createGloveEmbedder, createRetriever, type AnswerPipeline, type Embedder } from '@dataplane/rag';

export interface Answer {
  sentences: { text: string; citations: number[] }[];
  sources: { title: string; path: string }[];
}

export interface Assistant {
  ask(question: string): Promise<Answer>;
  /** Passages indexed. */
  readonly documents: number;
  close(): Promise<void>;
}

async function markdownFiles(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir)).filter((n) => n.endsWith('.md')).map((n) => join(dir, n));
}

export async function createAssistant(repoRoot: string, runbooks: string): Promise<Assistant> {
  const files = [
    ...(await markdownFiles(runbooks)),
    ...(await markdownFiles(join(repoRoot, 'docs/guides'))),
    ...['lsm', 'balancer', 'rag', 'outbox'].map((p) => join(repoRoot, 'packages', p, 'README.md')).filter((p) => existsSync(p)),
  ];
  let embedder: Embedder | undefined;
  try {
    embedder = await createGloveEmbedder();
  } catch {
    embedder = undefined; // the model file is built with the package; BM25 alone still answers
  }
  const retriever = createRetriever({ fields: { title: { boost: 2 }, text: {} }, embedder });
  const pipeline: AnswerPipeline = createAnswerPipeline({ retriever, generator: createExtractiveGenerator(), embedder, k: 4, unsupported: 'drop' });
  const documents = await pipeline.indexDocuments(
    await Promise.all(files.map(async (f) => ({ id: relative(repoRoot, f), format: 'markdown' as const, text: await readFile(f, 'utf8') }))),
  );
  return {
    documents,
    async ask(question) {
      const res = await pipeline.ask(question);
      return {
        sentences: res.sentences.map((s) => ({ text: s.text, citations: s.citations })),
        sources: res.sources.map((s) => ({ title: `${s.docId} — ${s.title}`, path: s.docId })),
      };
    },
    async close() {
      await retriever.close();
    },
  };
}
