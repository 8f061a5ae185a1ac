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
import type { Rng } from '../util/rng.js';
import type { PooledMap } from './backbone.js';
import type { HeadWeights } from './head.js';

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

/** Undoes rootPool: returns the square of each value, float32 like the input. */
export function squared(values: Float32Array): Float32Array {
  return values.map((value) => value * value);
}

/** Returns the per-channel mean over height x width of a map of n images, as float32 [n, channels]. */
export function spatialMean(map: PooledMap, n: number): Float32Array {
  const positions = map.height * map.width;
  const out = new Float32Array(n * map.channels);
  for (let plane = 0; plane < n * map.channels; plane++) {
    let sum = 0;
    for (let p = 0; p < positions; p++) sum += map.values[plane * positions + p];
    out[plane] = sum / positions;
  }
  return out;
}

/** Returns the per-channel population standard deviation over height x width of a map of n images, as float32 [n, channels]. */
export function spatialStd(map: PooledMap, n: number): Float32Array {
  const positions = map.height * map.width;
  const means = spatialMean(map, n);
  const out = new Float32Array(n * map.channels);
  for (let plane = 0; plane < n * map.channels; plane++) {
    let sum = 0;
    for (let p = 0; p < positions; p++) sum += (map.values[plane * positions + p] - means[plane]) ** 2;
    out[plane] = Math.sqrt(sum / positions);
  }
  return out;
}

/** Returns columns [offset, offset + width) of each of the n rows of a row-major float32 [n, rowLength] array, as [n, width]. */
export function columns(rows: Float32Array, n: number, rowLength: number, offset: number, width: number): Float32Array {
  const out = new Float32Array(n * width);
  for (let i = 0; i < n; i++) out.set(rows.subarray(i * rowLength + offset, i * rowLength + offset + width), i * width);
  return out;
}

/** Returns a linear head over `dim` features with normal kernel and bias, training means in [0, 1) and stds in [0.5, 1.5). */
export function randomLinearHead(rng: Rng, dim: number): HeadWeights {
  return {
    featureDim: dim,
    mean: Array.from({ length: dim }, () => rng.next()),
    std: Array.from({ length: dim }, () => 0.5 + rng.next()),
    layers: [{ inputs: dim, units: 1, kernel: Array.from({ length: dim }, () => rng.normal()), bias: [rng.normal()], activation: 'linear' }],
    calibration: { scale: 1, shift: 0 },
  };
}
