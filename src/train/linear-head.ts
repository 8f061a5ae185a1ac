import { ConfigError } from '../errors.js';
import { rocAuc } from '../evaluate/metrics.js';
import type { Logger } from '../util/log.js';
import type { HeadWeights } from '../model/head.js';
import type { FeatureSet } from './feature-set.js';
import { rowLabels } from './feature-set.js';
import { fitLogisticRegression, plainProducts } from './logistic-regression.js';
import type { EpochRecord, HeadTrainingOptions, HeadTrainingResult } from './train-head.js';
import { averageViews, classWeightsFor, featureStatistics, meanCrossEntropy, meanOverViews, standardizeRows } from './train-head.js';

/**
 * Throws ConfigError when settings of solver 'lbfgs' ask for hidden layers or give no penalty.
 * Messages name both the option (--hidden) and the setting (hiddenUnits), for CLI and library callers.
 */
export function checkLinearHeadSettings(settings: HeadTrainingOptions): void {
  if (settings.hiddenUnits.length > 0) {
    throw new ConfigError(
      `solver 'lbfgs' fits linear heads only, but hidden layers [${settings.hiddenUnits.join(', ')}] were requested (--hidden, hiddenUnits); ` +
        "use solver 'adam' (--solver adam) for hidden layers",
    );
  }
  if (settings.l2Grid.length === 0) throw new ConfigError("solver 'lbfgs' needs at least one penalty in l2Grid");
}

/** Candidate fit for one L2 penalty. */
interface Candidate {
  l2: number;
  parameters: Float64Array;
  valLogits: number[];
  valLoss: number;
  valAuc: number;
  history: EpochRecord[];
}

/**
 * Trains a linear head by full-batch logistic regression (see fitLogisticRegression) for each
 * penalty of `settings.l2Grid`, from the largest down, each fit starting from the previous
 * solution. Keeps the penalty with the best validation AUC (ties to lower loss) or the lowest
 * validation loss, as `settings.selectOn` selects. With `settings.viewRows` 'mean', each image's
 * view rows are averaged first; otherwise validation logits are averaged over views.
 * With `settings.refit`, the returned weights are refitted on training and validation images, but
 * the returned validation logits stay those of the fit on training images alone, so calibration
 * and the threshold still see held-out logits. Throws RangeError for hidden layers or an empty
 * penalty grid.
 */
export function trainLinearHead(
  trainViews: FeatureSet,
  valViews: FeatureSet,
  settings: HeadTrainingOptions,
  logger: Logger,
): HeadTrainingResult {
  checkLinearHeadSettings(settings);
  const train = settings.viewRows === 'mean' ? meanOverViews(trainViews) : trainViews;
  const val = settings.viewRows === 'mean' ? meanOverViews(valViews) : valViews;
  const dim = train.dim;

  // Standardise with training statistics; weight rows by class.
  const { mean, std } = featureStatistics(train.features, dim, settings.standardize);
  const trainX = standardizeRows(train.features, dim, mean, std);
  const valX = standardizeRows(val.features, dim, mean, std);
  const targets = rowLabels(train);
  const [negativeWeight, positiveWeight] = classWeightsFor(train.labels, settings.classWeights);
  const weights = targets.map((target) => (target === 1 ? positiveWeight : negativeWeight));

  const validationScores = (parameters: Float64Array) => {
    const valLogits = averageViews(linearLogits(valX, dim, parameters), val.views);
    const valLoss = meanCrossEntropy(val.labels, valLogits);
    const valAuc = rocAuc(val.labels, valLogits.map((logit) => 1 / (1 + Math.exp(-logit))));
    return { valLogits, valLoss, valAuc };
  };

  // Fit every penalty, strongest first, warm-starting from the previous solution.
  const penalties = [...settings.l2Grid].sort((a, b) => b - a);
  const candidates: Candidate[] = [];
  let initial: Float64Array | undefined;
  for (const [index, l2] of penalties.entries()) {
    const history: EpochRecord[] = [];
    const fit = fitLogisticRegression(
      { x: trainX, dim, targets, weights },
      {
        l2,
        maxIterations: settings.maxIterations,
        tolerance: 1e-7,
        initial,
        onIteration: (parameters, objective, stepLength) => {
          const scores = validationScores(parameters);
          history.push({ epoch: history.length + 1, trainLoss: objective, valLoss: scores.valLoss, valAuc: scores.valAuc, learningRate: stepLength });
        },
      },
    );
    initial = fit.parameters;
    const scores = validationScores(fit.parameters);
    // A warm start already at the optimum records no iteration; keep one point for the report.
    if (history.length === 0) history.push({ epoch: 1, trainLoss: fit.objective, valLoss: scores.valLoss, valAuc: scores.valAuc, learningRate: 0 });
    candidates.push({ l2, parameters: fit.parameters, ...scores, history });
    logger.info(`linear head, L2 ${l2}: ${history.length} L-BFGS iterations, validation AUC ${scores.valAuc.toFixed(4)}, loss ${scores.valLoss.toFixed(4)}`);
    logger.progress({ stage: 'train head', current: index + 1, total: penalties.length });
  }

  // Keep the best penalty on validation.
  let best = candidates[0];
  for (const candidate of candidates.slice(1)) {
    const better =
      settings.selectOn === 'auc'
        ? candidate.valAuc > best.valAuc + 1e-9 || (Math.abs(candidate.valAuc - best.valAuc) <= 1e-9 && candidate.valLoss < best.valLoss)
        : candidate.valLoss < best.valLoss;
    if (better) best = candidate;
  }

  const history = best.history;
  let head = { mean, std, parameters: best.parameters };
  if (settings.refit) {
    head = fitOnSets([train, val], settings, best.l2, best.parameters);
    logger.info(`linear head: refitted on training and validation images with L2 ${best.l2}`);
  }
  return {
    head: {
      featureDim: dim,
      mean: Array.from(head.mean),
      std: Array.from(head.std),
      layers: [{ inputs: dim, units: 1, kernel: Array.from(head.parameters.subarray(0, dim)), bias: [head.parameters[dim]], activation: 'linear' }],
      calibration: { scale: 1, shift: 0 },
    },
    history,
    selectedEpoch: history.length,
    selectedL2: best.l2,
    valLogits: best.valLogits,
  };
}

/**
 * Fits a linear head with one fixed L2 penalty on the images of several feature sets together
 * (same `dim` and `views`), standardised with their joint statistics, and returns it as head
 * weights with identity calibration. Used for cross-fitted calibration logits. `warmStart` is a
 * linear head fitted on similar data. It is rewritten into this fit's standardisation and used as
 * the starting point. The problem is convex, so a start changes the iteration count, not the optimum.
 */
export function fitLinearHeadOn(sets: FeatureSet[], settings: HeadTrainingOptions, l2: number, warmStart?: HeadWeights): HeadWeights {
  const dim = sets[0].dim;
  const fit = fitOnSets(sets, settings, l2, warmStart);
  return {
    featureDim: dim,
    mean: Array.from(fit.mean),
    std: Array.from(fit.std),
    layers: [{ inputs: dim, units: 1, kernel: Array.from(fit.parameters.subarray(0, dim)), bias: [fit.parameters[dim]], activation: 'linear' }],
    calibration: { scale: 1, shift: 0 },
  };
}

function fitOnSets(
  viewSets: FeatureSet[],
  settings: HeadTrainingOptions,
  l2: number,
  start?: Float64Array | HeadWeights,
): { mean: Float64Array; std: Float64Array; parameters: Float64Array } {
  const sets = settings.viewRows === 'mean' ? viewSets.map(meanOverViews) : viewSets;
  const dim = sets[0].dim;
  const features = new Float32Array(sets.reduce((sum, set) => sum + set.features.length, 0));
  let offset = 0;
  for (const set of sets) {
    features.set(set.features, offset);
    offset += set.features.length;
  }
  const { mean, std } = featureStatistics(features, dim, settings.standardize);
  const x = standardizeRows(features, dim, mean, std);
  const initial = start instanceof Float64Array || start === undefined ? start : restandardize(start, mean, std);

  const targets = Float32Array.from(sets.flatMap((set) => Array.from(rowLabels(set))));
  const [negativeWeight, positiveWeight] = classWeightsFor(sets.flatMap((set) => set.labels), settings.classWeights);
  const weights = targets.map((target) => (target === 1 ? positiveWeight : negativeWeight));
  const fit = fitLogisticRegression({ x, dim, targets, weights }, { l2, maxIterations: settings.maxIterations, tolerance: 1e-7, initial });
  return { mean, std, parameters: fit.parameters };
}

/**
 * Rewrites a linear head as parameters [kernel, bias] over features standardised with `mean` and
 * `std`, computing the same logit for every raw feature vector.
 */
function restandardize(head: HeadWeights, mean: Float64Array, std: Float64Array): Float64Array {
  const layer = head.layers[0];
  if (head.layers.length !== 1 || layer.units !== 1) throw new RangeError('restandardize: expected a linear head with one output');
  const dim = head.featureDim;
  const parameters = new Float64Array(dim + 1);
  let bias = layer.bias[0];
  for (let j = 0; j < dim; j++) {
    // kernel * (raw - oldMean) / oldStd with raw = mean + std * standardised.
    parameters[j] = (layer.kernel[j] * std[j]) / head.std[j];
    bias += (layer.kernel[j] * (mean[j] - head.mean[j])) / head.std[j];
  }
  parameters[dim] = bias;
  return parameters;
}

/** Computes x * kernel + bias for each row of standardised x float32 [rows, dim]; parameters are [kernel, bias]. */
function linearLogits(x: Float32Array, dim: number, parameters: Float64Array): Float64Array {
  const dots = plainProducts(x, x.length / dim, dim).rowDots(parameters);
  return Float64Array.from(dots, (dot) => dot + parameters[dim]);
}
