import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { RgbImage } from '../data/image.js';
import { FIXED_VIEW_COUNT, fixedViews } from './fixed-views.js';
import { mirrorRgb } from './mirror.js';

/** Builds a 64x48 RGB image with a horizontal gradient in red and a vertical one in green. */
function gradientImage(): RgbImage {
  const width = 64;
  const height = 48;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      data[(y * width + x) * 3] = Math.round((x / (width - 1)) * 255);
      data[(y * width + x) * 3 + 1] = Math.round((y / (height - 1)) * 255);
    }
  }
  return { data, width, height };
}

test('fixedViews builds mirror, zoom and rotation', async () => {
  const views = await fixedViews(gradientImage(), 32, FIXED_VIEW_COUNT);
  assert.equal(views.length, 6);
  for (const view of views) {
    assert.equal(view.width, 32);
    assert.equal(view.height, 32);
    assert.equal(view.data.length, 32 * 32 * 3);
  }
  assert.deepEqual(views[1].data, mirrorRgb(views[0]).data);

  // The zoom keeps the central 85%, so its left edge is brighter in red than the full view's.
  assert.ok(views[2].data[0] > views[0].data[0], `zoom left red ${views[2].data[0]} vs ${views[0].data[0]}`);
  // The mirrored zoom is the zoom flipped left-right, up to resampling.
  const flipped = mirrorRgb(views[2]).data;
  const difference = views[3].data.reduce((max, value, i) => Math.max(max, Math.abs(value - flipped[i])), 0);
  assert.ok(difference <= 2, `mirrored zoom differs from the flipped zoom by ${difference}`);

  // The rotation moves the top-right corner outside the source, so it turns black, while the
  // image view's corner is bright red.
  const topRight = 31 * 3;
  assert.ok(views[0].data[topRight] > 200, `image top-right red ${views[0].data[topRight]}`);
  assert.equal(views[4].data[topRight], 0, 'rotated view top-right corner is not black');
});

test('fixedViews of a mirror are the same set', async () => {
  // The mirrored image's views 4 and 5 are the image's views 5 and 4, up to resampling.
  const image = gradientImage();
  const views = await fixedViews(image, 32, FIXED_VIEW_COUNT);
  const mirrored = await fixedViews(mirrorRgb(image), 32, FIXED_VIEW_COUNT);
  const difference = (a: RgbImage, b: RgbImage) => a.data.reduce((max, value, i) => Math.max(max, Math.abs(value - b.data[i])), 0);
  for (const [view, partner] of [[0, 1], [1, 0], [2, 3], [3, 2], [4, 5], [5, 4]]) {
    assert.ok(difference(mirrored[view], views[partner]) <= 2, `mirror's view ${view} differs from view ${partner} by ${difference(mirrored[view], views[partner])}`);
  }
  assert.ok(difference(views[4], views[5]) > 50, 'views 4 and 5 are the same');
});

test('fixedViews returns view prefixes', async () => {
  const image = gradientImage();
  const all = await fixedViews(image, 32, FIXED_VIEW_COUNT);
  for (const count of [1, 2, 3, 4, 5]) {
    const some = await fixedViews(image, 32, count);
    assert.equal(some.length, count);
    some.forEach((view, index) => assert.deepEqual(view.data, all[index].data, `count ${count}, view ${index}`));
  }
});

test('fixedViews rejects invalid counts', async () => {
  for (const count of [0, 7, 1.5]) {
    await assert.rejects(fixedViews(gradientImage(), 32, count), /count must be an integer from 1 to 6/);
  }
});
