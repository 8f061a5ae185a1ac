import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Rng } from '../util/rng.js';
import type { HeadWeights } from './head.js';
import { calibratedProbability, gradCam, headLogit, logitGradient } from './head.js';

function randomHead(rng: Rng, dim: number, hidden: number[]): HeadWeights {
  const widths = [dim, ...hidden, 1];
  return {
    featureDim: dim,
    mean: Array.from({ length: dim }, () => rng.normal()),
    std: Array.from({ length: dim }, () => 0.5 + rng.next()),
    layers: widths.slice(0, -1).map((inputs, layer) => ({
      inputs,
      units: widths[layer + 1],
      kernel: Array.from({ length: inputs * widths[layer + 1] }, () => rng.normal()),
      bias: Array.from({ length: widths[layer + 1] }, () => rng.normal() * 0.1),
      activation: layer < widths.length - 2 ? 'relu' : 'linear',
    })),
    calibration: { scale: 1, shift: 0 },
  };
}

test('logitGradient matches finite differences for an MLP head', () => {
  const rng = new Rng(7);
  const head = randomHead(rng, 6, [5, 4]);
  const features = Array.from({ length: 6 }, () => rng.normal());
  const gradient = logitGradient(head, features);
  const step = 1e-6;
  for (let i = 0; i < features.length; i++) {
    const plus = [...features];
    const minus = [...features];
    plus[i] += step;
    minus[i] -= step;
    const numeric = (headLogit(head, plus) - headLogit(head, minus)) / (2 * step);
    assert.ok(Math.abs(numeric - gradient[i]) < 1e-5, `feature ${i}: numeric ${numeric}, analytic ${gradient[i]}`);
  }
});

test('gradCam of a linear head is the ReLU of weighted channels', () => {
  const head: HeadWeights = {
    featureDim: 2,
    mean: [0, 0],
    std: [1, 2],
    layers: [{ inputs: 2, units: 1, kernel: [1, -4], bias: [0], activation: 'linear' }],
    calibration: { scale: 1, shift: 0 },
  };
  // Map 1x2 positions x 2 channels: position 0 = [3, 1], position 1 = [0, 2].
  // Weights are kernel / std = [1, -2]: position 0 -> 3 - 2 = 1, position 1 -> 0 - 4 = -4 -> 0.
  const cam = gradCam(head, Float32Array.of(3, 1, 0, 2), 1, 2);
  assert.deepEqual(Array.from(cam), [1, 0]);
});

test('gradCam rejects a map of the wrong size', () => {
  const rng = new Rng(1);
  const head = randomHead(rng, 3, []);
  assert.throws(() => gradCam(head, new Float32Array(5), 1, 2), /expected a map of 1x2xC values with C <= 3, received 5 values/);
  assert.throws(() => gradCam(head, new Float32Array(8), 1, 2), /with C <= 3, received 8 values/);
});

test('gradCam uses map channels of a wider head', () => {
  // Head on 3 features: 2 map channels plus 1 feature from an earlier layer (weight 100).
  const head: HeadWeights = {
    featureDim: 3,
    mean: [0, 0, 5],
    std: [1, 2, 1],
    layers: [{ inputs: 3, units: 1, kernel: [1, -4, 100], bias: [0], activation: 'linear' }],
    calibration: { scale: 1, shift: 0 },
  };
  const map = Float32Array.of(3, 1, 0, 2);
  assert.deepEqual(Array.from(gradCam(head, map, 1, 2)), [1, 0]);
  assert.deepEqual(Array.from(gradCam(head, map, 1, 2, [1.5, 1.5, 7])), [1, 0]);
  assert.throws(() => gradCam(head, map, 1, 2, [1, 2]), /expected 3 pooled features, received 2/);
});

test('gradCam of an MLP uses the given pooled vector', () => {
  const rng = new Rng(5);
  const head = randomHead(rng, 4, [3]);
  const map = Float32Array.from({ length: 2 * 2 * 3 }, () => rng.next());
  const pooled = [0, 0, 0, rng.normal()];
  for (let position = 0; position < 4; position++) {
    for (let channel = 0; channel < 3; channel++) pooled[channel] += map[position * 3 + channel] / 4;
  }
  const weights = logitGradient(head, pooled);
  const cam = gradCam(head, map, 2, 2, pooled);
  for (let position = 0; position < 4; position++) {
    let expected = 0;
    for (let channel = 0; channel < 3; channel++) expected += weights[channel] * map[position * 3 + channel];
    assert.ok(Math.abs(cam[position] - Math.max(0, expected)) < 1e-5, `position ${position}: ${cam[position]} vs ${Math.max(0, expected)}`);
  }
});

test('calibratedProbability applies Platt scaling', () => {
  const rng = new Rng(3);
  const head = { ...randomHead(rng, 2, []), calibration: { scale: 2, shift: -1 } };
  // sigmoid(2 * 0.5 - 1) = sigmoid(0) = 0.5
  assert.equal(calibratedProbability(head, 0.5), 0.5);
  assert.ok(Math.abs(calibratedProbability(head, 1) - 1 / (1 + Math.exp(-1))) < 1e-12);
});
