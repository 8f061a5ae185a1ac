import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';

import type { Sample } from '../data/sample.js';
import type { Backbone } from '../model/backbone.js';
import { BUSI_DIR, testWeightsDir } from '../model/backbone-fixtures.js';
import { loadOnnxMobileNetV2 } from '../model/onnx-mobilenet-v2.js';
import { extractFeatures } from './extract-features.js';

const SAMPLES: Sample[] = [
  { id: 'benign/benign (1).png', file: path.join(BUSI_DIR, 'benign', 'benign (1).png'), label: 0 },
  { id: 'malignant/malignant (1).png', file: path.join(BUSI_DIR, 'malignant', 'malignant (1).png'), label: 1 },
];

let backbone: Backbone;
let cacheDir: string;

before(async () => {
  backbone = await loadOnnxMobileNetV2(path.join(testWeightsDir(), 'mobilenet_v2_1.0_224'));
  cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'busight-extract-'));
});

after(async () => {
  await backbone.dispose();
  await fs.rm(cacheDir, { recursive: true, force: true });
});

async function cachedFiles(): Promise<string[]> {
  const folder = path.join(cacheDir, 'features', 'test-backbone');
  return (await fs.readdir(folder)).sort();
}

test('fixed views share cache across seeds', async () => {
  const first = await extractFeatures(SAMPLES, backbone, 'test-backbone', { views: 4, augment: true, seed: 1, cacheDir });
  const filesAfterFirst = await cachedFiles();
  const second = await extractFeatures(SAMPLES, backbone, 'test-backbone', { views: 4, augment: true, seed: 2, cacheDir });

  assert.equal(filesAfterFirst.length, SAMPLES.length);
  assert.deepEqual(await cachedFiles(), filesAfterFirst);
  assert.deepEqual(second.set.features, first.set.features);
  assert.equal(first.set.features.length, SAMPLES.length * 4 * backbone.featureDim);
});

test('fixed views need no augment flag', async () => {
  const dim = backbone.featureDim;
  const fixed = await extractFeatures(SAMPLES.slice(0, 1), backbone, 'test-backbone', { views: 6, augment: false, seed: 1 });
  // Views 0 and 2 (image and central zoom) differ; so do 0 and 1 (image and mirror) and 0 and 4 (image and rotated image).
  const view = (index: number) => fixed.set.features.subarray(index * dim, (index + 1) * dim);
  const distance = (a: Float32Array, b: Float32Array) => a.reduce((max, value, j) => Math.max(max, Math.abs(value - b[j])), 0);
  assert.ok(distance(view(0), view(2)) > 1e-3, 'zoomed view equals the image view');
  assert.ok(distance(view(0), view(1)) > 1e-3, 'mirrored view equals the image view');
  assert.ok(distance(view(0), view(4)) > 1e-3, 'rotated view equals the image view');
  await assert.rejects(extractFeatures(SAMPLES, backbone, 'test-backbone', { views: 7, augment: false, seed: 1 }), /7 views need augment: true/);
});

test('augmented views depend on seed', async () => {
  const dim = backbone.featureDim;
  const first = await extractFeatures(SAMPLES, backbone, 'test-backbone', { views: 7, augment: true, seed: 1, cacheDir });
  const second = await extractFeatures(SAMPLES, backbone, 'test-backbone', { views: 7, augment: true, seed: 2, cacheDir });

  // Views 0-5 (fixed) are the same; view 6 (a random augmentation) differs.
  assert.deepEqual(first.set.features.subarray(0, 6 * dim), second.set.features.subarray(0, 6 * dim));
  const seventh = (set: Float32Array) => set.subarray(6 * dim, 7 * dim);
  const difference = seventh(first.set.features).reduce((max, value, j) => Math.max(max, Math.abs(value - seventh(second.set.features)[j])), 0);
  assert.ok(difference > 1e-3, `augmented views of seeds 1 and 2 differ by at most ${difference}`);
});
