/**
 * One source of truth for entry points: each package's `exports` map.
 *
 * tsup entries and vitest aliases are both derived from it, so adding a subpath export
 * (for example `@dataplane/outbox/pg`) is a one-line change to package.json.
 * Convention: `./dist/<name>.js` is built from `./src/<name>.ts`.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

interface Conditional {
  types?: string;
  default?: string;
}
type ExportEntry = string | { import?: Conditional; require?: Conditional };

export interface PackageJson {
  name: string;
  exports?: Record<string, ExportEntry>;
  /** Extra build entries that are not public subpaths (worker-thread scripts, CLIs). */
  dataplane?: { entries?: string[] };
}

/** `./dist/adapters/pg/index.js` -> `adapters/pg/index` */
function entryName(distPath: string): string {
  return distPath.replace(/^\.\/dist\//, '').replace(/\.(c|m)?js$/, '');
}

/** Maps each public subpath to the name of its built entry (`.` -> `index`). */
export function subpathEntries(pkg: PackageJson): Map<string, string> {
  const out = new Map<string, string>();
  for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
    if (typeof target === 'string') continue; // ./package.json
    const file = target.import?.default;
    if (file?.startsWith('./dist/')) out.set(subpath, entryName(file));
  }
  return out;
}

/** tsup `entry` object: `{ 'adapters/pg/index': 'src/adapters/pg/index.ts', ... }`. */
export function tsupEntries(pkg: PackageJson): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const name of subpathEntries(pkg).values()) entries[name] = `src/${name}.ts`;
  for (const extra of pkg.dataplane?.entries ?? []) entries[extra] = `src/${extra}.ts`;
  return entries;
}

/** Shared tsup options for every publishable package. */
export function tsupOptions(pkg: PackageJson) {
  return {
    entry: tsupEntries(pkg),
    format: ['esm', 'cjs'] as ('esm' | 'cjs')[],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node' as const,
    splitting: true,
    shims: true,
    treeshake: true,
    tsconfig: 'tsconfig.build.json',
  };
}

export interface Alias {
  find: RegExp;
  replacement: string;
}

/** vitest/vite aliases so tests import package sources by their public names, no build needed. */
export function workspaceAliases(root: string): Alias[] {
  const aliases: Alias[] = [];
  const dir = join(root, 'packages');
  if (!existsSync(dir)) return aliases;
  for (const name of readdirSync(dir)) {
    const pkgDir = join(dir, name);
    const manifest = join(pkgDir, 'package.json');
    if (!existsSync(manifest)) continue;
    const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as PackageJson;
    for (const [subpath, entry] of subpathEntries(pkg)) {
      const spec = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
      const escaped = spec.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      aliases.push({ find: new RegExp(`^${escaped}$`), replacement: resolve(pkgDir, 'src', `${entry}.ts`) });
    }
  }
  return aliases;
}

/** Workspace packages under packages/ (folder names). */
export function packageDirs(root: string): string[] {
  const dir = join(root, 'packages');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => existsSync(join(dir, n, 'package.json')));
}
