/**
 * Tests of the saved model bundle: a bundle trained on a few real BUSI images must reproduce the
 * training-time predictions, and an altered or incomplete bundle must be rejected.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { loadSampleImage } from '../data/image.js';
import type { RgbImage } from '../data/image.js';
import { makeTempDir } from '../data/fixtures.js';
import { ModelError } from '../errors.js';
import { runEvaluation } from '../evaluate/evaluate.js';
import { copyBusiSubset, readSplitRows, smallTrainingOptions } from '../train/e2e-fixtures.js';
import { runTraining } from '../train/train.js';
import { modelVersionOf, type BundleManifest } from './bundle.js';
import { loadPredictor } from './predictor.js';

let root: string;
let data: string;
let runDir: string;
let modelDir: string;

before(async () => {
  root = await makeTempDir('busight-bundle-');
  data = path.join(root, 'data');
  runDir = path.join(root, 'run');
  modelDir = path.join(runDir, 'model');
  await copyBusiSubset(data, { benign: 14, malignant: 10 });
  await runTraining(smallTrainingOptions(data, runDir, path.join(root, 'cache')));
});

after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function readJson(file: string): Promise<Record<string, any>> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, any>;
}

/** Copies the trained bundle to a fresh folder that a test may alter. */
async function copyOfBundle(name: string): Promise<string> {
  const copy = path.join(root, name);
  await fs.cp(modelDir, copy, { recursive: true });
  return copy;
}

async function loadImages(ids: string[]): Promise<RgbImage[]> {
  return Promise.all(ids.map((id) => loadSampleImage({ id, file: path.join(data, ...id.split('/')), label: 0 })));
}

describe('saved bundle predictions', () => {
  test('bundle reproduces training-time probabilities', async () => {
    const metrics = await readJson(path.join(runDir, 'metrics.json'));
    assert.ok(metrics.bundleCheck, 'metrics.json has no bundleCheck');
    assert.ok(
      metrics.bundleCheck.maxAbsProbabilityDifference < 1e-3,
      `max probability difference ${metrics.bundleCheck.maxAbsProbabilityDifference}`,
    );
  });

  test('evaluate on test split gives training metrics', async () => {
    const trained = await readJson(path.join(runDir, 'metrics.json'));
    const out = path.join(root, 'evaluate-test');
    const evaluated = await runEvaluation({
      model: modelDir,
      data,
      out,
      splitFile: path.join(runDir, 'split.csv'),
      split: 'test',
      bootstrapIterations: 100,
    });
    assert.equal(evaluated.test.n, trained.test.n);
    assert.deepEqual(evaluated.test.confusionMatrix, trained.test.confusionMatrix);
    assert.ok(Math.abs(evaluated.test.auc - trained.test.auc) < 1e-9, `AUC ${evaluated.test.auc} vs ${trained.test.auc}`);
    assert.equal(evaluated.test.threshold, trained.test.threshold);
  });

  test('predictor loaded twice gives identical outputs', async () => {
    const rows = await readSplitRows(path.join(runDir, 'split.csv'));
    const images = await loadImages(rows.filter((row) => row.split !== 'train').map((row) => row.path));
    const first = await loadPredictor(modelDir);
    const second = await loadPredictor(modelDir);
    try {
      const firstPredictions = await first.predictBatch(images);
      const secondPredictions = await second.predictBatch(images);
      assert.equal(firstPredictions.length, images.length);
      for (let index = 0; index < images.length; index++) {
        assert.equal(secondPredictions[index].probability, firstPredictions[index].probability, `image ${index}`);
        assert.equal(secondPredictions[index].label, firstPredictions[index].label, `image ${index}`);
      }
    } finally {
      await first.dispose();
      await second.dispose();
    }
  });

  test('batch and single predictions agree', async () => {
    const rows = await readSplitRows(path.join(runDir, 'split.csv'));
    const images = await loadImages(rows.filter((row) => row.split === 'val').map((row) => row.path));
    const predictor = await loadPredictor(modelDir);
    try {
      const batch = await predictor.predictBatch(images);
      for (let index = 0; index < images.length; index++) {
        const single = await predictor.predict(images[index]);
        assert.ok(Math.abs(single.probability - batch[index].probability) < 1e-6, `image ${index}: ${single.probability} vs ${batch[index].probability}`);
      }
    } finally {
      await predictor.dispose();
    }
  });
});

describe('damaged bundle', () => {
  test('altered head.json gives ModelError', async () => {
    const bundle = await copyOfBundle('bundle-altered-head');
    const headFile = path.join(bundle, 'head.json');
    const head = await readJson(headFile);
    head.calibration.shift += 1;
    await fs.writeFile(headFile, JSON.stringify(head));

    await assert.rejects(loadPredictor(bundle), (error: unknown) => {
      assert.ok(error instanceof ModelError, `expected ModelError, received ${error}`);
      assert.ok(error.message.includes(headFile), `message does not name ${headFile}: ${error.message}`);
      assert.match(error.message, /SHA-256/);
      return true;
    });
  });

  test('edited manifest threshold gives ModelError', async () => {
    const bundle = await copyOfBundle('bundle-edited-threshold');
    const manifestFile = path.join(bundle, 'bundle.json');
    const manifest = await readJson(manifestFile);
    manifest.threshold = manifest.threshold === 0.9 ? 0.8 : 0.9;
    await fs.writeFile(manifestFile, JSON.stringify(manifest, null, 2));

    await assert.rejects(loadPredictor(bundle), (error: unknown) => {
      assert.ok(error instanceof ModelError, `expected ModelError, received ${error}`);
      assert.ok(error.message.includes(manifestFile), `message does not name ${manifestFile}: ${error.message}`);
      assert.match(error.message, /does not match its contents/);
      return true;
    });
  });

  test('edited manifest values give ModelError', async () => {
    const edits: { name: string; edit: (manifest: Record<string, any>) => void; message: RegExp }[] = [
      { name: 'threshold', edit: (manifest) => (manifest.threshold = 5), message: /threshold is 5, expected a probability/ },
      { name: 'views', edit: (manifest) => (manifest.preprocessing.testTimeViews = 0), message: /testTimeViews is 0, expected an integer from 1 to 6/ },
      { name: 'head-path', edit: (manifest) => (manifest.head.file = '../outside.json'), message: /a file path is "\.\.\/outside\.json"/ },
    ];
    for (const { name, edit, message } of edits) {
      const bundle = await copyOfBundle(`bundle-edited-${name}`);
      const manifestFile = path.join(bundle, 'bundle.json');
      const manifest = await readJson(manifestFile);
      edit(manifest);
      // A careful editor also recomputes the model version; the values must still be checked.
      manifest.modelVersion = modelVersionOf(manifest as BundleManifest);
      await fs.writeFile(manifestFile, JSON.stringify(manifest, null, 2));
      await assert.rejects(loadPredictor(bundle), ModelError, `${name}: expected ModelError`);
      await assert.rejects(loadPredictor(bundle), message, `${name}: unexpected message`);
    }
  });

  test('missing backbone file gives ModelError', async () => {
    const bundle = await copyOfBundle('bundle-no-backbone');
    const manifest = await readJson(path.join(bundle, 'bundle.json'));
    const backboneFile = path.join(bundle, manifest.backbone.files[0].path);
    await fs.rm(backboneFile);

    await assert.rejects(loadPredictor(bundle), (error: unknown) => {
      assert.ok(error instanceof ModelError, `expected ModelError, received ${error}`);
      assert.ok(error.message.includes(backboneFile), `message does not name ${backboneFile}: ${error.message}`);
      assert.match(error.message, /missing/);
      return true;
    });
  });

  test('bundle of format version 1 asks for retraining', async () => {
    // Version 1 heads read features that were not root pooled, so they must not be loaded.
    const bundle = await copyOfBundle('bundle-format-1');
    const manifestFile = path.join(bundle, 'bundle.json');
    const manifest = await readJson(manifestFile);
    manifest.formatVersion = 1;
    await fs.writeFile(manifestFile, JSON.stringify(manifest, null, 2));
    await assert.rejects(loadPredictor(bundle), (error: unknown) => {
      assert.ok(error instanceof ModelError, `expected ModelError, received ${error}`);
      assert.ok(error.message.includes(manifestFile), `message does not name ${manifestFile}: ${error.message}`);
      assert.match(error.message, /format version 1.*not root pooled.*Retrain/);
      return true;
    });
  });

  test('other format versions name the value', async () => {
    const cases: { name: string; value: unknown; message: RegExp }[] = [
      { name: 'string', value: '2', message: /formatVersion is "2", expected the number 2; restore .* or retrain/ },
      { name: 'missing', value: undefined, message: /formatVersion is missing, expected the number 2/ },
      { name: 'zero', value: 0, message: /formatVersion is 0, expected the number 2/ },
      { name: 'newer', value: 3, message: /format version 3 was written by a newer busight.*Update busight/ },
    ];
    for (const { name, value, message } of cases) {
      const bundle = await copyOfBundle(`bundle-format-${name}`);
      const manifestFile = path.join(bundle, 'bundle.json');
      const manifest = await readJson(manifestFile);
      manifest.formatVersion = value;
      await fs.writeFile(manifestFile, JSON.stringify(manifest, null, 2));
      await assert.rejects(loadPredictor(bundle), ModelError, `${name}: expected ModelError`);
      await assert.rejects(loadPredictor(bundle), message, `${name}: unexpected message`);
    }
  });

  test('folder without bundle.json gives ModelError', async () => {
    const bundle = await copyOfBundle('bundle-no-manifest');
    await fs.rm(path.join(bundle, 'bundle.json'));
    await assert.rejects(loadPredictor(bundle), (error: unknown) => {
      assert.ok(error instanceof ModelError, `expected ModelError, received ${error}`);
      assert.match(error.message, /not a busight model bundle \(missing bundle\.json\)/);
      return true;
    });
  });
});
