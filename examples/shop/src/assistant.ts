/**
 * The operator assistant: @dataplane/rag indexes the project's guides, package READMEs and the shop's runbooks,
 * split into sections under their headings, and answers with sentences taken from the retrieved sections only,
 * each carrying a citation to its source.
 */
import { readFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createGloveEmbedder, createRetriever, type Retriever } from '@dataplane/rag';

export interface Answer {
  sentences: { text: string; citations: number[] }[];
  sources: { title: string; path: string }[];
}

export interface Assistant {
  ask(question: string): Promise<Answer>;
  readonly documents: number;
  close(): Promise<void>;
}

interface Section {
  id: string;
  title: string;
  path: string;
  text: string;
}

/** Splits Markdown into sections under `#`/`##`/`###` headings, dropping code blocks. */
function sections(path: string, markdown: string): Section[] {
  const out: Section[] = [];
  const doc = markdown.replace(/```[\s\S]*?```/g, '').replace(/^---[\s\S]*?---\n/, '');
  let heading: string[] = [];
  let body: string[] = [];
  const push = () => {
    const text = body.join(' ').replace(/\s+/g, ' ').trim();
    if (text.length > 40) out.push({ id: `${path}#${out.length}`, title: heading.join(' › ') || path, path, text });
    body = [];
  };
  for (const line of doc.split('\n')) {
    const m = /^(#{1,3})\s+(.*)$/.exec(line);
    if (m) {
      push();
      heading = [...heading.slice(0, m[1]!.length - 1), m[2]!.trim()];
    } else if (!line.startsWith('|') && line.trim().length > 0) body.push(line.replace(/^[-*]\s+|^\d+\.\s+/, '').replace(/\*\*|`/g, ''));
  }
  push();
  return out;
}

async function markdownFiles(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const names = await readdir(dir);
  return names.filter((n) => n.endsWith('.md')).map((n) => join(dir, n));
}

const STOP = new Set('the a an of to in and or is are be how do does what why when which i my we our it this that for on with can'.split(' '));
const terms = (s: string) => s.toLowerCase().match(/[a-z0-9_]+/g)?.filter((t) => !STOP.has(t) && t.length > 2) ?? [];

export async function createAssistant(repoRoot: string, runbooks: string): Promise<Assistant> {
  const files = [
    ...(await markdownFiles(runbooks)),
    ...(await markdownFiles(join(repoRoot, 'docs/guides'))),
    ...['lsm', 'balancer', 'rag', 'outbox'].map((p) => join(repoRoot, 'packages', p, 'README.md')).filter((p) => existsSync(p)),
  ];
  const all: Section[] = [];
  for (const f of files) all.push(...sections(relative(repoRoot, f), await readFile(f, 'utf8')));
  let embedder;
  try {
    embedder = await createGloveEmbedder();
  } catch {
    embedder = undefined; // the model is built with the package; BM25 alone still answers
  }
  const retriever: Retriever = createRetriever({ fields: { title: { boost: 2 }, text: {} }, embedder });
  await retriever.add(all.map((s) => ({ id: s.id, fields: { title: s.title, text: s.text } })));
  const byId = new Map(all.map((s) => [s.id, s]));

  return {
    documents: all.length,
    async ask(question) {
      const hits = await retriever.search(question, { k: 4, mode: embedder ? 'hybrid' : 'bm25' });
      const q = new Set(terms(question));
      const sources: Answer['sources'] = [];
      const candidates: { text: string; source: number; score: number; order: number }[] = [];
      for (const h of hits) {
        const s = byId.get(h.id);
        if (!s) continue;
        sources.push({ title: `${s.path} — ${s.title}`, path: s.path });
        const sentences = s.text.match(/[^.!?]+[.!?]+/g) ?? [s.text];
        sentences.forEach((text, i) => {
          const overlap = terms(text).filter((t) => q.has(t)).length;
          if (overlap > 0) candidates.push({ text: text.trim(), source: sources.length, score: overlap + h.score / 100 - i * 0.01, order: candidates.length });
        });
      }
      const picked = candidates.sort((a, b) => b.score - a.score).slice(0, 3).sort((a, b) => a.source - b.source || a.order - b.order);
      return { sentences: picked.map((c) => ({ text: c.text, citations: [c.source] })), sources };
    },
    async close() {
      await retriever.close();
    },
  };
}
