import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { DataError } from '../errors.js';
import { memoryLogger } from '../util/log.js';
import type { Dataset } from './dataset.js';
import { discoverClassFolders } from './discover.js';
import { makeTempDir, BUSI_DIR, SEED_SPLIT_FILE } from './fixtures.js';
import type { Label, Sample } from './sample.js';
import { readSplitFile, splitCounts, stratifiedSplit, writeSplitFile } from './split.js';

function makeSamples(benign: number, malignant: number): Sample[] {
  const samples: Sample[] = [];
  for (let i = 0; i < benign; i++) samples.push({ id: `benign/b${i}.png`, file: `/d/benign/b${i}.png`, label: 0 });
  for (let i = 0; i < malignant; i++) samples.push({ id: `malignant/m${i}.png`, file: `/d/malignant/m${i}.png`, label: 1 });
  return samples;
}

describe('stratifiedSplit', () => {
  test('same seed gives same split', () => {
    const samples = makeSamples(50, 20);
    const a = stratifiedSplit(samples, { seed: 42 });
    const b = stratifiedSplit([...samples].reverse(), { seed: 42 });
    assert.deepEqual(a, b);
  });

  test('different seed gives different split', () => {
    const samples = makeSamples(50, 20);
    const a = stratifiedSplit(samples, { seed: 42 }).map((s) => s.split);
    const b = stratifiedSplit(samples, { seed: 43 }).map((s) => s.split);
    assert.notDeepEqual(a, b);
  });

  for (const [benign, malignant] of [[437, 210], [50, 20], [3, 3], [7, 4], [1, 10]]) {
    test(`class ratios within 1, ${benign}+${malignant}`, () => {
      const result = stratifiedSplit(makeSamples(benign, malignant), { seed: 7 });
      const fractions = [0.7, 0.2, 0.1];
      for (const [label, n] of [[0, benign], [1, malignant]] as [Label, number][]) {
        const members = result.filter((s) => s.label === label);
        assert.equal(members.length, n);
        (['train', 'val', 'test'] as const).forEach((split, index) => {
          const count = members.filter((s) => s.split === split).length;
          if (n >= 3) assert.ok(count >= 1, `class ${label} has no ${split} images`);
          if (n >= 10) assert.ok(Math.abs(count - n * fractions[index]) <= 1, `class ${label} ${split}: ${count} of ${n}`);
        });
      }
    });
  }

  test('splitCounts rounding', () => {
    assert.deepEqual(splitCounts(437, [0.7, 0.2, 0.1]), [306, 87, 44]);
    assert.deepEqual(splitCounts(210, [0.7, 0.2, 0.1]), [147, 42, 21]);
    assert.deepEqual(splitCounts(3, [0.7, 0.2, 0.1]), [1, 1, 1]);
    assert.deepEqual(splitCounts(2, [0.7, 0.2, 0.1]), [2, 0, 0]);
    assert.deepEqual(splitCounts(10, [0.5, 0.5, 0]), [5, 5, 0]);
  });

  test('invalid fractions raise', () => {
    assert.throws(() => stratifiedSplit(makeSamples(5, 5), { seed: 1, fractions: [0.5, 0.5, 0.5] }), /summing to 1/);
  });
});

describe('split files', () => {
  const dataset: Dataset = { root: '/d', format: 'folders', samples: makeSamples(4, 3), skipped: [{ id: 'benign/b0_mask.png', reason: 'segmentation mask' }] };

  test('write then read gives same samples', async () => {
    const file = path.join(await makeTempDir(), 'split.csv');
    const split = stratifiedSplit(dataset.samples, { seed: 1 });
    await writeSplitFile(file, split);
    assert.deepEqual(await readSplitFile(file, dataset), split);
  });

  const badFiles: { name: string; text: string; message: RegExp }[] = [
    { name: 'missing image', text: 'path,label,split\nbenign/zz.png,0,train\n', message: /line 2: image 'benign\/zz.png' not found in \/d/ },
    { name: 'skipped image', text: 'path,label,split\nbenign/b0_mask.png,0,train\n', message: /line 2: image 'benign\/b0_mask.png' was skipped .*segmentation mask/ },
    { name: 'unknown split', text: 'path,label,split\nbenign/b1.png,0,holdout\n', message: /line 2: unknown split 'holdout'; expected one of train, val, test/ },
    { name: 'bad label', text: 'path,label,split\nbenign/b1.png,2,train\n', message: /line 2: invalid label '2'/ },
    { name: 'duplicate row', text: 'path,label,split\nbenign/b1.png,0,train\n./benign/b1.png,0,test\n', message: /line 3: duplicate row for 'benign\/b1.png' \(first on line 2\)/ },
    { name: 'missing column', text: 'path,label\nbenign/b1.png,0\n', message: /missing column 'split'/ },
  ];
  for (const bad of badFiles) {
    test(`${bad.name} raises DataError`, async () => {
      const file = path.join(await makeTempDir(), 'split.csv');
      await fs.writeFile(file, bad.text);
      await assert.rejects(readSplitFile(file, dataset), (error: unknown) => {
        assert.ok(error instanceof DataError);
        assert.ok(error.message.startsWith(`${file}: `));
        assert.match(error.message, bad.message);
        return true;
      });
    });
  }

  test('label disagreement warns and uses file label', async () => {
    const file = path.join(await makeTempDir(), 'split.csv');
    await fs.writeFile(file, 'path,label,split\nbenign/b1.png,malignant,train\n');
    const logger = memoryLogger();
    const result = await readSplitFile(file, dataset, logger);
    assert.equal(result[0].label, 1);
    assert.equal(logger.lines.length, 1);
    assert.match(logger.lines[0], /line 2: label 1 \(malignant\) of 'benign\/b1.png' disagrees with the dataset label 0/);
  });

  const busi = BUSI_DIR;
  const seedSplit = SEED_SPLIT_FILE;
  const present = existsSync(seedSplit);
  test('BUSI seed split reads back', { skip: !present && 'BUSI not present' }, async () => {
    const busiDataset = await discoverClassFolders(busi, memoryLogger());
    const logger = memoryLogger();
    const result = await readSplitFile(seedSplit, busiDataset, logger);
    const rows = parse(await fs.readFile(seedSplit, 'utf8'), { columns: true }) as { path: string; label: string; split: string }[];
    assert.equal(result.length, rows.length);
    const byId = new Map(result.map((sample) => [sample.id, sample]));
    for (const row of rows) {
      const sample = byId.get(row.path);
      assert.ok(sample, row.path);
      assert.equal(sample.label, Number(row.label));
      assert.equal(sample.split, row.split);
      assert.equal(sample.file, path.join(busi, row.path));
    }
    assert.deepEqual(logger.lines, []);
  });
});
