import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';

import * as tf from '@tensorflow/tfjs';

import { DataError, ModelError } from '../errors.js';
import { memoryLogger } from '../util/log.js';
import { Rng } from '../util/rng.js';
import { attributeView, logitHeatmap } from './attribution.js';
import type { Backbone } from './backbone.js';
import {
  BUSI_DIR,
  LABELLED_PHOTOS,
  loadTestImage,
  maxAbsDifference,
  randomLinearHead,
  readImagenetLabels,
  spatialMean,
  squared,
  testWeightsDir,
  topClasses,
} from './backbone-fixtures.js';
import { headLogit } from './head.js';
import { fileIOHandler, loadTfjsMobileNetV1 } from './tfjs-mobilenet-v1.js';

const MODEL_DIR = path.join(testWeightsDir(), 'mobilenet_v1_0.75_224');

let backbone: Backbone;
const logger = memoryLogger();

before(async () => {
  backbone = await loadTfjsMobileNetV1(MODEL_DIR, { logger });
});

after(async () => {
  await backbone.dispose();
});

test('load uses wasm backend without warnings', () => {
  assert.equal(tf.getBackend(), 'wasm');
  assert.deepEqual(logger.lines, []);
});

for (const photo of LABELLED_PHOTOS) {
  test(`classify ranks ${photo.label} in top 5`, async (t) => {
    if (!existsSync(photo.file)) {
      t.skip(`${photo.file} is missing: install Debian's python3-skimage to run this check`);
      return;
    }
    const logits = await backbone.classify([await loadTestImage(photo.file)]);
    const top5 = topClasses(logits, 0, readImagenetLabels(MODEL_DIR), 5);
    assert.ok(top5.includes(photo.label), `top 5 was ${top5.join(' | ')}`);
  });
}

test('relu6 rewrite keeps model outputs', async () => {
  // The published model, loaded unchanged, ends in a softmax over the same logits.
  const original = await tf.loadLayersModel(fileIOHandler(path.join(MODEL_DIR, 'model.json')));
  try {
    const image = await loadTestImage(path.join(BUSI_DIR, 'malignant', 'malignant (1).png'));
    const input = tf.tidy(() => tf.tensor4d(image.data, [1, 224, 224, 3], 'float32').div(127.5).sub(1));
    const expected = original.predict(input) as tf.Tensor;
    const logits = await backbone.classify([image]);
    const actual = tf.tidy(() => tf.softmax(tf.tensor2d(logits, [1, 1000])));
    const difference = maxAbsDifference(await expected.data<'float32'>(), await actual.data<'float32'>());
    tf.dispose([input, expected, actual]);
    assert.ok(difference < 1e-5, `max probability difference ${difference}`);
  } finally {
    original.dispose();
  }
});

test('pooled features equal mean of maps', async () => {
  const images = [
    await loadTestImage(path.join(BUSI_DIR, 'benign', 'benign (1).png')),
    await loadTestImage(path.join(BUSI_DIR, 'malignant', 'malignant (1).png')),
  ];
  const { pooled, maps } = await backbone.extract(images, { maps: true });
  assert.equal(pooled.length, 2 * 768);
  assert.ok(maps);
  assert.equal(maps.length, 1);
  const [map] = maps;
  assert.deepEqual([map.height, map.width, map.channels, map.meanOffset, map.stdOffset], [7, 7, 768, 0, undefined]);
  assert.equal(map.values.length, 2 * 7 * 7 * 768);
  // The features are root pooled (see rootPool), so their squares are the channel means.
  assert.ok(maxAbsDifference(squared(pooled), spatialMean(map, images.length)) < 1e-4);
});

test('map splits a linear logit exactly', async () => {
  const image = await loadTestImage(path.join(BUSI_DIR, 'malignant', 'malignant (3).png'));
  const batch = await backbone.extract([image], { maps: true });
  const head = randomLinearHead(new Rng(4), backbone.featureDim);
  const heatmap = logitHeatmap(head, batch, 0, 1);
  assert.deepEqual([heatmap.height, heatmap.width], [7, 7]);
  assert.ok(batch.maps);
  const values = attributeView(head, batch.pooled, batch.maps, 0, 7, 7);
  const expected = headLogit(head, batch.pooled) - head.layers[0].bias[0];
  const total = values.reduce((sum, value) => sum + value, 0);
  assert.ok(Math.abs(total - expected) < 1e-9 * Math.max(1, Math.abs(expected)), `sum ${total}, logit - bias ${expected}`);
  assert.ok(maxAbsDifference(heatmap.values, Float32Array.from(values, (value) => Math.max(0, value))) < 1e-5);
});

test('features differ between images', async () => {
  const images = [
    await loadTestImage(path.join(BUSI_DIR, 'benign', 'benign (1).png')),
    await loadTestImage(path.join(BUSI_DIR, 'malignant', 'malignant (1).png')),
  ];
  const { pooled } = await backbone.extract(images);
  assert.ok(maxAbsDifference(pooled.subarray(0, 768), pooled.subarray(768)) > 0.1);
});

test('batching does not change features', async () => {
  const files = ['benign (1).png', 'benign (2).png', 'benign (3).png'].map((name) => path.join(BUSI_DIR, 'benign', name));
  const images = await Promise.all(files.map((file) => loadTestImage(file)));
  const single = await loadTfjsMobileNetV1(MODEL_DIR, { batchSize: 1 });
  try {
    const oneByOne = await single.extract(images);
    const together = await backbone.extract(images);
    assert.ok(maxAbsDifference(oneByOne.pooled, together.pooled) < 1e-4);
  } finally {
    await single.dispose();
  }
});

test('extract and classify leak no tensors', async () => {
  const image = await loadTestImage(path.join(BUSI_DIR, 'benign', 'benign (1).png'));
  const before = tf.memory().numTensors;
  await backbone.extract([image], { maps: true });
  await backbone.classify([image]);
  assert.equal(tf.memory().numTensors, before);
});

test('dispose frees weights', async () => {
  const before = tf.memory().numTensors;
  const extra = await loadTfjsMobileNetV1(MODEL_DIR);
  assert.ok(tf.memory().numTensors > before);
  await extra.dispose();
  assert.equal(tf.memory().numTensors, before);
  await assert.rejects(extra.extract([]), /used after dispose/);
});

test('extract rejects wrong image size', async () => {
  const grey = { data: new Uint8Array(224 * 224), width: 224, height: 224 };
  await assert.rejects(backbone.extract([grey]), DataError);
});

test('load reports missing shard', async () => {
  await assert.rejects(loadTfjsMobileNetV1(path.join(MODEL_DIR, 'no-such-folder')), ModelError);
});
