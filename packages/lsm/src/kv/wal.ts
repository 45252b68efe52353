/**
 * Write-ahead log: records framed as `[len u32][crc32c(len) u32][crc32c(payload) u32][payload]`,
 * group commit, fsync policy always | interval | never. Internal.
 */
import { closeSync, fdatasync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { LsmError } from '../errors.js';
import { crc32c } from '../internal/crc32c.js';

export const WAL_HEADER = 12;

export type WalSync = 'always' | 'interval' | 'never';

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class WalWriter {
  private fd: number;
  bytes = 0;
  syncs = 0;
  private waiting: Waiter[] = [];
  private syncing = false;
  private failed: unknown;
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;

  constructor(
    readonly path: string,
    readonly number: number,
    private readonly mode: WalSync,
    intervalMs: number,
  ) {
    try {
      this.fd = openSync(path, 'a');
    } catch (err) {
      throw new LsmError('LSM_IO', `cannot open WAL ${path}`, { cause: err });
    }
    if (mode === 'interval') {
      this.timer = setInterval(() => this.syncNow(), intervalMs);
      this.timer.unref();
    }
  }

  /** Appends one record (written to the OS at once, in order); resolves when durable per the policy. */
  append(payload: Buffer): Promise<void> | undefined {
    if (this.failed !== undefined) throw new LsmError('LSM_IO', 'WAL failed earlier', { cause: this.failed });
    const rec = Buffer.allocUnsafe(WAL_HEADER + payload.length);
    rec.writeUInt32LE(payload.length, 0);
    rec.writeUInt32LE(crc32c(rec, 0, 4), 4);
    rec.writeUInt32LE(crc32c(payload), 8);
    payload.copy(rec, WAL_HEADER);
    try {
      let off = 0;
      while (off < rec.length) off += writeSync(this.fd, rec, off, rec.length - off);
    } catch (err) {
      this.failed = err;
      throw new LsmError('LSM_IO', `WAL write failed: ${this.path}`, { cause: err });
    }
    this.bytes += rec.length;
    this.dirty = true;
    if (this.mode !== 'always') return undefined;
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (!this.syncing) this.startSync();
    });
  }

  /** Group commit: one fdatasync covers every record appended before it started. */
  private startSync(): void {
    const group = this.waiting;
    this.waiting = [];
    this.syncing = true;
    fdatasync(this.fd, (err) => {
      this.syncing = false;
      this.syncs++;
      if (err) {
        this.failed = err;
        const e = new LsmError('LSM_IO', `WAL fsync failed: ${this.path}`, { cause: err });
        for (const w of group) w.reject(e);
        for (const w of this.waiting) w.reject(e);
        this.waiting = [];
        return;
      }
      for (const w of group) w.resolve();
      if (this.waiting.length > 0) this.startSync();
    });
  }

  private syncNow(): void {
    if (!this.dirty || this.failed !== undefined) return;
    this.dirty = false;
    try {
      fsyncSync(this.fd);
      this.syncs++;
    } catch (err) {
      this.failed = err;
    }
  }

  /** Waits for pending syncs, syncs (unless `never`) and closes. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    while (this.syncing || this.waiting.length > 0) await new Promise((r) => setTimeout(r, 1));
    if (this.mode !== 'never') this.syncNow();
    closeSync(this.fd);
  }
}

/** Result of replaying one WAL file. */
export interface WalReplay {
  records: number;
  /** Bytes dropped at a torn tail or, in salvage mode, after mid-file corruption. */
  droppedBytes: number;
  corrupt: boolean;
}

/**
 * Replays the records of `path` into `onRecord`. A torn tail (incomplete last record, zeroed tail, or a
 * bad last record) stops cleanly; damage followed by more data throws `LSM_CORRUPT_WAL` unless `salvage`.
 */
export function replayWal(path: string, salvage: boolean, onRecord: (payload: Buffer) => void): WalReplay {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new LsmError('LSM_IO', `cannot read WAL ${path}`, { cause: err });
  }
  let pos = 0;
  let records = 0;
  const n = buf.length;
  const stop = (reason: string, torn: boolean): WalReplay => {
    if (torn || salvage) return { records, droppedBytes: n - pos, corrupt: !torn };
    throw new LsmError('LSM_CORRUPT_WAL', `${reason} at offset ${pos} of ${path} (${n - pos} bytes follow)`);
  };
  while (pos < n) {
    if (n - pos < WAL_HEADER) return stop('truncated header', true);
    const len = buf.readUInt32LE(pos);
    const hcrc = buf.readUInt32LE(pos + 4);
    if (crc32c(buf, pos, pos + 4) !== hcrc) {
      let zero = true;
      for (let i = pos; i < n; i++) if (buf[i] !== 0) { zero = false; break; }
      return stop('bad record header', zero);
    }
    const end = pos + WAL_HEADER + len;
    if (end > n) return stop('record past end of file', true);
    if (crc32c(buf, pos + WAL_HEADER, end) !== buf.readUInt32LE(pos + 8)) return stop('bad record checksum', end === n);
    try {
      onRecord(buf.subarray(pos + WAL_HEADER, end));
    } catch (err) {
      if (LsmError.is(err)) throw err;
      return stop(`undecodable record (${String(err)})`, false);
    }
    records++;
    pos = end;
  }
  return { records, droppedBytes: 0, corrupt: false };
}

