import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Rng } from '../util/rng.js';
import type { HeadWeights } from './head.js';
import { calibratedProbability, headLogit, logitGradient } from './head.js';

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

test('calibratedProbability applies Platt scaling', () => {
  const rng = new Rng(3);
  const head = { ...randomHead(rng, 2, []), calibration: { scale: 2, shift: -1 } };
  // sigmoid(2 * 0.5 - 1) = sigmoid(0) = 0.5
  assert.equal(calibratedProbability(head, 0.5), 0.5);
  assert.ok(Math.abs(calibratedProbability(head, 1) - 1 / (1 + Math.exp(-1))) < 1e-12);
});
