/**
 * The CoDel control law (RFC 8289) as a pure state machine, fed with the sojourn time of the oldest
 * queued item at each dequeue.
 *
 * @remarks
 * `onDequeue` returns `true` when the item being dequeued should be shed (dropped, or in the scheduler's
 * deprioritise mode, served after light work). The state is `dropping` while the minimum delay has stayed
 * above `target` for at least `interval`; drops are then spaced `interval / sqrt(count)` apart.
 *
 * @internal
 */
export class CoDel {
  /** Whether the queue has had a standing delay above target for an interval. */
  dropping = false;
  /** Drops in the current dropping episode. */
  count = 0;
  private lastCount = 0;
  private firstAboveTime = 0;
  private dropNext = 0;

  constructor(
    private readonly target: number,
    private readonly interval: number,
  ) {}

  private controlLaw(t: number): number {
    return t + this.interval / Math.sqrt(this.count);
  }

  /** RFC 8289 `dodequeue`: is the delay persistently above target? */
  private okToDrop(sojourn: number, now: number, queueEmptyAfter: boolean): boolean {
    if (sojourn < this.target || queueEmptyAfter) {
      this.firstAboveTime = 0;
      return false;
    }
    if (this.firstAboveTime === 0) {
      this.firstAboveTime = now + this.interval;
      return false;
    }
    return now >= this.firstAboveTime;
  }

  /**
   * Updates the state for one dequeue and says whether to shed this item.
   *
   * @param sojourn - time the oldest queued item has waited.
   * @param now - current time.
   * @param queueEmptyAfter - whether the queue is empty once this item leaves.
   */
  onDequeue(sojourn: number, now: number, queueEmptyAfter: boolean): boolean {
    const ok = this.okToDrop(sojourn, now, queueEmptyAfter);
    if (this.dropping) {
      if (!ok) {
        this.dropping = false;
        return false;
      }
      if (now >= this.dropNext) {
        this.count++;
        this.dropNext = this.controlLaw(this.dropNext);
        return true;
      }
      return false;
    }
    if (ok) {
      this.dropping = true;
      const delta = this.count - this.lastCount;
      this.count = delta > 1 && now - this.dropNext < 16 * this.interval ? delta : 1;
      this.dropNext = this.controlLaw(now);
      this.lastCount = this.count;
      return true;
    }
    return false;
  }
}
