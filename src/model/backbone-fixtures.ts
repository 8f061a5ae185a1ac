/**
 * Inputs shared by the backbone tests: the weights folder, natural photographs with known
 * ImageNet classes, and BUSI images. Decoding uses sharp directly so these tests do not depend
 * on the data module.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import sharp from 'sharp';

import type { RgbImage } from '../data/image.js';

/** Repository root, found from this file's place in src/model or dist/model. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Backbone weights for tests: $BUSIGHT_WEIGHTS_DIR, else the shared models folder beside the repository. */
export function testWeightsDir(): string {
  return process.env.BUSIGHT_WEIGHTS_DIR || path.resolve(REPO_ROOT, '..', 'shared', 'models');
}

/** BUSI images folder beside the repository. */
export const BUSI_DIR = path.resolve(REPO_ROOT, '..', 'shared', 'data', 'busi');

/**
 * Sample photographs shipped by Debian's python3-skimage package
 * (`apt-get install -y --no-install-recommends python3-skimage`), with the ImageNet class
 * (first name in the label list) each one shows.
 */
export const SKIMAGE_DATA_DIR = '/usr/lib/python3/dist-packages/skimage/data';
export const LABELLED_PHOTOS = [
  { file: path.join(SKIMAGE_DATA_DIR, 'chelsea.png'), label: 'Egyptian cat' },
  { file: path.join(SKIMAGE_DATA_DIR, 'coffee.png'), label: 'espresso' },
] as const;

/** Decodes an image file and resizes it to size x size, returning RGB uint8 HWC. */
export async function loadTestImage(file: string, size = 224): Promise<RgbImage> {
  const { data, info } = await sharp(file)
    .removeAlpha()
    .resize(size, size, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`${file}: expected 3 channels after removeAlpha, received ${info.channels}`);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

/** Returns the ImageNet class names of a backbone folder, in output order. */
export function readImagenetLabels(backboneDir: string): string[] {
  return JSON.parse(readFileSync(path.join(backboneDir, 'imagenet_labels.json'), 'utf8')) as string[];
}

/** Returns the first names of the k highest-scoring classes of row `row` of logits [n, labels.length]. */
export function topClasses(logits: Float32Array, row: number, labels: readonly string[], k: number): string[] {
  const scores = Array.from(logits.subarray(row * labels.length, (row + 1) * labels.length));
  return scores
    .map((score, index) => ({ score, index }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k)
    .map(({ index }) => labels[index].split(',')[0].trim());
}

/** Returns the largest absolute difference between two equally long arrays. */
export function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Returns the per-channel mean over h x w of NHWC maps [n, h, w, c], as [n, c]. */
export function spatialMean(maps: Float32Array, n: number, shape: readonly [number, number, number]): Float32Array {
  const [h, w, c] = shape;
  const out = new Float32Array(n * c);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < h * w; p++) {
      for (let ch = 0; ch < c; ch++) out[i * c + ch] += maps[(i * h * w + p) * c + ch];
    }
  }
  for (let j = 0; j < out.length; j++) out[j] /= h * w;
  return out;
}
