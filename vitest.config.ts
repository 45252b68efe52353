import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';
import { workspaceAliases } from './tools/build/index.ts';

const root = import.meta.dirname;
const alias = workspaceAliases(root);

/** Every workspace folder that has a test/ directory becomes one vitest project. */
function projectsUnder(group: string) {
  const dir = join(root, group);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => existsSync(join(dir, name, 'test')))
    .map((name) => ({
      resolve: { alias },
      test: {
        name: `${group}/${name}`,
        root: join(dir, name),
        include: ['test/**/*.test.ts'],
        testTimeout: 60_000,
        hookTimeout: 60_000,
      },
    }));
}

export default defineConfig({
  test: {
    // CI also writes a machine-readable summary that .ci/run turns into one "N passed, N failed" line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'artifacts/vitest.json' }]] : ['default'],
    projects: [...projectsUnder('packages'), ...projectsUnder('examples'), ...projectsUnder('tools')],
  },
});
