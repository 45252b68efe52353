/** The LSM key-value engine: {@link openDb}. */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as yieldLoop } from 'node:timers/promises';
import { LsmError } from '../errors.js';
import { Batch, checkKey, checkValue, encodeBatch } from './batch.js';
import { MAX_KEY, MiB, resolveOptions, tableName, walName, type Resolved } from './options.js';
import { ByteReader, ByteWriter, asBuffer, cmpRange, toBytes } from '../internal/bytes.js';
import { hash1, hash2 } from './bloom.js';
import { BlockCache } from './block-cache.js';
import { LevelCursor, MemCursor, MergeIterator, TableCursor, type Cursor, type ValueRef } from './cursor.js';
import { lockDir } from './lock.js';
import { readManifest, syncDir, writeManifest, type ManifestState } from './manifest.js';
import { MAX_SLABS } from './arena.js';
import { KIND_DEL, KIND_PUT, Memtable, type MemGetResult } from './memtable.js';
import { TableBuilder, type TableProps } from './table-builder.js';
import { DecodedBlock, TableReader } from './table-reader.js';
import type {
  BatchOp,
  Bytes,
  CompactionJob,
  Db,
  DbOptions,
  DbStats,
  GetOptions,
  IteratorOptions,
  Snapshot,
  TableInfo,
  VersionView,
  WriteBatch,
} from './types.js';
import { MAX_LEVELS, buildLevels, toManifest, type TableEntry } from './version.js';
import { replayWal, WalWriter } from './wal.js';

class DbImpl implements Db {
  private mem: Memtable;
  private readonly imm: Memtable[] = [];
  private wal: WalWriter | undefined;
  private readonly walFiles: number[] = [];
  private seq: number;
  private readonly tables = new Map<number, TableEntry>();
  private levels: TableEntry[][] = [];
  private order: TableEntry[] = [];
  private readonly busy = new Set<number>();
  private readonly snaps = new Map<number, number>();
  private readonly cache: BlockCache;
  private readonly enc = new ByteWriter(64 * 1024);
  private readonly getOut: MemGetResult = { seq: 0, kind: 0, value: undefined };
  private readonly scratch = new DecodedBlock();
  private closed = false;
  private closing: Promise<void> | undefined;
  private flushing: Promise<void> | undefined;
  private compacting: Promise<void> | undefined;
  private compactAgain = false;
  private bgError: unknown;
  private waiters: (() => void)[] = [];
  private readonly s = {
    walRecordsReplayed: 0,
    walBytesSalvaged: 0,
    flushes: 0,
    compactions: 0,
    compactionBytesRead: 0,
    compactionBytesWritten: 0,
    flushBytesWritten: 0,
    walBytesTotal: 0,
    walSyncsClosed: 0,
    userBytesWritten: 0,
    stallsSlowdown: 0,
    stallsStop: 0,
    stallMs: 0,
    tablesOpened: 0,
    tablesPrunedByTime: 0,
    tablesDroppedByTime: 0,
    bloomChecks: 0,
    bloomNegatives: 0,
  };

  constructor(
    readonly dir: string,
    private readonly o: Resolved,
    private manifest: ManifestState,
    private readonly unlock: () => void,
  ) {
    this.cache = new BlockCache(o.blockCacheBytes);
    this.seq = manifest.lastSeq;
    this.mem = new Memtable(o.arenaSlabBytes, o.random);
  }

  // ---------------------------------------------------------------- open

  init(): void {
    const dir = this.dir;
    for (const t of this.manifest.tables) {
      const reader = new TableReader(join(dir, tableName(t.id)), t.id, this.cache);
      this.s.tablesOpened++;
      this.tables.set(t.id, { info: this.infoOf(t.id, t.level, reader.props), reader, refs: 0, obsolete: false });
    }
    this.rebuild();
    const live = new Set(this.manifest.tables.map((t) => t.id));
    const logs: number[] = [];
    for (const name of readdirSync(dir)) {
      const m = /^(\d+)\.(sst|log)$/.exec(name);
      if (name === 'MANIFEST.tmp') rmSync(join(dir, name), { force: true });
      if (!m) continue;
      const n = Number(m[1]);
      if (n >= this.manifest.nextId) this.manifest.nextId = n + 1;
      if (m[2] === 'sst' && !live.has(n)) rmSync(join(dir, name), { force: true });
      if (m[2] === 'log') {
        if (n >= this.manifest.logNumber) logs.push(n);
        else rmSync(join(dir, name), { force: true });
      }
    }
    logs.sort((a, b) => a - b);
    for (const n of logs) {
      const r = replayWal(join(dir, walName(n)), this.o.salvage, (p) => this.replayRecord(p));
      this.s.walRecordsReplayed += r.records;
      if (r.corrupt) this.s.walBytesSalvaged += r.droppedBytes;
      this.walFiles.push(n);
    }
    this.mem.walNumber = logs[0] ?? 0;
    if (this.o.wal) {
      const n = this.manifest.nextId++;
      this.wal = new WalWriter(join(dir, walName(n)), n, this.o.wal.sync, this.o.wal.intervalMs);
      this.walFiles.push(n);
      if (this.mem.walNumber === 0) this.mem.walNumber = n;
    }
    syncDir(dir);
    if (this.mem.bytes >= this.o.memtableBytes) this.rotate();
    this.scheduleCompaction();
  }

  private replayRecord(p: Buffer): void {
    const r = new ByteReader(p);
    let seq = r.f64();
    const count = r.u32();
    if (!Number.isInteger(seq) || seq < 1) throw new RangeError('bad sequence');
    for (let i = 0; i < count; i++) {
      const kind = r.u8();
      const key = r.bytes(r.varint());
      if (kind === KIND_PUT) this.mem.add(seq, kind, key, r.bytes(r.varint()));
      else if (kind === KIND_DEL) this.mem.add(seq, kind, key, undefined);
      else throw new RangeError('bad kind');
      seq++;
    }
    if (r.pos !== p.length) throw new RangeError('trailing bytes');
    if (seq - 1 > this.seq) this.seq = seq - 1;
  }

  private infoOf(id: number, level: number, p: TableProps): TableInfo {
    return {
      id,
      level,
      size: p.size,
      entries: p.entries,
      smallest: p.smallest,
      largest: p.largest,
      minSeq: p.minSeq,
      maxSeq: p.maxSeq,
      minTime: p.minTime,
      maxTime: p.maxTime,
      createdAt: p.createdAt,
    };
  }

  private rebuild(): void {
    const { levels, order } = buildLevels(this.tables.values());
    this.levels = levels;
    this.order = order;
  }

  private saveManifest(): void {
    this.manifest.tables = [...this.tables.values()].map((t) => toManifest(t.info, t.reader.blocks));
    writeManifest(this.dir, this.manifest);
  }

  // ---------------------------------------------------------------- writes

  private ensureOpen(): void {
    if (this.closed) throw new LsmError('LSM_CLOSED', 'the database is closed');
  }

  put(key: Bytes | string, value: Bytes | string): Promise<void> {
    try {
      return this.apply([KIND_PUT], [checkKey(key)], [checkValue(value)]);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  del(key: Bytes | string): Promise<void> {
    try {
      return this.apply([KIND_DEL], [checkKey(key)], [undefined]);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  batch(): WriteBatch {
    return new Batch(this);
  }

  write(ops: readonly BatchOp[]): Promise<void> {
    try {
      if (!Array.isArray(ops)) throw new LsmError('LSM_INVALID_ARGUMENT', 'ops must be an array');
      const b = new Batch(this);
      for (const op of ops) {
        if (op?.type === 'put') b.put(op.key, op.value);
        else if (op?.type === 'del') b.del(op.key);
        else throw new LsmError('LSM_INVALID_ARGUMENT', "each op must have type 'put' or 'del'");
      }
      return b.write();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async apply(kinds: number[], keys: Buffer[], vals: (Buffer | undefined)[]): Promise<void> {
    this.ensureOpen();
    if (kinds.length === 0) return;
    if (this.needsStall()) await this.stall();
    this.ensureOpen();
    let total = 0;
    let large = 0;
    const quarter = this.o.arenaSlabBytes >>> 2;
    for (let i = 0; i < kinds.length; i++) {
      const n = keys[i]!.length + (vals[i]?.length ?? 0) + 64;
      total += n;
      if (n > quarter) large++;
    }
    const arenaCap = this.o.arenaSlabBytes * 1024;
    if (total > arenaCap) throw new LsmError('LSM_INVALID_ARGUMENT', `batch of ${total} bytes exceeds the memtable arena (${arenaCap} bytes)`);
    if (this.mem.arena.reserved + total > arenaCap || this.mem.arena.slabs.length + large + total / this.o.arenaSlabBytes + 2 > MAX_SLABS) this.rotate();
    const first = this.seq + 1;
    this.seq += kinds.length;
    let durable: Promise<void> | undefined;
    if (this.wal) durable = this.wal.append(encodeBatch(this.enc, first, kinds, keys, vals));
    const m = this.mem;
    let bytes = 0;
    for (let i = 0; i < kinds.length; i++) {
      m.add(first + i, kinds[i]!, keys[i]!, vals[i]);
      bytes += keys[i]!.length + (vals[i]?.length ?? 0);
    }
    this.s.userBytesWritten += bytes;
    if (m.bytes >= this.o.memtableBytes) this.rotate();
    if (durable) await durable;
  }

  private needsStall(): boolean {
    return this.imm.length >= 2 || (this.levels[0]?.length ?? 0) >= this.o.l0Slowdown;
  }

  /** Write stalls: slow down past l0Slowdown, wait for background work past l0Stop or 2 unflushed memtables. */
  private async stall(): Promise<void> {
    const t0 = performance.now();
    let slowed = false;
    for (;;) {
      if (this.bgError !== undefined) throw new LsmError('LSM_IO', 'background work failed; writes refused', { cause: this.bgError });
      this.ensureOpen();
      const l0 = this.levels[0]!.length;
      const working = this.flushing !== undefined || this.compacting !== undefined;
      if (working && (this.imm.length >= 2 || l0 >= this.o.l0Stop)) {
        this.s.stallsStop++;
        await new Promise<void>((r) => this.waiters.push(r));
        continue;
      }
      if (!slowed && working && l0 >= this.o.l0Slowdown) {
        slowed = true;
        this.s.stallsSlowdown++;
        await new Promise((r) => setTimeout(r, 1));
        continue;
      }
      break;
    }
    this.s.stallMs += performance.now() - t0;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Active memtable -> immutable; new WAL file; schedules the flush. */
  private rotate(): void {
    if (this.mem.count === 0) return;
    this.imm.push(this.mem);
    const old = this.wal;
    this.mem = new Memtable(this.o.arenaSlabBytes, this.o.random);
    if (this.o.wal) {
      const n = this.manifest.nextId++;
      this.wal = new WalWriter(join(this.dir, walName(n)), n, this.o.wal.sync, this.o.wal.intervalMs);
      this.walFiles.push(n);
      this.mem.walNumber = n;
      if (old) {
        this.s.walBytesTotal += old.bytes;
        this.s.walSyncsClosed += old.syncs;
        void old.close().catch((err: unknown) => (this.bgError = err));
      }
    }
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushing) return;
    this.flushing = (async () => {
      try {
        while (this.imm.length > 0) {
          await yieldLoop();
          this.flushOne();
          this.wake();
          this.scheduleCompaction();
        }
      } catch (err) {
        this.bgError = err;
      } finally {
        this.flushing = undefined;
        this.wake();
      }
      this.scheduleCompaction();
    })();
  }

  private snapshotSeqs(): number[] {
    return [...this.snaps.keys()].sort((a, b) => a - b);
  }

  private flushOne(): void {
    const m = this.imm[0]!;
    const snaps = this.snapshotSeqs();
    const id = this.manifest.nextId++;
    const path = join(this.dir, tableName(id));
    const b = new TableBuilder(path, { blockBytes: this.o.blockBytes, bloomBitsPerKey: this.o.bloomBitsPerKey, timeRange: this.o.timeRange, createdAt: this.o.clock() });
    let props: TableProps;
    try {
      const c = new MemCursor(m);
      c.seekFirst();
      const prevKey = Buffer.allocUnsafe(MAX_KEY);
      let prevLen = -1;
      let prevSeq = 0;
      const loc = { buf: Buffer.alloc(0), start: 0, end: 0 };
      let p = m.first();
      while (p !== 0) {
        const kb = m.keyBuf(p);
        const ks = m.keyStart(p);
        const ke = m.keyEnd(p);
        const seq = m.seqOf(p);
        const same = prevLen === ke - ks && cmpRange(kb, ks, ke, prevKey, 0, prevLen) === 0;
        if (!same || needed(snaps, seq, prevSeq)) {
          m.valueLoc(p, loc);
          b.add(kb, ks, ke, seq, m.kindOf(p), loc.buf, loc.start, loc.end);
        }
        if (!same) {
          kb.copy(prevKey, 0, ks, ke);
          prevLen = ke - ks;
        }
        prevSeq = seq;
        p = m.next(p, 0);
      }
      props = b.finish();
    } catch (err) {
      b.abort();
      rmSync(path, { force: true });
      throw err;
    }
    const reader = new TableReader(path, id, this.cache);
    this.s.tablesOpened++;
    this.tables.set(id, { info: this.infoOf(id, 0, props), reader, refs: 0, obsolete: false });
    this.manifest.logNumber = this.o.wal ? (this.imm[1] ?? this.mem).walNumber : 0;
    if (m.maxSeq > this.manifest.lastSeq) this.manifest.lastSeq = m.maxSeq;
    this.saveManifest();
    this.rebuild();
    this.imm.shift();
    this.retireMem(m);
    this.s.flushes++;
    this.s.flushBytesWritten += props.size;
    while (this.walFiles.length > 0 && this.walFiles[0]! < this.manifest.logNumber) {
      rmSync(join(this.dir, walName(this.walFiles.shift()!)), { force: true });
    }
  }

  private readonly memRefs = new Map<Memtable, number>();
  private retireMem(m: Memtable): void {
    if ((this.memRefs.get(m) ?? 0) === 0) m.release();
    else this.memRefs.set(m, -this.memRefs.get(m)!); // negative: release when refs reach 0
  }

  // ---------------------------------------------------------------- reads

  get(key: Bytes | string, opts?: GetOptions): Promise<Bytes | undefined> {
    try {
      this.ensureOpen();
      const k = checkKey(key);
      const snap = opts?.snapshot ? this.snapSeq(opts.snapshot) : this.seq;
      const tr = checkTimeRange(opts?.timeRange);
      return Promise.resolve(this.getSync(k, snap, tr === undefined ? this.order : this.tablesIn(tr)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  getMany(keys: readonly (Bytes | string)[], opts?: GetOptions): Promise<(Bytes | undefined)[]> {
    try {
      this.ensureOpen();
      if (!Array.isArray(keys)) throw new LsmError('LSM_INVALID_ARGUMENT', 'keys must be an array');
      const ks = keys.map((key) => checkKey(key));
      const snap = opts?.snapshot ? this.snapSeq(opts.snapshot) : this.seq;
      const tr = checkTimeRange(opts?.timeRange);
      const tables = tr === undefined ? this.order : this.tablesIn(tr);
      const borrow = opts?.borrow === true;
      const out = new Array<Bytes | undefined>(ks.length);
      for (let i = 0; i < ks.length; i++) out[i] = this.getSync(ks[i]!, snap, tables, borrow);
      return Promise.resolve(out);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The tables of the read order whose time range intersects `tr` (tables without one are kept). */
  private tablesIn(tr: { min: number; max: number }): readonly TableEntry[] {
    const kept: TableEntry[] = [];
    for (const t of this.order) {
      const i = t.info;
      if (i.minTime !== undefined && i.maxTime !== undefined && (i.maxTime < tr.min || i.minTime > tr.max)) this.s.tablesPrunedByTime++;
      else kept.push(t);
    }
    return kept;
  }

  private getSync(k: Buffer, snap: number, tables: readonly TableEntry[], borrow = false): Bytes | undefined {
    const out = this.getOut;
    if (this.mem.get(k, snap, out)) return out.value;
    for (let i = this.imm.length - 1; i >= 0; i--) if (this.imm[i]!.get(k, snap, out)) return out.value;
    let found = false;
    let bestSeq = -1;
    let bestVal: Buffer | undefined;
    let h1 = -1;
    let h2 = 0;
    for (const t of tables) {
      const info = t.info;
      if (found && info.maxSeq < bestSeq) break;
      if (info.minSeq > snap) continue;
      // cmpRange, not asBuffer(..).compare: no Buffer view per table and key on the point-lookup path
      const sm = info.smallest;
      const lg = info.largest;
      if (cmpRange(sm, 0, sm.length, k, 0, k.length) > 0 || cmpRange(lg, 0, lg.length, k, 0, k.length) < 0) continue;
      if (h1 < 0) {
        h1 = hash1(k, 0, k.length);
        h2 = hash2(k, 0, k.length);
      }
      this.s.bloomChecks++;
      if (!t.reader.mayContain(h1, h2)) {
        this.s.bloomNegatives++;
        continue;
      }
      if (t.reader.get(k, snap, out, this.scratch) && out.seq > bestSeq) {
        found = true;
        bestSeq = out.seq;
        bestVal = out.kind === KIND_PUT ? out.value : undefined;
      }
    }
    // table values are views into cached blocks: a copy, unless the caller only reads them (borrow)
    return bestVal === undefined || borrow ? bestVal : Buffer.from(bestVal);
  }

  snapshot(): Snapshot {
    this.ensureOpen();
    const seq = this.seq;
    this.snaps.set(seq, (this.snaps.get(seq) ?? 0) + 1);
    let released = false;
    const snaps = this.snaps;
    return {
      seq,
      release() {
        if (released) return;
        released = true;
        const n = (snaps.get(seq) ?? 1) - 1;
        if (n <= 0) snaps.delete(seq);
        else snaps.set(seq, n);
      },
    };
  }

  private snapSeq(s: Snapshot): number {
    if (typeof s !== 'object' || s === null || !Number.isInteger(s.seq) || s.seq < 0 || s.seq > this.seq) {
      throw new LsmError('LSM_INVALID_ARGUMENT', 'snapshot is not a snapshot of this database');
    }
    return s.seq;
  }

  iterator(opts: IteratorOptions = {}): AsyncIterable<[Bytes, Bytes]> {
    this.ensureOpen();
    if (typeof opts !== 'object' || opts === null) throw new LsmError('LSM_INVALID_ARGUMENT', 'iterator options must be an object');
    const b = (v: unknown, n: string) => (v === undefined ? undefined : toBytes(v, n));
    const gt = b(opts.gt, 'gt');
    const gte = b(opts.gte, 'gte');
    const lt = b(opts.lt, 'lt');
    const lte = b(opts.lte, 'lte');
    const limit = opts.limit ?? Infinity;
    if (typeof limit !== 'number' || Number.isNaN(limit) || limit < 0) throw new LsmError('LSM_INVALID_ARGUMENT', 'limit must be a non-negative number');
    const tr = checkTimeRange(opts.timeRange);
    const reverse = opts.reverse === true;
    const lower = gte ?? gt;
    const upper = lte ?? lt;
    const signal = opts.signal;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const db = this;
    return {
      [Symbol.asyncIterator]: async function* () {
        db.ensureOpen();
        const ownSnap = opts.snapshot ? undefined : db.snapshot();
        const snap = opts.snapshot ? db.snapSeq(opts.snapshot) : ownSnap!.seq;
        const mems = [db.mem, ...db.imm];
        for (const m of mems) db.memRefs.set(m, (db.memRefs.get(m) ?? 0) + 1);
        const used: TableEntry[] = [];
        const cursors: Cursor[] = mems.map((m) => new MemCursor(m));
        const chosen = new Set<TableEntry>();
        for (const t of db.order) {
          const i = t.info;
          if (i.minSeq > snap) continue;
          if (lower && asBuffer(i.largest).compare(lower) < 0) continue;
          if (upper && asBuffer(i.smallest).compare(upper) > 0) continue;
          if (tr && i.minTime !== undefined && i.maxTime !== undefined && (i.maxTime < tr.min || i.minTime > tr.max)) {
            db.s.tablesPrunedByTime++;
            continue;
          }
          t.refs++;
          used.push(t);
          chosen.add(t);
        }
        // Tables are packed into chains of disjoint key ranges; each chain is read by one concatenating
        // cursor (a whole level under leveled compaction; all L0 tables when writes were sequential).
        const sorted = [...chosen].sort((x, y) => asBuffer(x.info.smallest).compare(y.info.smallest));
        const chains: TableEntry[][] = [];
        for (const t of sorted) {
          const chain = chains.find((c) => asBuffer(c[c.length - 1]!.info.largest).compare(t.info.smallest) < 0);
          if (chain) chain.push(t);
          else chains.push([t]);
        }
        for (const c of chains) {
          if (c.length === 1) cursors.push(new TableCursor(c[0]!.reader));
          else cursors.push(new LevelCursor(c.map((t) => t.reader), c.map((t) => asBuffer(t.info.largest))));
        }
        try {
          const it = new MergeIterator(cursors, snap, reverse, reverse ? upper : lower);
          let n = 0;
          while (n < limit && it.next()) {
            if (signal?.aborted) throw new LsmError('LSM_ABORTED', 'iteration aborted', { cause: signal.reason });
            const k = it.key;
            if (reverse) {
              if (lt && k.compare(lt) >= 0) continue;
              if (gte && k.compare(gte) < 0) break;
              if (gt && k.compare(gt) <= 0) break;
            } else {
              if (gt && k.compare(gt) <= 0) continue;
              if (lte && k.compare(lte) > 0) break;
              if (lt && k.compare(lt) >= 0) break;
            }
            n++;
            yield [k, it.value] as [Bytes, Bytes];
          }
        } finally {
          ownSnap?.release();
          for (const m of mems) {
            const r = db.memRefs.get(m)!;
            if (r > 0) {
              if (r === 1) db.memRefs.delete(m);
              else db.memRefs.set(m, r - 1);
            } else {
              if (r === -1) {
                db.memRefs.delete(m);
                m.release();
              } else db.memRefs.set(m, r + 1);
            }
          }
          for (const t of used) {
            t.refs--;
            if (t.refs === 0 && t.obsolete) db.deleteTable(t);
          }
        }
      },
    };
  }

  // ---------------------------------------------------------------- flush / compaction

  async flush(): Promise<void> {
    this.ensureOpen();
    this.rotate();
    while (this.flushing) await this.flushing;
    if (this.bgError !== undefined) throw LsmError.is(this.bgError) ? this.bgError : new LsmError('LSM_IO', 'flush failed', { cause: this.bgError });
  }

  private view(): VersionView {
    return {
      levels: this.levels.map((l) => l.map((t) => t.info)),
      maxLevels: MAX_LEVELS,
      busy: this.busy,
      now: this.o.clock(),
    };
  }

  private scheduleCompaction(): void {
    if (this.closed || this.bgError !== undefined) return;
    if (this.compacting) {
      this.compactAgain = true;
      return;
    }
    this.compacting = (async () => {
      await yieldLoop();
      try {
        do {
          this.compactAgain = false;
          for (;;) {
            if (this.closing) return;
            const job = this.o.compaction.pick(this.view());
            if (!job) break;
            await this.runJob(job);
            this.wake();
          }
        } while (this.compactAgain && !this.closing);
      } catch (err) {
        this.bgError = err;
      } finally {
        this.compacting = undefined;
        this.wake();
      }
    })();
  }

  private validateJob(job: CompactionJob): TableEntry[] {
    if (!job || !Array.isArray(job.inputs) || job.inputs.length === 0) throw new LsmError('LSM_INVALID_ARGUMENT', 'compaction job needs inputs');
    if (!Number.isInteger(job.outputLevel) || job.outputLevel < 0 || job.outputLevel >= MAX_LEVELS) {
      throw new LsmError('LSM_INVALID_ARGUMENT', `outputLevel must be in [0, ${MAX_LEVELS - 1}]`);
    }
    const ins = [...new Set(job.inputs)].map((id) => {
      const t = this.tables.get(id);
      if (!t || this.busy.has(id)) throw new LsmError('LSM_INVALID_ARGUMENT', `compaction input ${id} is unknown or busy`);
      return t;
    });
    return ins;
  }

  private async runJob(job: CompactionJob): Promise<void> {
    const ins = this.validateJob(job);
    for (const t of ins) this.busy.add(t.info.id);
    try {
      if (this.tryMove(ins, job)) return;
      await this.mergeJob(ins, job);
    } finally {
      for (const t of ins) this.busy.delete(t.info.id);
    }
  }

  /** Trivial move: inputs disjoint from each other and from the output level: only the manifest changes. */
  private tryMove(ins: TableEntry[], job: CompactionJob): boolean {
    if (job.partition) return false;
    const sorted = [...ins].sort((a, b) => asBuffer(a.info.smallest).compare(b.info.smallest));
    for (let i = 1; i < sorted.length; i++) if (asBuffer(sorted[i - 1]!.info.largest).compare(sorted[i]!.info.smallest) >= 0) return false;
    const inSet = new Set(ins);
    for (const t of this.levels[job.outputLevel]!) {
      if (inSet.has(t)) continue;
      for (const x of ins) if (asBuffer(t.info.largest).compare(x.info.smallest) >= 0 && asBuffer(t.info.smallest).compare(x.info.largest) <= 0) return false;
    }
    for (const t of ins) t.info = { ...t.info, level: job.outputLevel };
    this.saveManifest();
    this.rebuild();
    this.s.compactions++;
    return true;
  }

  private async mergeJob(ins: TableEntry[], job: CompactionJob): Promise<void> {
    const snaps = this.snapshotSeqs();
    let lo = ins[0]!.info.smallest;
    let hi = ins[0]!.info.largest;
    let inMax = 0;
    for (const t of ins) {
      if (asBuffer(t.info.smallest).compare(lo) < 0) lo = t.info.smallest;
      if (asBuffer(t.info.largest).compare(hi) > 0) hi = t.info.largest;
      inMax = Math.max(inMax, t.info.maxSeq);
      this.s.compactionBytesRead += t.info.size;
    }
    const inSet = new Set(ins);
    // Tombstones may be dropped when no other table can hold an older version of their keys.
    let bottom = true;
    for (const t of this.tables.values()) {
      if (inSet.has(t)) continue;
      if (t.info.minSeq < inMax && asBuffer(t.info.largest).compare(lo) >= 0 && asBuffer(t.info.smallest).compare(hi) <= 0) bottom = false;
    }
    const oldestSnap = snaps.length > 0 ? snaps[0]! : Infinity;
    const target = job.targetTableBytes ?? 16 * MiB;
    const outputs: { id: number; b: TableBuilder; props?: TableProps }[] = [];
    const open = new Map<number, (typeof outputs)[number]>();
    const builderFor = (part: number, newKey: boolean) => {
      let o = open.get(part);
      if (o && newKey && o.b.size >= target) {
        o.props = o.b.finish();
        open.delete(part);
        o = undefined;
      }
      if (!o) {
        const id = this.manifest.nextId++;
        o = { id, b: new TableBuilder(join(this.dir, tableName(id)), { blockBytes: this.o.blockBytes, bloomBitsPerKey: this.o.bloomBitsPerKey, timeRange: this.o.timeRange, createdAt: this.o.clock() }) };
        outputs.push(o);
        open.set(part, o);
      }
      return o.b;
    };
    const cursors = ins.map((t) => new TableCursor(t.reader));
    const cleanup = () => {
      for (const o of outputs) {
        if (!o.props) o.b.abort();
        rmSync(join(this.dir, tableName(o.id)), { force: true });
      }
    };
    try {
      for (const c of cursors) c.seekFirst();
      // Entries stream out in internal order (key asc, seq desc); keep rules are applied on the fly.
      const prevKey = Buffer.allocUnsafe(MAX_KEY);
      let prevLen = -1;
      let prevSeq = 0;
      let dropKey = false;
      let steps = 0;
      const ref: ValueRef = { buf: EMPTY, start: 0, end: 0 };
      const lastKeyOf = new Map<number, number>(); // partition -> steps value of the last key written
      let keyNo = 0;
      for (;;) {
        let best: Cursor | undefined;
        for (const c of cursors) {
          if (!c.valid) continue;
          if (!best) {
            best = c;
            continue;
          }
          const cmp = cmpRange(c.keyBuf, c.ks, c.ke, best.keyBuf, best.ks, best.ke);
          if (cmp < 0 || (cmp === 0 && c.seq > best.seq)) best = c;
        }
        if (!best) break;
        const same = prevLen === best.ke - best.ks && cmpRange(best.keyBuf, best.ks, best.ke, prevKey, 0, prevLen) === 0;
        const seq = best.seq;
        if (!same) {
          best.keyBuf.copy(prevKey, 0, best.ks, best.ke);
          prevLen = best.ke - best.ks;
          keyNo++;
          // a newest-version tombstone with nothing older visible anywhere: drop it and the key's history
          dropKey = best.kind === KIND_DEL && bottom && !(oldestSnap < seq);
        }
        const keep = !dropKey && (!same || needed(snaps, seq, prevSeq));
        prevSeq = seq;
        if (keep) {
          best.valueRef(ref);
          const part = job.partition ? job.partition(prevKey.subarray(0, prevLen), ref.buf.subarray(ref.start, ref.end)) : 0;
          const newKey = lastKeyOf.get(part) !== keyNo;
          lastKeyOf.set(part, keyNo);
          builderFor(part, newKey).add(prevKey, 0, prevLen, seq, best.kind, ref.buf, ref.start, ref.end);
        }
        best.next();
        if (++steps % 4096 === 0) {
          await yieldLoop();
          if (this.closing) throw new LsmError('LSM_CLOSED', 'compaction interrupted by close');
        }
      }
      for (const o of outputs) if (!o.props) o.props = o.b.finish();
    } catch (err) {
      cleanup();
      if (LsmError.is(err, 'LSM_CLOSED')) return;
      throw err;
    }
    const created: TableEntry[] = [];
    try {
      for (const o of outputs) {
        if (o.props!.entries === 0) {
          rmSync(join(this.dir, tableName(o.id)), { force: true });
          continue;
        }
        const reader = new TableReader(join(this.dir, tableName(o.id)), o.id, this.cache);
        this.s.tablesOpened++;
        created.push({ info: this.infoOf(o.id, job.outputLevel, o.props!), reader, refs: 0, obsolete: false });
        this.s.compactionBytesWritten += o.props!.size;
      }
    } catch (err) {
      for (const c of created) c.reader.close();
      cleanup();
      throw err;
    }
    for (const t of ins) this.tables.delete(t.info.id);
    for (const c of created) this.tables.set(c.info.id, c);
    this.saveManifest();
    this.rebuild();
    this.s.compactions++;
    for (const t of ins) {
      t.obsolete = true;
      if (t.refs === 0) this.deleteTable(t);
    }
  }

  private deleteTable(t: TableEntry): void {
    t.reader.close();
    this.cache.evictTable(t.info.id, t.reader.blocks);
    rmSync(join(this.dir, tableName(t.info.id)), { force: true });
  }

  private async idle(): Promise<void> {
    while (this.flushing || this.compacting) {
      if (this.flushing) await this.flushing;
      if (this.compacting) await this.compacting;
    }
  }

  async compactRange(start?: Bytes | string, end?: Bytes | string): Promise<void> {
    this.ensureOpen();
    let lo = start === undefined ? undefined : toBytes(start, 'start');
    let hi = end === undefined ? undefined : toBytes(end, 'end');
    await this.flush();
    await this.idle();
    this.ensureOpen();
    const pick = new Set<TableEntry>();
    for (;;) {
      const before = pick.size;
      for (const t of this.tables.values()) {
        if (pick.has(t)) continue;
        if ((lo === undefined || asBuffer(t.info.largest).compare(lo) >= 0) && (hi === undefined || asBuffer(t.info.smallest).compare(hi) <= 0)) pick.add(t);
      }
      if (pick.size === before) break;
      for (const t of pick) {
        if (lo !== undefined && asBuffer(t.info.smallest).compare(lo) < 0) lo = asBuffer(t.info.smallest);
        if (hi !== undefined && asBuffer(t.info.largest).compare(hi) > 0) hi = asBuffer(t.info.largest);
      }
    }
    if (pick.size === 0) return;
    let level = 1;
    for (const t of pick) level = Math.max(level, t.info.level);
    const only = [...pick];
    if (only.length === 1 && only[0]!.info.level === level) return;
    await this.runJob({ inputs: only.map((t) => t.info.id), outputLevel: level });
    this.scheduleCompaction();
  }

  async dropTablesOlderThan(time: number): Promise<number> {
    this.ensureOpen();
    if (typeof time !== 'number' || Number.isNaN(time)) throw new LsmError('LSM_INVALID_ARGUMENT', 'time must be a number');
    const drop = [...this.tables.values()].filter((t) => !this.busy.has(t.info.id) && t.info.maxTime !== undefined && t.info.maxTime < time);
    if (drop.length === 0) return 0;
    for (const t of drop) this.tables.delete(t.info.id);
    this.saveManifest();
    this.rebuild();
    for (const t of drop) {
      t.obsolete = true;
      if (t.refs === 0) this.deleteTable(t);
    }
    this.s.tablesDroppedByTime += drop.length;
    return drop.length;
  }

  // ---------------------------------------------------------------- lifecycle

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      try {
        if (!this.o.wal && this.bgError === undefined) {
          this.rotate();
        }
        while (this.flushing) await this.flushing;
        await this.idle();
      } finally {
        this.closed = true;
        this.wake();
        if (this.wal) {
          this.s.walBytesTotal += this.wal.bytes;
          this.s.walSyncsClosed += this.wal.syncs;
          await this.wal.close().catch(() => undefined);
        }
        for (const t of this.tables.values()) t.reader.close();
        this.mem.release();
        for (const m of this.imm) m.release();
        this.unlock();
      }
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  stats(): DbStats {
    const levels = this.levels.map((l, level) => ({ level, tables: l.length, bytes: l.reduce((s, t) => s + t.info.size, 0) }));
    const diskBytes = levels.reduce((s, l) => s + l.bytes, 0);
    const walBytes = this.s.walBytesTotal + (this.closed ? 0 : (this.wal?.bytes ?? 0));
    const written = this.s.flushBytesWritten + this.s.compactionBytesWritten + walBytes;
    return {
      closed: this.closed,
      lastSeq: this.seq,
      memtableBytes: this.mem.bytes + this.imm.reduce((s, m) => s + m.bytes, 0),
      immutableMemtables: this.imm.length,
      arenaSlabs: this.mem.arena.slabs.length + this.imm.reduce((s, m) => s + m.arena.slabs.length, 0),
      walBytes,
      walSyncs: this.s.walSyncsClosed + (this.closed ? 0 : (this.wal?.syncs ?? 0)),
      walRecordsReplayed: this.s.walRecordsReplayed,
      walBytesSalvaged: this.s.walBytesSalvaged,
      levels,
      tables: this.tables.size,
      diskBytes,
      flushes: this.s.flushes,
      compactions: this.s.compactions,
      compactionBytesRead: this.s.compactionBytesRead,
      compactionBytesWritten: this.s.compactionBytesWritten,
      userBytesWritten: this.s.userBytesWritten,
      writeAmplification: this.s.userBytesWritten > 0 ? written / this.s.userBytesWritten : 0,
      stallsSlowdown: this.s.stallsSlowdown,
      stallsStop: this.s.stallsStop,
      stallMs: this.s.stallMs,
      tablesOpened: this.s.tablesOpened,
      tablesPrunedByTime: this.s.tablesPrunedByTime,
      tablesDroppedByTime: this.s.tablesDroppedByTime,
      bloomChecks: this.s.bloomChecks,
      bloomNegatives: this.s.bloomNegatives,
      cacheHits: this.cache.hits,
      cacheMisses: this.cache.misses,
      cacheBytes: this.cache.bytes,
      snapshots: [...this.snaps.values()].reduce((s, n) => s + n, 0),
    };
  }
}

const EMPTY = Buffer.alloc(0);

/** Validates a read's time-range hint (`undefined` when absent). */
function checkTimeRange(tr: unknown): { min: number; max: number } | undefined {
  if (tr === undefined) return undefined;
  const r = tr as { min?: unknown; max?: unknown } | null;
  if (typeof r !== 'object' || r === null || typeof r.min !== 'number' || typeof r.max !== 'number') throw new LsmError('LSM_INVALID_ARGUMENT', 'timeRange needs numeric min and max');
  return { min: r.min, max: r.max };
}

/** Whether an older version `seq` (the next newer one has `newer`) is visible to some snapshot. */
function needed(snaps: number[], seq: number, newer: number): boolean {
  for (const s of snaps) if (s >= seq && s < newer) return true;
  return false;
}

/**
 * Opens (or creates) an LSM key-value store in `dir`.
 *
 * @remarks
 * Recovery replays the WAL files not yet covered by tables; a torn tail stops cleanly, mid-file damage
 * throws `LSM_CORRUPT_WAL` unless `salvage` is set. Only one `Db` may hold a directory at a time.
 *
 * @param dir - directory of the store (created when missing).
 * @param opts - see {@link DbOptions}.
 * @returns the open {@link Db}.
 * @throws LsmError `LSM_INVALID_ARGUMENT` for bad options, `LSM_LOCKED` when the directory is open
 * elsewhere, `LSM_CORRUPT_WAL` / `LSM_CORRUPT_BLOCK` / `LSM_CORRUPT_MANIFEST` on damaged files,
 * `LSM_ABORTED` when `opts.signal` is aborted, `LSM_IO` on file-system errors.
 * @example
 * ```ts
 * import { openDb, textOf } from '@dataplane/lsm';
 *
 * await using db = await openDb('./data');
 * await db.put('user:1', 'ada');
 * const v = await db.get('user:1');
 * console.log(v && textOf(v)); // 'ada'
 * ```
 * @since 0.1.0
 */
export async function openDb(dir: string, opts: DbOptions = {}): Promise<Db> {
  if (typeof dir !== 'string' || dir.length === 0) throw new LsmError('LSM_INVALID_ARGUMENT', 'dir must be a non-empty string');
  const o = resolveOptions(opts);
  if (opts.signal?.aborted) throw new LsmError('LSM_ABORTED', 'open aborted', { cause: opts.signal.reason });
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new LsmError('LSM_IO', `cannot create ${dir}`, { cause: err });
  }
  const unlock = lockDir(dir);
  let db: DbImpl | undefined;
  try {
    let manifest = readManifest(dir);
    if (!manifest) {
      manifest = { format: 1, nextId: 1, lastSeq: 0, logNumber: 0, tables: [] };
      if (!existsSync(join(dir, 'MANIFEST'))) writeManifest(dir, manifest);
    }
    db = new DbImpl(dir, o, manifest, unlock);
    db.init();
    if (opts.signal?.aborted) throw new LsmError('LSM_ABORTED', 'open aborted', { cause: opts.signal.reason });
    return db;
  } catch (err) {
    if (db) await db.close().catch(() => undefined);
    else unlock();
    throw err;
  }
}
