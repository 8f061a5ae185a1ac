/**
 * Bounded admission plus a concurrency limit for prediction requests. A request is admitted
 * (holding memory for its upload) only while fewer than maxConcurrent + maxQueued requests are
 * admitted, and runs its heavy step only while fewer than maxConcurrent steps run. Many concurrent
 * uploads therefore wait their turn instead of exhausting memory, and the surplus is rejected early.
 */
export class WorkQueue {
  private admitted = 0;
  private running = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueued: number,
  ) {
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
      throw new RangeError(`maxConcurrent: expected an integer >= 1, received ${maxConcurrent}`);
    }
    if (!Number.isInteger(maxQueued) || maxQueued < 0) {
      throw new RangeError(`maxQueued: expected an integer >= 0, received ${maxQueued}`);
    }
  }

  /** Number of admitted requests, running or waiting. */
  get admittedCount(): number {
    return this.admitted;
  }

  /** Number of heavy steps running now. */
  get runningCount(): number {
    return this.running;
  }

  /**
   * Admits one request and returns its release function (safe to call more than once), or
   * returns undefined when the queue is full.
   */
  tryAdmit(): (() => void) | undefined {
    if (this.admitted >= this.maxConcurrent + this.maxQueued) return undefined;
    this.admitted += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.admitted -= 1;
    };
  }

  /**
   * Runs `step` once a run slot is free. Rejects with `abortSignal.reason` when the signal aborts
   * while waiting. A step that has started always runs to its end, so its slot stays taken until
   * the work is done.
   */
  async run<T>(step: () => Promise<T>, abortSignal: AbortSignal): Promise<T> {
    await this.acquireRunSlot(abortSignal);
    try {
      return await step();
    } finally {
      this.running -= 1;
      this.waiters.shift()?.();
    }
  }

  private acquireRunSlot(abortSignal: AbortSignal): Promise<void> {
    abortSignal.throwIfAborted();
    if (this.running < this.maxConcurrent) {
      this.running += 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const wake = () => {
        abortSignal.removeEventListener('abort', onAbort);
        this.running += 1;
        resolve();
      };
      const onAbort = () => {
        const index = this.waiters.indexOf(wake);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(abortSignal.reason);
      };
      abortSignal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(wake);
    });
  }
}
