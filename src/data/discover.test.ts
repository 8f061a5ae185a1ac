import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { DataError } from '../errors.js';
import { memoryLogger } from '../util/log.js';
import { discoverClassFolders, isMaskFile } from './discover.js';
import { makeTempDir, patternPng, writeTree, BUSI_DIR } from './fixtures.js';

describe('discoverClassFolders', () => {
  test('skips masks and non-images', async () => {
    const root = await makeTempDir();
    const png = await patternPng(1, 8);
    await writeTree(root, {
      'benign/benign (1).png': png,
      'benign/benign (1)_mask.png': png,
      'benign/benign (1)_mask_1.png': png,
      'Malignant/malignant (2).png': png,
      'Malignant/sub/malignant (3).PNG': png,
      'malignant/notes.txt': 'x',
      'normal/normal (1).png': png,
    });
    const logger = memoryLogger();
    const dataset = await discoverClassFolders(root, logger);
    assert.equal(dataset.format, 'folders');
    assert.deepEqual(
      dataset.samples.map((sample) => [sample.id, sample.label]),
      [
        ['Malignant/malignant (2).png', 1],
        ['Malignant/sub/malignant (3).PNG', 1],
        ['benign/benign (1).png', 0],
      ],
    );
    assert.equal(dataset.samples[2].file, path.join(root, 'benign', 'benign (1).png'));
    assert.deepEqual(dataset.skipped.map((entry) => entry.reason).sort(), ['not an image file extension', 'segmentation mask', 'segmentation mask']);
    assert.ok(logger.lines.includes('info: ignoring folder normal/: not a class folder (expected benign/ or malignant/)'));
    assert.ok(logger.lines.includes('info: skipped 2 mask files and 1 files without an image extension'));
  });

  test('mask pattern', () => {
    assert.equal(isMaskFile('benign/benign (3)_mask.png'), true);
    assert.equal(isMaskFile('benign (3)_MASK_2.png'), true);
    assert.equal(isMaskFile('masked/benign (3).png'), false);
    assert.equal(isMaskFile('benign (3)_mask.jpg'), false);
  });

  const failures: { name: string; setup: (root: string) => Promise<string>; message: RegExp }[] = [
    { name: 'missing folder', setup: async (root) => path.join(root, 'nope'), message: /nope: data folder not found$/ },
    {
      name: 'file instead of folder',
      setup: async (root) => {
        await writeTree(root, { 'a.png': 'x' });
        return path.join(root, 'a.png');
      },
      message: /a\.png: not a folder/,
    },
    {
      name: 'no images',
      setup: async (root) => {
        await fs.mkdir(path.join(root, 'benign'));
        await writeTree(root, { 'malignant/readme.txt': 'x' });
        return root;
      },
      message: /no images found in benign\/ or malignant\//,
    },
    {
      name: 'one class only',
      setup: async (root) => {
        await writeTree(root, { 'benign/a.png': await patternPng(1, 8), 'normal/b.png': await patternPng(2, 8) });
        return root;
      },
      message: /only class benign has images \(1\); add a malignant\/ folder/,
    },
  ];
  for (const failure of failures) {
    test(`${failure.name} raises DataError`, async () => {
      const target = await failure.setup(await makeTempDir());
      await assert.rejects(discoverClassFolders(target, memoryLogger()), (error: unknown) => {
        assert.ok(error instanceof DataError);
        assert.match(error.message, failure.message);
        assert.ok(error.message.startsWith(target));
        return true;
      });
    });
  }

  test('BUSI folder is read', { skip: !existsSync(BUSI_DIR) && 'BUSI not present' }, async () => {
    const dataset = await discoverClassFolders(BUSI_DIR, memoryLogger());
    const counts = [0, 0];
    for (const sample of dataset.samples) counts[sample.label]++;
    assert.deepEqual(counts, [437, 210]);
  });
});
