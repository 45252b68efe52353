/**
 * Every `@example` in the packages' sources is code a user will paste: it must compile against the published
 * types. This test extracts each fenced ```ts block from the TSDoc `@example` tags under packages/<pkg>/src, writes
 * them (except those of `@internal` declarations and their members, which are not published) as modules into a scratch folder inside the repository (so `@dataplane/*` resolves through the workspace
 * links to the built `dist` types), and runs `tsc` over all of them. Needs the packages built.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../../..');
const scratch = join(repo, 'tools/examples-check/.scratch');
const tsc = join(repo, 'node_modules/typescript/bin/tsc');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

interface Example {
  file: string;
  line: number;
  code: string;
}

/** Fenced ts/typescript blocks inside @example tags of one source file. */
export function examplesOf(file: string): Example[] {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const found: Example[] = [];
  const seen = new Set<number>();
  const visit = (node: ts.Node) => {
    const tags = ts.getJSDocTags(node);
    // an @internal declaration is not published, and neither are its members (the methods of an internal class),
    // so their examples cannot be compiled against the package
    if (tags.some((t) => t.tagName.text === 'internal')) return;
    for (const tag of tags) {
      if (tag.tagName.text !== 'example' || seen.has(tag.pos)) continue;
      seen.add(tag.pos);
      const comment = typeof tag.comment === 'string' ? tag.comment : ts.getTextOfJSDocComment(tag.comment) ?? '';
      const line = sf.getLineAndCharacterOfPosition(tag.pos).line + 1;
      for (const m of comment.matchAll(/```(?:ts|typescript)\s*\n([\s\S]*?)```/g)) found.push({ file, line, code: m[1]! });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

const packages = readdirSync(join(repo, 'packages')).filter((d) => existsSync(join(repo, 'packages', d, 'src/index.ts')));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe.each(packages)('@dataplane/%s TSDoc examples', (pkg) => {
  it('every @example compiles against the built package', () => {
    const examples = sourceFiles(join(repo, 'packages', pkg, 'src')).flatMap(examplesOf);
    expect(examples.length, `no @example found in packages/${pkg}/src`).toBeGreaterThan(0);
    const dir = join(scratch, pkg);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const index: string[] = [];
    examples.forEach((ex, i) => {
      const name = `example-${i}.ts`;
      index.push(`${name} <- ${relative(repo, ex.file)}:${ex.line}`);
      writeFileSync(join(dir, name), `// ${relative(repo, ex.file)}:${ex.line}\n${ex.code}\nexport {};\n`);
    });
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: '../../../../tsconfig.base.json',
        compilerOptions: { noUnusedLocals: false, module: 'NodeNext', moduleResolution: 'NodeNext', types: ['node'] },
        include: ['*.ts'],
      }),
    );
    let output = '';
    try {
      execFileSync('node', [tsc, '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      output = (err as { stdout?: string }).stdout ?? String(err);
    }
    // map scratch file names back to their source locations in the failure message
    const located = output.replace(/example-(\d+)\.ts/g, (_, i: string) => index[Number(i)]!.split(' <- ')[1]!);
    expect(located, `TSDoc examples that do not compile:\n${located}`).toBe('');
  });
});
