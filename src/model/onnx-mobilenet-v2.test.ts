import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';

import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';

import { DataError, ModelError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { attributeView } from './attribution.js';
import type { Backbone, PooledMap } from './backbone.js';
import {
  BUSI_DIR,
  columns,
  LABELLED_PHOTOS,
  loadTestImage,
  maxAbsDifference,
  randomLinearHead,
  readImagenetLabels,
  spatialMean,
  spatialStd,
  squared,
  testWeightsDir,
  topClasses,
} from './backbone-fixtures.js';
import {
  addFeatureOutputs,
  INPUT_NAME,
  loadOnnxMobileNetV2,
  POOLED_PARTS,
  POOLED_TAPS,
  STD_POOLED,
  toNormalisedNchw,
} from './onnx-mobilenet-v2.js';
import { headLogit } from './head.js';
import { createOnnxSession } from './onnx-session.js';

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
  assert.ok(features.pooled.every(Number.isFinite));

  // The last map, then the blocks 12, 14, 13, 15 and 16 expansions. Std features start at 5312.
  const expected = [
    { side: 7, channels: 1280, meanOffset: 0 },
    { side: 14, channels: 576, meanOffset: 1280 },
    { side: 7, channels: 960, meanOffset: 1856 },
    { side: 14, channels: 576, meanOffset: 2816 },
    { side: 7, channels: 960, meanOffset: 3392 },
    { side: 7, channels: 960, meanOffset: 4352 },
  ];
  const maps = features.maps;
  assert.ok(maps);
  assert.equal(maps.length, expected.length);
  for (const [index, { side, channels, meanOffset }] of expected.entries()) {
    const map: PooledMap = maps[index];
    assert.deepEqual([map.height, map.width, map.channels], [side, side, channels], `map ${index} shape`);
    assert.equal(map.meanOffset, meanOffset, `map ${index} mean offset`);
    assert.equal(map.stdOffset, 5312 + meanOffset, `map ${index} std offset`);
    assert.equal(map.values.length, 3 * side * side * channels, `map ${index} length`);
  }
});

test('pooled features equal mean and std of maps', async () => {
  const images = [
    await loadTestImage(path.join(BUSI_DIR, 'benign', 'benign (1).png')),
    await loadTestImage(path.join(BUSI_DIR, 'malignant', 'malignant (1).png')),
  ];
  const { pooled, maps } = await backbone.extract(images, { maps: true });
  assert.ok(maps);
  const dim = backbone.featureDim;
  for (const [index, map] of maps.entries()) {
    // The features are root pooled (see rootPool), so their squares are the means and stds.
    // The graph re-quantizes the last map's pooled values with 464_scale, so they may differ from
    // the float mean of the dequantized map by half a quantization step.
    const meanTolerance = index === 0 ? 1e-4 : 1e-5;
    const meanDifference = maxAbsDifference(squared(columns(pooled, images.length, dim, map.meanOffset, map.channels)), spatialMean(map, images.length));
    assert.ok(meanDifference <= meanTolerance, `map ${index}: max mean difference ${meanDifference} > ${meanTolerance}`);

    // The graph computes the std as sqrt(mean(x^2) - mean(x)^2) in float32, which loses digits
    // for channels whose spread is small against their mean.
    assert.ok(map.stdOffset !== undefined, `map ${index} has std features`);
    const stdDifference = maxAbsDifference(squared(columns(pooled, images.length, dim, map.stdOffset, map.channels)), spatialStd(map, images.length));
    assert.ok(stdDifference < 1e-3, `map ${index}: max std difference ${stdDifference}`);
  }
});

test('map outputs leave features bit-identical', async () => {
  // A session on the graph without the block map outputs, as it was before they were added.
  const model = onnxProto.onnx.ModelProto.decode(addFeatureOutputs(readFileSync(MODEL_FILE), MODEL_FILE));
  const mapOutputs = new Set(POOLED_TAPS.map((tap) => tap.mapOutput));
  model.graph!.output = model.graph!.output!.filter((output) => !mapOutputs.has(output.name ?? ''));
  model.graph!.node = model.graph!.node!.filter((node) => !(node.output ?? []).some((output) => mapOutputs.has(output)));
  const session = await createOnnxSession(onnxProto.onnx.ModelProto.encode(model).finish(), MODEL_FILE);
  try {
    const files = ['benign (5).png', 'malignant (5).png'].map((name) => path.join(BUSI_DIR, name.split(' ')[0], name));
    const images = await Promise.all(files.map((file) => loadTestImage(file)));
    const input = new ort.Tensor('float32', toNormalisedNchw(images, 224), [images.length, 3, 224, 224]);
    const outputs = await session.run({ [INPUT_NAME]: input }, POOLED_PARTS.map((part) => part.output));
    const withMaps = await backbone.extract(images, { maps: true });
    const withoutMaps = await backbone.extract(images);
    let offset = 0;
    for (const part of POOLED_PARTS) {
      const reference = outputs[part.output].data as Float32Array;
      for (let i = 0; i < images.length; i++) {
        const expected = Array.from(reference.subarray(i * part.channels, (i + 1) * part.channels));
        const start = i * backbone.featureDim + offset;
        assert.deepEqual(Array.from(withMaps.pooled.subarray(start, start + part.channels)), expected, `${part.output}, image ${i}, with maps`);
        assert.deepEqual(Array.from(withoutMaps.pooled.subarray(start, start + part.channels)), expected, `${part.output}, image ${i}, without maps`);
      }
      offset += part.channels;
    }
  } finally {
    await session.release();
  }
});

test('maps split a linear logit exactly', async () => {
  const image = await loadTestImage(path.join(BUSI_DIR, 'malignant', 'malignant (3).png'));
  const batch = await backbone.extract([image], { maps: true });
  assert.ok(batch.maps);
  const head = randomLinearHead(new Rng(3), backbone.featureDim);
  const values = attributeView(head, batch.pooled, batch.maps, 0, 14, 14);
  const expected = headLogit(head, batch.pooled) - head.layers[0].bias[0];
  const total = values.reduce((sum, value) => sum + value, 0);
  assert.ok(Math.abs(total - expected) < 1e-9 * Math.max(1, Math.abs(expected)), `sum ${total}, logit - bias ${expected}`);
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
    for (const [index, map] of together.maps.entries()) {
      assert.ok(maxAbsDifference(oneByOne.maps[index].values, map.values) < 1e-6, `map ${index}`);
    }
  } finally {
    await single.dispose();
  }
});

test('extract of empty batch is empty', async () => {
  const features = await backbone.extract([], { maps: true });
  assert.equal(features.pooled.length, 0);
  assert.ok(features.maps);
  assert.ok(features.maps.every((map) => map.values.length === 0));
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
