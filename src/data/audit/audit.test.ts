import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { parquetWriteBuffer } from 'hyparquet-writer';
import sharp from 'sharp';
import { memoryLogger } from '../../util/log.js';
import { makeTempDir, texturePng, writeTree, BUSI_DIR } from '../fixtures.js';
import { buildDicom } from '../formats/dicom-fixture.js';
import { openDataset } from '../open-dataset.js';
import { runAudit } from './audit.js';

const PATIENT = { patientName: 'QUIXOTE^ALONSO', patientId: 'MRN-7731-ZZ', patientBirthDate: '19230417' };

async function dicomOf(seed: number): Promise<Uint8Array> {
  const { data } = await sharp(await texturePng(seed, 64)).greyscale().raw().toBuffer({ resolveWithObject: true });
  return buildDicom({ rows: 64, columns: 64, pixels: new Uint8Array(data), ...PATIENT });
}

/** Writes a Hugging Face style parquet file with image {bytes, path} and an int64 label. */
function parquetOf(rows: { bytes: Uint8Array; path: string; label: number }[], names = ['benign_breast_cancer', 'malignant_breast_cancer']): ArrayBuffer {
  return parquetWriteBuffer({
    columnData: [
      { name: 'image', data: rows.map((row) => ({ bytes: row.bytes, path: row.path })) },
      { name: 'label', data: rows.map((row) => BigInt(row.label)) },
    ],
    schema: [
      { name: 'root', num_children: 2 },
      { name: 'image', repetition_type: 'OPTIONAL', num_children: 2 },
      { name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
      { name: 'path', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      { name: 'label', type: 'INT64', repetition_type: 'OPTIONAL' },
    ],
    kvMetadata: [{ key: 'huggingface', value: JSON.stringify({ info: { features: { label: { names, _type: 'ClassLabel' } } } }) }],
  });
}

describe('openDataset', () => {
  test('CSV manifest with names and numbers', async () => {
    const root = await makeTempDir();
    await writeTree(root, {
      'img/a.png': await texturePng(1, 32),
      'img/b.png': await texturePng(2, 32),
      'img/a_mask.png': await texturePng(3, 32),
      'list.csv': 'path,label\nimg/b.png,malignant\nimg/a.png,0\nimg/a_mask.png,0\n',
    });
    const dataset = await openDataset(path.join(root, 'list.csv'), {}, memoryLogger());
    assert.equal(dataset.format, 'csv');
    assert.deepEqual(dataset.samples.map((sample) => [sample.id, sample.label]), [['img/a.png', 0], ['img/b.png', 1]]);
    assert.equal(dataset.skipped.length, 1);
  });

  test('CSV manifest missing image raises', async () => {
    const root = await makeTempDir();
    await writeTree(root, { 'list.csv': 'path,label\nnope.png,1\n' });
    await assert.rejects(openDataset(path.join(root, 'list.csv'), {}, memoryLogger()), /list\.csv: 1 invalid row:\n {2}line 2: image 'nope\.png' not found/);
  });

  test('parquet file and shard folder', async () => {
    const root = await makeTempDir();
    const shard0 = parquetOf([
      { bytes: await texturePng(1, 32), path: 'benign (1).png', label: 0 },
      { bytes: await texturePng(2, 32), path: 'malignant (1).png', label: 1 },
    ]);
    const shard1 = parquetOf([
      { bytes: await texturePng(3, 32), path: 'malignant (2).png', label: 1 },
      { bytes: await texturePng(5, 32), path: 'malignant (2)_mask.png', label: 1 },
      { bytes: await texturePng(4, 32), path: 'normal (1).png', label: 2 },
    ], ['benign_breast_cancer', 'malignant_breast_cancer', 'normal']);
    await writeTree(root, {
      'data/train-00000-of-00002.parquet': new Uint8Array(shard0),
      'data/train-00001-of-00002.parquet': new Uint8Array(shard1),
    });
    const logger = memoryLogger();
    const dataset = await openDataset(root, {}, logger);
    assert.equal(dataset.format, 'parquet');
    assert.deepEqual(dataset.samples.map((sample) => [sample.id, sample.label]), [
      ['data/train-00000-of-00002.parquet/benign (1).png', 0],
      ['data/train-00000-of-00002.parquet/malignant (1).png', 1],
      ['data/train-00001-of-00002.parquet/malignant (2).png', 1],
    ]);
    assert.deepEqual(dataset.skipped.map((item) => [item.id, item.reason]), [
      ['data/train-00001-of-00002.parquet/malignant (2)_mask.png', 'segmentation mask'],
      ['data/train-00001-of-00002.parquet/normal (1).png', 'label normal is not benign or malignant'],
    ]);
    assert.ok(logger.lines.includes('info: ignoring 1 parquet rows of class normal: not benign or malignant'));

    const single = await openDataset(path.join(root, 'data', 'train-00000-of-00002.parquet'), {}, memoryLogger());
    assert.equal(single.samples.length, 2);
    assert.equal(single.samples[0].id, 'train-00000-of-00002.parquet/benign (1).png');
    const bytes = await single.samples[0].readBytes!();
    assert.deepEqual(Buffer.from(bytes), await texturePng(1, 32));
  });

  test('missing source raises', async () => {
    await assert.rejects(openDataset('/nonexistent/busight-data', {}, memoryLogger()), /\/nonexistent\/busight-data: data source not found/);
  });
});

describe('runAudit', () => {
  test('DICOM patient tags never written', async () => {
    const root = await makeTempDir();
    const out = await makeTempDir();
    await writeTree(root, {
      'benign/scan1.dcm': await dicomOf(1),
      'benign/scan1-copy.dcm': await dicomOf(1),
      'malignant/scan2.dcm': await dicomOf(2),
      'malignant/scan3.png': await texturePng(3, 64),
    });
    const logger = memoryLogger();
    const result = await runAudit({ data: root, out, logger });
    assert.equal(result.summary.readable, 4);
    assert.deepEqual(result.summary.formats, { dicom: 3, png: 1 });
    assert.equal(result.summary.exactGroups, 1);
    const written = [await fs.readFile(result.jsonFile, 'utf8'), await fs.readFile(result.htmlFile, 'utf8'), logger.lines.join('\n')];
    for (const text of written) {
      for (const value of Object.values(PATIENT)) assert.equal(text.includes(value), false, `${value} found in output`);
      assert.equal(text.includes('QUIXOTE'), false);
    }
  });

  test('exact copies counted inside near groups', async () => {
    // At a threshold of 64 bits every image is a near duplicate of every other, so the exact pair
    // sits in one near group with the third image and must still be counted as exact.
    const root = await makeTempDir();
    const out = await makeTempDir();
    await writeTree(root, {
      'benign/a.png': await texturePng(1, 64),
      'malignant/a-copy.png': await texturePng(1, 64),
      'malignant/b.png': await texturePng(2, 64),
    });
    const result = await runAudit({ data: root, out, nearThreshold: 64, logger: memoryLogger() });
    assert.equal(result.summary.exactGroups, 1);
    assert.equal(result.summary.exactDuplicateImages, 2);
    assert.equal(result.summary.nearGroups, 1);
    assert.equal(result.summary.nearDuplicateImages, 3);
  });

  test('unreadable image listed with reason', async () => {
    const root = await makeTempDir();
    const out = await makeTempDir();
    await writeTree(root, {
      'benign/a.png': await texturePng(1, 64),
      'benign/cut.png': (await texturePng(2, 64)).subarray(0, 200),
      'malignant/b.png': await texturePng(3, 64),
    });
    const result = await runAudit({ data: root, out, logger: memoryLogger() });
    assert.equal(result.summary.unreadable, 1);
    assert.equal(result.unreadable[0].id, 'benign/cut.png');
    const json = JSON.parse(await fs.readFile(result.jsonFile, 'utf8'));
    assert.equal(json.unreadable[0].id, 'benign/cut.png');
  });

  test('BUSI cross-label conflict found', { skip: !existsSync(BUSI_DIR) && 'BUSI not present' }, async () => {
    const out = await makeTempDir();
    const result = await runAudit({ data: BUSI_DIR, out, logger: memoryLogger() });
    const conflict = result.conflicts.find((group) => group.ids.includes('benign/benign (433).png'));
    assert.ok(conflict, 'benign (433).png is in no conflict group');
    assert.ok(conflict.ids.includes('malignant/malignant (145).png'));
    assert.equal(conflict.kind, 'exact');
  });
});
