/** Directory lock file refusing concurrent opens (in this process or another live one). Internal. */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LsmError } from '../errors.js';

const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock of `dir`; returns its release function. */
export function lockDir(dir: string): () => void {
  const abs = resolve(dir);
  if (held.has(abs)) throw new LsmError('LSM_LOCKED', `${dir} is already open in this process`);
  const path = join(abs, 'LOCK');
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new LsmError('LSM_IO', `cannot create ${path}`, { cause: err });
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new LsmError('LSM_LOCKED', `${dir} is open in process ${pid}`);
    }
    writeFileSync(path, String(process.pid));
  }
  held.add(abs);
  return () => {
    held.delete(abs);
    rmSync(path, { force: true });
  };
}
