import assert from 'node:assert/strict';
import { test } from 'node:test';

import sharp from 'sharp';

import { decodeUpload, encodeDeidentifiedPng, inspectUpload, sniffUploadFormat } from './deidentify.js';
import { renderHeatmapPng } from './heatmap-image.js';
import { HttpError } from './http-error.js';
import { buildDicom } from '../data/formats/dicom-fixture.js';
import { blankPng, containsText, dicomHeaderOnly, jpegWithExif, PATIENT_MARKER, ultrasoundLikePng, withPngTextChunk } from './upload-fixtures.js';

function isHttpError(status: number, code: string) {
  return (error: unknown) => error instanceof HttpError && error.statusCode === status && error.code === code;
}

test('sniffUploadFormat by magic bytes', async () => {
  const png = await ultrasoundLikePng(16, 16);
  assert.equal(sniffUploadFormat(png), 'png');
  assert.equal(sniffUploadFormat(await jpegWithExif(png)), 'jpeg');
  assert.equal(sniffUploadFormat(dicomHeaderOnly()), 'dicom');
  assert.equal(sniffUploadFormat(Buffer.from('hello, not an image')), undefined);
  assert.equal(sniffUploadFormat(new Uint8Array(0)), undefined);
});

test('PNG text chunk removed', async () => {
  const upload = withPngTextChunk(await ultrasoundLikePng(192, 144), 'Comment', PATIENT_MARKER);
  assert.ok(containsText(upload, PATIENT_MARKER), 'the fixture must carry the marker');
  assert.equal((await sharp(upload).metadata()).width, 192, 'the fixture must stay a valid PNG');

  await inspectUpload(upload, 1_000_000);
  const image = await decodeUpload(upload, 1_000_000);
  const stored = await encodeDeidentifiedPng(image);

  assert.equal(containsText(stored, PATIENT_MARKER), false);
  assert.equal(containsText(stored, 'tEXt'), false);
  const metadata = await sharp(stored).metadata();
  assert.equal(metadata.width, 192);
  assert.equal(metadata.height, 144);
  assert.equal(metadata.channels, 1, 'a grey upload is stored as grey PNG');
  // Pixels must survive the re-encoding unchanged (PNG is lossless); raw output is RGB again.
  const pixels = await sharp(stored).toColourspace('srgb').raw().toBuffer();
  assert.deepEqual(new Uint8Array(pixels), image.data);
});

test('JPEG EXIF removed', async () => {
  const upload = await jpegWithExif(await ultrasoundLikePng(192, 128));
  assert.ok(containsText(upload, PATIENT_MARKER), 'the fixture must carry the marker');

  const image = await decodeUpload(upload, 1_000_000);
  const stored = await encodeDeidentifiedPng(image);

  assert.equal(containsText(stored, PATIENT_MARKER), false);
  assert.equal(containsText(stored, 'Exif'), false);
  const metadata = await sharp(stored).metadata();
  assert.equal(metadata.format, 'png');
  assert.equal(metadata.exif, undefined);
});

test('inspectUpload rejections', async () => {
  const png = await ultrasoundLikePng(100, 100);
  await assert.rejects(inspectUpload(png, 9_999), isHttpError(413, 'too_many_pixels'));
  // DICOM headers are checked while probing, and must give the same 413 as PNG.
  const dicom = buildDicom({ rows: 100, columns: 100, pixels: new Uint8Array(100 * 100).fill(80) });
  await assert.rejects(inspectUpload(dicom, 9_999), isHttpError(413, 'too_many_pixels'));
  await assert.rejects(inspectUpload(Buffer.from('%PDF-1.7 not an image'), 1_000_000), isHttpError(415, 'unsupported_media_type'));
  await assert.rejects(inspectUpload(dicomHeaderOnly(), 1_000_000), isHttpError(400, 'invalid_image'));
  await assert.rejects(inspectUpload(png.subarray(0, 20), 1_000_000), isHttpError(400, 'invalid_image'));
});

test('decodeUpload rejects truncated pixels', async () => {
  const png = await ultrasoundLikePng(200, 200);
  const truncated = png.subarray(0, Math.floor(png.length / 2));
  await inspectUpload(truncated, 1_000_000);
  await assert.rejects(decodeUpload(truncated, 1_000_000), isHttpError(400, 'invalid_image'));
});

test('decodeUpload rejects blank and small images', async () => {
  await assert.rejects(decodeUpload(await blankPng(300, 200), 1_000_000), isHttpError(400, 'blank_image'));
  await assert.rejects(decodeUpload(await ultrasoundLikePng(16, 16), 1_000_000), isHttpError(400, 'image_too_small'));
});

test('error messages omit client file names', async () => {
  try {
    await inspectUpload(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]), 1_000_000);
    assert.fail('expected a rejection');
  } catch (error) {
    assert.ok(error instanceof HttpError);
    assert.match(error.message, /uploaded image/);
  }
});

test('renderHeatmapPng size and transparency', async () => {
  // 4 x 4 map: one hot cell top left, the rest zero.
  const map = new Float32Array(16);
  map[0] = 3;
  const png = await renderHeatmapPng(map, 4, 4, 2000, 1000);
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.width, 1024, 'longest side capped');
  assert.equal(info.height, 512);
  assert.equal(info.channels, 4);
  const alphaAt = (x: number, y: number) => data[(y * info.width + x) * 4 + 3];
  assert.equal(alphaAt(0, 0), 255, 'the hottest cell is opaque');
  assert.equal(alphaAt(info.width - 1, info.height - 1), 0, 'zero evidence is transparent');

  // Right half hot: every row must be transparent on the left and opaque on the right.
  const half = await renderHeatmapPng(new Float32Array([0, 1, 0, 1]), 2, 2, 300, 200);
  const halfPixels = await sharp(half).raw().toBuffer({ resolveWithObject: true });
  for (let y = 0; y < halfPixels.info.height; y++) {
    const rowStart = y * halfPixels.info.width * 4;
    assert.equal(halfPixels.data[rowStart + 3], 0, `row ${y} left edge`);
    assert.equal(halfPixels.data[rowStart + (halfPixels.info.width - 1) * 4 + 3], 255, `row ${y} right edge`);
  }

  const empty = await renderHeatmapPng(new Float32Array(4), 2, 2, 10, 10);
  const emptyPixels = await sharp(empty).raw().toBuffer();
  assert.ok(emptyPixels.every((value, i) => i % 4 !== 3 || value === 0), 'an all-zero map is fully transparent');

  await assert.rejects(renderHeatmapPng(new Float32Array(3), 2, 2, 10, 10), RangeError);
});
