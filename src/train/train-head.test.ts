import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as tf from '@tensorflow/tfjs';

import type { Label } from '../data/sample.js';
import { rocAuc } from '../evaluate/metrics.js';
import { initTfjsBackend } from '../model/tfjs-backend.js';
import { silentLogger } from '../util/log.js';
import { Rng } from '../util/rng.js';
import { fitPlatt } from './calibrate.js';
import type { FeatureSet } from './feature-set.js';
import { fitLogisticRegression, MAX_WASM_MATRIX_BYTES, plainProducts, productsFor, tfjsProducts } from './logistic-regression.js';
import { fitLinearHeadOn } from './linear-head.js';
import { averageViews, classWeightsFor, HEAD_TRAINING_DEFAULTS, imageLogits, meanCrossEntropy, meanOverViews, trainHead } from './train-head.js';

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

test('meanOverViews averages view rows', () => {
  const set: FeatureSet = { features: Float32Array.from([1, 2, 3, 6, 10, 20, 30, 40]), dim: 2, views: 2, labels: [0, 1] };
  const averaged = meanOverViews(set);
  assert.equal(averaged.views, 1);
  assert.equal(averaged.dim, 2);
  assert.deepEqual(Array.from(averaged.features), [2, 4, 20, 30]);
  assert.deepEqual(averaged.labels, [0, 1]);
  assert.equal(meanOverViews(averaged), averaged);
});

test('trainHead lbfgs view rows agree', async () => {
  const rng = new Rng(5);
  const train = blobs(rng, 60, 30, 16, 4, 1.5);
  const val = blobs(rng, 30, 15, 16, 4, 1.5);
  for (const viewRows of ['mean', 'each'] as const) {
    const result = await trainHead(train, val, { solver: 'lbfgs', l2Grid: [0.1], viewRows, refit: true });
    // Scoring each view and averaging logits must separate the validation images.
    const auc = rocAuc(val.labels, imageLogits(result.head, val).map((z) => 1 / (1 + Math.exp(-z))));
    assert.ok(auc > 0.9, `${viewRows}: validation AUC ${auc}`);
    assert.equal(result.valLogits.length, val.labels.length);
  }
});

test('meanCrossEntropy of logit 0 is log 2', () => {
  assert.ok(Math.abs(meanCrossEntropy([0, 1], [0, 0]) - Math.log(2)) < 1e-12);
});

test('trainHead adam keeps the best epoch', async () => {
  const rng = new Rng(11);
  const train = blobs(rng, 60, 30, 16, 3, 1.5);
  const val = blobs(rng, 30, 15, 16, 2, 1.5);
  await initTfjsBackend('wasm', silentLogger);
  const tensorsBefore = tf.memory().numTensors;
  const result = await trainHead(train, val, { solver: 'adam', selectOn: 'loss', learningRate: 1e-2, maxEpochs: 30, patience: 30, seed: 1 });
  // NOTE: AdamOptimizer.dispose() of tfjs-core 4.22 leaves 2 tensors behind (measured with a bare
  // optimizer and one variable), so up to 2 remaining tensors are not trainHead's.
  const leaked = tf.memory().numTensors - tensorsBefore;
  assert.ok(leaked <= 2, `trainHead leaks ${leaked} tensors`);

  assert.ok(result.history.length > 0);
  assert.ok(result.selectedEpoch >= 1, `selected epoch ${result.selectedEpoch}`);
  assert.ok(result.selectedEpoch <= result.history.length, `selected epoch ${result.selectedEpoch} of ${result.history.length}`);
  const selected = result.history[result.selectedEpoch - 1];
  assert.equal(selected.valLoss, Math.min(...result.history.map((epoch) => epoch.valLoss)));
  assert.ok(selected.valAuc > 0.9, `validation AUC ${selected.valAuc}`);

  // The exported weights reproduce the validation logits of the selected epoch.
  const logits = imageLogits(result.head, val);
  logits.forEach((logit, i) => assert.ok(Math.abs(logit - result.valLogits[i]) < 1e-3, `image ${i}: ${logit} vs ${result.valLogits[i]}`));
  assert.ok(rocAuc(val.labels, logits.map((z) => 1 / (1 + Math.exp(-z)))) > 0.9);
});

test('trainHead adam is deterministic for a seed', async () => {
  const train = blobs(new Rng(5), 20, 10, 8, 2, 1);
  const val = blobs(new Rng(6), 10, 5, 8, 2, 1);
  const first = await trainHead(train, val, { solver: 'adam', maxEpochs: 5, seed: 9 });
  const second = await trainHead(train, val, { solver: 'adam', maxEpochs: 5, seed: 9 });
  assert.deepEqual(first.head.layers[0].kernel, second.head.layers[0].kernel);
});

test('trainHead lbfgs separates blobs', async () => {
  const rng = new Rng(11);
  const train = blobs(rng, 60, 30, 16, 3, 1.5);
  const val = blobs(rng, 30, 15, 16, 2, 1.5);
  const result = await trainHead(train, val, { solver: 'lbfgs', l2Grid: [1, 0.1, 0.01], selectOn: 'auc', refit: false });

  assert.ok([1, 0.1, 0.01].includes(result.selectedL2 ?? Number.NaN), `selected L2 ${result.selectedL2}`);
  assert.equal(result.head.layers.length, 1);
  assert.equal(result.selectedEpoch, result.history.length);
  assert.ok(result.history.every((epoch) => Number.isFinite(epoch.trainLoss) && Number.isFinite(epoch.learningRate)));

  // The exported weights reproduce the validation logits of the selected penalty.
  const logits = imageLogits(result.head, val);
  logits.forEach((logit, i) => assert.ok(Math.abs(logit - result.valLogits[i]) < 1e-4, `image ${i}: ${logit} vs ${result.valLogits[i]}`));
  assert.ok(rocAuc(val.labels, logits.map((z) => 1 / (1 + Math.exp(-z)))) > 0.9);
});

test('trainHead lbfgs selects by validation', async () => {
  const rng = new Rng(12);
  const train = blobs(rng, 40, 20, 12, 2, 1.2);
  const val = blobs(rng, 30, 15, 12, 2, 1.2);
  const grid = [3, 0.3, 0.03, 0.003];
  // One row a view keeps the weakest penalty's problem far from separable, so fits converge alike.
  const chosen = await trainHead(train, val, { solver: 'lbfgs', l2Grid: grid, selectOn: 'loss', viewRows: 'each' });
  // Each penalty alone gives a validation loss no lower than the chosen one.
  for (const l2 of grid) {
    const single = await trainHead(train, val, { solver: 'lbfgs', l2Grid: [l2], selectOn: 'loss', viewRows: 'each' });
    const loss = meanCrossEntropy(val.labels, single.valLogits);
    assert.ok(meanCrossEntropy(val.labels, chosen.valLogits) <= loss + 1e-4, `L2 ${l2}: loss ${loss} beats the chosen L2 ${chosen.selectedL2}`);
  }
});

test('trainHead lbfgs ignores the seed', async () => {
  const train = blobs(new Rng(5), 20, 10, 8, 2, 1);
  const val = blobs(new Rng(6), 10, 5, 8, 2, 1);
  const first = await trainHead(train, val, { solver: 'lbfgs', seed: 1 });
  const second = await trainHead(train, val, { solver: 'lbfgs', seed: 2 });
  assert.deepEqual(first.head.layers[0].kernel, second.head.layers[0].kernel);
});

test('trainHead lbfgs refit uses validation images', async () => {
  const rng = new Rng(13);
  const train = blobs(rng, 30, 15, 8, 2, 1.2);
  const val = blobs(rng, 30, 15, 8, 2, 1.2);
  const plain = await trainHead(train, val, { solver: 'lbfgs', l2Grid: [0.1], refit: false });
  const refitted = await trainHead(train, val, { solver: 'lbfgs', l2Grid: [0.1], refit: true });

  // Validation logits stay those of the fit on training images; the weights change.
  assert.deepEqual(refitted.valLogits, plain.valLogits);
  assert.notDeepEqual(refitted.head.layers[0].kernel, plain.head.layers[0].kernel);

  // The refitted head equals a plain fit on the union of both sets.
  const union: FeatureSet = {
    features: Float32Array.from([...train.features, ...val.features]),
    dim: train.dim,
    views: train.views,
    labels: [...train.labels, ...val.labels],
  };
  const direct = await trainHead(union, val, { solver: 'lbfgs', l2Grid: [0.1], refit: false });
  refitted.head.layers[0].kernel.forEach((weight, j) => {
    assert.ok(Math.abs(weight - direct.head.layers[0].kernel[j]) < 1e-3, `kernel[${j}]: ${weight} vs ${direct.head.layers[0].kernel[j]}`);
  });
});

test('fitLinearHeadOn warm start keeps optimum', async () => {
  const rng = new Rng(21);
  const first = blobs(rng, 50, 25, 12, 4, 1.2);
  const second = blobs(rng, 50, 25, 12, 4, 1.2);
  const settings = { ...HEAD_TRAINING_DEFAULTS, l2Grid: [0.1] };
  // A head fitted on other data, in another standardisation, is only a starting point.
  const other = fitLinearHeadOn([first], settings, 0.1);
  const cold = fitLinearHeadOn([second], settings, 0.1);
  const warm = fitLinearHeadOn([second], settings, 0.1, other);
  const coldLogits = imageLogits(cold, second);
  const warmLogits = imageLogits(warm, second);
  coldLogits.forEach((logit, i) => assert.ok(Math.abs(logit - warmLogits[i]) < 1e-2, `image ${i}: ${logit} vs ${warmLogits[i]}`));
  // Starting from the optimum itself, the rewritten head scores like the optimum.
  const restarted = fitLinearHeadOn([second], { ...settings, maxIterations: 1 }, 0.1, cold);
  imageLogits(restarted, second).forEach((logit, i) => assert.ok(Math.abs(logit - coldLogits[i]) < 1e-3, `image ${i}: restart moved the logit`));
});

test('trainHead lbfgs rejects hidden layers', async () => {
  const train = blobs(new Rng(5), 10, 5, 4, 1, 1);
  await assert.rejects(trainHead(train, train, { solver: 'lbfgs', hiddenUnits: [8] }), /fits linear heads only/);
  await assert.rejects(trainHead(train, train, { solver: 'lbfgs', l2Grid: [] }), /at least one penalty/);
});

test('fitLogisticRegression reaches a zero gradient', () => {
  const rng = new Rng(3);
  const rows = 200;
  const dim = 5;
  const x = Float32Array.from({ length: rows * dim }, () => rng.normal());
  const targets = new Float32Array(rows).map((_, row) => (x[row * dim] + 0.5 * x[row * dim + 1] + 0.3 * rng.normal() > 0 ? 1 : 0));
  const weights = new Float32Array(rows).fill(1);
  const l2 = 0.01;
  const { parameters } = fitLogisticRegression({ x, dim, targets, weights }, { l2, maxIterations: 500, tolerance: 1e-14 });

  // Gradient of mean cross-entropy + l2 / 2 * |kernel|^2, computed independently.
  const gradient = new Float64Array(dim + 1);
  for (let row = 0; row < rows; row++) {
    let z = parameters[dim];
    for (let j = 0; j < dim; j++) z += x[row * dim + j] * parameters[j];
    const residual = (1 / (1 + Math.exp(-z)) - targets[row]) / rows;
    for (let j = 0; j < dim; j++) gradient[j] += residual * x[row * dim + j];
    gradient[dim] += residual;
  }
  for (let j = 0; j < dim; j++) gradient[j] += l2 * parameters[j];
  for (let j = 0; j <= dim; j++) assert.ok(Math.abs(gradient[j]) < 1e-5, `gradient[${j}] = ${gradient[j]}`);
  assert.ok(parameters[0] > parameters[1], `kernel ${Array.from(parameters.subarray(0, 2))}`);
  assert.ok(parameters[1] > 0, `kernel ${Array.from(parameters.subarray(0, 2))}`);
});

test('fitLogisticRegression on wasm products matches plain products', async () => {
  // The wasm path sums in float32; the fit must land on the same optimum within that precision.
  await initTfjsBackend('wasm', silentLogger);
  const rng = new Rng(4);
  const rows = 120;
  const dim = 300;
  const x = Float32Array.from({ length: rows * dim }, () => rng.normal());
  const targets = new Float32Array(rows).map((_, row) => (x[row * dim] - x[row * dim + 2] + 0.5 * rng.normal() > 0 ? 1 : 0));
  const weights = new Float32Array(rows).map((_, row) => (targets[row] === 1 ? 1.5 : 0.75));
  const fit = (products: typeof plainProducts) =>
    fitLogisticRegression({ x, dim, targets, weights }, { l2: 0.03, maxIterations: 200, tolerance: 1e-7, products });
  const plain = fit(plainProducts);
  const wasm = fit(tfjsProducts);
  let largest = 0;
  for (let j = 0; j <= dim; j++) largest = Math.max(largest, Math.abs(plain.parameters[j] - wasm.parameters[j]));
  assert.ok(largest < 1e-3, `largest parameter difference ${largest}`);
  assert.ok(Math.abs(plain.objective - wasm.objective) < 1e-6 * plain.objective, `objectives ${plain.objective} and ${wasm.objective}`);
});

test('productsFor keeps large matrices off wasm', () => {
  const dim = 10624;
  const largestRows = Math.floor(MAX_WASM_MATRIX_BYTES / (4 * dim));
  assert.equal(productsFor(largestRows, dim, 'wasm'), tfjsProducts);
  assert.equal(productsFor(largestRows + 1, dim, 'wasm'), plainProducts);
  assert.equal(productsFor(100, dim, 'cpu'), plainProducts);
  assert.equal(productsFor(100, dim, null), plainProducts);
});

test('fitLogisticRegression rejects mismatched arrays', () => {
  const problem = { x: new Float32Array(6), dim: 3, targets: new Float32Array(2), weights: new Float32Array(3) };
  assert.throws(() => fitLogisticRegression(problem, { l2: 0.1, maxIterations: 10, tolerance: 1e-9 }), /expected 2 rows x 3 features and 2 weights/);
});

test('fitPlatt keeps a positive scale for large logits', () => {
  // Separable-looking validation logits of magnitude 10-20: full Newton steps from (1, 0) diverge.
  const logits = [-19.8, -15.6, -12, -9, -7.3, -3, 2, 6, 8, 9.1, -2, 4];
  const labels: Label[] = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0];
  const { scale, shift } = fitPlatt(labels, logits);
  assert.ok(Number.isFinite(shift), `shift ${shift}`);
  assert.ok(scale > 0, `scale ${scale}`);
  assert.ok(scale < 5, `scale ${scale}`);
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
