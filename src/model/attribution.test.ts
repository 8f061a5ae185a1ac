import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Rng } from '../util/rng.js';
import { attributeView, cropMapToImage, logitHeatmap, rotatedMapToImage, viewMapToImage } from './attribution.js';
import { rootPool, type FeatureBatch, type PooledMap } from './backbone.js';
import { FIXED_VIEW_COUNT, VIEW_ROTATION_DEG, ZOOM_CROP } from './fixed-views.js';
import { headLogit, logitGradient, type HeadWeights } from './head.js';
import { randomHead } from './head-fixtures.js';
import { mirrorMap } from './mirror.js';

/** Shape of one synthetic map: its side, channels, and whether its std features are pooled. */
interface MapLayout {
  side: number;
  channels: number;
  withStd: boolean;
}

/** Two maps as on MobileNetV2, at 2x2 and 4x4: means of both, then stds of both. */
const LAYOUT: readonly MapLayout[] = [
  { side: 2, channels: 3, withStd: true },
  { side: 4, channels: 2, withStd: true },
];

function sum(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i];
  return total;
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** A head for these tests: uniform training means and N(0, 1) biases; linear unless `hidden` is given. */
function linearHead(rng: Rng, dim: number, hidden: number[] = []): HeadWeights {
  return randomHead(rng, dim, hidden, { means: 'uniform', biasScale: 1 });
}

/** Returns the number of features that maps of this layout pool. */
function featureCount(layout: readonly MapLayout[]): number {
  return layout.reduce((total, map) => total + map.channels * (map.withStd ? 2 : 1), 0);
}

/**
 * Builds a batch of `rows` views whose map values come from `fill(row, map, y, x, channel)`, with
 * root-pooled features computed from them in float32 (see rootPool): all means in layout order,
 * then all stds.
 */
function syntheticBatch(
  layout: readonly MapLayout[],
  rows: number,
  fill: (row: number, map: number, y: number, x: number, channel: number) => number,
): FeatureBatch {
  const dim = featureCount(layout);
  const pooled = new Float32Array(rows * dim);
  let meanOffset = 0;
  let stdOffset = layout.reduce((total, map) => total + map.channels, 0);
  const maps: PooledMap[] = layout.map(({ side, channels, withStd }, mapIndex) => {
    const values = new Float32Array(rows * side * side * channels);
    for (let row = 0; row < rows; row++) {
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          for (let channel = 0; channel < channels; channel++) {
            values[((row * channels + channel) * side + y) * side + x] = fill(row, mapIndex, y, x, channel);
          }
        }
      }
    }
    const map: PooledMap = { values, height: side, width: side, channels, meanOffset, stdOffset: withStd ? stdOffset : undefined };
    for (let row = 0; row < rows; row++) {
      for (let channel = 0; channel < channels; channel++) {
        let total = 0;
        for (let p = 0; p < side * side; p++) total += values[(row * channels + channel) * side * side + p];
        const mean = total / (side * side);
        let squares = 0;
        for (let p = 0; p < side * side; p++) squares += (values[(row * channels + channel) * side * side + p] - mean) ** 2;
        pooled[row * dim + meanOffset + channel] = rootPool(mean);
        if (withStd) pooled[row * dim + stdOffset + channel] = rootPool(Math.sqrt(squares / (side * side)));
      }
    }
    meanOffset += channels;
    if (withStd) stdOffset += channels;
    return map;
  });
  return { pooled, maps };
}

function rowFeatures(batch: FeatureBatch, row: number, dim: number): Float32Array {
  return batch.pooled.subarray(row * dim, (row + 1) * dim);
}

test('attributeView matches the per-position formula', () => {
  // One channel on a 1x2 map: A = [1, 3], mean 2 and std 1, so the root-pooled features are
  // sqrt(2) and 1. Weights are kernel / std = [2, 2].
  // Mean term: 2 (sqrt(2) A / 4 - 0.5 / 2). Std term: 2 (1 (A - 2)^2 / 2 - 0.25 / 2) = [0.75, 0.75].
  const head: HeadWeights = {
    featureDim: 2,
    mean: [0.5, 0.25],
    std: [1, 2],
    layers: [{ inputs: 2, units: 1, kernel: [2, 4], bias: [0.3], activation: 'linear' }],
    calibration: { scale: 1, shift: 0 },
  };
  const map: PooledMap = { values: Float32Array.of(1, 3), height: 1, width: 2, channels: 1, meanOffset: 0, stdOffset: 1 };
  const features = [Math.SQRT2, 1];
  const expected = [1, 3].map((a) => 2 * ((Math.SQRT2 * a) / 4 - 0.25) + 0.75);
  const values = attributeView(head, features, [map], 0, 1, 2);
  assert.ok(maxAbsDifference(values, expected) < 1e-12, `values ${Array.from(values)}`);
  assert.ok(Math.abs(sum(values) - (headLogit(head, features) - 0.3)) < 1e-12);
});

test('attributeView sums to logit minus bias', () => {
  const rng = new Rng(11);
  const dim = featureCount(LAYOUT);
  const head = linearHead(rng, dim);
  const bias = head.layers[0].bias[0];
  // Channel 1 of the 2x2 map is constant in every row, so its std feature is 0.
  const batch = syntheticBatch(LAYOUT, 3, (_row, map, _y, _x, channel) => (map === 0 && channel === 1 ? 2.5 : 6 * rng.next()));
  for (let row = 0; row < 3; row++) {
    const features = rowFeatures(batch, row, dim);
    const values = attributeView(head, features, batch.maps!, row, 4, 4);
    assert.equal(values.length, 16);
    const expected = headLogit(head, features) - bias;
    assert.ok(Math.abs(sum(values) - expected) < 1e-9 * Math.max(1, Math.abs(expected)), `row ${row}: sum ${sum(values)}, logit - bias ${expected}`);
  }
});

test('attributeView keeps rounded features in the sum', () => {
  // Features off by float32 rounding, as the backbone's graph computes them.
  const rng = new Rng(12);
  const dim = featureCount(LAYOUT);
  const head = linearHead(rng, dim);
  const batch = syntheticBatch(LAYOUT, 1, () => 6 * rng.next());
  const features = Float32Array.from(rowFeatures(batch, 0, dim), (value) => value * (1 + 1e-4 * rng.normal()));
  const values = attributeView(head, features, batch.maps!, 0, 4, 4);
  const expected = headLogit(head, features) - head.layers[0].bias[0];
  assert.ok(Math.abs(sum(values) - expected) < 1e-9 * Math.max(1, Math.abs(expected)), `sum ${sum(values)}, logit - bias ${expected}`);
});

test('attributeView of an MLP sums to the linearisation', () => {
  const rng = new Rng(13);
  const dim = featureCount(LAYOUT);
  const head = linearHead(rng, dim, [5]);
  const batch = syntheticBatch(LAYOUT, 1, () => 6 * rng.next());
  const features = rowFeatures(batch, 0, dim);
  const gradient = logitGradient(head, features);
  let expected = 0;
  for (let k = 0; k < dim; k++) expected += gradient[k] * (features[k] - head.mean[k]);
  const values = attributeView(head, features, batch.maps!, 0, 4, 4);
  assert.ok(Math.abs(sum(values) - expected) < 1e-9 * Math.max(1, Math.abs(expected)), `sum ${sum(values)}, gradient . (f - mu) ${expected}`);
});

/** A linear head over one feature with kernel 2, std 1, bias 0 and the given training mean. */
function oneFeatureHead(trainingMean: number): HeadWeights {
  return {
    featureDim: 1,
    mean: [trainingMean],
    std: [1],
    layers: [{ inputs: 1, units: 1, kernel: [2], bias: [0], activation: 'linear' }],
    calibration: { scale: 1, shift: 0 },
  };
}

test('attributeView spreads coarse cells equally', () => {
  // A 1x1 map on a 2x2 grid gives its one value to each grid cell in quarters.
  const head = oneFeatureHead(0);
  const map: PooledMap = { values: Float32Array.of(3), height: 1, width: 1, channels: 1, meanOffset: 0 };
  assert.deepEqual(Array.from(attributeView(head, [3], [map], 0, 2, 2)), [1.5, 1.5, 1.5, 1.5]);
});

test('attributeView spreads an all-zero channel evenly', () => {
  // A = [0, 0]: nothing to split in proportion, so w (f - mu) = 2 (0 - 0.5) goes half to each position.
  const head = oneFeatureHead(0.5);
  const map: PooledMap = { values: Float32Array.of(0, 0), height: 1, width: 2, channels: 1, meanOffset: 0 };
  assert.deepEqual(Array.from(attributeView(head, [0], [map], 0, 1, 2)), [-0.5, -0.5]);
});

test('attributeView rejects maps that miss features', () => {
  const rng = new Rng(14);
  const dim = featureCount(LAYOUT);
  const batch = syntheticBatch(LAYOUT, 1, () => rng.next());
  const features = rowFeatures(batch, 0, dim);
  assert.throws(() => attributeView(linearHead(rng, dim), features, batch.maps!.slice(1), 0, 4, 4), /the maps account for 4 of 10 features/);
  assert.throws(() => attributeView(linearHead(rng, dim), features, batch.maps!, 0, 3, 3), /a 2x2 map does not divide a 3x3 grid/);
  assert.throws(() => attributeView(linearHead(rng, dim), features, batch.maps!, 1, 4, 4), /row 1 is outside a map of 1 rows/);
});

test('cropMapToImage keeps the sum', () => {
  const rng = new Rng(21);
  const map = Float64Array.from({ length: 14 * 14 }, () => rng.normal());
  const image = cropMapToImage(map, 14, 14, ZOOM_CROP);
  assert.ok(Math.abs(sum(image) - sum(map)) < 1e-12, `sum ${sum(image)} vs ${sum(map)}`);
  // The crop window starts at 0.075 > 1/14, so the outer ring of image cells gets nothing.
  for (let i = 0; i < 14; i++) {
    for (const cell of [i, 13 * 14 + i, i * 14, i * 14 + 13]) assert.equal(image[cell], 0, `border cell ${cell}`);
  }
});

test('cropMapToImage weights by overlap area', () => {
  // A crop of the right half: both crop cells fall into image cell 1.
  assert.deepEqual(Array.from(cropMapToImage(Float64Array.of(2, 3), 1, 2, { left: 0.5, top: 0, width: 0.5, height: 1 })), [0, 5]);
  // A crop from 0.25 to 0.75: each crop cell lies wholly in one image cell.
  assert.deepEqual(Array.from(cropMapToImage(Float64Array.of(2, 3), 1, 2, { left: 0.25, top: 0, width: 0.5, height: 1 })), [2, 3]);
  // A crop from 0 to 0.75 on 2 cells: crop cell 1 spans [0.375, 0.75], a third of it in image cell 0.
  const split = cropMapToImage(Float64Array.of(0, 3), 1, 2, { left: 0, top: 0, width: 0.75, height: 1 });
  assert.ok(maxAbsDifference(split, [1, 2]) < 1e-12, `values ${Array.from(split)}`);
  // The whole image is the identity.
  const rng = new Rng(22);
  const map = Float64Array.from({ length: 12 }, () => rng.normal());
  assert.ok(maxAbsDifference(cropMapToImage(map, 3, 4, { left: 0, top: 0, width: 1, height: 1 }), map) < 1e-15);
});

test('cropMapToImage rejects bad input', () => {
  assert.throws(() => cropMapToImage(new Float64Array(3), 2, 2, ZOOM_CROP), /expected 2x2 = 4 values, received 3/);
  assert.throws(() => cropMapToImage(new Float64Array(4), 2, 2, { left: 0.5, top: 0, width: 0.6, height: 1 }), /is not inside the unit square/);
});

test('viewMapToImage keeps the sum of every view', () => {
  const rng = new Rng(31);
  const map = Float64Array.from({ length: 14 * 14 }, () => rng.normal());
  for (let view = 0; view < FIXED_VIEW_COUNT; view++) {
    const image = viewMapToImage(map, 14, 14, view);
    assert.ok(Math.abs(sum(image) - sum(map)) < 1e-12, `view ${view}: sum ${sum(image)} vs ${sum(map)}`);
  }
  assert.deepEqual(Array.from(viewMapToImage(map, 14, 14, 0)), Array.from(map));
  assert.deepEqual(Array.from(viewMapToImage(map, 14, 14, 1)), Array.from(mirrorMap(map, 14, 14)));
  assert.deepEqual(Array.from(viewMapToImage(map, 14, 14, 3)), Array.from(cropMapToImage(mirrorMap(map, 14, 14), 14, 14, ZOOM_CROP)));
  assert.deepEqual(Array.from(viewMapToImage(map, 14, 14, 4)), Array.from(rotatedMapToImage(map, 14, 14, VIEW_ROTATION_DEG, false)));
  assert.deepEqual(Array.from(viewMapToImage(map, 14, 14, 5)), Array.from(rotatedMapToImage(map, 14, 14, VIEW_ROTATION_DEG, true)));
  assert.throws(() => viewMapToImage(map, 14, 14, 6), /view must be an integer from 0 to 5, received 6/);
});

test('rotatedMapToImage turns evidence back', () => {
  // Rotating the content 90 degrees counter-clockwise brings the image's right edge to the view's
  // top, so evidence in the view's top-centre cell came from the image's right-centre cell.
  const map = new Float64Array(14 * 14);
  map[0 * 14 + 7] = 1;
  const unrotated = rotatedMapToImage(map, 14, 14, 90, false);
  assert.ok(Math.abs(unrotated[7 * 14 + 13] - 1) < 1e-9, `cell (13, 7) holds ${unrotated[7 * 14 + 13]}`);
  // Mirroring after the rotation puts it on the left edge instead.
  const mirrored = rotatedMapToImage(map, 14, 14, 90, true);
  assert.ok(Math.abs(mirrored[7 * 14 + 0] - 1) < 1e-9, `cell (0, 7) holds ${mirrored[7 * 14]}`);
});

test('rotatedMapToImage keeps the sum', () => {
  const rng = new Rng(37);
  const map = Float64Array.from({ length: 14 * 14 }, () => rng.normal());
  for (const [degrees, mirror] of [[0, false], [10, false], [-10, true], [33, true]] as const) {
    const image = rotatedMapToImage(map, 14, 14, degrees, mirror);
    assert.ok(Math.abs(sum(image) - sum(map)) < 1e-12, `${degrees} degrees, mirror ${mirror}: sum ${sum(image)} vs ${sum(map)}`);
  }
  assert.ok(maxAbsDifference(rotatedMapToImage(map, 14, 14, 0, false), map) < 1e-12, 'zero rotation is not the identity');
  assert.throws(() => rotatedMapToImage(new Float64Array(5), 2, 2, 10, false), /expected 2x2 = 4 values, received 5/);
});

test('viewMapToImage puts zoomed evidence under the crop', () => {
  // A value in the top-left cell of the zoom view lies at image fractions [0.075, 0.136], which
  // falls in image cells 1 (up to 2/14 = 0.143) along each axis.
  const map = new Float64Array(14 * 14);
  map[0] = 1;
  const image = viewMapToImage(map, 14, 14, 2);
  assert.ok(Math.abs(image[1 * 14 + 1] - 1) < 1e-12, `cell (1, 1) holds ${image[15]}`);
  // In view 3 the same cell is the mirrored zoom's top-left, so the evidence lies top-right.
  assert.ok(Math.abs(viewMapToImage(map, 14, 14, 3)[1 * 14 + 12] - 1) < 1e-12);
});

test('logitHeatmap follows a mirrored image', () => {
  // Image 1 has views [v0, v1 = mirror(v0), v2, v3 = mirror(v2)]; its mirror image has the views
  // [v1, v0, v3, v2]. The mirror image's heat map must be image 1's flipped.
  const rng = new Rng(41);
  const dim = featureCount(LAYOUT);
  const head = linearHead(rng, dim);
  const random = new Map<string, number>();
  const valueAt = (view: number, map: number, y: number, x: number, channel: number) => {
    const key = `${view} ${map} ${y} ${x} ${channel}`;
    if (!random.has(key)) random.set(key, 6 * rng.next());
    return random.get(key)!;
  };
  const sides = LAYOUT.map((map) => map.side);
  // Original views: 0 and 2 random, 1 and 3 their mirrors.
  const original = (view: number, map: number, y: number, x: number, channel: number) =>
    view % 2 === 0 ? valueAt(view, map, y, x, channel) : valueAt(view - 1, map, y, sides[map] - 1 - x, channel);
  const mirroredOrder = [1, 0, 3, 2];
  const batch = syntheticBatch(LAYOUT, 8, (row, map, y, x, channel) =>
    row < 4 ? original(row, map, y, x, channel) : original(mirroredOrder[row - 4], map, y, x, channel),
  );

  const first = logitHeatmap(head, batch, 0, 4);
  const second = logitHeatmap(head, batch, 4, 4);
  assert.deepEqual([first.height, first.width], [4, 4]);
  assert.ok(first.values.some((value) => value > 0), 'the heat map is not all zero, so the comparison can fail');
  assert.ok(maxAbsDifference(second.values, mirrorMap(first.values, 4, 4)) < 1e-5);
});

test('logitHeatmap sums to mean logit minus bias', () => {
  // Positive kernel, zero training means and non-negative maps make every position's value >= 0,
  // so the ReLU changes nothing and the sum is exact.
  const rng = new Rng(51);
  const dim = featureCount(LAYOUT);
  const head: HeadWeights = { ...linearHead(rng, dim), mean: new Array<number>(dim).fill(0) };
  head.layers[0].kernel = head.layers[0].kernel.map(Math.abs);
  for (const views of [1, 2, 3, 4]) {
    const batch = syntheticBatch(LAYOUT, views, () => 6 * rng.next());
    let meanLogit = 0;
    for (let row = 0; row < views; row++) meanLogit += headLogit(head, rowFeatures(batch, row, dim)) / views;
    const heatmap = logitHeatmap(head, batch, 0, views);
    const expected = meanLogit - head.layers[0].bias[0];
    assert.ok(Math.abs(sum(heatmap.values) - expected) < 1e-5 * Math.abs(expected), `${views} views: sum ${sum(heatmap.values)}, expected ${expected}`);
  }
});

test('logitHeatmap is the ReLU of the view average', () => {
  const rng = new Rng(61);
  const dim = featureCount(LAYOUT);
  const head = linearHead(rng, dim);
  const batch = syntheticBatch(LAYOUT, 2, () => 6 * rng.next());
  const average = new Float64Array(16);
  for (let view = 0; view < 2; view++) {
    const aligned = viewMapToImage(attributeView(head, rowFeatures(batch, view, dim), batch.maps!, view, 4, 4), 4, 4, view);
    aligned.forEach((value, cell) => (average[cell] += value / 2));
  }
  const heatmap = logitHeatmap(head, batch, 0, 2);
  assert.ok(heatmap.values.every((value) => value >= 0), 'values are >= 0');
  assert.ok(maxAbsDifference(heatmap.values, Array.from(average, (value) => Math.max(0, value))) < 1e-5);
});

test('logitHeatmap rejects a batch without maps', () => {
  const rng = new Rng(71);
  assert.throws(() => logitHeatmap(linearHead(rng, 2), { pooled: new Float32Array(2) }, 0, 1), /has no maps\. Extract it with \{ maps: true \}/);
});
