import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';
import { tsupOptions, type PackageJson } from '../../tools/build/index.ts';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as PackageJson;

export default defineConfig(tsupOptions(pkg));
