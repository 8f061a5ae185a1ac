import type { Label } from '../data/sample.js';

/**
 * Fits Platt scaling, probability = sigmoid(scale * logit + shift), to held-out logits by
 * Newton's method on the cross-entropy. Targets use Platt's (1999) smoothing, (n+ + 1) / (n+ + 2)
 * for positives and 1 / (n- + 2) for negatives, so a separable validation set does not drive the
 * scale to infinity. Each Newton step is halved until the loss decreases: with logits of
 * magnitude 10 or more, full steps from (1, 0) overshoot and can end at a negative scale.
 */
export function fitPlatt(labels: Label[], logits: number[]): { scale: number; shift: number } {
  const positives = labels.filter((label) => label === 1).length;
  const negatives = labels.length - positives;
  const high = (positives + 1) / (positives + 2);
  const low = 1 / (negatives + 2);
  const targets = labels.map((label) => (label === 1 ? high : low));

  let scale = 1;
  let shift = 0;
  let loss = plattLoss(targets, logits, scale, shift);
  for (let iteration = 0; iteration < 100; iteration++) {
    // Gradient and Hessian of the summed cross-entropy in (scale, shift).
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

    // Newton direction on the 2x2 system.
    const determinant = hScaleScale * hShiftShift - hScaleShift * hScaleShift;
    if (Math.abs(determinant) < 1e-12) break;
    const stepScale = (hShiftShift * gradScale - hScaleShift * gradShift) / determinant;
    const stepShift = (hScaleScale * gradShift - hScaleShift * gradScale) / determinant;

    // Backtrack until the (convex) loss decreases.
    let fraction = 1;
    let accepted = false;
    for (let halving = 0; halving < 40; halving++) {
      const candidateScale = scale - fraction * stepScale;
      const candidateShift = shift - fraction * stepShift;
      const candidateLoss = plattLoss(targets, logits, candidateScale, candidateShift);
      if (candidateLoss <= loss) {
        scale = candidateScale;
        shift = candidateShift;
        loss = candidateLoss;
        accepted = true;
        break;
      }
      fraction /= 2;
    }
    if (!accepted) break;
    if (Math.abs(fraction * stepScale) < 1e-9 && Math.abs(fraction * stepShift) < 1e-9) break;
  }
  return { scale, shift };
}

/** Summed cross-entropy of sigmoid(scale * logit + shift) against soft targets, computed stably. */
function plattLoss(targets: number[], logits: number[], scale: number, shift: number): number {
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const z = scale * logits[i] + shift;
    // log(1 + exp(-|z|)) + max(z, 0) - z * t
    sum += Math.log1p(Math.exp(-Math.abs(z))) + Math.max(z, 0) - z * targets[i];
  }
  return sum;
}
