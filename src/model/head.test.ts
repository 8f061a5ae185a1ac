import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Rng } from '../util/rng.js';
import type { HeadWeights } from './head.js';
import { calibratedProbability, headLogit, logitGradient } from './head.js';
import { randomHead as sharedRandomHead } from './head-fixtures.js';

/** A head for these tests: normal training means and small biases. */
function randomHead(rng: Rng, dim: number, hidden: number[]): HeadWeights {
  return sharedRandomHead(rng, dim, hidden, { means: 'normal', biasScale: 0.1 });
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
