import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli-main.js';
import { askCommand } from '../src/commands/ask.js';
import { indexCommand } from '../src/commands/index.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function io(): { out: string[]; err: string[]; io: { out: (l: string) => void; err: (t: string) => void; tty: boolean } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l) => out.push(l), err: (t) => err.push(t), tty: false } };
}

describe('rag index / rag ask', () => {
  it('indexes a folder of Markdown/HTML with progress and answers with cited sources', async () => {
    const root = await mkdtemp(join(tmpdir(), 'rag-cli-'));
    dirs.push(root);
    const docs = join(root, 'docs');
    await mkdir(join(docs, 'sub'), { recursive: true });
    await writeFile(join(docs, 'wings.md'), '# Wings\n\n## Flaps\n\nFlaps increase lift at low speed.\n');
    await writeFile(join(docs, 'sub', 'heat.html'), '<h1>Heating</h1><p>Ablation protects reentry vehicles.</p>');
    await writeFile(join(docs, 'ignored.bin'), 'x');
    const commands = { index: indexCommand, ask: askCommand };
    const a = io();
    expect(await runCli(commands, ['index', docs, '--out', join(root, 'idx'), '--embedder', 'none'], a.io)).toBe(0);
    expect(a.err.join('')).toContain('indexing 2/2 files, 2 passages');
    expect(a.out[0]).toContain('indexed 2 files into 2 passages');

    const b = io();
    expect(await runCli(commands, ['ask', '--index', join(root, 'idx'), 'what protects reentry vehicles?'], b.io)).toBe(0);
    expect(b.out[0]).toBe('Ablation protects reentry vehicles. [1]');
    expect(b.out).toContain('[1] sub/heat.html — Heating (chars 19-54)');

    const c = io();
    expect(await runCli(commands, ['ask', '--index', join(root, 'idx'), '--json', 'flaps lift'], c.io)).toBe(0);
    const json = JSON.parse(c.out[0] ?? '{}') as { sentences: { citations: number[] }[]; sources: { docId: string }[] };
    expect(json.sentences[0]?.citations).toEqual([1]);
    expect(json.sources[0]?.docId).toBe('wings.md');

    const d = io();
    expect(await runCli(commands, ['ask', '--index', root, 'x'], d.io)).toBe(1);
    expect(d.err.join('')).toContain('RAG_NOT_FOUND');
    expect(await runCli(commands, ['ask', '--index', root], io().io)).toBe(2);
    expect(await runCli(commands, ['index', docs], io().io)).toBe(2);
  }, 60_000);
});
