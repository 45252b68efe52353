/**
 * The published shape of every package, checked the way a user meets it: `npm pack`, install the tarball into a
 * fresh folder, then load it with `require` and `import` (every public subpath must resolve under both
 * conditions), and type-check a tiny consumer under moduleResolution node16 (ESM and CJS) and bundler.
 * Needs the packages built (`npm test` builds first).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../../..');
const tsc = join(repo, 'node_modules/typescript/bin/tsc');

interface Manifest {
  name: string;
  exports: Record<string, unknown>;
  peerDependencies?: Record<string, string>;
  files?: string[];
}

const packages = readdirSync(join(repo, 'packages'))
  .filter((d) => existsSync(join(repo, 'packages', d, 'package.json')))
  .map((d) => ({ dir: join(repo, 'packages', d), manifest: JSON.parse(readFileSync(join(repo, 'packages', d, 'package.json'), 'utf8')) as Manifest }));

/** An identifier exported by every package: its error class. */
const errorClass: Record<string, string> = {
  '@dataplane/lsm': 'LsmError',
  '@dataplane/balancer': 'BalancerError',
  '@dataplane/rag': 'RagError',
  '@dataplane/outbox': 'OutboxError',
};

function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' } });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? ''}\n${e.message}`);
  }
}

let work = '';
let consumer = '';

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'dataplane-pack-'));
  consumer = join(work, 'consumer');
  const tarballs: string[] = [];
  for (const { dir, manifest } of packages) {
    expect(existsSync(join(dir, 'dist/index.js')), `${manifest.name} is not built: run npm run build`).toBe(true);
    const out = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], dir)) as { filename: string }[];
    tarballs.push(join(work, out[0]!.filename));
  }
  run('mkdir', ['-p', consumer], work);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  // A user of an adapter subpath has its driver installed: install every optional peer (and its @types) at the
  // version the workspace uses, so subpath types resolve as they would for that user. Scripts are skipped: the
  // test only resolves and type-checks.
  const peers = new Set<string>();
  for (const { manifest } of packages) for (const name of Object.keys(manifest.peerDependencies ?? {})) peers.add(name);
  const versioned = [...peers].flatMap((name) => {
    const out: string[] = [];
    for (const dep of [name, `@types/${name.replace(/^@([^/]+)\//, '$1__')}`]) {
      const installed = join(repo, 'node_modules', dep, 'package.json');
      if (existsSync(installed)) out.push(`${dep}@${(JSON.parse(readFileSync(installed, 'utf8')) as { version: string }).version}`);
    }
    return out;
  });
  run('npm', ['install', '--no-package-lock', '--prefer-offline', '--ignore-scripts', ...tarballs, ...versioned], consumer);
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.each(packages.map((p) => [p.manifest.name, p.manifest] as const))('%s as published', (name, manifest) => {
  const subpaths = Object.keys(manifest.exports).filter((s) => s !== './package.json');
  const specifiers = subpaths.map((s) => (s === '.' ? name : `${name}/${s.slice(2)}`));
  const cls = errorClass[name]!;

  it('ships only what its files field names (no sources, tests or benchmarks)', () => {
    const files = JSON.parse(run('npm', ['pack', '--dry-run', '--json'], join(repo, 'packages', name.split('/')[1]!)))[0].files as { path: string }[];
    const allowed = [...(manifest.files ?? []), 'package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'];
    for (const f of files) expect(allowed.some((a) => f.path === a || f.path.startsWith(`${a.replace(/\/$/, '')}/`)), f.path).toBe(true);
    expect(files.some((f) => f.path.startsWith('src/') || f.path.startsWith('test/') || f.path.startsWith('bench/'))).toBe(false);
  });

  it('loads with require and exposes the error class', () => {
    const out = run('node', ['-e', `const m = require(${JSON.stringify(name)}); const e = new m.${cls}('X', 'm'); process.stdout.write(String(m.${cls}.is(e)))`], consumer);
    expect(out).toBe('true');
  });

  it('loads with import and exposes the error class', () => {
    const out = run('node', ['--input-type=module', '-e', `import { ${cls} } from ${JSON.stringify(name)}; process.stdout.write(String(${cls}.is(new ${cls}('X', 'm'))))`], consumer);
    expect(out).toBe('true');
  });

  it('resolves every public subpath under both conditions', () => {
    for (const spec of specifiers) {
      const cjs = run('node', ['-e', `process.stdout.write(require.resolve(${JSON.stringify(spec)}))`], consumer);
      expect(cjs).toMatch(/\.cjs$/);
      const esm = run('node', ['--input-type=module', '-e', `process.stdout.write(import.meta.resolve(${JSON.stringify(spec)}))`], consumer);
      expect(esm).toMatch(/\.js$/);
    }
  });

  it.each([
    ['node16 (ESM)', 'node16', 'node16', 'mts'],
    ['node16 (CJS)', 'node16', 'node16', 'cts'],
    ['bundler', 'esnext', 'bundler', 'ts'],
  ])('type-checks a consumer under %s', (label, module, resolution, ext) => {
    const dir = join(consumer, `tsc-${label.replace(/\W+/g, '-')}`);
    run('mkdir', ['-p', dir], consumer);
    const imports = specifiers.map((s, i) => `import * as m${i} from ${JSON.stringify(s)};\nvoid m${i};`).join('\n');
    writeFileSync(join(dir, `index.${ext}`), `${imports}\nimport { ${cls} } from ${JSON.stringify(name)};\nconst e: ${cls} = new ${cls}('X' as never, 'm');\nexport const code: string = e.code;\n`);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module,
          moduleResolution: resolution,
          target: 'ES2022',
          lib: ['ES2022', 'ESNext.Disposable', 'DOM'],
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(repo, 'node_modules/@types')],
        },
        include: [`index.${ext}`],
      }),
    );
    run('node', [tsc, '-p', 'tsconfig.json'], dir);
  });
});
