/**
 * The documentation has no broken internal links: the generated site (every page reachable from the index, every
 * href to a local page resolving) and the Markdown sources (README files and guides link to files that exist).
 * Needs the packages built (TypeDoc reads their sources; `npm test` builds first).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../../..');
let site = '';

beforeAll(() => {
  if (process.env.DOCS_SITE) {
    site = process.env.DOCS_SITE; // an already built site (e.g. docs/api after npm run docs)
    return;
  }
  site = mkdtempSync(join(tmpdir(), 'dataplane-docs-'));
  execFileSync('node', [join(repo, 'node_modules/typedoc/bin/typedoc'), '--out', site, '--treatWarningsAsErrors'], { cwd: repo, stdio: 'pipe' });
}, 300_000);

afterAll(() => {
  if (site && !process.env.DOCS_SITE) rmSync(site, { recursive: true, force: true });
});

function htmlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? htmlFiles(p) : p.endsWith('.html') ? [p] : [];
  });
}

const hrefs = (html: string) => [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!);
const local = (href: string) => !/^(https?:|mailto:|#|data:|javascript:)/.test(href);

describe('generated site', () => {
  it('every internal link resolves to a file of the site', () => {
    const broken: string[] = [];
    for (const file of htmlFiles(site)) {
      for (const href of hrefs(readFileSync(file, 'utf8')).filter(local)) {
        const target = resolve(dirname(file), decodeURI(href.split('#')[0]!.split('?')[0]!));
        if (!existsSync(target)) broken.push(`${relative(site, file)} -> ${href}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('every page is reachable from the index', () => {
    const seen = new Set<string>();
    const queue = [join(site, 'index.html')];
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file) || !existsSync(file) || !file.endsWith('.html')) continue;
      seen.add(file);
      for (const href of hrefs(readFileSync(file, 'utf8')).filter(local)) queue.push(resolve(dirname(file), decodeURI(href.split('#')[0]!.split('?')[0]!)));
    }
    // hierarchy.html is TypeDoc's own class-hierarchy utility page, opened from its navigation script
    const unreachable = htmlFiles(site)
      .filter((f) => !seen.has(f))
      .map((f) => relative(site, f))
      .filter((f) => f !== 'hierarchy.html');
    expect(unreachable).toEqual([]);
    // the guides are part of the site
    expect([...seen].some((f) => f.includes('Sharing_data_between_services'))).toBe(true);
  });
});

describe('Markdown sources', () => {
  const sources = [
    'README.md',
    'CONTRIBUTING.md',
    ...readdirSync(join(repo, 'docs')).filter((n) => n.endsWith('.md')).map((n) => `docs/${n}`),
    ...readdirSync(join(repo, 'docs/guides')).filter((n) => n.endsWith('.md')).map((n) => `docs/guides/${n}`),
    ...readdirSync(join(repo, 'packages')).map((p) => `packages/${p}/README.md`).filter((p) => existsSync(join(repo, p))),
  ];
  it.each(sources)('%s links only to files that exist', (source) => {
    const text = readFileSync(join(repo, source), 'utf8');
    const broken = [...text.matchAll(/\]\(([^)\s]+)\)/g)]
      .map((m) => m[1]!)
      .filter((href) => local(href))
      .filter((href) => !existsSync(resolve(dirname(join(repo, source)), href.split('#')[0]!)));
    expect(broken).toEqual([]);
  });
});
