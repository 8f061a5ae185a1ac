import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';

import { ConfigError, DataError } from '../errors.js';
import type { RgbImage } from '../data/image.js';
import { heatmapOverlay, infernoColour, thumbnailDataUri, thumbnailJpeg } from './thumbnails.js';

/** Builds a width x height RGB gradient: red rises left to right and green top to bottom. */
function gradientImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const offset = (y * width + x) * 3;
      data[offset] = Math.round((x / Math.max(width - 1, 1)) * 255);
      data[offset + 1] = Math.round((y / Math.max(height - 1, 1)) * 255);
      data[offset + 2] = 128;
    }
  }
  return { data, width, height };
}

test('thumbnailJpeg fits size and keeps aspect', async () => {
  const thumbnail = await thumbnailJpeg(gradientImage(320, 200), 160, 80);
  assert.equal(thumbnail.mime, 'image/jpeg');
  const metadata = await sharp(Buffer.from(thumbnail.base64, 'base64')).metadata();
  assert.equal(metadata.format, 'jpeg');
  assert.equal(metadata.width, 160);
  assert.equal(metadata.height, 100);
});

test('thumbnailJpeg does not enlarge small images', async () => {
  const thumbnail = await thumbnailJpeg(gradientImage(40, 30));
  const metadata = await sharp(Buffer.from(thumbnail.base64, 'base64')).metadata();
  assert.equal(metadata.width, 40);
  assert.equal(metadata.height, 30);
});

test('thumbnailDataUri prefix', async () => {
  const uri = await thumbnailDataUri(gradientImage(16, 16), 8);
  assert.match(uri, /^data:image\/jpeg;base64,[A-Za-z0-9+/]+=*$/);
});

test('thumbnailJpeg rejects bad input', async () => {
  await assert.rejects(thumbnailJpeg({ data: new Uint8Array(10), width: 4, height: 4 }), DataError);
  await assert.rejects(thumbnailJpeg(gradientImage(4, 4), 0), ConfigError);
  await assert.rejects(thumbnailJpeg(gradientImage(4, 4), 16, 101), ConfigError);
});

test('infernoColour ends and midpoint', () => {
  assert.deepEqual(infernoColour(0), [0x00, 0x00, 0x04]);
  assert.deepEqual(infernoColour(1), [0xfc, 0xff, 0xa4]);
  // Out-of-range values are clamped.
  assert.deepEqual(infernoColour(-1), [0x00, 0x00, 0x04]);
  assert.deepEqual(infernoColour(2), [0xfc, 0xff, 0xa4]);
});

test('heatmapOverlay opacity zero keeps image', async () => {
  const image = gradientImage(12, 9);
  const heat = new Float32Array([0, 1, 2, 3]);
  const overlay = await heatmapOverlay(image, heat, 2, 2, 0);
  assert.equal(overlay.width, 12);
  assert.equal(overlay.height, 9);
  assert.deepEqual(overlay.data, image.data);
});

test('heatmapOverlay bilinear upsampling', async () => {
  // Heat [0, 5] over a 4x1 image, normalised to [0, 1]. Pixel centres map to source x
  // (x + 0.5) * 2 / 4 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped to [0, 1]: heat 0, 0.25, 0.75, 1.
  // inferno(0.25) lies a quarter of the way from stop 2 (#4b0c6b) to stop 3 (#781c6d):
  // 75 + 45 * 0.25 = 86.25, 12 + 16 * 0.25 = 16, 107 + 2 * 0.25 = 107.5 -> [86, 16, 108].
  const image: RgbImage = { data: new Uint8Array(4 * 3), width: 4, height: 1 };
  const overlay = await heatmapOverlay(image, new Float32Array([0, 5]), 2, 1, 1);
  assert.deepEqual(Array.from(overlay.data.slice(0, 3)), [0, 0, 4]);
  assert.deepEqual(Array.from(overlay.data.slice(3, 6)), [86, 16, 108]);
  assert.deepEqual(Array.from(overlay.data.slice(9, 12)), [0xfc, 0xff, 0xa4]);
});

test('heatmapOverlay blends with opacity', async () => {
  // Uniform heat normalises to 1 (#fcffa4); half opacity over grey 100: (100 + 252) / 2 = 176 etc.
  const image: RgbImage = { data: new Uint8Array(2 * 2 * 3).fill(100), width: 2, height: 2 };
  const overlay = await heatmapOverlay(image, new Float32Array([3]), 1, 1, 0.5);
  assert.deepEqual(Array.from(overlay.data.slice(0, 3)), [176, Math.round((100 + 255) / 2), Math.round((100 + 164) / 2)]);
});

test('heatmapOverlay all-zero heat', async () => {
  const image: RgbImage = { data: new Uint8Array(3).fill(200), width: 1, height: 1 };
  const overlay = await heatmapOverlay(image, new Float32Array(4), 2, 2, 1);
  assert.deepEqual(Array.from(overlay.data), [0, 0, 4]);
});

test('heatmapOverlay rejects bad input', async () => {
  const image = gradientImage(4, 4);
  await assert.rejects(heatmapOverlay(image, new Float32Array(3), 2, 2, 0.5), /expected 4 heat values for 2x2, received 3/);
  await assert.rejects(heatmapOverlay(image, new Float32Array([0, -1, 0, 0]), 2, 2, 0.5), /received -1 at index 1/);
  await assert.rejects(heatmapOverlay(image, new Float32Array([0, Number.NaN, 0, 0]), 2, 2, 0.5), DataError);
  await assert.rejects(heatmapOverlay(image, new Float32Array(4), 2, 2, 1.5), ConfigError);
  await assert.rejects(heatmapOverlay(image, new Float32Array(4), 0, 2, 0.5), DataError);
});
