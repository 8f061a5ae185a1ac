import { test } from 'node:test';
import assert from 'node:assert/strict';

import type { RgbImage } from './image.js';
import { findContentBox, MIN_PADDING_BAND, PADDING_LEVEL, trimPadding } from './padding.js';

/** A speckled grey image (values 30-229), like ultrasound tissue, RGB uint8 HWC. */
function tissue(width: number, height: number, seed = 1): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let state = seed;
  for (let i = 0; i < width * height; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    data.fill(30 + (state >>> 24) % 200, i * 3, i * 3 + 3);
  }
  return { data, width, height };
}

/** Places `inner` at (left, top) of a black canvas of the given size. */
function onBlack(inner: RgbImage, width: number, height: number, left: number, top: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < inner.height; y++) {
    data.set(inner.data.subarray(y * inner.width * 3, (y + 1) * inner.width * 3), ((top + y) * width + left) * 3);
  }
  return { data, width, height };
}

test('findContentBox keeps an image without padding whole', () => {
  const image = tissue(200, 150);
  assert.deepEqual(findContentBox(image), { left: 0, top: 0, width: 200, height: 150 });
  assert.equal(trimPadding(image).image, image);
});

test('trimPadding cuts black bands and keeps the pixels', () => {
  const inner = tissue(160, 120);
  const padded = onBlack(inner, 400, 180, 200, 40);
  const { image, box } = trimPadding(padded);
  assert.deepEqual(box, { left: 200, top: 40, width: 160, height: 120 });
  assert.deepEqual(image, inner);
});

test('bands narrower than MIN_PADDING_BAND stay', () => {
  const narrow = Math.floor(MIN_PADDING_BAND * 200) - 1;
  const wide = Math.ceil(MIN_PADDING_BAND * 200);
  const padded = onBlack(tissue(200 - narrow - wide, 100), 200, 100, narrow, 0);
  assert.deepEqual(findContentBox(padded), { left: 0, top: 0, width: 200 - wide, height: 100 });
});

test('dark tissue and bands with text are not padding', () => {
  const image = tissue(100, 100);
  // The bottom 40 rows are dark but speckled above PADDING_LEVEL, as deep tissue is.
  for (let i = 60 * 100; i < 100 * 100; i++) image.data.fill(PADDING_LEVEL + 1 + (i % 10), i * 3, i * 3 + 3);
  assert.deepEqual(findContentBox(image), { left: 0, top: 0, width: 100, height: 100 });
  // A left band of 30 columns with 3% of its pixels bright, as burned-in text makes it.
  const withText = onBlack(tissue(70, 100), 100, 100, 30, 0);
  for (let y = 0; y < 100; y += 33) for (let x = 0; x < 30; x++) withText.data[(y * 100 + x) * 3] = 255;
  assert.deepEqual(findContentBox(withText), { left: 0, top: 0, width: 100, height: 100 });
});

test('findContentBox is mirror symmetric and keeps an all-black image whole', () => {
  const padded = onBlack(tissue(120, 90), 300, 100, 50, 0);
  const mirrored: RgbImage = { data: new Uint8Array(padded.data.length), width: padded.width, height: padded.height };
  for (let y = 0; y < padded.height; y++) {
    for (let x = 0; x < padded.width; x++) {
      const from = (y * padded.width + x) * 3;
      mirrored.data.set(padded.data.subarray(from, from + 3), (y * padded.width + padded.width - 1 - x) * 3);
    }
  }
  const box = findContentBox(padded);
  assert.deepEqual(box, { left: 50, top: 0, width: 120, height: 90 });
  assert.deepEqual(findContentBox(mirrored), { ...box, left: 300 - box.left - box.width });
  const black: RgbImage = { data: new Uint8Array(64 * 48 * 3), width: 64, height: 48 };
  assert.deepEqual(findContentBox(black), { left: 0, top: 0, width: 64, height: 48 });
});
