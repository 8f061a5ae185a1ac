import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Rng } from '../util/rng.js';
import { applyAugmentation, IDENTITY_AUGMENTATION, sampleAugmentation } from './augment.js';
import { decodeImageBytes, resizeRgb } from './image.js';
import { patternPng } from './fixtures.js';

describe('augmentation', () => {
  test('identity equals plain resize', async () => {
    const image = await decodeImageBytes(await patternPng(3, 256), 'p.png');
    const augmented = await applyAugmentation(image, IDENTITY_AUGMENTATION, 224);
    const resized = await resizeRgb(image, 224);
    assert.deepEqual(augmented, resized);
  });

  test('strength 0 draws identity', () => {
    assert.deepEqual(sampleAugmentation(new Rng(5), 0), IDENTITY_AUGMENTATION);
  });

  test('same draw gives same image', async () => {
    const image = await decodeImageBytes(await patternPng(4, 256), 'p.png');
    const a = await applyAugmentation(image, sampleAugmentation(new Rng(9)), 224);
    const b = await applyAugmentation(image, sampleAugmentation(new Rng(9)), 224);
    const c = await applyAugmentation(image, sampleAugmentation(new Rng(10)), 224);
    assert.equal(a.width, 224);
    assert.equal(a.height, 224);
    assert.equal(a.data.length, 224 * 224 * 3);
    assert.deepEqual(a.data, b.data);
    assert.notDeepEqual(a.data, c.data);
  });

  test('input image is not modified', async () => {
    const image = await decodeImageBytes(await patternPng(4, 224), 'p.png');
    const copy = image.data.slice();
    await applyAugmentation(image, { ...IDENTITY_AUGMENTATION, gain: 1.2, speckleSigma: 0.1, noiseSeed: 3 }, 224);
    assert.deepEqual(image.data, copy);
  });

  test('horizontal flip mirrors columns', async () => {
    const image = await decodeImageBytes(await patternPng(6, 32), 'p.png');
    const flipped = await applyAugmentation(image, { ...IDENTITY_AUGMENTATION, flipHorizontal: true }, 32);
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        assert.equal(flipped.data[(y * 32 + x) * 3], image.data[(y * 32 + 31 - x) * 3]);
      }
    }
  });

  test('colour image flips per channel', async () => {
    const data = new Uint8Array(8 * 8 * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 256;
    const image = { data, width: 8, height: 8 };
    const flipped = await applyAugmentation(image, { ...IDENTITY_AUGMENTATION, flipHorizontal: true }, 8);
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) {
        for (let c = 0; c < 3; c++) assert.equal(flipped.data[(y * 8 + x) * 3 + c], data[(y * 8 + 7 - x) * 3 + c]);
      }
    }
  });

  test('draws stay within documented ranges', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 500; i++) {
      const params = sampleAugmentation(rng);
      assert.ok(Math.abs(params.rotationDeg) <= 15, `rotation ${params.rotationDeg}`);
      assert.ok(params.crop.width * params.crop.height >= 0.8 / 1.1, `crop area ${params.crop.width * params.crop.height}`);
      assert.ok(params.crop.width <= 1, `crop width ${params.crop.width}`);
      assert.ok(params.crop.height <= 1, `crop height ${params.crop.height}`);
      assert.ok(params.crop.left >= 0, `crop left ${params.crop.left}`);
      assert.ok(params.crop.left + params.crop.width <= 1 + 1e-9, `crop right ${params.crop.left + params.crop.width}`);
      assert.ok(params.gain >= 0.8, `gain ${params.gain}`);
      assert.ok(params.gain <= 1.2, `gain ${params.gain}`);
      assert.ok(params.gamma >= 0.8 - 1e-9, `gamma ${params.gamma}`);
      assert.ok(params.gamma <= 1.25 + 1e-9, `gamma ${params.gamma}`);
      assert.ok(params.speckleSigma >= 0, `speckle ${params.speckleSigma}`);
      assert.ok(params.speckleSigma <= 0.15, `speckle ${params.speckleSigma}`);
    }
  });
});
