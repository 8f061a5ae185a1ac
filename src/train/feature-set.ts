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

/** Returns the number of images in a feature set. */
export function imageCount(set: FeatureSet): number {
  return set.labels.length;
}
