/** Random heads for tests. */
import type { Rng } from '../util/rng.js';
import type { HeadWeights } from './head.js';

/** Draw settings of randomHead that differ between the tests that use it. */
export interface RandomHeadOptions {
  /** Draws of the training means: 'uniform' in [0, 1) or 'normal' N(0, 1). */
  means: 'uniform' | 'normal';
  /** Factor on the N(0, 1) draws of the biases. */
  biasScale: number;
}

/**
 * Builds a head of `dim` inputs, ReLU layers of `hidden` units and one linear logit, with stds in
 * [0.5, 1.5), N(0, 1) kernels and identity calibration. Draws in a fixed order from `rng`.
 */
export function randomHead(rng: Rng, dim: number, hidden: number[], options: RandomHeadOptions): HeadWeights {
  const widths = [dim, ...hidden, 1];
  const drawMean = options.means === 'uniform' ? () => rng.next() : () => rng.normal();
  return {
    featureDim: dim,
    mean: Array.from({ length: dim }, drawMean),
    std: Array.from({ length: dim }, () => 0.5 + rng.next()),
    layers: widths.slice(0, -1).map((inputs, layer) => ({
      inputs,
      units: widths[layer + 1],
      kernel: Array.from({ length: inputs * widths[layer + 1] }, () => rng.normal()),
      bias: Array.from({ length: widths[layer + 1] }, () => rng.normal() * options.biasScale),
      activation: layer < widths.length - 2 ? 'relu' : 'linear',
    })),
    calibration: { scale: 1, shift: 0 },
  };
}
