import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

import onnxProto from 'onnx-proto';
import './ort-telemetry-off.js';
import * as ort from 'onnxruntime-node';

import { ModelError } from '../errors.js';
import { BUSI_DIR, loadTestImage, testWeightsDir } from './backbone-fixtures.js';
import { dequantizeGraph, floatName } from './dequantize-graph.js';
import { toNormalisedNchw } from './onnx-mobilenet-v2.js';

const { onnx } = onnxProto;
const MODEL_FILE = path.join(testWeightsDir(), 'mobilenet_v2_1.0_224', 'mobilenetv2-12-int8.onnx');

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let meanA = 0;
  let meanB = 0;
  for (let i = 0; i < n; i++) {
    meanA += a[i] / n;
    meanB += b[i] / n;
  }
  let cov = 0;
  let varA = 0;
  let varB = 0;
  for (let i = 0; i < n; i++) {
    cov += (a[i] - meanA) * (b[i] - meanB);
    varA += (a[i] - meanA) ** 2;
    varB += (b[i] - meanB) ** 2;
  }
  return cov / Math.sqrt(varA * varB);
}

test('floatName strips quantized suffix', () => {
  assert.equal(floatName('627_quantized'), '627');
  assert.equal(floatName('input'), 'input');
});

test('float graph has no quantized operators', () => {
  const model = dequantizeGraph(onnx.ModelProto.decode(readFileSync(MODEL_FILE)), MODEL_FILE);
  const opTypes = new Set(model.graph!.node!.map((node) => node.opType));
  for (const opType of opTypes) assert.ok(!/^QLinear|Quantize/.test(opType!), `${opType} left in the float graph`);
  assert.equal(model.graph!.node!.filter((node) => node.opType === 'Conv').length, 52);
  // MobileNetV2 has ReLU6 after the stem, every expansion, every depthwise conv and the last 1x1 conv.
  assert.equal(model.graph!.node!.filter((node) => node.opType === 'Clip').length, 35);
});

test('float graph tracks int8 logits on BUSI', async () => {
  const bytes = readFileSync(MODEL_FILE);
  const floatModel = onnx.ModelProto.encode(dequantizeGraph(onnx.ModelProto.decode(bytes), MODEL_FILE)).finish();
  const quantizedSession = await ort.InferenceSession.create(bytes);
  const floatSession = await ort.InferenceSession.create(floatModel);
  try {
    for (const file of ['benign/benign (1).png', 'malignant/malignant (2).png']) {
      const image = await loadTestImage(path.join(BUSI_DIR, file));
      const input = new ort.Tensor('float32', toNormalisedNchw([image], 224), [1, 3, 224, 224]);
      const quantized = (await quantizedSession.run({ input })).output.data as Float32Array;
      const float = (await floatSession.run({ input })).output.data as Float32Array;
      assert.equal(float.length, 1000);
      // Int8 rounding moves the logits of ultrasound images, which are far from ImageNet, a lot (0.85 measured here).
      assert.ok(pearson(quantized, float) > 0.75, `${file}: logits correlate ${pearson(quantized, float).toFixed(3)} with the int8 graph`);
    }
  } finally {
    await quantizedSession.release();
    await floatSession.release();
  }
});

test('dequantizeGraph rejects unknown operators', () => {
  const model = onnx.ModelProto.create({
    graph: { node: [{ name: 'odd', opType: 'QLinearSigmoid', input: ['x'], output: ['y'] }], initializer: [], output: [] },
  });
  assert.throws(() => dequantizeGraph(model, 'odd.onnx'), ModelError);
  assert.throws(() => dequantizeGraph(model, 'odd.onnx'), /odd\.onnx: operator QLinearSigmoid/);
});
