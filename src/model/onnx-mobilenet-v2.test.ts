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
import { addFeatureOutputs, loadOnnxMobileNetV2, POOLED_TAPS } from './onnx-mobilenet-v2.js';

const MODEL_DIR = path.join(testWeightsDir(), 'mobilenet_v2_1.0_224');
const MODEL_FILE = path.join(MODEL_DIR, 'mobilenetv2-12-int8.onnx');

let backbone: Backbone;

before(async () => {
  backbone = await loadOnnxMobileNetV2(MODEL_DIR);
});

after(async () => {
  await backbone.dispose();
});

/** Returns a float initializer's first value from the model file. */
function readScale(name: string): number {
  const model = onnxProto.onnx.ModelProto.decode(readFileSync(MODEL_FILE));
  const tensor = model.graph?.initializer?.find((candidate) => candidate.name === name);
  assert.ok(tensor?.floatData?.length, `initializer ${name} not found in ${MODEL_FILE}`);
  return tensor.floatData[0];
}

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
  assert.equal(backbone.featureDim, 1280 + 576 + 960);
  assert.equal(features.pooled.length, 3 * (1280 + 576 + 960));
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
  const tolerance = readScale('464_scale') / 2 + 1e-5;
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
    // Dequantized ReLU6 outputs lie in [0, 6] up to one quantization step.
    const step = readScale(tap.scale);
    assert.equal(values.length, tap.channels);
    assert.ok(values.every((value) => value >= -step), `${tap.tensor}: a pooled activation is below 0`);
    assert.ok(values.every((value) => value <= 6 + step), `${tap.tensor}: a pooled activation is above 6`);
    assert.ok(values.some((value) => value > 0.01), `${tap.tensor}: all pooled activations are zero`);
  }
  assert.equal(offset, backbone.featureDim);
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
