import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DataError } from '../errors.js';
import type { RgbImage } from './image.js';
import { checkAssessable, greyLevelSd, MIN_ASSESSABLE_SIDE, UnassessableImageError } from './image-content.js';

function flat(width: number, height: number, value: number): RgbImage {
  return { data: new Uint8Array(width * height * 3).fill(value), width, height };
}

test('greyLevelSd of two levels', () => {
  // Half the pixels at 0, half at 100: mean 50, standard deviation 50.
  const image = flat(4, 4, 0);
  for (let pixel = 8; pixel < 16; pixel++) image.data.fill(100, pixel * 3, pixel * 3 + 3);
  assert.ok(Math.abs(greyLevelSd(image) - 50) < 1e-9);
});

test('checkAssessable rejects blank image', () => {
  assert.throws(() => checkAssessable(flat(256, 256, 128), 'scan.png'), (error: unknown) => {
    assert.ok(error instanceof DataError);
    assert.ok(error instanceof UnassessableImageError);
    assert.equal(error.reason, 'blank');
    assert.equal(error.path, 'scan.png');
    assert.match(error.message, /^scan\.png: image is blank/);
    return true;
  });
});

test('checkAssessable rejects tiny image', () => {
  assert.throws(() => checkAssessable(flat(1, 1, 128), 'dot.png'), (error: unknown) => {
    assert.ok(error instanceof DataError);
    assert.ok(error instanceof UnassessableImageError);
    assert.equal(error.reason, 'too_small');
    assert.match(error.message, /^dot\.png: image is 1x1 pixels, too small/);
    return true;
  });
});

test('checkAssessable accepts textured image', () => {
  const image = flat(MIN_ASSESSABLE_SIDE, MIN_ASSESSABLE_SIDE, 0);
  for (let i = 0; i < image.data.length; i++) image.data[i] = (i * 37) % 256;
  assert.doesNotThrow(() => checkAssessable(image, 'texture.png'));
});
