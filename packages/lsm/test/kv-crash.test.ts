/**
 * Crash test: a child process writes with WAL sync=always and is SIGKILLed at a random moment; after
 * reopen every acknowledged write must be there (and every acknowledged delete applied).
 * CRASH_CYCLES sets the number of cycles (default 50).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openDb, textOf } from '@dataplane/lsm';

const CYCLES = Number(process.env.CRASH_CYCLES ?? 50);
const child = fileURLToPath(new URL('./kv-crash-child.ts', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'lsm-kv-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function runAndKill(dir: string, cycle: number, seed: number, killAfterMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, dir, String(cycle), String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (timer === undefined && out.includes('ready\n')) timer = setTimeout(() => p.kill('SIGKILL'), killAfterMs);
    });
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited early (${code}): ${err}`));
      else resolve(out.split('\n'));
    });
  });
}

describe('kv crash safety (SIGKILL)', () => {
  it(`keeps every acknowledged write over ${CYCLES} kill cycles`, async () => {
    const dir = join(root, 'db');
    const expected = new Map<string, boolean | 'either'>(); // key -> present (either: unacknowledged delete)
    let seed = 12345;
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      seed = (Math.imul(seed, 48271) + 11) >>> 0;
      const lines = await runAndKill(dir, cycle, seed, 20 + (seed % 180));
      for (const line of lines) {
        const [tag, op, arg] = line.split(' ');
        if (tag === 'begin' && op === 'del' && arg !== undefined && expected.get(arg) === true) expected.set(arg, 'either');
        if (tag !== 'ack' || arg === undefined) continue;
        if (op === 'put') expected.set(arg, true);
        else if (op === 'batch') for (const k of arg.split(',')) expected.set(k, true);
        else if (op === 'del') expected.set(arg, false);
      }
      const db = await openDb(dir, { memtableBytes: 32 * 1024, arenaSlabBytes: 64 * 1024, blockBytes: 512 });
      try {
        for (const [k, present] of expected) {
          const v = await db.get(k);
          if (present === 'either') {
            if (v !== undefined) expect(textOf(v).startsWith(`${k}:`)).toBe(true);
          } else if (present) {
            expect(v, `cycle ${cycle}: lost acknowledged ${k}`).toBeDefined();
            expect(textOf(v!).startsWith(`${k}:`)).toBe(true);
          } else expect(v, `cycle ${cycle}: deleted ${k} came back`).toBeUndefined();
        }
      } finally {
        await db.close();
      }
    }
    expect(expected.size).toBeGreaterThan(CYCLES);
  }, 300_000);
});
