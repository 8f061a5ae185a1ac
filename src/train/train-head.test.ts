import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as tf from '@tensorflow/tfjs';

import type { Label } from '../data/sample.js';
import { rocAuc } from '../evaluate/metrics.js';
import { headLogit } from '../model/head.js';
import { Rng } from '../util/rng.js';
import { fitPlatt } from './calibrate.js';
import type { FeatureSet } from './feature-set.js';
import { averageViews, classWeightsFor, meanCrossEntropy, trainHead } from './train-head.js';

/** Gaussian blobs: malignant images are shifted by `separation` along the first `informative` features. */
function blobs(rng: Rng, benign: number, malignant: number, dim: number, views: number, separation: number): FeatureSet {
  const labels: Label[] = [...Array<Label>(benign).fill(0), ...Array<Label>(malignant).fill(1)];
  const features = new Float32Array(labels.length * views * dim);
  labels.forEach((label, image) => {
    const center = Array.from({ length: dim }, (_, j) => (label === 1 && j < 4 ? separation : 0) + 3 * j);
    for (let view = 0; view < views; view++) {
      for (let j = 0; j < dim; j++) features[(image * views + view) * dim + j] = center[j] + rng.normal();
    }
  });
  return { features, dim, views, labels };
}

test('classWeightsFor balances classes', () => {
  // 6 benign, 2 malignant: 8 / (2 * 6) and 8 / (2 * 2).
  assert.deepEqual(classWeightsFor([0, 0, 0, 0, 0, 0, 1, 1], 'balanced'), [8 / 12, 2]);
  assert.deepEqual(classWeightsFor([0, 1], 'none'), [1, 1]);
});

test('averageViews averages consecutive rows', () => {
  assert.deepEqual(averageViews([1, 3, 10, 20], 2), [2, 15]);
});

test('meanCrossEntropy of logit 0 is log 2', () => {
  assert.ok(Math.abs(meanCrossEntropy([0, 1], [0, 0]) - Math.log(2)) < 1e-12);
});

test('trainHead separates blobs and keeps the best epoch', async () => {
  const rng = new Rng(11);
  const train = blobs(rng, 60, 30, 16, 3, 1.5);
  const val = blobs(rng, 30, 15, 16, 2, 1.5);
  const tensorsBefore = tf.memory().numTensors;
  const result = await trainHead(train, val, { maxEpochs: 30, patience: 30, seed: 1 });
  assert.equal(tf.memory().numTensors, tensorsBefore, 'trainHead leaks tensors');

  assert.ok(result.history.length > 0);
  assert.ok(result.selectedEpoch >= 1 && result.selectedEpoch <= result.history.length);
  const selected = result.history[result.selectedEpoch - 1];
  assert.equal(selected.valLoss, Math.min(...result.history.map((epoch) => epoch.valLoss)));
  assert.ok(selected.valAuc > 0.9, `validation AUC ${selected.valAuc}`);

  // The exported weights reproduce the validation logits of the selected epoch.
  const rows = val.features.length / val.dim;
  const rowLogits = Array.from({ length: rows }, (_, row) => headLogit(result.head, val.features.subarray(row * val.dim, (row + 1) * val.dim)));
  const logits = averageViews(rowLogits, val.views);
  logits.forEach((logit, i) => assert.ok(Math.abs(logit - result.valLogits[i]) < 1e-3, `image ${i}: ${logit} vs ${result.valLogits[i]}`));
  assert.ok(rocAuc(val.labels, logits.map((z) => 1 / (1 + Math.exp(-z)))) > 0.9);
});

test('trainHead is deterministic for a seed', async () => {
  const train = blobs(new Rng(5), 20, 10, 8, 2, 1);
  const val = blobs(new Rng(6), 10, 5, 8, 2, 1);
  const first = await trainHead(train, val, { maxEpochs: 5, seed: 9 });
  const second = await trainHead(train, val, { maxEpochs: 5, seed: 9 });
  assert.deepEqual(first.head.layers[0].kernel, second.head.layers[0].kernel);
});

test('fitPlatt recovers a known scale and shift', () => {
  // Labels drawn from sigmoid(2 * z - 1) for many logits z: the fit should land near (2, -1).
  const rng = new Rng(2);
  const logits: number[] = [];
  const labels: Label[] = [];
  for (let i = 0; i < 20000; i++) {
    const z = rng.uniform(-3, 3);
    logits.push(z);
    labels.push(rng.next() < 1 / (1 + Math.exp(-(2 * z - 1))) ? 1 : 0);
  }
  const { scale, shift } = fitPlatt(labels, logits);
  assert.ok(Math.abs(scale - 2) < 0.1, `scale ${scale}`);
  assert.ok(Math.abs(shift + 1) < 0.1, `shift ${shift}`);
});
