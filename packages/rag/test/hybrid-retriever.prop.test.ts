import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRetriever, type Retriever } from '@dataplane/rag';

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 60);
const WORDS = ['lift', 'drag', 'shock', 'wave', 'heat', 'flow', 'wing', 'nose'];

type Model = Map<string, string[]>;
interface Real {
  r: Retriever;
}

const text = fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 6 });
const id = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f');

class Add implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly id: string,
    readonly words: string[],
  ) {}
  check = (): boolean => true;
  async run(m: Model, real: Real): Promise<void> {
    await real.r.add({ id: this.id, fields: { text: this.words.join(' ') } });
    m.set(this.id, this.words);
    expect(real.r.size).toBe(m.size);
  }
  toString = (): string => `add(${this.id}, ${this.words.join(' ')})`;
}

class Delete implements fc.AsyncCommand<Model, Real> {
  constructor(readonly id: string) {}
  check = (): boolean => true;
  async run(m: Model, real: Real): Promise<void> {
    expect(await real.r.delete(this.id)).toBe(m.has(this.id) ? 1 : 0);
    m.delete(this.id);
  }
  toString = (): string => `delete(${this.id})`;
}

class Search implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly word: string,
    readonly excluded: string | undefined,
  ) {}
  check = (): boolean => true;
  async run(m: Model, real: Real): Promise<void> {
    const hits = await real.r.search(this.word, { k: 100, mode: 'bm25', excluded: this.excluded === undefined ? undefined : [this.excluded] });
    const expected = [...m]
      .filter(([, ws]) => ws.includes(this.word) && (this.excluded === undefined || !ws.includes(this.excluded)))
      .map(([i]) => i)
      .sort();
    expect(hits.map((h) => h.id).sort()).toEqual(expected);
    for (let i = 1; i < hits.length; i++) expect((hits[i - 1]?.score ?? 0) >= (hits[i]?.score ?? 0)).toBe(true);
    // the stored document is the latest version
    for (const h of hits) expect(real.r.get(h.id)?.fields.text).toBe(m.get(h.id)?.join(' '));
  }
  toString = (): string => `search(${this.word}${this.excluded === undefined ? '' : ` -${this.excluded}`})`;
}

describe('retriever state machine', () => {
  it('matches a reference model under random adds, replaces, deletes and searches', async () => {
    const commands = fc.commands(
      [
        fc.tuple(id, text).map(([i, t]) => new Add(i, t)),
        id.map((i) => new Delete(i)),
        fc.tuple(fc.constantFrom(...WORDS), fc.option(fc.constantFrom(...WORDS), { nil: undefined })).map(([w, x]) => new Search(w, x)),
      ],
      { maxCommands: 40 },
    );
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        const setup = (): { model: Model; real: Real } => ({
          model: new Map(),
          real: { r: createRetriever({ fields: { text: { analyzer: 'standard' } } }) },
        });
        await fc.asyncModelRun(setup, cmds);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
