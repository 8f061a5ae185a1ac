import type { Label } from '../data/sample.js';

/**
 * Fits Platt scaling, probability = sigmoid(scale * logit + shift), to held-out logits by
 * Newton's method on the cross-entropy. Targets use Platt's (1999) smoothing, (n+ + 1) / (n+ + 2)
 * for positives and 1 / (n- + 2) for negatives, so a separable validation set does not drive the
 * scale to infinity.
 */
export function fitPlatt(labels: Label[], logits: number[]): { scale: number; shift: number } {
  const positives = labels.filter((label) => label === 1).length;
  const negatives = labels.length - positives;
  const high = (positives + 1) / (positives + 2);
  const low = 1 / (negatives + 2);
  const targets = labels.map((label) => (label === 1 ? high : low));

  let scale = 1;
  let shift = 0;
  for (let iteration = 0; iteration < 100; iteration++) {
    // Gradient and Hessian of the mean cross-entropy in (scale, shift).
    let gradScale = 0;
    let gradShift = 0;
    let hScaleScale = 1e-9;
    let hScaleShift = 0;
    let hShiftShift = 1e-9;
    for (let i = 0; i < logits.length; i++) {
      const z = logits[i];
      const p = 1 / (1 + Math.exp(-(scale * z + shift)));
      const residual = p - targets[i];
      const curvature = p * (1 - p);
      gradScale += residual * z;
      gradShift += residual;
      hScaleScale += curvature * z * z;
      hScaleShift += curvature * z;
      hShiftShift += curvature;
    }

    // Newton step on the 2x2 system.
    const determinant = hScaleScale * hShiftShift - hScaleShift * hScaleShift;
    if (Math.abs(determinant) < 1e-12) break;
    const stepScale = (hShiftShift * gradScale - hScaleShift * gradShift) / determinant;
    const stepShift = (hScaleScale * gradShift - hScaleShift * gradScale) / determinant;
    scale -= stepScale;
    shift -= stepShift;
    if (Math.abs(stepScale) < 1e-9 && Math.abs(stepShift) < 1e-9) break;
  }
  return { scale, shift };
}
