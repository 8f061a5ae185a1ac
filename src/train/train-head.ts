import * as tf from '@tensorflow/tfjs';

import type { Label } from '../data/sample.js';
import { rocAuc } from '../evaluate/metrics.js';
import type { DenseWeights, HeadWeights } from '../model/head.js';
import { headLogit } from '../model/head.js';
import { initTfjsBackend } from '../model/tfjs-backend.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { Rng } from '../util/rng.js';
import type { FeatureSet } from './feature-set.js';
import { rowLabels } from './feature-set.js';
import { trainLinearHead } from './linear-head.js';

/** Options of head training. Defaults are in HEAD_TRAINING_DEFAULTS. */
export interface HeadTrainingOptions {
  /**
   * - 'lbfgs': full-batch logistic regression solved to convergence by L-BFGS for every penalty in
   *   `l2Grid`, keeping the penalty whose fit scores best on validation (`selectOn`). Linear heads
   *   only; the result does not depend on the seed. The Adam-only options below are ignored.
   * - 'adam': mini-batch Adam with dropout, learning-rate decay and early stopping on validation.
   */
  solver: 'lbfgs' | 'adam';
  /** L2 penalties tried by 'lbfgs', each added to the mean loss as l2 / 2 * sum(kernel^2). */
  l2Grid: number[];
  /**
   * For 'lbfgs': 'mean' fits the head on each image's features averaged over its views, 'each'
   * on every view as its own row. For a linear head, averaging logits over views at prediction
   * time equals scoring the averaged features, so 'mean' fits the quantity that is scored. In
   * group-aware 5-fold cross-validation on BUSI (two fold shuffles, 4 fixed views) it gave mean
   * AUC 0.956 like 'each', specificity at 0.95 sensitivity 0.80 against 0.77, and a quarter of the
   * rows to fit.
   */
  viewRows: 'mean' | 'each';
  /** L-BFGS iteration limit per penalty. */
  maxIterations: number;
  /**
   * For 'lbfgs': after choosing the penalty, fit it again on training and validation images
   * together. Validation logits (for calibration and the threshold) still come from the fit on
   * training images alone.
   */
  refit: boolean;
  /** Units of each ReLU hidden layer; empty for logistic regression on the features. Must be empty for 'lbfgs'. */
  hiddenUnits: number[];
  /** Initial Adam learning rate. */
  learningRate: number;
  /** Multiply the learning rate by this factor when validation loss has not improved for `lrPatience` epochs. */
  lrFactor: number;
  lrPatience: number;
  minLearningRate: number;
  maxEpochs: number;
  /** Stop when the selection metric has not improved for this many epochs. */
  patience: number;
  batchSize: number;
  /** L2 penalty on kernels for 'adam', added to the mean loss as l2 * sum(kernel^2). */
  l2: number;
  /** Dropout rate on the standardised input features, in [0, 1). */
  dropout: number;
  /**
   * Validation metric that picks the epoch whose weights are kept:
   * - 'auc': highest validation ROC AUC, ties broken by lower validation loss;
   * - 'loss': lowest validation cross-entropy.
   */
  selectOn: 'auc' | 'loss';
  /**
   * Feature scaling before the head:
   * - 'feature': subtract each feature's mean and divide by its own standard deviation;
   * - 'global': subtract each feature's mean and divide all by one pooled standard deviation,
   *   which keeps rarely active channels from being blown up to the scale of common ones.
   */
  standardize: 'feature' | 'global';
  /** 'balanced' weights each class by n / (2 * n_class) in the loss; 'none' weights all images equally. */
  classWeights: 'balanced' | 'none';
  seed: number;
}

export const HEAD_TRAINING_DEFAULTS: HeadTrainingOptions = {
  solver: 'lbfgs',
  l2Grid: [0.3, 0.1, 0.03, 0.01],
  viewRows: 'mean',
  maxIterations: 200,
  refit: true,
  hiddenUnits: [],
  learningRate: 1e-3,
  lrFactor: 0.5,
  lrPatience: 4,
  minLearningRate: 1e-5,
  maxEpochs: 60,
  patience: 10,
  batchSize: 64,
  l2: 1e-3,
  dropout: 0.2,
  selectOn: 'auc',
  standardize: 'feature',
  classWeights: 'balanced',
  seed: 42,
};

/** One epoch of the training history; for 'lbfgs', one iteration of the selected penalty's fit. */
export interface EpochRecord {
  epoch: number;
  /** Training objective: weighted cross-entropy plus the L2 penalty. */
  trainLoss: number;
  valLoss: number;
  valAuc: number;
  /** Adam learning rate, or the accepted L-BFGS line-search step length. */
  learningRate: number;
}

export interface HeadTrainingResult {
  /** Weights of the selected epoch (or of the refit), with identity calibration (scale 1, shift 0). */
  head: HeadWeights;
  history: EpochRecord[];
  /** Epoch (1-based) whose weights were kept; for 'lbfgs', the last iteration. */
  selectedEpoch: number;
  /** For 'lbfgs', the penalty chosen on validation. */
  selectedL2?: number;
  /**
   * Validation logits of the selected epoch, one per validation image (views averaged). With
   * 'lbfgs' and `refit`, they come from the fit before the refit, so they stay held out.
   */
  valLogits: number[];
}

/** Returns per-class loss weights: n / (2 * n_class) for 'balanced', 1 for 'none'. */
export function classWeightsFor(labels: Label[], mode: 'balanced' | 'none'): [number, number] {
  if (mode === 'none') return [1, 1];
  const positives = labels.filter((label) => label === 1).length;
  const negatives = labels.length - positives;
  return [labels.length / (2 * negatives), labels.length / (2 * positives)];
}

/**
 * Trains the head on weighted binary cross-entropy. Solver 'lbfgs' hands over to trainLinearHead.
 * Solver 'adam' decays the learning rate on a validation-loss plateau, stops early on the
 * selection metric and keeps the best epoch's weights. `train` and `val` are pooled features (see
 * FeatureSet); validation logits are averaged over views.
 */
export async function trainHead(
  train: FeatureSet,
  val: FeatureSet,
  options: Partial<HeadTrainingOptions> = {},
  logger: Logger = silentLogger,
): Promise<HeadTrainingResult> {
  const settings: HeadTrainingOptions = { ...HEAD_TRAINING_DEFAULTS, ...options };
  // Both solvers run their matrix products in TF.js; 'lbfgs' then uses wasm for later fits too (see tfjsProducts).
  await initTfjsBackend('wasm', logger);
  if (settings.solver === 'lbfgs') return trainLinearHead(train, val, settings, logger);
  const dim = train.dim;
  const rng = new Rng(settings.seed);

  // Standardise with training statistics.
  const { mean, std } = featureStatistics(train.features, dim, settings.standardize);
  const trainX = standardizeRows(train.features, dim, mean, std);
  const valX = standardizeRows(val.features, dim, mean, std);
  const trainRows = train.features.length / dim;
  const trainRowLabels = rowLabels(train);
  const [negativeWeight, positiveWeight] = classWeightsFor(train.labels, settings.classWeights);

  // Build the variables with seeded Glorot-uniform kernels.
  const widths = [dim, ...settings.hiddenUnits, 1];
  const kernels: tf.Variable[] = [];
  const biases: tf.Variable[] = [];
  for (let layer = 0; layer < widths.length - 1; layer++) {
    const fanIn = widths[layer];
    const fanOut = widths[layer + 1];
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    const values = new Float32Array(fanIn * fanOut);
    for (let i = 0; i < values.length; i++) values[i] = rng.uniform(-limit, limit);
    kernels.push(tf.variable(tf.tensor2d(values, [fanIn, fanOut])));
    biases.push(tf.variable(tf.zeros([fanOut])));
  }

  const forward = (x: tf.Tensor2D, training: boolean, dropoutSeed: number): tf.Tensor1D => {
    let activations: tf.Tensor2D = training && settings.dropout > 0 ? (tf.dropout(x, settings.dropout, undefined, dropoutSeed) as tf.Tensor2D) : x;
    for (let layer = 0; layer < kernels.length; layer++) {
      const z: tf.Tensor2D = tf.add(tf.matMul(activations, kernels[layer] as tf.Tensor2D), biases[layer]);
      activations = layer < kernels.length - 1 ? tf.relu(z) : z;
    }
    return activations.reshape([-1]) as tf.Tensor1D;
  };

  const optimizer = tf.train.adam(settings.learningRate);
  let learningRate = settings.learningRate;
  const history: EpochRecord[] = [];
  let best: { epoch: number; auc: number; loss: number; weights: DenseWeights[]; valLogits: number[] } | undefined;
  let epochsSinceImprovement = 0;
  let bestValLoss = Number.POSITIVE_INFINITY;
  let epochsSinceLossImprovement = 0;
  const order = Array.from({ length: trainRows }, (_, row) => row);

  for (let epoch = 1; epoch <= settings.maxEpochs; epoch++) {
    // One pass over shuffled mini-batches.
    rng.shuffle(order);
    let lossSum = 0;
    for (let start = 0; start < trainRows; start += settings.batchSize) {
      const batch = order.slice(start, start + settings.batchSize);
      const batchX = new Float32Array(batch.length * dim);
      const batchY = new Float32Array(batch.length);
      const batchW = new Float32Array(batch.length);
      batch.forEach((row, i) => {
        batchX.set(trainX.subarray(row * dim, (row + 1) * dim), i * dim);
        batchY[i] = trainRowLabels[row];
        batchW[i] = trainRowLabels[row] === 1 ? positiveWeight : negativeWeight;
      });
      const dropoutSeed = rng.int(2 ** 31);
      const loss = tf.tidy((): tf.Scalar => {
        const x = tf.tensor2d(batchX, [batch.length, dim]);
        const y = tf.tensor1d(batchY);
        const w = tf.tensor1d(batchW);
        return optimizer.minimize(() => {
          const logits = forward(x, true, dropoutSeed);
          // Stable binary cross-entropy with logits: max(z, 0) - z * y + log(1 + exp(-|z|)).
          const perImage = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, y)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
          const dataLoss = tf.div(tf.sum(tf.mul(perImage, w)), tf.sum(w));
          const penalty = kernels.reduce<tf.Scalar>((sum, kernel) => tf.add(sum, tf.sum(tf.square(kernel))), tf.scalar(0));
          return tf.add(dataLoss, tf.mul(settings.l2, penalty)) as tf.Scalar;
        }, true) as tf.Scalar;
      });
      lossSum += (await loss.data())[0] * batch.length;
      loss.dispose();
    }

    // Evaluate on validation images (logits averaged over views).
    const valRowLogits = tf.tidy(() => forward(tf.tensor2d(valX, [valX.length / dim, dim]), false, 0).dataSync());
    const valLogits = averageViews(valRowLogits, val.views);
    const valLoss = meanCrossEntropy(val.labels, valLogits);
    const valAuc = rocAuc(val.labels, valLogits.map((logit) => 1 / (1 + Math.exp(-logit))));
    history.push({ epoch, trainLoss: lossSum / trainRows, valLoss, valAuc, learningRate });
    logger.progress({ stage: 'train head', current: epoch, total: settings.maxEpochs });

    // Keep the best epoch's weights.
    const improved =
      best === undefined ||
      (settings.selectOn === 'auc'
        ? valAuc > best.auc + 1e-9 || (Math.abs(valAuc - best.auc) <= 1e-9 && valLoss < best.loss)
        : valLoss < best.loss - 1e-6);
    if (improved) {
      best = { epoch, auc: valAuc, loss: valLoss, weights: snapshot(kernels, biases), valLogits };
      epochsSinceImprovement = 0;
    } else {
      epochsSinceImprovement++;
    }

    // Decay the learning rate on a validation-loss plateau.
    if (valLoss < bestValLoss - 1e-6) {
      bestValLoss = valLoss;
      epochsSinceLossImprovement = 0;
    } else if (++epochsSinceLossImprovement >= settings.lrPatience && learningRate > settings.minLearningRate) {
      learningRate = Math.max(settings.minLearningRate, learningRate * settings.lrFactor);
      // tfjs 4.22 Adam reads its protected `learningRate` field on every step, so assigning it
      // decays the rate without resetting the moment estimates.
      (optimizer as unknown as { learningRate: number }).learningRate = learningRate;
      epochsSinceLossImprovement = 0;
    }

    if (epochsSinceImprovement >= settings.patience) {
      logger.info(`early stopping at epoch ${epoch}: no validation ${settings.selectOn} improvement for ${settings.patience} epochs`);
      break;
    }
  }

  optimizer.dispose();
  for (const variable of [...kernels, ...biases]) variable.dispose();
  if (best === undefined) throw new RangeError('trainHead: maxEpochs must be at least 1');

  return {
    head: {
      featureDim: dim,
      mean: Array.from(mean),
      std: Array.from(std),
      layers: best.weights,
      calibration: { scale: 1, shift: 0 },
    },
    history,
    selectedEpoch: best.epoch,
    valLogits: best.valLogits,
  };
}

/**
 * Returns per-column mean and standard deviation (floored at 1e-6) of rows float32 [n, dim]. With
 * 'global', every column gets the root mean square of the per-column deviations instead.
 */
export function featureStatistics(
  rows: Float32Array,
  dim: number,
  mode: 'feature' | 'global' = 'feature',
): { mean: Float64Array; std: Float64Array } {
  const count = rows.length / dim;
  const mean = new Float64Array(dim);
  const std = new Float64Array(dim);
  for (let row = 0; row < count; row++) {
    for (let j = 0; j < dim; j++) mean[j] += rows[row * dim + j];
  }
  for (let j = 0; j < dim; j++) mean[j] /= count;
  for (let row = 0; row < count; row++) {
    for (let j = 0; j < dim; j++) std[j] += (rows[row * dim + j] - mean[j]) ** 2;
  }
  for (let j = 0; j < dim; j++) std[j] = Math.max(1e-6, Math.sqrt(std[j] / count));
  if (mode === 'global') {
    const pooled = Math.sqrt(std.reduce((sum, value) => sum + value * value, 0) / dim);
    std.fill(Math.max(1e-6, pooled));
  }
  return { mean, std };
}

/** Returns the raw logit of each image of a feature set under `head`, averaged over the image's views. */
export function imageLogits(head: HeadWeights, set: FeatureSet): number[] {
  const rows = set.features.length / set.dim;
  const logits = new Float64Array(rows);
  for (let row = 0; row < rows; row++) logits[row] = headLogit(head, set.features.subarray(row * set.dim, (row + 1) * set.dim));
  return averageViews(logits, set.views);
}

/** Averages per-row logits over consecutive groups of `views` rows. */
export function averageViews(rowLogits: ArrayLike<number>, views: number): number[] {
  const images = rowLogits.length / views;
  const out: number[] = [];
  for (let image = 0; image < images; image++) {
    let sum = 0;
    for (let view = 0; view < views; view++) sum += rowLogits[image * views + view];
    out.push(sum / views);
  }
  return out;
}

/** Returns a feature set with one row an image: the mean of the image's view rows (views = 1). */
export function meanOverViews(set: FeatureSet): FeatureSet {
  if (set.views === 1) return set;
  const { dim, views } = set;
  const images = set.labels.length;
  const features = new Float32Array(images * dim);
  for (let image = 0; image < images; image++) {
    const out = features.subarray(image * dim, (image + 1) * dim);
    for (let view = 0; view < views; view++) {
      const row = set.features.subarray((image * views + view) * dim, (image * views + view + 1) * dim);
      for (let j = 0; j < dim; j++) out[j] += row[j];
    }
    for (let j = 0; j < dim; j++) out[j] /= views;
  }
  return { features, dim, views: 1, labels: set.labels };
}

/** Mean binary cross-entropy of logits against labels, computed stably. */
export function meanCrossEntropy(labels: Label[], logits: number[]): number {
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const z = logits[i];
    // log(1 + exp(-|z|)) + max(z, 0) - z * y
    sum += Math.log1p(Math.exp(-Math.abs(z))) + Math.max(z, 0) - z * labels[i];
  }
  return sum / labels.length;
}

export function standardizeRows(rows: Float32Array, dim: number, mean: Float64Array, std: Float64Array): Float32Array {
  const out = new Float32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const j = i % dim;
    out[i] = (rows[i] - mean[j]) / std[j];
  }
  return out;
}

function snapshot(kernels: tf.Variable[], biases: tf.Variable[]): DenseWeights[] {
  return kernels.map((kernel, layer) => ({
    inputs: kernel.shape[0]!,
    units: kernel.shape[1]!,
    kernel: Array.from(kernel.dataSync()),
    bias: Array.from(biases[layer].dataSync()),
    activation: layer < kernels.length - 1 ? 'relu' : 'linear',
  }));
}
