import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';

import onnxProto from 'onnx-proto';

import { DataError, ModelError } from '../errors.js';
import type { Backbone } from './backbone.js';
import {
  BUSI_DIR,
  LABELLED_PHOTOS,
  loadTestImage,
  maxAbsDifference,
  readImagenetLabels,
  spatialMean,
  testWeightsDir,
  topClasses,
} from './backbone-fixtures.js';
import { addFeatureOutputs, loadOnnxMobileNetV2, POOLED_TAPS, STD_POOLED } from './onnx-mobilenet-v2.js';

const MODEL_DIR = path.join(testWeightsDir(), 'mobilenet_v2_1.0_224');
const MODEL_FILE = path.join(MODEL_DIR, 'mobilenetv2-12-int8.onnx');

let backbone: Backbone;

before(async () => {
  backbone = await loadOnnxMobileNetV2(MODEL_DIR);
});

after(async () => {
  await backbone.dispose();
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

test('extract returns documented shapes', async () => {
  const image = await loadTestImage(path.join(BUSI_DIR, 'benign', 'benign (1).png'));
  const features = await backbone.extract([image, image, image], { maps: true });
  assert.equal(backbone.featureDim, 2 * (1280 + 576 + 960 + 576 + 960 + 960));
  assert.equal(features.pooled.length, 3 * backbone.featureDim);
  assert.equal(features.maps?.length, 3 * 7 * 7 * 1280);
  assert.deepEqual(backbone.mapShape, [7, 7, 1280]);
  assert.ok(features.pooled.every(Number.isFinite));
});

test('pooled features equal mean of maps', async () => {
  const images = [
    await loadTestImage(path.join(BUSI_DIR, 'benign', 'benign (1).png')),
    await loadTestImage(path.join(BUSI_DIR, 'malignant', 'malignant (1).png')),
  ];
  const { pooled, maps } = await backbone.extract(images, { maps: true });
  assert.ok(maps);
  // Each row starts with the 1280 last-layer features; the features of earlier blocks follow.
  const lastLayer = new Float32Array(images.length * 1280);
  for (let i = 0; i < images.length; i++) lastLayer.set(pooled.subarray(i * backbone.featureDim, i * backbone.featureDim + 1280), i * 1280);
  // The graph re-quantizes the pooled values with 464_scale, so they may differ from the float
  // mean of the dequantized map by half a quantization step.
  const tolerance = 1e-4;
  const difference = maxAbsDifference(lastLayer, spatialMean(maps, images.length, backbone.mapShape));
  assert.ok(difference <= tolerance, `max difference ${difference} > ${tolerance}`);
});

test('features differ between images', async () => {
  const images = [
    await loadTestImage(path.join(BUSI_DIR, 'benign', 'benign (1).png')),
    await loadTestImage(path.join(BUSI_DIR, 'malignant', 'malignant (1).png')),
  ];
  const { pooled } = await backbone.extract(images);
  const dim = backbone.featureDim;
  const first = pooled.subarray(0, dim);
  const second = pooled.subarray(dim);
  assert.ok(maxAbsDifference(first.subarray(0, 1280), second.subarray(0, 1280)) > 0.1, 'last-layer features are near-identical');
  assert.ok(maxAbsDifference(first.subarray(1280), second.subarray(1280)) > 0.01, 'earlier-block features are near-identical');
});

test('earlier-block features are ReLU6 means', async () => {
  const image = await loadTestImage(path.join(BUSI_DIR, 'malignant', 'malignant (2).png'));
  const { pooled } = await backbone.extract([image]);
  let offset = 1280;
  for (const tap of POOLED_TAPS) {
    const values = pooled.subarray(offset, offset + tap.channels);
    offset += tap.channels;
    assert.equal(values.length, tap.channels);
    assert.ok(values.every((value) => value >= 0), `${tap.tensor}: a pooled activation is below 0`);
    assert.ok(values.every((value) => value <= 6), `${tap.tensor}: a pooled activation is above 6`);
    assert.ok(values.some((value) => value > 0.01), `${tap.tensor}: all pooled activations are zero`);
  }
  for (const part of STD_POOLED) {
    const values = pooled.subarray(offset, offset + part.channels);
    offset += part.channels;
    assert.equal(values.length, part.channels);
    // A ReLU6 output's standard deviation lies in [0, 3].
    assert.ok(values.every((value) => value >= 0 && value <= 3), `${part.tensor}: a standard deviation is outside [0, 3]`);
    assert.ok(values.some((value) => value > 0.01), `${part.tensor}: all standard deviations are zero`);
  }
  assert.equal(offset, backbone.featureDim);
});

test('std features match the last map', async () => {
  const image = await loadTestImage(path.join(BUSI_DIR, 'benign', 'benign (4).png'));
  const { pooled, maps } = await backbone.extract([image], { maps: true });
  assert.ok(maps);
  const channels = 1280;
  const positions = 49;
  const stdOffset = backbone.featureDim / 2;
  let difference = 0;
  for (let channel = 0; channel < channels; channel++) {
    let sum = 0;
    let sumSquares = 0;
    for (let position = 0; position < positions; position++) {
      const value = maps[position * channels + channel];
      sum += value;
      sumSquares += value * value;
    }
    const mean = sum / positions;
    const std = Math.sqrt(Math.max(0, sumSquares / positions - mean * mean));
    difference = Math.max(difference, Math.abs(std - pooled[stdOffset + channel]));
  }
  assert.ok(difference < 1e-3, `max difference ${difference}`);
});

test('batching does not change features', async () => {
  const files = ['benign (1).png', 'benign (2).png', 'benign (3).png'].map((name) => path.join(BUSI_DIR, 'benign', name));
  const images = await Promise.all(files.map((file) => loadTestImage(file)));
  const single = await loadOnnxMobileNetV2(MODEL_DIR, { batchSize: 1 });
  try {
    const oneByOne = await single.extract(images, { maps: true });
    const together = await backbone.extract(images, { maps: true });
    assert.ok(maxAbsDifference(oneByOne.pooled, together.pooled) < 1e-6);
    assert.ok(oneByOne.maps);
    assert.ok(together.maps);
    assert.ok(maxAbsDifference(oneByOne.maps, together.maps) < 1e-6);
  } finally {
    await single.dispose();
  }
});

test('extract of empty batch is empty', async () => {
  const features = await backbone.extract([], { maps: true });
  assert.equal(features.pooled.length, 0);
  assert.equal(features.maps?.length, 0);
});

test('extract rejects wrong image size', async () => {
  const small = { data: new Uint8Array(32 * 32 * 3), width: 32, height: 32 };
  await assert.rejects(backbone.extract([small]), DataError);
  await assert.rejects(backbone.classify([small]), /expected 224x224 RGB/);
});

test('addFeatureOutputs rejects other graphs', () => {
  assert.throws(() => addFeatureOutputs(new Uint8Array([1, 2, 3, 4, 5]), 'garbage.onnx'), ModelError);
  const empty = onnxProto.onnx.ModelProto.encode({ graph: { node: [] } }).finish();
  assert.throws(() => addFeatureOutputs(empty, 'empty.onnx'), /lacks the tensors 627_quantized/);
});

test('load reports missing model file', async () => {
  await assert.rejects(loadOnnxMobileNetV2(path.join(MODEL_DIR, 'no-such-folder')), ModelError);
});
