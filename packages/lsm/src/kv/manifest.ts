/** Manifest: the current version written atomically (write tmp, fsync, rename, fsync dir). Internal. */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LsmError } from '../errors.js';
import { crc32c } from '../internal/crc32c.js';

export interface ManifestTable {
  id: number;
  level: number;
  size: number;
  entries: number;
  blocks: number;
  smallest: string; // hex
  largest: string; // hex
  minSeq: number;
  maxSeq: number;
  minTime: number | null;
  maxTime: number | null;
  createdAt: number;
}

export interface ManifestState {
  format: 1;
  nextId: number;
  lastSeq: number;
  /** WAL files with a number >= logNumber hold data not yet in tables. */
  logNumber: number;
  tables: ManifestTable[];
}

const NAME = 'MANIFEST';

export function readManifest(dir: string): ManifestState | undefined {
  const path = join(dir, NAME);
  if (!existsSync(path)) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new LsmError('LSM_IO', `cannot read ${path}`, { cause: err });
  }
  const nl = text.indexOf('\n');
  const body = text.slice(nl + 1);
  const crc = Number.parseInt(text.slice(0, nl), 16);
  if (nl < 0 || crc !== crc32c(Buffer.from(body, 'utf8'))) throw new LsmError('LSM_CORRUPT_MANIFEST', `checksum mismatch in ${path}`);
  try {
    const s = JSON.parse(body) as ManifestState;
    if (s.format !== 1 || !Array.isArray(s.tables)) throw new Error('unknown format');
    return s;
  } catch (err) {
    throw new LsmError('LSM_CORRUPT_MANIFEST', `unreadable ${path}`, { cause: err });
  }
}

/** Writes the whole state as one atomic edit. */
export function writeManifest(dir: string, state: ManifestState): void {
  const body = JSON.stringify(state);
  const text = `${crc32c(Buffer.from(body, 'utf8')).toString(16)}\n${body}`;
  const tmp = join(dir, `${NAME}.tmp`);
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(dir, NAME));
    syncDir(dir);
  } catch (err) {
    throw new LsmError('LSM_IO', `cannot write manifest in ${dir}`, { cause: err });
  }
}

export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
