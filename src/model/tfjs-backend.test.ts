import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as tf from '@tensorflow/tfjs';

import { memoryLogger } from '../util/log.js';
import { initTfjsBackend } from './tfjs-backend.js';

test('initTfjsBackend selects wasm once', async () => {
  const logger = memoryLogger();
  assert.equal(await initTfjsBackend('wasm', logger), 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.equal(await initTfjsBackend('wasm', logger), 'wasm');
  assert.deepEqual(logger.lines, []);
});

test('wasm backend computes a convolution', async () => {
  await initTfjsBackend('wasm', memoryLogger());
  // 1x1 input of 2 channels times a 1x1 kernel [[1, 2], [3, 4]] gives [1*5 + 3*6, 2*5 + 4*6].
  const output = tf.tidy(() => tf.conv2d(tf.tensor4d([5, 6], [1, 1, 1, 2]), tf.tensor4d([1, 2, 3, 4], [1, 1, 2, 2]), 1, 'same'));
  assert.deepEqual(Array.from(await output.data()), [23, 34]);
  output.dispose();
});

test('initTfjsBackend switches to cpu on request', async () => {
  const logger = memoryLogger();
  assert.equal(await initTfjsBackend('cpu', logger), 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
});
