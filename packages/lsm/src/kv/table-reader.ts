/** Reads one sorted table: footer, index and filter pinned in memory, data blocks via the cache. Internal. */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { LsmError } from '../errors.js';
import { ByteReader, cmpRange } from '../internal/bytes.js';
import { crc32c } from '../internal/crc32c.js';
import { bloomMayContain } from './bloom.js';
import { cacheKey, type BlockCache } from './block-cache.js';
import { TABLE_MAGIC, TABLE_VERSION, TAIL_BYTES, type TableProps } from './table-builder.js';

function corrupt(path: string, what: string, cause?: unknown): LsmError {
  return new LsmError('LSM_CORRUPT_BLOCK', `corrupt table ${path}: ${what}`, cause === undefined ? {} : { cause });
}

export class TableReader {
  private fd: number;
  readonly props: TableProps;
  private readonly bloom: Buffer;
  /** Last key of each block, concatenated; block i's key is idxKeys[idxKeyOff[i], idxKeyOff[i+1]). */
  private readonly idxKeys: Buffer;
  private readonly idxKeyOff: Uint32Array;
  private readonly blockOff: Float64Array;
  private readonly blockLen: Uint32Array;
  refs = 1;
  private closed = false;

  constructor(
    readonly path: string,
    readonly id: number,
    private readonly cache: BlockCache,
  ) {
    try {
      this.fd = openSync(path, 'r');
    } catch (err) {
      throw new LsmError('LSM_IO', `cannot open table ${path}`, { cause: err });
    }
    try {
      const size = fstatSync(this.fd).size;
      if (size < TAIL_BYTES) throw corrupt(path, 'file too short');
      const tail = this.read(size - TAIL_BYTES, TAIL_BYTES);
      if (!tail.subarray(12).equals(TABLE_MAGIC)) throw corrupt(path, 'bad magic');
      const version = tail.readUInt32LE(8);
      if (version !== TABLE_VERSION) throw corrupt(path, `unsupported version ${version}`);
      const bodyLen = tail.readUInt32LE(0);
      if (bodyLen > size - TAIL_BYTES) throw corrupt(path, 'bad footer length');
      const body = this.read(size - TAIL_BYTES - bodyLen, bodyLen);
      if (crc32c(body) !== tail.readUInt32LE(4)) throw corrupt(path, 'footer checksum mismatch');
      const f = new ByteReader(body);
      const indexOff = f.f64();
      const indexLen = f.u32();
      const bloomOff = f.f64();
      const bloomLen = f.u32();
      const entries = f.varint();
      const blocks = f.varint();
      const minSeq = f.f64();
      const maxSeq = f.f64();
      const hasTime = f.u8() === 1;
      const minTime = f.f64();
      const maxTime = f.f64();
      const createdAt = f.f64();
      const smallest = Buffer.from(f.bytes(f.varint()));
      const largest = Buffer.from(f.bytes(f.varint()));
      if (indexOff + indexLen > size || bloomOff + bloomLen > size || indexLen < 8 || bloomLen < 4) throw corrupt(path, 'bad block handles');
      this.props = {
        size,
        entries,
        blocks,
        smallest,
        largest,
        minSeq,
        maxSeq,
        minTime: hasTime ? minTime : undefined,
        maxTime: hasTime ? maxTime : undefined,
        createdAt,
      };
      const idx = this.read(indexOff, indexLen);
      if (crc32c(idx, 0, indexLen - 4) !== idx.readUInt32LE(indexLen - 4)) throw corrupt(path, 'index checksum mismatch');
      const r = new ByteReader(idx, 0, indexLen - 4);
      const count = r.u32();
      if (count !== blocks) throw corrupt(path, 'index count mismatch');
      this.idxKeyOff = new Uint32Array(count + 1);
      this.blockOff = new Float64Array(count);
      this.blockLen = new Uint32Array(count);
      const keyParts: Buffer[] = [];
      let total = 0;
      for (let i = 0; i < count; i++) {
        const k = r.bytes(r.varint());
        keyParts.push(k);
        this.idxKeyOff[i] = total;
        total += k.length;
        this.blockOff[i] = r.varint();
        this.blockLen[i] = r.varint();
        if (this.blockOff[i]! + this.blockLen[i]! + 4 > indexOff) throw corrupt(path, 'block handle out of range');
      }
      this.idxKeyOff[count] = total;
      this.idxKeys = Buffer.concat(keyParts, total);
      const bl = this.read(bloomOff, bloomLen);
      if (crc32c(bl, 0, bloomLen - 4) !== bl.readUInt32LE(bloomLen - 4)) throw corrupt(path, 'filter checksum mismatch');
      this.bloom = Buffer.from(bl.subarray(0, bloomLen - 4));
    } catch (err) {
      closeSync(this.fd);
      if (LsmError.is(err)) throw err;
      throw corrupt(path, 'unreadable footer or index', err);
    }
  }

  private read(pos: number, len: number): Buffer {
    const b = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const n = readSync(this.fd, b, got, len - got, pos + got);
      if (n === 0) throw corrupt(this.path, 'unexpected end of file');
      got += n;
    }
    return b;
  }

  get blocks(): number {
    return this.blockOff.length;
  }

  mayContain(h1: number, h2: number): boolean {
    return bloomMayContain(this.bloom, h1, h2);
  }

  /** First block whose last key >= key (or blocks when none). */
  findBlock(key: Buffer): number {
    let lo = 0;
    let hi = this.blockOff.length;
    const ks = this.idxKeys;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cmpRange(ks, this.idxKeyOff[mid]!, this.idxKeyOff[mid + 1]!, key, 0, key.length) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Data block `i` (contents without its CRC), verified, via the cache. */
  block(i: number): Buffer {
    const ck = cacheKey(this.id, i);
    const hit = this.cache.get(ck);
    if (hit) return hit;
    const len = this.blockLen[i]!;
    const b = this.read(this.blockOff[i]!, len + 4);
    if (crc32c(b, 0, len) !== b.readUInt32LE(len)) throw corrupt(this.path, `block ${i} checksum mismatch`);
    const blk = b.subarray(0, len);
    this.cache.set(ck, blk);
    return blk;
  }

  /**
   * Newest version of `key` with seq <= snap. Fills `out` and returns true when found. The value is a
   * view into the cached block: it must not be modified, and is copied before it reaches a user.
   */
  get(key: Buffer, snap: number, out: { seq: number; kind: number; value: Buffer | undefined }, scratch: DecodedBlock): boolean {
    void scratch;
    for (let bi = this.findBlock(key); bi < this.blocks; bi++) {
      const r = this.getInBlock(this.block(bi), bi, key, snap, out);
      if (r !== 2) return r === 1;
    }
    return false;
  }

  private keyScratch = Buffer.allocUnsafe(256);

  /**
   * Point lookup inside one block through its restart points (no full decode).
   * Returns 1 found, 0 absent, 2 the key's versions may continue in the next block.
   */
  private getInBlock(b: Buffer, bi: number, key: Buffer, snap: number, out: { seq: number; kind: number; value: Buffer | undefined }): number {
    const len = b.length;
    const nr = len >= 4 ? b.readUInt32LE(len - 4) : 0;
    const end = len - 4 - 4 * nr;
    if (nr === 0 || end < 0) throw corrupt(this.path, `bad restarts in block ${bi}`);
    // last restart whose key is < key
    let lo = 0;
    let hi = nr - 1;
    let start = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      let pos = b.readUInt32LE(end + 4 * mid);
      if (pos >= end) throw corrupt(this.path, `bad restart offset in block ${bi}`);
      let x: number;
      do x = b[pos++]!; while (x >= 0x80); // shared (0)
      let unshared = 0;
      let mul = 1;
      do { x = b[pos++]!; unshared += (x & 0x7f) * mul; mul *= 128; } while (x >= 0x80);
      do x = b[pos++]!; while (x >= 0x80); // value length
      pos++; // kind
      do x = b[pos++]!; while (x >= 0x80); // seq
      if (pos + unshared > end) throw corrupt(this.path, `bad restart entry in block ${bi}`);
      if (cmpRange(b, pos, pos + unshared, key, 0, key.length) < 0) {
        start = b.readUInt32LE(end + 4 * mid);
        lo = mid + 1;
      } else hi = mid - 1;
    }
    let pos = start;
    let kl = 0;
    let ks = this.keyScratch;
    while (pos < end) {
      let shared = 0;
      let unshared = 0;
      let vlen = 0;
      let seq = 0;
      let x: number;
      let mul = 1;
      do { x = b[pos++]!; shared += (x & 0x7f) * mul; mul *= 128; } while (x >= 0x80);
      mul = 1;
      do { x = b[pos++]!; unshared += (x & 0x7f) * mul; mul *= 128; } while (x >= 0x80);
      mul = 1;
      do { x = b[pos++]!; vlen += (x & 0x7f) * mul; mul *= 128; } while (x >= 0x80);
      const kind = b[pos++]!;
      mul = 1;
      do { x = b[pos++]!; seq += (x & 0x7f) * mul; mul *= 128; } while (x >= 0x80 && mul < 2 ** 63);
      if (shared > kl || pos + unshared + vlen > end || kind > 1) throw corrupt(this.path, `undecodable block ${bi}`);
      const klen = shared + unshared;
      if (klen > ks.length) {
        const nk = Buffer.allocUnsafe(klen * 2);
        ks.copy(nk, 0, 0, shared);
        this.keyScratch = ks = nk;
      }
      // a byte loop, not Buffer#copy: copy makes a Uint8Array view of the source range per call, and
      // the unshared key suffixes here are a few bytes (one lookup walks up to a restart interval)
      for (let j = 0; j < unshared; j++) ks[shared + j] = b[pos + j]!;
      kl = klen;
      pos += unshared;
      const c = cmpRange(ks, 0, kl, key, 0, key.length);
      if (c > 0) return 0;
      if (c === 0 && seq <= snap) {
        out.seq = seq;
        out.kind = kind;
        // a view into the cached block (no copy): Db.getSync copies it unless the caller borrows
        out.value = kind === 1 ? b.subarray(pos, pos + vlen) : undefined;
        return 1;
      }
      pos += vlen;
    }
    return 2;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
    } catch {
      /* ignore */
    }
  }
}

/** A data block decoded into parallel typed arrays (full keys materialised). Reused across blocks. */
export class DecodedBlock {
  n = 0;
  index = -1;
  buf: Buffer = Buffer.alloc(0);
  keys: Buffer = Buffer.allocUnsafe(4096);
  keyOff = new Uint32Array(65);
  valOff = new Uint32Array(64);
  valLen = new Uint32Array(64);
  seq = new Float64Array(64);
  kind = new Uint8Array(64);

  private grow(): void {
    const c = this.valOff.length * 2;
    const ko = new Uint32Array(c + 1);
    ko.set(this.keyOff);
    this.keyOff = ko;
    const vo = new Uint32Array(c);
    vo.set(this.valOff);
    this.valOff = vo;
    const vl = new Uint32Array(c);
    vl.set(this.valLen);
    this.valLen = vl;
    const s = new Float64Array(c);
    s.set(this.seq);
    this.seq = s;
    const k = new Uint8Array(c);
    k.set(this.kind);
    this.kind = k;
  }

  load(t: TableReader, bi: number): void {
    const b = t.block(bi);
    this.buf = b;
    this.index = bi;
    try {
      const len = b.length;
      if (len < 4) throw new RangeError('short block');
      const nr = b.readUInt32LE(len - 4);
      const end = len - 4 - 4 * nr;
      if (end < 0) throw new RangeError('bad restart count');
      let pos = 0;
      let n = 0;
      let kl = 0;
      let prevStart = 0;
      while (pos < end) {
        if (n === this.valOff.length) this.grow();
        let shared = 0;
        let unshared = 0;
        let vlen = 0;
        let seq = 0;
        let x: number;
        let mul = 1;
        do { x = b[pos++]!; shared += (x & 0x7f) * mul; mul *= 128; } while (x >= 0x80);
        mul = 1;
        do { x = b[pos++]!; unshared += (x & 0x7f) * mul; mul *= 128; } while (x >= 0x80);
        mul = 1;
        do { x = b[pos++]!; vlen += (x & 0x7f) * mul; mul *= 128; } while (x >= 0x80);
        const kind = b[pos++]!;
        mul = 1;
        do { x = b[pos++]!; seq += (x & 0x7f) * mul; mul *= 128; } while (x >= 0x80 && mul < 2 ** 63);
        if (shared > (n > 0 ? this.keyOff[n]! - prevStart : 0) || pos + unshared + vlen > end || kind > 1) throw new RangeError('bad entry');
        const klen = shared + unshared;
        if (kl + klen > this.keys.length) {
          const nk = Buffer.allocUnsafe(Math.max(this.keys.length * 2, kl + klen));
          this.keys.copy(nk, 0, 0, kl);
          this.keys = nk;
        }
        if (shared > 0) this.keys.copyWithin(kl, prevStart, prevStart + shared);
        b.copy(this.keys, kl + shared, pos, pos + unshared);
        pos += unshared;
        this.keyOff[n] = kl;
        prevStart = kl;
        kl += klen;
        this.keyOff[n + 1] = kl;
        this.valOff[n] = pos;
        this.valLen[n] = vlen;
        this.seq[n] = seq;
        this.kind[n] = kind;
        pos += vlen;
        n++;
      }
      if (pos !== end) throw new RangeError('entries overrun restarts');
      this.n = n;
    } catch (err) {
      this.n = 0;
      this.index = -1;
      throw corrupt(t.path, `undecodable block ${bi}`, err);
    }
  }

  /** Compare entry i's key with `key`. */
  compareKey(i: number, key: Buffer): number {
    return cmpRange(this.keys, this.keyOff[i]!, this.keyOff[i + 1]!, key, 0, key.length);
  }

  /** First entry with key >= key (n if none). */
  lowerBound(key: Buffer): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compareKey(mid, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First entry with key > key (n if none). */
  upperBound(key: Buffer): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compareKey(mid, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
