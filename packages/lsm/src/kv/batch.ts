/** Write batches: validation and the WAL encoding of a batch. Internal. */
import { LsmError } from '../errors.js';
import { toBytes, type ByteWriter } from '../internal/bytes.js';
import { KIND_DEL, KIND_PUT } from './memtable.js';
import { MAX_KEY, MAX_VALUE } from './options.js';
import type { Bytes, WriteBatch } from './types.js';

/** What a batch needs from the database. */
export interface BatchTarget {
  apply(kinds: number[], keys: Buffer[], vals: (Buffer | undefined)[]): Promise<void>;
}

/** Encoded internal batch: `[seq f64][count u32]` then `[kind u8][klen varint][key][vlen varint][value]`. */
export function encodeBatch(w: ByteWriter, seq: number, kinds: number[], keys: Buffer[], vals: (Buffer | undefined)[]): Buffer {
  w.reset();
  w.f64(seq);
  w.u32(kinds.length);
  for (let i = 0; i < kinds.length; i++) {
    w.u8(kinds[i]!);
    w.varint(keys[i]!.length);
    w.bytes(keys[i]!);
    if (kinds[i] === KIND_PUT) {
      w.varint(vals[i]!.length);
      w.bytes(vals[i]!);
    }
  }
  return w.view();
}

export class Batch implements WriteBatch {
  readonly kinds: number[] = [];
  readonly keys: Buffer[] = [];
  readonly vals: (Buffer | undefined)[] = [];
  constructor(private readonly db: BatchTarget) {}
  get length(): number {
    return this.kinds.length;
  }
  put(key: Bytes | string, value: Bytes | string): this {
    this.kinds.push(KIND_PUT);
    this.keys.push(checkKey(key));
    this.vals.push(checkValue(value));
    return this;
  }
  del(key: Bytes | string): this {
    this.kinds.push(KIND_DEL);
    this.keys.push(checkKey(key));
    this.vals.push(undefined);
    return this;
  }
  write(): Promise<void> {
    return this.db.apply(this.kinds, this.keys, this.vals);
  }
}

export function checkKey(k: unknown): Buffer {
  const b = toBytes(k, 'key');
  if (b.length === 0 || b.length > MAX_KEY) throw new LsmError('LSM_INVALID_ARGUMENT', `key length must be in [1, ${MAX_KEY}]`);
  return b;
}
export function checkValue(v: unknown): Buffer {
  const b = toBytes(v, 'value');
  if (b.length > MAX_VALUE) throw new LsmError('LSM_INVALID_ARGUMENT', `value longer than ${MAX_VALUE} bytes`);
  return b;
}

