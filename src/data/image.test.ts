import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { DataError } from '../errors.js';
import { decodeImageBytes, loadSampleImage, probeImageBytes, resizeRgb } from './image.js';
import { makeTempDir, patternPng } from './fixtures.js';

describe('decodeImageBytes', () => {
  test('grey PNG gives 3 equal channels', async () => {
    const png = await patternPng(1, 16, 1);
    const image = await decodeImageBytes(png, 'grey.png');
    assert.equal(image.width, 16);
    assert.equal(image.height, 16);
    assert.equal(image.data.length, 16 * 16 * 3);
    for (let i = 0; i < image.data.length; i += 3) {
      assert.equal(image.data[i], image.data[i + 1]);
      assert.equal(image.data[i], image.data[i + 2]);
    }
  });

  test('RGBA PNG drops alpha', async () => {
    const raw = new Uint8Array(4 * 4 * 4).fill(100);
    const png = await sharp(raw, { raw: { width: 4, height: 4, channels: 4 } }).png().toBuffer();
    const image = await decodeImageBytes(png, 'rgba.png');
    assert.equal(image.data.length, 4 * 4 * 3);
    assert.equal(image.data[0], 100);
  });

  const badInputs: { name: string; make: () => Promise<Uint8Array>; message: RegExp }[] = [
    { name: 'zero-byte file', make: async () => new Uint8Array(0), message: /empty \(0 bytes\)/ },
    { name: 'non-image bytes', make: async () => new TextEncoder().encode('path,label\nx.png,0\n'), message: /not a readable image/ },
    {
      name: 'truncated PNG',
      make: async () => {
        const png = await patternPng(3, 64);
        return png.subarray(0, Math.floor(png.length * 0.6));
      },
      message: /failed to decode png|not a readable image/,
    },
  ];
  for (const bad of badInputs) {
    test(`${bad.name} raises DataError naming file`, async () => {
      const bytes = await bad.make();
      await assert.rejects(decodeImageBytes(bytes, '/data/benign/case 7.png'), (error: unknown) => {
        assert.ok(error instanceof DataError);
        assert.match(error.message, /^\/data\/benign\/case 7\.png: /);
        assert.match(error.message, bad.message);
        assert.equal(error.path, '/data/benign/case 7.png');
        return true;
      });
    });
  }

  test('too many pixels raises DataError', async () => {
    const png = await patternPng(2, 64);
    await assert.rejects(decodeImageBytes(png, 'big.png', { maxFileBytes: 1e6, maxPixels: 1000 }), (error: unknown) => {
      assert.ok(error instanceof DataError);
      assert.match(error.message, /^big\.png: image is 64x64 = 4096 pixels, above the maximum of 1000 pixels/);
      return true;
    });
  });

  test('file over size limit raises DataError', async () => {
    const png = await patternPng(2, 64);
    await assert.rejects(decodeImageBytes(png, 'big.png', { maxFileBytes: 10, maxPixels: 1e9 }), /big\.png: file is \d+ bytes, above the maximum of 10 bytes/);
  });

  test('16-bit grey PNG scales to 8 bits', async () => {
    const raw = new Uint16Array([0, 65535, 32896, 65535]);
    const png = await sharp(raw, { raw: { width: 2, height: 2, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toBuffer();
    const info = await probeImageBytes(png, 'deep.png');
    assert.equal(info.bitsPerSample, 16);
    const image = await decodeImageBytes(png, 'deep.png');
    assert.equal(image.data[0], 0);
    assert.equal(image.data[3], 255);
  });
});

describe('loadSampleImage', () => {
  test('missing file raises DataError naming it', async () => {
    const dir = await makeTempDir();
    const file = path.join(dir, 'missing.png');
    await assert.rejects(loadSampleImage({ id: 'missing.png', file, label: 0 }), (error: unknown) => {
      assert.ok(error instanceof DataError);
      assert.equal(error.message, `${file}: file not found`);
      return true;
    });
  });

  test('readBytes is used when present', async () => {
    const png = await patternPng(4, 8);
    const image = await loadSampleImage({ id: 'x#0', file: '/nowhere/x.parquet#0', label: 1, readBytes: async () => png });
    assert.equal(image.width, 8);
  });

  test('zero-byte file raises DataError', async () => {
    const dir = await makeTempDir();
    const file = path.join(dir, 'empty.png');
    await fs.writeFile(file, '');
    await assert.rejects(loadSampleImage({ id: 'empty.png', file, label: 0 }), new RegExp(`${file.replaceAll('/', '\\/')}: file is empty`));
  });
});

describe('resizeRgb', () => {
  test('resizes to size x size', async () => {
    const image = await decodeImageBytes(await patternPng(5, 40), 'p.png');
    const resized = await resizeRgb(image, 24);
    assert.equal(resized.width, 24);
    assert.equal(resized.height, 24);
    assert.equal(resized.data.length, 24 * 24 * 3);
  });

  test('same size returns an equal copy', async () => {
    const image = await decodeImageBytes(await patternPng(5, 24), 'p.png');
    const resized = await resizeRgb(image, 24);
    assert.deepEqual(resized.data, image.data);
    assert.notEqual(resized.data, image.data);
  });
});
