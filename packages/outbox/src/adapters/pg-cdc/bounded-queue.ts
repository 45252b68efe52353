import { OutboxError } from '../../errors.js';

/**
 * A bounded single-consumer queue: `put` waits while it is full (backpressure towards the replication socket),
 * `take` waits while it is empty, `fail` wakes everyone with an error.
 */
export class BoundedQueue<T> {
  readonly #items: T[] = [];
  readonly #capacity: number;
  #error: unknown;
  #closed = false;
  #takers: ((v: IteratorResult<T>) => void)[] = [];
  #takerErrs: ((e: unknown) => void)[] = [];
  #putters: (() => void)[] = [];

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#items.length;
  }

  async put(item: T): Promise<void> {
    while (this.#items.length >= this.#capacity && !this.#closed && this.#error === undefined) {
      await new Promise<void>((resolve) => this.#putters.push(resolve));
    }
    if (this.#error !== undefined) throw this.#error;
    if (this.#closed) throw new OutboxError('OUTBOX_CLOSED', 'change stream is closed');
    const taker = this.#takers.shift();
    this.#takerErrs.shift();
    if (taker) taker({ value: item, done: false });
    else this.#items.push(item);
  }

  take(): Promise<IteratorResult<T>> {
    const item = this.#items.shift();
    if (item !== undefined) {
      this.#putters.shift()?.();
      return Promise.resolve({ value: item, done: false });
    }
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#takers.push(resolve);
      this.#takerErrs.push(reject);
    });
  }

  /** Waits for at least one item, then returns every item available now, up to `max`. */
  async takeBatch(max: number): Promise<T[]> {
    const first = await this.take();
    if (first.done) return [];
    const out = [first.value];
    while (out.length < max && this.#items.length > 0) {
      out.push(this.#items.shift()!);
      this.#putters.shift()?.();
    }
    return out;
  }

  fail(err: unknown): void {
    if (this.#error !== undefined || this.#closed) return;
    this.#error = err;
    for (const reject of this.#takerErrs.splice(0)) reject(err);
    this.#takers = [];
    for (const wake of this.#putters.splice(0)) wake();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#items.length = 0;
    for (const resolve of this.#takers.splice(0)) resolve({ value: undefined, done: true });
    this.#takerErrs = [];
    for (const wake of this.#putters.splice(0)) wake();
  }
}
