/**
 * Child process of kv-crash.test.ts: writes with WAL sync=always and prints `ack <op> <key>` after each
 * acknowledged write, until it is SIGKILLed. Args: dir, cycle, seed.
 */
import { openDb } from '../src/kv/db.js';

const [dir, cycleArg, seedArg] = process.argv.slice(2);
const cycle = Number(cycleArg);
let seed = Number(seedArg) >>> 0;
const rand = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 2 ** 32;
};

const db = await openDb(dir!, { memtableBytes: 32 * 1024, arenaSlabBytes: 64 * 1024, blockBytes: 512, wal: { sync: 'always' }, random: rand });
process.stdout.write('ready\n');
let i = 0;
for (;;) {
  const r = rand();
  if (r < 0.6) {
    const key = `c${cycle}-${i++}`;
    await db.put(key, `${key}:${'v'.repeat(Math.floor(rand() * 200))}`);
    process.stdout.write(`ack put ${key}\n`);
  } else if (r < 0.9) {
    const b = db.batch();
    const keys: string[] = [];
    for (let j = 0; j < 20; j++) {
      const key = `c${cycle}-${i++}`;
      keys.push(key);
      b.put(key, `${key}:${'b'.repeat(Math.floor(rand() * 100))}`);
    }
    await b.write();
    process.stdout.write(`ack batch ${keys.join(',')}\n`);
  } else if (i > 0) {
    const key = `c${cycle}-${Math.floor(rand() * i)}`;
    process.stdout.write(`begin del ${key}\n`);
    await db.del(key);
    process.stdout.write(`ack del ${key}\n`);
  }
}
