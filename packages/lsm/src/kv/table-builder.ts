/**
 * Writes one sorted table (see FORMAT.md): data blocks with restart points and prefix compression,
 * a CRC32C per block, an index block, a bloom filter and a footer. Internal.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { LsmError } from '../errors.js';
import { ByteWriter, cmpRange } from '../internal/bytes.js';
import { crc32c } from '../internal/crc32c.js';
import { buildBloom, hash1, hash2 } from './bloom.js';

export const TABLE_MAGIC = Buffer.from('DPLSMTB1', 'latin1');
export const TABLE_VERSION = 1;
export const TAIL_BYTES = 20;
const RESTART_INTERVAL = 16;

/** Properties of a finished table (also stored in its footer). */
export interface TableProps {
  size: number;
  entries: number;
  blocks: number;
  smallest: Buffer;
  largest: Buffer;
  minSeq: number;
  maxSeq: number;
  minTime: number | undefined;
  maxTime: number | undefined;
  createdAt: number;
}

export interface TableBuilderOptions {
  blockBytes: number;
  bloomBitsPerKey: number;
  timeRange: ((key: Uint8Array, value: Uint8Array) => readonly [number, number] | undefined) | undefined;
  createdAt: number;
}

export class TableBuilder {
  private fd: number;
  private readonly out = new ByteWriter(1 << 20);
  private written = 0;
  private readonly block = new ByteWriter(8192);
  private readonly restarts: number[] = [];
  private blockEntries = 0;
  private readonly lastKey = new ByteWriter(256);
  private readonly index = new ByteWriter(4096);
  private indexCount = 0;
  private h1 = new Uint32Array(1024);
  private h2 = new Uint32Array(1024);
  private nKeys = 0;
  entries = 0;
  private smallest: Buffer | undefined;
  private minSeq = Number.MAX_SAFE_INTEGER;
  private maxSeq = 0;
  private minTime = Infinity;
  private maxTime = -Infinity;
  private hasLast = false;

  constructor(
    readonly path: string,
    private readonly opts: TableBuilderOptions,
  ) {
    try {
      this.fd = openSync(path, 'w');
    } catch (err) {
      throw new LsmError('LSM_IO', `cannot create table ${path}`, { cause: err });
    }
  }

  /** Approximate bytes written so far. */
  get size(): number {
    return this.written + this.out.len + this.block.len;
  }

  /** Adds an entry; entries must come in internal order (key asc, seq desc). */
  add(key: Buffer, ks: number, ke: number, seq: number, kind: number, val: Buffer, vs: number, ve: number): void {
    const klen = ke - ks;
    const last = this.lastKey.buf;
    const lastLen = this.lastKey.len;
    let shared = 0;
    const sameKey = this.hasLast && lastLen === klen && cmpRange(key, ks, ke, last, 0, lastLen) === 0;
    if (this.blockEntries % RESTART_INTERVAL === 0) {
      this.restarts.push(this.block.len);
    } else {
      const max = Math.min(lastLen, klen);
      while (shared < max && last[shared] === key[ks + shared]) shared++;
    }
    const b = this.block;
    b.varint(shared);
    b.varint(klen - shared);
    b.varint(ve - vs);
    b.u8(kind);
    b.varint(seq);
    b.bytes(key, ks + shared, ke);
    b.bytes(val, vs, ve);
    this.blockEntries++;
    if (!sameKey) {
      if (this.nKeys === this.h1.length) {
        const a = new Uint32Array(this.h1.length * 2);
        a.set(this.h1);
        this.h1 = a;
        const c = new Uint32Array(this.h2.length * 2);
        c.set(this.h2);
        this.h2 = c;
      }
      this.h1[this.nKeys] = hash1(key, ks, ke);
      this.h2[this.nKeys] = hash2(key, ks, ke);
      this.nKeys++;
      this.lastKey.reset();
      this.lastKey.bytes(key, ks, ke);
      this.hasLast = true;
    }
    if (this.smallest === undefined) this.smallest = Buffer.from(key.subarray(ks, ke));
    if (seq < this.minSeq) this.minSeq = seq;
    if (seq > this.maxSeq) this.maxSeq = seq;
    if (this.opts.timeRange && kind === 1) {
      const r = this.opts.timeRange(key.subarray(ks, ke), val.subarray(vs, ve));
      if (r) {
        if (r[0] < this.minTime) this.minTime = r[0];
        if (r[1] > this.maxTime) this.maxTime = r[1];
      }
    }
    this.entries++;
    if (this.block.len >= this.opts.blockBytes) this.finishBlock();
  }

  private finishBlock(): void {
    if (this.blockEntries === 0) return;
    const b = this.block;
    for (const r of this.restarts) b.u32(r);
    b.u32(this.restarts.length);
    const offset = this.size - b.len;
    const len = b.len;
    this.emit(b.view());
    const crc = Buffer.allocUnsafe(4);
    crc.writeUInt32LE(crc32c(b.buf, 0, len), 0);
    this.emit(crc);
    this.index.varint(this.lastKey.len);
    this.index.bytes(this.lastKey.buf, 0, this.lastKey.len);
    this.index.varint(offset);
    this.index.varint(len);
    this.indexCount++;
    b.reset();
    this.restarts.length = 0;
    this.blockEntries = 0;
  }

  private emit(bytes: Buffer): void {
    this.out.bytes(bytes);
    if (this.out.len >= 1 << 20) this.drain();
  }

  private drain(): void {
    let off = 0;
    const v = this.out.view();
    while (off < v.length) off += writeSync(this.fd, v, off, v.length - off);
    this.written += v.length;
    this.out.reset();
  }

  /** Writes index, filter and footer, fsyncs and closes. */
  finish(): TableProps {
    try {
      this.finishBlock();
      const indexOff = this.size;
      const idx = new ByteWriter(this.index.len + 8);
      idx.u32(this.indexCount);
      idx.bytes(this.index.view());
      const idxCrc = crc32c(idx.buf, 0, idx.len);
      idx.u32(idxCrc);
      this.emit(idx.view());
      const bloomOff = this.size;
      const bloom = this.opts.bloomBitsPerKey > 0 ? buildBloom(this.h1, this.h2, this.nKeys, this.opts.bloomBitsPerKey) : Buffer.alloc(0);
      const bw = new ByteWriter(bloom.length + 4);
      bw.bytes(bloom);
      bw.u32(crc32c(bloom));
      this.emit(bw.view());
      const smallest = this.smallest ?? Buffer.alloc(0);
      const largest = Buffer.from(this.lastKey.view());
      const hasTime = this.minTime <= this.maxTime;
      const f = new ByteWriter(256);
      f.f64(indexOff);
      f.u32(idx.len);
      f.f64(bloomOff);
      f.u32(bw.len);
      f.varint(this.entries);
      f.varint(this.indexCount);
      f.f64(this.entries ? this.minSeq : 0);
      f.f64(this.maxSeq);
      f.u8(hasTime ? 1 : 0);
      f.f64(hasTime ? this.minTime : 0);
      f.f64(hasTime ? this.maxTime : 0);
      f.f64(this.opts.createdAt);
      f.varint(smallest.length);
      f.bytes(smallest);
      f.varint(largest.length);
      f.bytes(largest);
      const bodyLen = f.len;
      f.u32(bodyLen);
      f.u32(crc32c(f.buf, 0, bodyLen));
      f.u32(TABLE_VERSION);
      f.bytes(TABLE_MAGIC);
      this.emit(f.view());
      this.drain();
      fsyncSync(this.fd);
      closeSync(this.fd);
      return {
        size: this.written,
        entries: this.entries,
        blocks: this.indexCount,
        smallest,
        largest,
        minSeq: this.entries ? this.minSeq : 0,
        maxSeq: this.maxSeq,
        minTime: hasTime ? this.minTime : undefined,
        maxTime: hasTime ? this.maxTime : undefined,
        createdAt: this.opts.createdAt,
      };
    } catch (err) {
      try {
        closeSync(this.fd);
      } catch {
        /* already closed */
      }
      if (LsmError.is(err)) throw err;
      throw new LsmError('LSM_IO', `cannot write table ${this.path}`, { cause: err });
    }
  }

  /** Abandons the table (the caller deletes the file). */
  abort(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* ignore */
    }
  }
}
