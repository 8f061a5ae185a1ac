import type { Label } from '../data/sample.js';

/**
 * Pooled features of a set of images, each seen through `views` views (augmented copies or
 * test-time augmentations). Row `image * views + view` of `features` belongs to image `image`.
 */
export interface FeatureSet {
  /** float32 [images * views, dim], row-major. */
  features: Float32Array;
  dim: number;
  views: number;
  /** One label per image (not per row). */
  labels: Label[];
}

/** Returns the label of every feature row (each image's label repeated for its views), float32 [images * views]. */
export function rowLabels(set: FeatureSet): Float32Array {
  const rows = set.labels.length * set.views;
  const labels = new Float32Array(rows);
  for (let row = 0; row < rows; row++) labels[row] = set.labels[Math.floor(row / set.views)];
  return labels;
}

/** Returns the number of images in a feature set. */
export function imageCount(set: FeatureSet): number {
  return set.labels.length;
}

/** Returns the feature set of the images at `indices` (in that order), with all their views. */
export function selectImages(set: FeatureSet, indices: number[]): FeatureSet {
  const rowLength = set.views * set.dim;
  const features = new Float32Array(indices.length * rowLength);
  indices.forEach((image, position) => features.set(set.features.subarray(image * rowLength, (image + 1) * rowLength), position * rowLength));
  return { features, dim: set.dim, views: set.views, labels: indices.map((image) => set.labels[image]) };
}
