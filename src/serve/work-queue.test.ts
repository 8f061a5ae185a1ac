import assert from 'node:assert/strict';
import { test } from 'node:test';

import { WorkQueue } from './work-queue.js';

test('tryAdmit rejects past concurrent plus queued', () => {
  const queue = new WorkQueue(1, 2);
  const releases = [queue.tryAdmit(), queue.tryAdmit(), queue.tryAdmit()];
  assert.ok(releases.every((release) => release !== undefined));
  assert.equal(queue.tryAdmit(), undefined);

  releases[0]!();
  releases[0]!();
  assert.equal(queue.admittedCount, 2, 'a second release call must not free a second slot');
  assert.notEqual(queue.tryAdmit(), undefined);
});

test('run limits concurrent steps', async () => {
  const queue = new WorkQueue(2, 10);
  let active = 0;
  let maxActive = 0;
  const step = async () => {
    active += 1;
    maxActive = Math.max(maxActive, active);
    await new Promise((resolve) => setTimeout(resolve, 10));
    active -= 1;
  };
  const signal = new AbortController().signal;
  await Promise.all(Array.from({ length: 6 }, () => queue.run(step, signal)));
  assert.equal(maxActive, 2);
  assert.equal(queue.runningCount, 0);
});

test('run leaves the queue when aborted while waiting', async () => {
  const queue = new WorkQueue(1, 5);
  let finishFirst!: () => void;
  const first = queue.run(() => new Promise<void>((resolve) => (finishFirst = resolve)), new AbortController().signal);

  const controller = new AbortController();
  let secondRan = false;
  const second = queue.run(async () => {
    secondRan = true;
  }, controller.signal);
  controller.abort(new Error('timed out'));
  await assert.rejects(second, /timed out/);

  finishFirst();
  await first;
  assert.equal(secondRan, false);
  assert.equal(queue.runningCount, 0);
});

test('constructor rejects invalid sizes', () => {
  assert.throws(() => new WorkQueue(0, 1), RangeError);
  assert.throws(() => new WorkQueue(1, -1), RangeError);
  assert.throws(() => new WorkQueue(1.5, 1), RangeError);
});
