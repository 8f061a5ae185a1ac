import { test } from 'node:test';
import assert from 'node:assert/strict';

import type { HeadWeights } from './head.js';
import { THRESHOLD_MARGIN, typicalityDistance, typicalityOf } from './typicality.js';

test('typicalityDistance averages the views, then the squared z-scores', () => {
  const head = { featureDim: 2, mean: [1, 0], std: [2, 0.5], layers: [], calibration: { scale: 1, shift: 0 } } as unknown as HeadWeights;
  // Two images of two views each; the second image's views average to (5, 1).
  const pooled = new Float32Array([0, 0, 0, 0, 4, 0, 6, 2]);
  // z = ((5 - 1) / 2, (1 - 0) / 0.5) = (2, 2), so the mean of z^2 is 4.
  assert.equal(typicalityDistance(head, pooled, 2, 2, 2), 4);
  // The first image averages to (0, 0): z = (-0.5, 0), mean z^2 0.125.
  assert.equal(typicalityDistance(head, pooled, 0, 2, 2), 0.125);
});

test('typicalityOf sets the threshold from the 99th percentile', () => {
  const distances = Array.from({ length: 200 }, (_, index) => index + 1);
  const typicality = typicalityOf(distances);
  assert.equal(typicality.fittedQuantile99, 198);
  assert.equal(typicality.threshold, THRESHOLD_MARGIN * 198);
  assert.equal(typicality.fittedImages, 200);
  assert.equal(typicalityOf([3]).threshold, THRESHOLD_MARGIN * 3);
  assert.throws(() => typicalityOf([]), /at least one image/);
});
