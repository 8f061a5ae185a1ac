import type { HeadWeights } from './head.js';

/**
 * Threshold on the distance of an image's features from the images a head was fitted on, beyond
 * which the image counts as atypical: another probe type, another organ or no ultrasound image,
 * where the probability means little. With the BUSI model of the main command (threshold 4.8),
 * the 780 BUSI images reach at most 3.4, twelve fan-shaped (sector and convex) images made from
 * BUSI images 18 to 39, and the 27 readable scikit-image photos 4.4 to 49.
 */
export interface Typicality {
  /** Distances above this are atypical: THRESHOLD_MARGIN times the fitted images' 99th percentile. */
  threshold: number;
  /** 99th percentile of the distances of the images the head was fitted on. */
  fittedQuantile99: number;
  /** Number of those images. */
  fittedImages: number;
}

/** Factor between the fitted images' 99th percentile distance and the threshold. */
export const THRESHOLD_MARGIN = 1.5;

/**
 * Returns the distance of one image from the head's fitted images: the mean over features of
 * ((x_j - mean_j) / std_j)^2, where x is the image's pooled features averaged over its views.
 * `pooled`: float32 [rows, dim] with the image's `views` rows starting at row `firstRow`.
 */
export function typicalityDistance(head: HeadWeights, pooled: ArrayLike<number>, firstRow: number, views: number, dim: number): number {
  let sum = 0;
  for (let j = 0; j < dim; j++) {
    let value = 0;
    for (let view = 0; view < views; view++) value += pooled[(firstRow + view) * dim + j];
    const z = (value / views - head.mean[j]) / head.std[j];
    sum += z * z;
  }
  return sum / dim;
}

/** Builds the typicality record from the distances of the images the head was fitted on. */
export function typicalityOf(fittedDistances: readonly number[]): Typicality {
  if (fittedDistances.length === 0) throw new RangeError('typicalityOf: expected the distances of at least one image');
  const sorted = [...fittedDistances].sort((a, b) => a - b);
  const quantile99 = sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)];
  return { threshold: THRESHOLD_MARGIN * quantile99, fittedQuantile99: quantile99, fittedImages: sorted.length };
}
