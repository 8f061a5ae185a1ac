import { test } from 'node:test';
import assert from 'node:assert/strict';

import type { RgbImage } from './image.js';
import { BOTTOM_PADDING_RULE, EDGE_PADDING_RULE, findContentBox, trimPadding } from './padding.js';

/** Returns a speckled grey image (values 30-229), like ultrasound tissue, RGB uint8 HWC. */
function tissue(width: number, height: number, seed = 1): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let state = seed;
  for (let i = 0; i < width * height; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    data.fill(30 + (state >>> 24) % 200, i * 3, i * 3 + 3);
  }
  return { data, width, height };
}

/** Returns a black canvas of the given size with `inner` at (left, top). */
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
  assert.equal(trimPadding(padded).image, image, 'a second call returns the remembered cut');
});

test("bands narrower than their rule's minBand stay", () => {
  // Left and right by EDGE_PADDING_RULE: one band just short of minBand, one just reaching it.
  const narrow = Math.ceil(EDGE_PADDING_RULE.minBand * 200) - 1;
  const wide = Math.ceil(EDGE_PADDING_RULE.minBand * 200);
  const padded = onBlack(tissue(200 - narrow - wide, 100), 200, 100, narrow, 0);
  assert.deepEqual(findContentBox(padded), { left: 0, top: 0, width: 200 - wide, height: 100 });
  // The bottom needs BOTTOM_PADDING_RULE.minBand: a black band of 8% of the height stays.
  const bottom = onBlack(tissue(100, 92), 100, 100, 0, 0);
  assert.ok(0.08 < BOTTOM_PADDING_RULE.minBand);
  assert.deepEqual(findContentBox(bottom), { left: 0, top: 0, width: 100, height: 100 });
  const top = onBlack(tissue(100, 92), 100, 100, 0, 8);
  assert.deepEqual(findContentBox(top), { left: 0, top: 8, width: 100, height: 92 });
});

/** Sets every pixel of rows [top, bottom) and columns [left, right) to `value`, or to value(x, y). */
function paint(image: RgbImage, left: number, top: number, right: number, bottom: number, value: number | ((x: number, y: number) => number)): void {
  for (let y = top; y < bottom; y++) {
    for (let x = left; x < right; x++) {
      const level = typeof value === 'number' ? value : value(x, y);
      image.data.fill(level, (y * image.width + x) * 3, (y * image.width + x) * 3 + 3);
    }
  }
}

test('dark deep tissue at the bottom is not padding', () => {
  const image = tissue(100, 100);
  // The bottom 40 rows are dark but speckled above the bottom rule's level, as deep tissue is.
  paint(image, 0, 60, 100, 100, (x, y) => BOTTOM_PADDING_RULE.level + 1 + ((x + y) % 10));
  assert.deepEqual(findContentBox(image), { left: 0, top: 0, width: 100, height: 100 });
  // The same rows in pure black are cut.
  paint(image, 0, 60, 100, 100, 0);
  assert.deepEqual(findContentBox(image), { left: 0, top: 0, width: 100, height: 60 });
});

test('video black, noise and captions in the bars are padding', () => {
  // Left bar at video black level 16 with noise up to 8 above it, top bar with a caption line.
  const image = onBlack(tissue(200, 240), 300, 300, 100, 60);
  paint(image, 0, 0, 100, 300, (x, y) => 16 + ((x * 7 + y * 13) % 9));
  assert.ok(16 + 8 <= EDGE_PADDING_RULE.level, 'the noisy bar stays at or below the edge level');
  // Caption: 8 rows of dense text, within the 3% gap that the top edge steps over.
  paint(image, 120, 20, 280, 28, (x) => (x % 3 === 0 ? 255 : 0));
  assert.deepEqual(findContentBox(image), { left: 100, top: 60, width: 200, height: 240 });
  // A caption touching the tissue ends the band there, and a bar with 6% bright pixels is kept.
  const touching = onBlack(tissue(200, 240), 300, 300, 100, 60);
  paint(touching, 120, 50, 280, 60, (x) => (x % 3 === 0 ? 255 : 0));
  paint(touching, 0, 0, 100, 300, (x, y) => (y % 16 === 0 ? 255 : 0));
  assert.deepEqual(findContentBox(touching), { left: 0, top: 50, width: 300, height: 250 });
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
