/**
 * Tests of `busight export`. The exported ONNX model, run on the fixed views of real BUSI images,
 * must give the predictor's probabilities in onnxruntime-node and onnxruntime-web. Bundles that
 * the export does not support must be rejected with the documented errors and exit codes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import onnxProto from 'onnx-proto';
import './ort-telemetry-off.js';
import * as ort from 'onnxruntime-node';

import { makeTempDir } from '../data/fixtures.js';
import { loadSampleImage, type RgbImage } from '../data/image.js';
import { findContentBox, type PixelBox } from '../data/padding.js';
import { ConfigError, ModelError } from '../errors.js';
import { featureStatistics } from '../train/train-head.js';
import { sha256, sha256File } from '../util/atomic.js';
import { Rng } from '../util/rng.js';
import type { Backbone, BackboneName } from './backbone.js';
import { BACKBONE_SPECS } from './backbone.js';
import { BUSI_DIR, REPO_ROOT, testWeightsDir } from './backbone-fixtures.js';
import { readBundle, writeBundle } from './bundle.js';
import { exportBundle, type ExportContract, type ExportResult } from './export-bundle.js';
import { EXPORT_FEATURE_DIM, EXPORT_INPUT, PROBABILITY_OUTPUT, VIEW_LOGITS_OUTPUT } from './export-onnx.js';
import { FIXED_VIEW_COUNT, fixedViews } from './fixed-views.js';
import type { HeadWeights } from './head.js';
import { calibratedProbability, headLogit } from './head.js';
import { mirrorRgb } from './mirror.js';
import { IMAGENET_MEAN, IMAGENET_STD, loadOnnxMobileNetV2, toNormalisedNchw } from './onnx-mobilenet-v2.js';
import type { Prediction } from './predictor.js';
import { loadPredictor } from './predictor.js';

const INPUT_SIZE = BACKBONE_SPECS['mobilenet_v2_1.0'].inputSize;
const BACKBONE_DIR = path.join(testWeightsDir(), BACKBONE_SPECS['mobilenet_v2_1.0'].folder);
const BACKBONE_FILE = path.join(BACKBONE_DIR, BACKBONE_SPECS['mobilenet_v2_1.0'].entryFile);
const V1_DIR = path.join(testWeightsDir(), BACKBONE_SPECS['mobilenet_v1_0.75'].folder);
const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');

/** Images whose view features give the head's mean and std, as training images would. */
const TRAINING_IDS = [4, 5, 6, 7].flatMap((n) => [`benign/benign (${n}).png`, `malignant/malignant (${n}).png`]);
/** Images the exported model and the predictor are compared on, none of them in TRAINING_IDS. */
const CHECK_IDS = [1, 2, 3].flatMap((n) => [`benign/benign (${n}).png`, `malignant/malignant (${n}).png`]);

/** Maximum allowed difference between the exported model's and the predictor's probability. */
const PROBABILITY_TOLERANCE = 1e-4;
/** Maximum allowed difference between the exported view logits and headLogit on the backbone's features. */
const LOGIT_TOLERANCE = 1e-3;

let root: string;
let backbone: Backbone;
let head: HeadWeights;
let bundleDir: string;
let exported: ExportResult;
let checkImages: RgbImage[];
let predictions: Prediction[];
let session: ort.InferenceSession;

before(async () => {
  root = await makeTempDir('busight-export-');
  backbone = await loadOnnxMobileNetV2(BACKBONE_DIR);
  head = await headFromFeatures(await loadImages(TRAINING_IDS));
  bundleDir = await writeTestBundle('linear', 'mobilenet_v2_1.0', [BACKBONE_FILE], head);
  exported = await exportBundle(bundleDir, path.join(root, 'export', 'busight.onnx'));

  checkImages = await loadImages(CHECK_IDS);
  const predictor = await loadPredictor(bundleDir);
  try {
    predictions = await predictor.predictBatch(checkImages);
  } finally {
    await predictor.dispose();
  }
  session = await ort.InferenceSession.create(exported.onnxFile, { executionProviders: ['cpu'], intraOpNumThreads: 2 });
});

after(async () => {
  await session?.release();
  await backbone?.dispose();
  await fs.rm(root, { recursive: true, force: true });
});

/** Decodes BUSI images by id (path relative to the BUSI folder) to RGB uint8 HWC. */
async function loadImages(ids: string[]): Promise<RgbImage[]> {
  return Promise.all(ids.map((id) => loadSampleImage({ id, file: path.join(BUSI_DIR, ...id.split('/')), label: 0 })));
}

/** Returns the first `count` fixed views of one RGB uint8 HWC image as float32 [count, 3, 224, 224], normalised by toNormalisedNchw. */
async function viewTensor(image: RgbImage, count: number = FIXED_VIEW_COUNT): Promise<Float32Array> {
  return toNormalisedNchw(await fixedViews(image, INPUT_SIZE, count), INPUT_SIZE);
}

/**
 * Builds a linear head as training would standardise it: mean and std of the views of `images`
 * (RGB uint8 HWC), std floored at 1e-6, and a seeded random kernel scaled so logits are of order 1.
 */
async function headFromFeatures(images: RgbImage[]): Promise<HeadWeights> {
  const views: RgbImage[] = [];
  for (const image of images) views.push(...(await fixedViews(image, INPUT_SIZE, FIXED_VIEW_COUNT)));
  const { pooled } = await backbone.extract(views);
  const dim = backbone.featureDim;
  const { mean, std } = featureStatistics(pooled, dim);
  const rng = new Rng(11);
  const kernel = Array.from({ length: dim }, () => rng.normal() / Math.sqrt(dim));
  return {
    featureDim: dim,
    mean: Array.from(mean),
    std: Array.from(std),
    layers: [{ inputs: dim, units: 1, kernel, bias: [0.25], activation: 'linear' }],
    calibration: { scale: 0.8, shift: -0.3 },
  };
}

/** Writes a bundle named `name` under the test folder with the given backbone files and head. */
async function writeTestBundle(name: string, backboneName: BackboneName, backboneFiles: string[], bundleHead: HeadWeights): Promise<string> {
  const dir = path.join(root, `bundle-${name}`);
  await writeBundle(dir, {
    backboneName,
    backboneFiles,
    head: bundleHead,
    preprocessing: { inputSize: INPUT_SIZE, resize: 'fill', channels: 'rgb', testTimeViews: FIXED_VIEW_COUNT, trimPadding: true },
    threshold: 0.4,
    targetSensitivity: 0.9,
    training: { note: 'export test bundle' },
  });
  return dir;
}

/** Writes a bundle whose head has one hidden ReLU layer of 2 units, which export must reject. */
async function writeMlpBundle(name: string): Promise<string> {
  const dim = EXPORT_FEATURE_DIM;
  const mlpHead: HeadWeights = {
    ...head,
    layers: [
      { inputs: dim, units: 2, kernel: new Array<number>(dim * 2).fill(0.001), bias: [0, 0], activation: 'relu' },
      { inputs: 2, units: 1, kernel: [1, -1], bias: [0], activation: 'linear' },
    ],
  };
  return writeTestBundle(name, 'mobilenet_v2_1.0', [BACKBONE_FILE], mlpHead);
}

/** Runs the exported model on views float32 [V, 3, 224, 224] in [-2.12, 2.64] (toNormalisedNchw) and returns its two outputs. */
async function runExported(
  run: (feeds: Record<string, ort.Tensor>) => Promise<Record<string, { data: unknown; dims: readonly number[] }>>,
  input: Float32Array,
): Promise<{ viewLogits: Float32Array; probability: number; dims: readonly number[] }> {
  const views = input.length / (3 * INPUT_SIZE * INPUT_SIZE);
  const outputs = await run({ [EXPORT_INPUT]: new ort.Tensor('float32', input, [views, 3, INPUT_SIZE, INPUT_SIZE]) });
  const probability = outputs[PROBABILITY_OUTPUT].data as Float32Array;
  assert.equal(probability.length, 1);
  return { viewLogits: outputs[VIEW_LOGITS_OUTPUT].data as Float32Array, probability: probability[0], dims: outputs[VIEW_LOGITS_OUTPUT].dims };
}

function runWithNode(feeds: Record<string, ort.Tensor>) {
  return session.run(feeds);
}

describe('exported model', () => {
  test('probability equals predictor on BUSI', async (t) => {
    let maxDifference = 0;
    for (const [index, image] of checkImages.entries()) {
      const { probability } = await runExported(runWithNode, await viewTensor(image));
      const expected = predictions[index].probability;
      const difference = Math.abs(probability - expected);
      maxDifference = Math.max(maxDifference, difference);
      assert.ok(difference <= PROBABILITY_TOLERANCE, `${CHECK_IDS[index]}: exported ${probability}, predictor ${expected}`);
    }
    t.diagnostic(`max probability difference ${maxDifference.toExponential(2)} over ${checkImages.length} images`);
  });

  test('check probabilities are not saturated', () => {
    // A comparison of probabilities that are all 0 or 1 could not fail on a wrong logit.
    const inside = predictions.filter((prediction) => prediction.probability > 0.02 && prediction.probability < 0.98);
    assert.ok(inside.length >= 2, `probabilities ${predictions.map((prediction) => prediction.probability.toFixed(4)).join(', ')}`);
  });

  test('view logits equal headLogit of features', async (t) => {
    let maxDifference = 0;
    for (const image of checkImages.slice(0, 2)) {
      const views = await fixedViews(image, INPUT_SIZE, FIXED_VIEW_COUNT);
      const { viewLogits, dims } = await runExported(runWithNode, toNormalisedNchw(views, INPUT_SIZE));
      assert.deepEqual(dims, [FIXED_VIEW_COUNT]);
      const { pooled } = await backbone.extract(views);
      const dim = backbone.featureDim;
      for (let view = 0; view < FIXED_VIEW_COUNT; view++) {
        const expected = headLogit(head, pooled.subarray(view * dim, (view + 1) * dim));
        const difference = Math.abs(viewLogits[view] - expected);
        maxDifference = Math.max(maxDifference, difference);
        assert.ok(difference <= LOGIT_TOLERANCE, `view ${view}: exported ${viewLogits[view]}, headLogit ${expected}`);
      }
    }
    t.diagnostic(`max view logit difference ${maxDifference.toExponential(2)}`);
  });

  test('single view gives its calibrated logit', async () => {
    const image = checkImages[0];
    const all = await runExported(runWithNode, await viewTensor(image));
    const single = await runExported(runWithNode, await viewTensor(image, 1));
    assert.deepEqual(single.dims, [1]);
    assert.ok(Math.abs(single.viewLogits[0] - all.viewLogits[0]) < 1e-5, `${single.viewLogits[0]} vs ${all.viewLogits[0]}`);
    const expected = calibratedProbability(head, single.viewLogits[0]);
    assert.ok(Math.abs(single.probability - expected) < 1e-6, `${single.probability} vs ${expected}`);
  });

  test('graph has only the export input and outputs', async (t) => {
    assert.deepEqual(session.inputNames, [EXPORT_INPUT]);
    assert.deepEqual(session.outputNames, [VIEW_LOGITS_OUTPUT, PROBABILITY_OUTPUT]);
    const model = onnxProto.onnx.ModelProto.decode(await fs.readFile(exported.onnxFile));
    const nodeOutputs = new Set((model.graph?.node ?? []).flatMap((node) => node.output ?? []));
    assert.ok(!nodeOutputs.has('output'), 'the ImageNet classifier is still in the graph');
    assert.ok(!nodeOutputs.has('busight_features_map'), 'the last-map output node is still in the graph');
    assert.deepEqual(model.opsetImport?.map((entry) => entry.domain ?? ''), ['']);

    const bytes = (await fs.stat(exported.onnxFile)).size;
    assert.equal(bytes, exported.onnxBytes);
    // The float32 weights left are about 2.24 million values, because the ImageNet classifier
    // (1.28 million) is dropped.
    assert.ok(bytes > 8e6, `exported file is ${bytes} bytes`);
    assert.ok(bytes < 10e6, `exported file is ${bytes} bytes`);
    t.diagnostic(`exported file ${bytes} bytes`);
  });

  test('runs in onnxruntime-web', async (t) => {
    const ortWeb = await import('onnxruntime-web');
    ortWeb.env.wasm.numThreads = 1;
    const webSession = await ortWeb.InferenceSession.create(await fs.readFile(exported.onnxFile), { executionProviders: ['wasm'] });
    try {
      const runWithWeb = async (feeds: Record<string, ort.Tensor>) => {
        const webFeeds = Object.fromEntries(Object.entries(feeds).map(([name, tensor]) => [name, new ortWeb.Tensor('float32', tensor.data as Float32Array, tensor.dims)]));
        return webSession.run(webFeeds);
      };
      let maxDifference = 0;
      for (const [index, image] of checkImages.slice(0, 2).entries()) {
        const { probability } = await runExported(runWithWeb, await viewTensor(image));
        const difference = Math.abs(probability - predictions[index].probability);
        maxDifference = Math.max(maxDifference, difference);
        assert.ok(difference <= PROBABILITY_TOLERANCE, `${CHECK_IDS[index]}: onnxruntime-web ${probability}, predictor ${predictions[index].probability}`);
      }
      t.diagnostic(`onnxruntime-web max probability difference ${maxDifference.toExponential(2)}`);
    } finally {
      await webSession.release();
    }
  });
});

describe('export contract', () => {
  let contract: ExportContract;

  before(async () => {
    contract = JSON.parse(await fs.readFile(exported.contractFile, 'utf8')) as ExportContract;
  });

  test('contract sits beside the ONNX file', () => {
    assert.equal(exported.contractFile, path.join(root, 'export', 'busight.json'));
    assert.equal(contract.onnx.file, 'busight.onnx');
  });

  test('contract hashes match the files', async () => {
    const bundle = await readBundle(bundleDir);
    assert.equal(contract.onnx.sha256, await sha256File(exported.onnxFile));
    assert.equal(contract.onnx.bytes, exported.onnxBytes);
    assert.equal(contract.model.version, bundle.manifest.modelVersion);
    assert.equal(contract.source.manifestSha256, sha256(await fs.readFile(path.join(bundleDir, 'bundle.json'))));
    assert.deepEqual(contract.source.files, [...bundle.manifest.backbone.files, { path: bundle.manifest.head.file, sha256: bundle.manifest.head.sha256 }]);
  });

  test('contract states decision and calibration', () => {
    assert.equal(contract.model.threshold, 0.4);
    assert.deepEqual(contract.model.classNames, ['benign', 'malignant']);
    assert.equal(contract.model.positiveClass, 'malignant');
    assert.deepEqual(contract.head.calibration, head.calibration);
    assert.equal(contract.head.featureDim, EXPORT_FEATURE_DIM);
  });

  test('contract preprocessing matches toNormalisedNchw', () => {
    const { preprocessing } = contract;
    assert.equal(preprocessing.inputSize, INPUT_SIZE);
    assert.equal(preprocessing.layout, 'NCHW');
    assert.equal(preprocessing.channelOrder, 'RGB');
    assert.deepEqual(preprocessing.mean, [...IMAGENET_MEAN]);
    assert.deepEqual(preprocessing.std, [...IMAGENET_STD]);

    // Apply the contract's formula to one pixel of each channel and compare with toNormalisedNchw.
    const image: RgbImage = { data: new Uint8Array(INPUT_SIZE * INPUT_SIZE * 3), width: INPUT_SIZE, height: INPUT_SIZE };
    image.data.set([17, 128, 250]);
    const nchw = toNormalisedNchw([image], INPUT_SIZE);
    for (let channel = 0; channel < 3; channel++) {
      const expected = (image.data[channel] * preprocessing.scale - preprocessing.mean[channel]) / preprocessing.std[channel];
      assert.ok(Math.abs(nchw[channel * INPUT_SIZE * INPUT_SIZE] - expected) < 1e-5, `channel ${channel}`);
    }
  });

  test('contract views match fixedViews', async () => {
    assert.deepEqual(
      contract.views.map((view) => view.name),
      ['image', 'image_mirrored', 'zoom', 'zoom_mirrored', 'rotated', 'rotated_mirrored'],
    );
    assert.deepEqual(contract.views[2].crop, { left: 0.075, top: 0.075, width: 0.85, height: 0.85 });
    assert.deepEqual(contract.views.map((view) => view.rotationDeg), [0, 0, 0, 0, 10, 10]);
    const views = await fixedViews(checkImages[1], INPUT_SIZE, FIXED_VIEW_COUNT);
    // The contract describes views 1 and 3 as the mirrors of views 0 and 2.
    assert.deepEqual(views[1].data, mirrorRgb(views[0]).data);
    assert.deepEqual(views[3].data, mirrorRgb(views[2]).data);
  });

  test('contract padding rule finds the same box as trimPadding', () => {
    // A trimmer written from the contract's padding description and rules alone.
    const padding = contract.preprocessing.padding;
    assert.ok(padding, 'the bundle trims padding, so the contract states how');
    type Rule = { level: number; tolerance: number; maxGap: number; minBand: number };
    const source = checkImages[1];
    // The image with a 40% black band on the left holding one caption line, a 15% band at the
    // bottom, and sparse bright noise in the left band.
    const width = Math.round(source.width * 1.4);
    const height = Math.round(source.height * 1.15);
    const padded: RgbImage = { data: new Uint8Array(width * height * 3), width, height };
    const left = width - source.width;
    for (let y = 0; y < source.height; y++) padded.data.set(source.data.subarray(y * source.width * 3, (y + 1) * source.width * 3), (y * width + left) * 3);
    for (let i = 0; i < 20; i++) padded.data[(((i * 7919) % height) * width + (i * 104729) % left) * 3] = 255;
    for (let x = 10; x < 14; x++) for (let y = 20; y < 30; y++) padded.data.fill(230, (y * width + x) * 3, (y * width + x) * 3 + 3);
    const m = (x: number, y: number) => Math.max(...padded.data.subarray((y * width + x) * 3, (y * width + x) * 3 + 3));
    const band = (lines: number, isPadding: (step: number) => boolean, rule: Rule) => {
      let length = 0;
      let step = 0;
      while (step < lines) {
        if (isPadding(step)) {
          length = ++step;
          continue;
        }
        let runEnd = step;
        while (runEnd < lines && !isPadding(runEnd)) runEnd++;
        if (runEnd - step > Math.floor(rule.maxGap * lines) || runEnd === lines) break;
        step = runEnd;
      }
      return length;
    };
    const axis = (lines: number, fromStart: (index: number) => boolean, fromEnd: (index: number) => boolean, startRule: Rule, endRule: Rule) => {
      const a = band(lines, fromStart, startRule);
      const b = band(lines, (step) => fromEnd(lines - 1 - step), endRule);
      const start = a >= startRule.minBand * lines ? a : 0;
      const end = b >= endRule.minBand * lines ? lines - b : lines;
      return end > start ? [start, end] : [0, lines];
    };
    const count = (from: number, to: number, bright: (index: number) => boolean) => {
      let total = 0;
      for (let index = from; index < to; index++) if (bright(index)) total++;
      return total;
    };
    const { edgeRule, bottomRule } = padding;
    const column = (x: number) => count(0, height, (y) => m(x, y) > edgeRule.level) <= edgeRule.tolerance * height;
    const [x0, x1] = axis(width, column, column, edgeRule, edgeRule);
    const row = (rule: Rule) => (y: number) => count(x0, x1, (x) => m(x, y) > rule.level) <= rule.tolerance * (x1 - x0);
    const [y0, y1] = axis(height, row(edgeRule), row(bottomRule), edgeRule, bottomRule);
    const expected: PixelBox = { left: x0, top: y0, width: x1 - x0, height: y1 - y0 };
    assert.deepEqual(findContentBox(padded), expected);
    assert.deepEqual(expected, { left, top: 0, width: source.width, height: source.height });
    assert.match(padding.description, /floor\(rule\.maxGap \* lines\)/);
  });

  test('contract sampling formula rebuilds views', async () => {
    // A sampler written from the contract's resampling text alone.
    const source = checkImages[1];
    for (const index of [2, 3, 4, 5]) {
      const view = contract.views[index];
      const rebuilt = sampleFromContract(source, view, INPUT_SIZE);
      const built = (await fixedViews(source, INPUT_SIZE, FIXED_VIEW_COUNT))[index];
      assert.equal(maxDifference(rebuilt, built.data), 0, `view ${view.name}: the contract's formula differs from fixedViews`);
    }
  });
});

describe('export rejections', () => {
  test('hidden-layer head is rejected', async () => {
    const mlpBundle = await writeMlpBundle('mlp');
    const out = path.join(root, 'rejected-mlp', 'model.onnx');
    await assert.rejects(exportBundle(mlpBundle, out), (error: unknown) => {
      assert.ok(error instanceof ModelError, `expected ModelError, received ${error}`);
      assert.ok(error.message.includes(mlpBundle), `message does not name the bundle: ${error.message}`);
      assert.match(error.message, /1 hidden layer\(s\) of 2 units/);
      return true;
    });
    assert.equal(existsSync(out), false, 'a rejected export wrote the ONNX file');
  });

  test('mobilenet_v1 bundle is rejected', async () => {
    const files = (await fs.readdir(V1_DIR)).filter((name) => name === 'model.json' || name.includes('-shard')).map((name) => path.join(V1_DIR, name));
    const v1Head: HeadWeights = {
      featureDim: 768,
      mean: new Array<number>(768).fill(0),
      std: new Array<number>(768).fill(1),
      layers: [{ inputs: 768, units: 1, kernel: new Array<number>(768).fill(0.01), bias: [0], activation: 'linear' }],
      calibration: { scale: 1, shift: 0 },
    };
    const v1Bundle = await writeTestBundle('v1', 'mobilenet_v1_0.75', files, v1Head);
    await assert.rejects(exportBundle(v1Bundle, path.join(root, 'rejected-v1', 'model.onnx')), (error: unknown) => {
      assert.ok(error instanceof ModelError, `expected ModelError, received ${error}`);
      assert.ok(error.message.includes(v1Bundle), `message does not name the bundle: ${error.message}`);
      assert.match(error.message, /backbone is mobilenet_v1_0\.75, but export supports mobilenet_v2_1\.0 only/);
      return true;
    });
  });

  test('head of other feature length is rejected', async () => {
    const dim = 1280;
    const shortHead: HeadWeights = {
      featureDim: dim,
      mean: head.mean.slice(0, dim),
      std: head.std.slice(0, dim),
      layers: [{ inputs: dim, units: 1, kernel: head.layers[0].kernel.slice(0, dim), bias: [0], activation: 'linear' }],
      calibration: head.calibration,
    };
    const shortBundle = await writeTestBundle('short', 'mobilenet_v2_1.0', [BACKBONE_FILE], shortHead);
    await assert.rejects(exportBundle(shortBundle, path.join(root, 'rejected-short', 'model.onnx')), (error: unknown) => {
      assert.ok(error instanceof ModelError, `expected ModelError, received ${error}`);
      assert.match(error.message, /expects 1280 features/);
      return true;
    });
  });

  test('output without .onnx is rejected', async () => {
    await assert.rejects(exportBundle(bundleDir, path.join(root, 'model.bin')), ConfigError);
  });

  test('output that is a folder is rejected', async () => {
    const folder = path.join(root, 'folder.onnx');
    await fs.mkdir(folder);
    await assert.rejects(exportBundle(bundleDir, folder), ConfigError);
    await fs.mkdir(path.join(root, 'blocked.json'));
    await assert.rejects(exportBundle(bundleDir, path.join(root, 'blocked.onnx')), /blocked\.json, the path of the JSON contract written beside it, is a folder/);
  });

  test('output inside the bundle is rejected', async () => {
    const manifestBefore = await fs.readFile(path.join(bundleDir, 'bundle.json'));
    await assert.rejects(exportBundle(bundleDir, path.join(bundleDir, 'bundle.onnx')), ConfigError);
    await assert.rejects(exportBundle(bundleDir, path.join(bundleDir, 'bundle.onnx')), /inside the model bundle/);
    assert.deepEqual(await fs.readFile(path.join(bundleDir, 'bundle.json')), manifestBefore);
  });
});

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the compiled CLI with `args` and resolves when it exits. */
function runCli(args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('export command', () => {
  test('export writes both files', async () => {
    const out = path.join(root, 'cli', 'model.onnx');
    const result = await runCli(['export', '--model', bundleDir, '--out', out]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /wrote .*model\.onnx \(\d+\.\d MB\) and .*model\.json/);
    const contract = JSON.parse(await fs.readFile(path.join(root, 'cli', 'model.json'), 'utf8')) as ExportContract;
    assert.equal(contract.onnx.sha256, await sha256File(out));
    // Only the two outputs are left in the folder, no temporary files.
    assert.deepEqual((await fs.readdir(path.join(root, 'cli'))).sort(), ['model.json', 'model.onnx']);
  });

  test('hidden-layer bundle exits with 4', async () => {
    const result = await runCli(['export', '--model', await writeMlpBundle('cli-mlp'), '--out', path.join(root, 'cli-mlp', 'model.onnx')]);
    assert.equal(result.code, 4, result.stderr);
    assert.match(result.stderr, /hidden layer/);
  });

  test('missing bundle exits with 4', async () => {
    const result = await runCli(['export', '--model', path.join(root, 'no-such-bundle'), '--out', path.join(root, 'cli-missing', 'model.onnx')]);
    assert.equal(result.code, 4, result.stderr);
    assert.match(result.stderr, /not a busight model bundle/);
  });

  test('output without .onnx exits with 2', async () => {
    const result = await runCli(['export', '--model', bundleDir, '--out', path.join(root, 'cli-bad', 'model.bin')]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /ending in \.onnx/);
  });
});

function maxDifference(a: Uint8Array, b: Uint8Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Samples one view as the contract's `preprocessing.resampling` states. Returns RGB uint8 HWC size x size. */
function sampleFromContract(image: RgbImage, view: ExportContract['views'][number], size: number): Uint8Array {
  const { width: W, height: H, data } = image;
  const out = new Uint8Array(size * size * 3);
  const angle = (view.rotationDeg * Math.PI) / 180;
  const pixel = (x: number, y: number, c: number) => (x >= 0 && y >= 0 && x < W && y < H ? data[(y * W + x) * 3 + c] : 0);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = x + 0.5 - size / 2;
      const dy = y + 0.5 - size / 2;
      let u = Math.cos(angle) * dx - Math.sin(angle) * dy + size / 2;
      const v = Math.sin(angle) * dx + Math.cos(angle) * dy + size / 2;
      if (view.mirror) u = size - u;
      const kx = (view.crop.width * W) / size;
      const ky = (view.crop.height * H) / size;
      const sx = view.crop.left * W + u * kx - 0.5;
      const sy = view.crop.top * H + v * ky - 0.5;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      for (let c = 0; c < 3; c++) {
        const value =
          (1 - fx) * (1 - fy) * pixel(x0, y0, c) + fx * (1 - fy) * pixel(x0 + 1, y0, c) + (1 - fx) * fy * pixel(x0, y0 + 1, c) + fx * fy * pixel(x0 + 1, y0 + 1, c);
        out[(y * size + x) * 3 + c] = Math.floor(value + 0.5);
      }
    }
  }
  return out;
}
