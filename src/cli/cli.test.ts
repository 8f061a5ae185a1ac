/**
 * Tests of the compiled `busight` command (dist/cli/main.js), run as a subprocess on a few real
 * BUSI images: train once, then evaluate and predict with its bundle, and bad option values.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { parse } from 'csv-parse/sync';
import sharp from 'sharp';

import { makeTempDir } from '../data/fixtures.js';
import { buildDicom } from '../data/formats/dicom-fixture.js';
import { BUSI_DIR, REPO_ROOT, testWeightsDir } from '../model/backbone-fixtures.js';
import { readBundle } from '../model/bundle.js';
import { copyBusiSubset, MASK_ID, readSplitRows } from '../train/e2e-fixtures.js';

const CLI = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');

interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI with `args` and resolves when it exits, whatever the exit code. With `killWhen`,
 * the process gets SIGKILL as soon as its stderr so far matches the pattern.
 */
function runCli(args: string[], options: { killWhen?: RegExp } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (options.killWhen && options.killWhen.test(stderr)) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Formats a CLI result for an assertion message. */
function describeRun(result: CliResult): string {
  return `exit ${result.code}${result.signal ? ` (${result.signal})` : ''}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
}

interface PredictionRecord {
  path: string;
  probability: number | null;
  label: string | null;
  threshold: number;
  error?: string;
}

let root: string;
let data: string;
let runDir: string;
let modelDir: string;
let cacheDir: string;
let threshold: number;
let trainRun: CliResult;

/** Arguments of a small training run on `data` into `out`. */
function trainArgs(out: string): string[] {
  return ['train', '--data', data, '--out', out, '--weights', testWeightsDir(), '--cache-dir', cacheDir, '--views', '2', '--max-epochs', '5', '--bootstrap', '100'];
}

before(async () => {
  root = await makeTempDir('busight-cli-');
  data = path.join(root, 'data');
  runDir = path.join(root, 'run');
  modelDir = path.join(runDir, 'model');
  cacheDir = path.join(root, 'cache');
  await copyBusiSubset(data, { benign: 14, malignant: 10 });
  trainRun = await runCli(trainArgs(runDir));
  assert.equal(trainRun.code, 0, describeRun(trainRun));
  threshold = (await readBundle(modelDir)).manifest.threshold;
});

after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe('busight command', () => {
  test('--help lists the commands', async () => {
    const result = await runCli(['--help']);
    assert.equal(result.code, 0, describeRun(result));
    for (const command of ['train', 'evaluate', 'predict']) {
      assert.match(result.stdout, new RegExp(`^\\s+${command}\\b`, 'm'), `${command} missing from:\n${result.stdout}`);
    }
  });

  test('train prints the summary table', () => {
    assert.match(trainRun.stdout, /ROC AUC/);
    assert.match(trainRun.stdout, /sensitivity/);
    assert.ok(trainRun.stdout.includes(path.join(runDir, 'report.html')), trainRun.stdout);
  });
});

describe('busight predict', () => {
  /** Images predict must find in the data folder: the class images and normal/, never the mask. */
  async function expectedImages(): Promise<string[]> {
    const names = await fs.readdir(data, { recursive: true });
    return names
      .filter((name) => name.endsWith('.png') && !name.endsWith('_mask.png'))
      .map((name) => path.join(data, name))
      .sort();
  }

  function checkRows(rows: PredictionRecord[]): void {
    for (const row of rows) {
      assert.equal(row.error, undefined, `${row.path}: ${row.error}`);
      assert.notEqual(row.probability, null, `${row.path}: no probability`);
      const probability = row.probability as number;
      assert.ok(probability >= 0, `${row.path}: probability ${probability}`);
      assert.ok(probability <= 1, `${row.path}: probability ${probability}`);
      assert.equal(row.label, probability >= threshold ? 'malignant' : 'benign', `${row.path}: label at threshold ${threshold}`);
      assert.equal(row.threshold, threshold);
    }
  }

  let csvRun: CliResult;
  let jsonRun: CliResult;

  before(async () => {
    csvRun = await runCli(['predict', '--model', modelDir, data]);
    jsonRun = await runCli(['predict', '--model', modelDir, '--format', 'json', data]);
  });

  test('folder as csv gives one row per image', async () => {
    assert.equal(csvRun.code, 0, describeRun(csvRun));

    const records = parse(csvRun.stdout, { columns: true }) as Record<string, string>[];
    assert.deepEqual(Object.keys(records[0]), ['path', 'probability', 'label', 'threshold', 'error', 'content_box', 'atypical']);
    assert.deepEqual(records.map((record) => record.path).sort(), await expectedImages());
    assert.ok(!records.some((record) => record.path.endsWith(path.basename(MASK_ID))), 'mask file was predicted');
    // The CSV rounds probability and threshold to 6 decimals, so labels are compared with the JSON output below.
    for (const record of records) {
      assert.equal(record.error, '', `${record.path}: ${record.error}`);
      assert.equal(record.threshold, threshold.toFixed(6));
      const probability = Number(record.probability);
      assert.ok(probability >= 0, `${record.path}: probability ${record.probability}`);
      assert.ok(probability <= 1, `${record.path}: probability ${record.probability}`);
      assert.ok(record.label === 'benign' || record.label === 'malignant', `${record.path}: label ${record.label}`);
      assert.equal(record.atypical, 'false', `${record.path}: a BUSI image flagged as atypical`);
    }
  });

  test('folder as json gives one row per image', async () => {
    assert.equal(jsonRun.code, 0, describeRun(jsonRun));

    const rows = JSON.parse(jsonRun.stdout) as PredictionRecord[];
    assert.deepEqual(rows.map((row) => row.path).sort(), await expectedImages());
    checkRows(rows);
  });

  test('json and csv give the same labels', () => {
    const csv = parse(csvRun.stdout, { columns: true }) as Record<string, string>[];
    const json = JSON.parse(jsonRun.stdout) as PredictionRecord[];
    assert.deepEqual(
      csv.map((record) => [record.path, record.label]),
      json.map((row) => [row.path, row.label]),
    );
  });

  test('black padding is cut off and reported', async () => {
    const original = path.join(BUSI_DIR, 'malignant', 'malignant (5).png');
    const padded = path.join(root, 'padded.png');
    await sharp(original).extend({ left: 256, top: 40, bottom: 0, right: 0, background: '#000000' }).png().toFile(padded);
    const result = await runCli(['predict', '--model', modelDir, original, padded]);
    assert.equal(result.code, 0, describeRun(result));
    const [plain, cut] = parse(result.stdout, { columns: true }) as Record<string, string>[];
    assert.equal(plain.content_box, '');
    assert.equal(cut.content_box, '256x256+256+40');
    assert.equal(cut.probability, plain.probability);
  });

  test('heatmaps option writes overlays', async () => {
    const heatmapDir = path.join(root, 'heatmaps');
    const first = path.join(data, 'benign', 'benign (2).png');
    const second = path.join(BUSI_DIR, 'malignant', 'malignant (5).png');
    const result = await runCli(['predict', '--model', modelDir, '--heatmaps', heatmapDir, first, second]);
    assert.equal(result.code, 0, describeRun(result));

    const records = parse(result.stdout, { columns: true }) as Record<string, string>[];
    assert.deepEqual(Object.keys(records[0]), ['path', 'probability', 'label', 'threshold', 'error', 'content_box', 'atypical', 'heatmap']);
    assert.deepEqual(
      records.map((record) => record.heatmap),
      [path.join(heatmapDir, '0001-benign (2).png'), path.join(heatmapDir, '0002-malignant (5).png')],
    );
    for (const record of records) {
      const overlay = await sharp(record.heatmap).metadata();
      const source = await sharp(record.path).metadata();
      assert.deepEqual([overlay.format, overlay.width, overlay.height], ['png', source.width, source.height], record.heatmap);
    }
  });

  test('heatmaps skip their own folder', async () => {
    // Overlays written under a scanned folder must not be scored as images on the next run.
    const folder = path.join(root, 'scanned');
    await fs.mkdir(folder, { recursive: true });
    await fs.copyFile(path.join(BUSI_DIR, 'benign', 'benign (3).png'), path.join(folder, 'benign (3).png'));
    // A name near the 255-byte limit still gets an overlay, under a shortened name.
    const longName = `${'a'.repeat(240)}.png`;
    await fs.copyFile(path.join(BUSI_DIR, 'malignant', 'malignant (7).png'), path.join(folder, longName));
    const heatmapDir = path.join(folder, 'overlays');
    for (let run = 0; run < 2; run++) {
      const result = await runCli(['predict', '--model', modelDir, '--heatmaps', heatmapDir, folder]);
      assert.equal(result.code, 0, describeRun(result));
      const records = parse(result.stdout, { columns: true }) as Record<string, string>[];
      assert.deepEqual(records.map((record) => path.basename(record.path)).sort(), [longName, 'benign (3).png'].sort(), `run ${run + 1}`);
      for (const record of records) assert.ok(existsSync(record.heatmap), `run ${run + 1}: ${record.heatmap} missing`);
    }
  });

  test('multi-frame DICOM says first frame', async () => {
    const side = 160;
    const pixels = new Uint8Array(2 * side * side).map((_, index) => (index * 37) % 251);
    const file = path.join(root, 'two-frames.dcm');
    await fs.writeFile(file, buildDicom({ rows: side, columns: side, pixels, frames: 2 }));
    const result = await runCli(['predict', '--model', modelDir, file]);
    assert.equal(result.code, 0, describeRun(result));
    assert.match(result.stderr, /two-frames\.dcm: DICOM file has 2 frames; using the first frame/);
  });

  test('corrupt file gives an error row', async () => {
    const corrupt = path.join(root, 'corrupt.png');
    const whole = await fs.readFile(path.join(BUSI_DIR, 'benign', 'benign (30).png'));
    await fs.writeFile(corrupt, whole.subarray(0, 200));
    const good = path.join(data, 'benign', 'benign (2).png');

    const result = await runCli(['predict', '--model', modelDir, '--format', 'json', good, corrupt]);
    assert.equal(result.code, 3, describeRun(result));
    const rows = JSON.parse(result.stdout) as PredictionRecord[];
    assert.equal(rows.length, 2);

    assert.equal(rows[0].path, good);
    assert.equal(rows[0].error, undefined);
    assert.ok(rows[0].probability !== null);

    assert.equal(rows[1].path, corrupt);
    assert.equal(rows[1].probability, null);
    assert.equal(rows[1].label, null);
    assert.ok(rows[1].error?.includes(corrupt), `error does not name the file: ${rows[1].error}`);
    assert.match(result.stderr, /corrupt\.png/);
  });

  test('missing path exits with a message', async () => {
    const missing = path.join(root, 'no-such-image.png');
    const result = await runCli(['predict', '--model', modelDir, missing]);
    assert.equal(result.code, 3, describeRun(result));
    assert.ok(result.stderr.includes(`${missing}: file or folder not found`), result.stderr);
    assert.equal(result.stdout, '');
  });

  test('folder without images exits with a message', async () => {
    const empty = path.join(root, 'no-images');
    await fs.mkdir(empty, { recursive: true });
    await fs.writeFile(path.join(empty, 'readme.txt'), 'no images here\n');
    const result = await runCli(['predict', '--model', modelDir, empty]);
    assert.equal(result.code, 3, describeRun(result));
    assert.ok(result.stderr.includes(`no image files found in ${empty}`), result.stderr);
  });

  test('missing bundle exits with a message', async () => {
    const result = await runCli(['predict', '--model', path.join(root, 'no-model'), data]);
    assert.equal(result.code, 4, describeRun(result));
    assert.match(result.stderr, /not a busight model bundle/);
  });

  test('evaluate checks the model first', async () => {
    // Both paths are missing; the model error comes first, before any image is read.
    const out = path.join(root, 'evaluate-no-model');
    const result = await runCli(['evaluate', '--model', path.join(root, 'no-model'), '--data', path.join(root, 'no-data'), '--out', out]);
    assert.equal(result.code, 4, describeRun(result));
    assert.match(result.stderr, /not a busight model bundle/);
  });
});

describe('busight options', () => {
  const cases = [
    {
      name: 'target sensitivity above 1',
      args: () => [...trainArgs(path.join(root, 'run-bad-option')), '--target-sensitivity', '2'],
      message: /--target-sensitivity.*expected a number in \(0, 1\], received "2"/,
    },
    {
      name: 'unknown backbone',
      args: () => [...trainArgs(path.join(root, 'run-bad-option')), '--backbone', 'resnet50'],
      message: /--backbone.*resnet50.*mobilenet_v2_1\.0/s,
    },
    {
      name: 'two folds',
      args: () => [...trainArgs(path.join(root, 'run-bad-option')), '--folds', '2'],
      message: /--folds.*expected an integer of at least 3 .*received "2"/,
    },
    {
      name: 'views not a number',
      args: () => [...trainArgs(path.join(root, 'run-bad-option')), '--views', 'many'],
      message: /--views.*expected a positive integer, received "many"/,
    },
    {
      name: 'unknown predict format',
      args: () => ['predict', '--model', modelDir, '--format', 'xml', data],
      message: /--format.*xml.*csv, json/s,
    },
    {
      name: 'empty heatmaps folder',
      args: () => ['predict', '--model', modelDir, '--heatmaps', '', data],
      message: /--heatmaps.*expected a folder path, received an empty value/s,
    },
    {
      name: 'serve port out of range',
      args: () => ['serve', '--model', modelDir, '--port', '99999'],
      message: /--port.*expected a port from 0 to 65535, received "99999"/s,
    },
    {
      name: 'split without split file',
      args: () => ['evaluate', '--model', modelDir, '--data', data, '--out', path.join(root, 'run-bad-option'), '--split', 'test'],
      message: /--split needs --split-file/,
    },
  ];

  for (const item of cases) {
    test(`${item.name} rejected`, async () => {
      const result = await runCli(item.args());
      assert.equal(result.code, 2, describeRun(result));
      assert.match(result.stderr, item.message);
      assert.ok(!existsSync(path.join(root, 'run-bad-option')), 'output folder was created');
    });
  }
});

describe('busight evaluate', () => {
  test('test split of split.csv', async () => {
    const out = path.join(root, 'evaluate-test');
    const splitFile = path.join(runDir, 'split.csv');
    const result = await runCli(['evaluate', '--model', modelDir, '--data', data, '--out', out, '--split-file', splitFile, '--split', 'test', '--bootstrap', '100']);
    assert.equal(result.code, 0, describeRun(result));

    const testRows = (await readSplitRows(splitFile)).filter((row) => row.split === 'test');
    const metrics = JSON.parse(await fs.readFile(path.join(out, 'metrics.json'), 'utf8'));
    assert.equal(metrics.test.n, testRows.length);
    const [[tn, fp], [fn, tp]] = metrics.test.confusionMatrix as number[][];
    assert.equal(tn + fp + fn + tp, testRows.length);
    assert.equal(metrics.test.threshold, threshold);
    assert.ok(existsSync(path.join(out, 'report.html')), 'report.html missing');
  });

  test('whole folder leaves out normal/ and masks', async () => {
    const out = path.join(root, 'evaluate-all');
    const result = await runCli(['evaluate', '--model', modelDir, '--data', data, '--out', out, '--bootstrap', '100']);
    assert.equal(result.code, 0, describeRun(result));
    const metrics = JSON.parse(await fs.readFile(path.join(out, 'metrics.json'), 'utf8'));
    assert.equal(metrics.test.n, 24);
    assert.deepEqual(metrics.skipped, []);
  });
});

describe('busight evaluate on unreadable images', () => {
  /** Copies the data folder and overwrites `count` benign images with their first 300 bytes. */
  async function dataWithTruncatedBenign(name: string, count: number): Promise<string> {
    const copy = path.join(root, name);
    await fs.cp(data, copy, { recursive: true });
    for (let index = 1; index <= count; index++) {
      const file = path.join(copy, 'benign', `benign (${index}).png`);
      await fs.writeFile(file, (await fs.readFile(file)).subarray(0, 300));
    }
    return copy;
  }

  test('unreadable images are listed in skipped', async () => {
    const damaged = await dataWithTruncatedBenign('data-two-truncated', 2);
    const out = path.join(root, 'evaluate-two-truncated');
    const result = await runCli(['evaluate', '--model', modelDir, '--data', damaged, '--out', out, '--bootstrap', '100']);
    assert.equal(result.code, 0, describeRun(result));

    const metrics = JSON.parse(await fs.readFile(path.join(out, 'metrics.json'), 'utf8'));
    assert.equal(metrics.test.n, 22);
    assert.deepEqual(
      metrics.skipped.map((entry: { id: string }) => entry.id),
      ['benign/benign (1).png', 'benign/benign (2).png'],
    );
    assert.match(result.stderr, /warning: skipped .*benign \(1\)\.png/);
  });

  test('no readable benign image exits with a message', async () => {
    const damaged = await dataWithTruncatedBenign('data-all-benign-truncated', 14);
    const out = path.join(root, 'evaluate-all-benign-truncated');
    const result = await runCli(['evaluate', '--model', modelDir, '--data', damaged, '--out', out, '--bootstrap', '100']);
    assert.equal(result.code, 3, describeRun(result));
    assert.match(result.stderr, /0 benign and 10 malignant images could be read \(14 unreadable images skipped\)/);
    assert.ok(!existsSync(path.join(out, 'metrics.json')), 'metrics.json written');
  });

  test('train without a readable benign image', async () => {
    const damaged = await dataWithTruncatedBenign('data-train-benign-truncated', 14);
    const out = path.join(root, 'train-all-benign-truncated');
    const result = await runCli([...trainArgs(out).map((arg) => (arg === data ? damaged : arg))]);
    assert.equal(result.code, 3, describeRun(result));
    assert.match(result.stderr, /none of the 14 benign images could be read/);
    assert.ok(!existsSync(path.join(out, 'model')), 'model written');
  });
});

describe('killed training run', () => {
  test('old metrics.json and bundle stay readable', async () => {
    const rerunDir = path.join(root, 'run-killed');
    await fs.cp(runDir, rerunDir, { recursive: true });
    const metricsBefore = await fs.readFile(path.join(rerunDir, 'metrics.json'), 'utf8');
    const splitBefore = await fs.readFile(path.join(rerunDir, 'split.csv'), 'utf8');

    // Without the feature cache the run spends about a second extracting features, where it is killed.
    const result = await runCli([...trainArgs(rerunDir), '--no-cache', '--seed', '7'], { killWhen: /features: train/ });
    assert.equal(result.signal, 'SIGKILL', describeRun(result));

    assert.equal(await fs.readFile(path.join(rerunDir, 'metrics.json'), 'utf8'), metricsBefore);
    assert.equal(await fs.readFile(path.join(rerunDir, 'split.csv'), 'utf8'), splitBefore, 'split.csv no longer matches model/');
    await readBundle(path.join(rerunDir, 'model'));
  });
});
