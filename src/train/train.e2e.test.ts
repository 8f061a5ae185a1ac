/**
 * End-to-end tests of `runTraining` on a few real BUSI images: every file of the run folder is
 * read back and checked, then bad data folders and a failing run are tried.
 */
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import sharp from 'sharp';

import { makeTempDir } from '../data/fixtures.js';
import { DataError, ModelError } from '../errors.js';
import { BUSI_DIR, testWeightsDir } from '../model/backbone-fixtures.js';
import type { BundleManifest } from '../model/bundle.js';
import { sha256File } from '../util/atomic.js';
import { memoryLogger } from '../util/log.js';
import { BUSIGHT_VERSION } from '../version.js';
import { copyBusiSubset, MASK_ID, NORMAL_ID, readSplitRows, smallTrainingOptions } from './e2e-fixtures.js';
import type { TrainResult } from './train.js';
import { runTraining } from './train.js';

const METRIC_KEYS = ['n', 'auc', 'aucCi95', 'accuracy', 'sensitivity', 'specificity', 'ppv', 'npv', 'f1', 'threshold', 'confusionMatrix'] as const;

let root: string;
let cacheDir: string;

before(async () => {
  root = await makeTempDir('busight-e2e-');
  cacheDir = path.join(root, 'cache');
});

after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function readJson<T = Record<string, any>>(file: string): Promise<T> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as T;
}

/** Lists the names under `dir` (recursively) that look like leftovers of an atomic write. */
async function temporaryLeftovers(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true });
  return entries.filter((name) => /\.(tmp|old)-/.test(name));
}

describe('training run on real BUSI images', () => {
  let data: string;
  let runDir: string;
  let ids: string[];
  let result: TrainResult;
  const logger = memoryLogger();

  before(async () => {
    data = path.join(root, 'data');
    runDir = path.join(root, 'run');
    ids = await copyBusiSubset(data, { benign: 14, malignant: 10 });
    result = await runTraining({ ...smallTrainingOptions(data, runDir, cacheDir), logger });
  });

  test('run folder has every output', () => {
    for (const name of ['split.csv', 'metrics.json', 'report.html', 'model/bundle.json', 'model/head.json']) {
      assert.ok(existsSync(path.join(runDir, name)), `${name} missing`);
    }
  });

  test('split.csv lists each class image once', async () => {
    const header = (await fs.readFile(path.join(runDir, 'split.csv'), 'utf8')).split('\n')[0];
    assert.equal(header, 'path,label,split');

    const rows = await readSplitRows(path.join(runDir, 'split.csv'));
    assert.deepEqual(rows.map((row) => row.path).sort(), [...ids].sort());
    for (const row of rows) {
      assert.equal(row.label, row.path.startsWith('malignant/') ? '1' : '0', `label of ${row.path}`);
      assert.ok(['train', 'val', 'test'].includes(row.split), `split of ${row.path}: ${row.split}`);
    }
    assert.ok(!rows.some((row) => row.path === MASK_ID), 'mask file in split.csv');
    assert.ok(!rows.some((row) => row.path === NORMAL_ID), 'normal/ image in split.csv');
  });

  test('split.csv is stratified 7:2:1', async () => {
    const rows = await readSplitRows(path.join(runDir, 'split.csv'));
    const count = (label: string, split: string) => rows.filter((row) => row.label === label && row.split === split).length;
    // 14 benign: val round(2.8) = 3, test round(1.4) = 1. 10 malignant: val 2, test 1.
    assert.deepEqual([count('0', 'train'), count('0', 'val'), count('0', 'test')], [10, 3, 1]);
    assert.deepEqual([count('1', 'train'), count('1', 'val'), count('1', 'test')], [7, 2, 1]);
  });

  test('same seed gives identical run', async () => {
    // The second run reads the features cached by the first, so this also checks the cache.
    const secondRun = path.join(root, 'run-same-seed');
    const second = await runTraining(smallTrainingOptions(data, secondRun, cacheDir));
    const firstSplit = await fs.readFile(path.join(runDir, 'split.csv'), 'utf8');
    const secondSplit = await fs.readFile(path.join(secondRun, 'split.csv'), 'utf8');
    assert.equal(secondSplit, firstSplit);
    assert.equal(second.manifest.modelVersion, result.manifest.modelVersion);
  });

  test('normal/ folder ignored with a notice', () => {
    assert.ok(
      logger.lines.some((line) => line.startsWith('info: ignoring folder normal/')),
      `no notice about normal/ in:\n${logger.lines.join('\n')}`,
    );
  });

  test('bundle.json names threshold, backbone and hashes', async () => {
    const manifest = await readJson<BundleManifest>(path.join(runDir, 'model', 'bundle.json'));
    const metrics = await readJson(path.join(runDir, 'metrics.json'));
    assert.equal(manifest.format, 'busight-bundle');
    assert.equal(manifest.busightVersion, BUSIGHT_VERSION);
    assert.deepEqual(manifest.classNames, ['benign', 'malignant']);
    assert.equal(manifest.backbone.name, 'mobilenet_v2_1.0');
    assert.ok(manifest.threshold >= 0, `threshold ${manifest.threshold}`);
    assert.ok(manifest.threshold <= 1, `threshold ${manifest.threshold}`);
    assert.equal(manifest.threshold, metrics.test.threshold);
    assert.equal(manifest.threshold, result.manifest.threshold);
    assert.equal(manifest.targetSensitivity, 0.95);
    assert.equal(manifest.preprocessing.inputSize, 224);
    assert.match(manifest.modelVersion, /^[0-9a-f]{12}$/);
  });

  test('bundle hashes match its files', async () => {
    const manifest = await readJson<BundleManifest>(path.join(runDir, 'model', 'bundle.json'));
    assert.ok(manifest.backbone.files.length > 0, 'no backbone files listed');
    for (const entry of manifest.backbone.files) {
      assert.match(entry.sha256, /^[0-9a-f]{64}$/);
      assert.equal(await sha256File(path.join(runDir, 'model', entry.path)), entry.sha256, entry.path);
    }
    // The copied backbone is the unchanged file from the weights folder.
    const original = path.join(testWeightsDir(), 'mobilenet_v2_1.0_224', path.basename(manifest.backbone.files[0].path));
    assert.equal(await sha256File(original), manifest.backbone.files[0].sha256);
    assert.equal(await sha256File(path.join(runDir, 'model', manifest.head.file)), manifest.head.sha256);
  });

  test('metrics.json has the required keys', async () => {
    const metrics = await readJson(path.join(runDir, 'metrics.json'));
    assert.equal(typeof metrics.validation, 'object');
    assert.equal(typeof metrics.test, 'object');
    for (const key of METRIC_KEYS) {
      assert.ok(key in metrics.test, `test.${key} missing`);
      assert.ok(key in metrics.validation, `validation.${key} missing`);
    }
    assert.ok(metrics.timings.totalSeconds > 0, `timings.totalSeconds ${metrics.timings.totalSeconds}`);
    assert.ok(Array.isArray(metrics.skipped), 'skipped is not an array');
  });

  test('metrics.json test counts match split.csv', async () => {
    const metrics = await readJson(path.join(runDir, 'metrics.json'));
    const rows = await readSplitRows(path.join(runDir, 'split.csv'));
    const testRows = rows.filter((row) => row.split === 'test');
    const valRows = rows.filter((row) => row.split === 'val');
    assert.equal(metrics.test.n, testRows.length);
    assert.equal(metrics.validation.n, valRows.length);

    const [[tn, fp], [fn, tp]] = metrics.test.confusionMatrix as number[][];
    assert.equal(tn + fp + fn + tp, metrics.test.n);
    assert.equal(fn + tp, testRows.filter((row) => row.label === '1').length);
  });

  test('metrics.json values are in range', async () => {
    const metrics = await readJson(path.join(runDir, 'metrics.json'));
    const [low, high] = metrics.test.aucCi95 as number[];
    assert.ok(low <= metrics.test.auc, `AUC ${metrics.test.auc} below its interval [${low}, ${high}]`);
    assert.ok(metrics.test.auc <= high, `AUC ${metrics.test.auc} above its interval [${low}, ${high}]`);
    for (const key of ['auc', 'accuracy', 'sensitivity', 'specificity', 'f1', 'threshold'] as const) {
      const value = metrics.test[key];
      assert.ok(value >= 0, `test.${key} = ${value}`);
      assert.ok(value <= 1, `test.${key} = ${value}`);
    }
    // Masks are never listed as skipped images, and every file here is readable.
    assert.deepEqual(metrics.skipped, []);
  });

  test('report.html has every section', async () => {
    const html = await fs.readFile(path.join(runDir, 'report.html'), 'utf8');
    for (const id of ['settings', 'headline', 'confusion', 'roc', 'training', 'cases', 'timings']) {
      assert.ok(html.includes(`id="${id}"`), `section ${id} missing`);
    }
    const rows = await readSplitRows(path.join(runDir, 'split.csv'));
    const testRows = rows.filter((row) => row.split === 'test');
    assert.equal(html.match(/<figure class="case /g)?.length, testRows.length);
    for (const row of testRows) assert.ok(html.includes(row.path), `test image ${row.path} not in the report`);
  });

  test('report.html loads nothing from the network', async () => {
    const html = await fs.readFile(path.join(runDir, 'report.html'), 'utf8');
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
  });
});

describe('cross-validation run', () => {
  let runDir: string;
  let result: TrainResult;

  before(async () => {
    const data = path.join(root, 'data-cv');
    runDir = path.join(root, 'run-cv');
    await copyBusiSubset(data, { benign: 14, malignant: 10 });
    result = await runTraining({ ...smallTrainingOptions(data, runDir, cacheDir), folds: 3 });
  });

  test('each fold has a run folder', async () => {
    for (const fold of [1, 2, 3]) {
      for (const name of ['split.csv', 'metrics.json', 'report.html', 'model/bundle.json']) {
        await fs.access(path.join(runDir, `fold-${fold}`, name));
      }
    }
  });

  test('folds test every image once', async () => {
    const tested = new Set<string>();
    for (const fold of [1, 2, 3]) {
      const rows = await readSplitRows(path.join(runDir, `fold-${fold}`, 'split.csv'));
      for (const row of rows.filter((entry) => entry.split === 'test')) {
        assert.ok(!tested.has(row.path), `${row.path} is tested in two folds`);
        tested.add(row.path);
      }
    }
    assert.equal(tested.size, 24);
  });

  test('cv-metrics.json summarises the folds', async () => {
    const cv = await readJson(path.join(runDir, 'cv-metrics.json'));
    assert.equal(cv.folds.length, 3);
    assert.equal(cv.pooled.n, 24);
    const aucs = cv.folds.map((fold: { test: { auc: number } }) => fold.test.auc);
    const mean = aucs.reduce((sum: number, value: number) => sum + value, 0) / aucs.length;
    assert.ok(Math.abs(cv.mean.auc - mean) < 1e-12);
    assert.ok(cv.sd.auc >= 0);
    assert.equal(result.crossValidation?.folds.length, 3);
    // Each image is called at its own fold's threshold, so the pooled matrix is the folds' sum.
    const summed = [[0, 0], [0, 0]];
    for (const fold of cv.folds) fold.test.confusionMatrix.forEach((row: number[], i: number) => row.forEach((count, j) => (summed[i][j] += count)));
    assert.deepEqual(cv.pooled.confusionMatrix, summed);
    assert.deepEqual(cv.pooled.foldThresholds, cv.folds.map((fold: { threshold: number }) => fold.threshold));
    assert.equal(cv.pooled.threshold, undefined);
  });

  test('cv-report.html lists every fold', async () => {
    const html = await fs.readFile(path.join(runDir, 'cv-report.html'), 'utf8');
    for (const fold of [1, 2, 3]) assert.match(html, new RegExp(`Fold</span><span class="l-zh" lang="zh-CN">折</span> ${fold}<`));
    assert.match(html, /id="pooled-roc"/);
  });
});

describe('training on bad input', () => {
  test('missing data folder gives DataError', async () => {
    const missing = path.join(root, 'no-such-folder');
    await assert.rejects(runTraining(smallTrainingOptions(missing, path.join(root, 'run-missing'), cacheDir)), (error: unknown) => {
      assert.ok(error instanceof DataError, `expected DataError, received ${error}`);
      assert.ok(error.message.startsWith(`${missing}: `), error.message);
      assert.match(error.message, /not found/);
      return true;
    });
    assert.ok(!existsSync(path.join(root, 'run-missing', 'metrics.json')));
  });

  test('empty data folder gives DataError', async () => {
    const data = path.join(root, 'data-empty');
    await fs.mkdir(path.join(data, 'benign'), { recursive: true });
    await fs.mkdir(path.join(data, 'malignant'), { recursive: true });
    await assert.rejects(runTraining(smallTrainingOptions(data, path.join(root, 'run-empty'), cacheDir)), (error: unknown) => {
      assert.ok(error instanceof DataError, `expected DataError, received ${error}`);
      assert.match(error.message, /data-empty: no images found/);
      return true;
    });
  });

  test('one class only gives DataError', async () => {
    const data = path.join(root, 'data-benign-only');
    await fs.mkdir(path.join(data, 'benign'), { recursive: true });
    for (let index = 1; index <= 5; index++) {
      await fs.copyFile(path.join(BUSI_DIR, 'benign', `benign (${index}).png`), path.join(data, 'benign', `benign (${index}).png`));
    }
    await assert.rejects(runTraining(smallTrainingOptions(data, path.join(root, 'run-one-class'), cacheDir)), (error: unknown) => {
      assert.ok(error instanceof DataError, `expected DataError, received ${error}`);
      assert.match(error.message, /data-benign-only/);
      assert.match(error.message, /only class benign/);
      return true;
    });
  });

  test('unreadable images listed in skipped', async () => {
    const data = path.join(root, 'data-unreadable');
    await copyBusiSubset(data, { benign: 14, malignant: 10 });
    const whole = await fs.readFile(path.join(BUSI_DIR, 'benign', 'benign (20).png'));
    await fs.writeFile(path.join(data, 'benign', 'truncated.png'), whole.subarray(0, Math.floor(whole.length / 2)));
    await fs.writeFile(path.join(data, 'benign', 'notes.png'), 'not an image, only text with a .png name\n');
    // A grey image of another size is readable: it is converted to RGB and resized.
    const grey = await sharp(path.join(BUSI_DIR, 'malignant', 'malignant (20).png')).resize(300, 200, { fit: 'fill' }).greyscale().png().toBuffer();
    await fs.writeFile(path.join(data, 'malignant', 'grey-300x200.png'), grey);

    const runDir = path.join(root, 'run-unreadable');
    const logger = memoryLogger();
    await runTraining({ ...smallTrainingOptions(data, runDir, cacheDir), logger });

    const metrics = await readJson(path.join(runDir, 'metrics.json'));
    const skipped = metrics.skipped as { id: string; reason: string }[];
    const skippedIds = skipped.map((entry) => entry.id).sort();
    assert.deepEqual(skippedIds, ['benign/notes.png', 'benign/truncated.png']);
    for (const entry of skipped) assert.ok(entry.reason.length > 0, `no reason for ${entry.id}`);
    assert.ok(logger.lines.some((line) => line.startsWith('warning:') && line.includes('truncated.png')), 'no warning names truncated.png');
    const rows = await readSplitRows(path.join(runDir, 'split.csv'));
    assert.ok(rows.some((row) => row.path === 'malignant/grey-300x200.png'), 'grey image not in split.csv');
  });

  test('split file with missing image gives DataError', async () => {
    const data = path.join(root, 'data-split-file');
    const ids = await copyBusiSubset(data, { benign: 14, malignant: 10 });
    const splitFile = path.join(root, 'split-missing-image.csv');
    const rows = ids.map((id, index) => `${id},${id.startsWith('malignant/') ? 1 : 0},${['train', 'train', 'val', 'test'][index % 4]}`);
    rows.splice(3, 0, 'benign/no such image.png,0,test');
    await fs.writeFile(splitFile, `path,label,split\n${rows.join('\n')}\n`);

    const options = { ...smallTrainingOptions(data, path.join(root, 'run-split-file'), cacheDir), splitFile };
    await assert.rejects(runTraining(options), (error: unknown) => {
      assert.ok(error instanceof DataError, `expected DataError, received ${error}`);
      assert.ok(error.message.includes(splitFile), `message does not name the split file: ${error.message}`);
      // Header is line 1, so the inserted fourth data row is line 5.
      assert.match(error.message, /line 5: image 'benign\/no such image\.png' not found/);
      return true;
    });
  });

  test('failed run keeps the old metrics.json', async () => {
    const data = path.join(root, 'data-rerun');
    await copyBusiSubset(data, { benign: 14, malignant: 10 });
    const runDir = path.join(root, 'run-rerun');
    await runTraining(smallTrainingOptions(data, runDir, cacheDir));
    const metricsBefore = await fs.readFile(path.join(runDir, 'metrics.json'), 'utf8');
    const bundleBefore = await fs.readFile(path.join(runDir, 'model', 'bundle.json'), 'utf8');
    const splitBefore = await fs.readFile(path.join(runDir, 'split.csv'), 'utf8');

    // The run starts (data found, split done), then finds no backbone in the weights folder.
    const emptyWeights = path.join(root, 'empty-weights');
    await fs.mkdir(emptyWeights, { recursive: true });
    await assert.rejects(runTraining({ ...smallTrainingOptions(data, runDir, cacheDir), weightsDir: emptyWeights, seed: 7 }), ModelError);

    assert.equal(await fs.readFile(path.join(runDir, 'metrics.json'), 'utf8'), metricsBefore);
    assert.equal(await fs.readFile(path.join(runDir, 'model', 'bundle.json'), 'utf8'), bundleBefore);
    // Seed 7 gives another split, which must not replace the one the old model was trained on.
    assert.equal(await fs.readFile(path.join(runDir, 'split.csv'), 'utf8'), splitBefore);
    assert.deepEqual(await temporaryLeftovers(runDir), []);
  });
});
