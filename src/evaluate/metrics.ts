/**
 * Metrics for binary benign/malignant classification.
 *
 * Every function takes `(yTrue, yProb, ...)`: `yTrue` contains labels in {0, 1} (1 = malignant, the
 * positive class) and `yProb` contains malignancy probabilities in [0, 1], one per label. No function
 * applies a sigmoid or an implicit threshold. Where a threshold is an argument, a case is predicted
 * malignant when `probability >= threshold`.
 */
import { DataError, ConfigError } from '../errors.js';
import { Rng } from '../util/rng.js';

/** Confusion matrix laid out as `[[tn, fp], [fn, tp]]`: rows are the true class, columns the predicted class. */
export type ConfusionMatrix = [[number, number], [number, number]];

/** Points of a ROC curve, ordered from the strictest threshold to the loosest. */
export interface RocCurve {
  /** False positive rate at each threshold, in [0, 1], non-decreasing. */
  fpr: number[];
  /** True positive rate (sensitivity) at each threshold, in [0, 1], non-decreasing. */
  tpr: number[];
  /**
   * Threshold of each point, decreasing. The first is `Infinity` (nothing predicted malignant,
   * which `JSON.stringify` writes as null); the others are the distinct probabilities in the data.
   */
  thresholds: number[];
}

/**
 * Headline metrics of one split at one threshold. Rates whose denominator is zero (0/0) are null:
 * `ppv` when no case is predicted malignant and `npv` when no case is predicted benign.
 * `sensitivity`, `specificity` and `f1` are never 0/0 because both classes must be present.
 */
export interface BinaryMetrics {
  n: number;
  /** Number of malignant cases. */
  positives: number;
  /** Number of benign cases. */
  negatives: number;
  /** Area under the ROC curve (Mann-Whitney, ties count 0.5). */
  auc: number;
  /** 95% stratified percentile bootstrap interval of the AUC (see `bootstrapAucCi`). */
  aucCi95: [number, number];
  accuracy: number;
  /** tp / (tp + fn), also called recall of the malignant class. */
  sensitivity: number;
  /** tn / (tn + fp). */
  specificity: number;
  /** tp / (tp + fp), or null when nothing is predicted malignant. */
  ppv: number | null;
  /** tn / (tn + fn), or null when nothing is predicted benign. */
  npv: number | null;
  /** 2 tp / (2 tp + fp + fn), the F1 score of the malignant class. */
  f1: number;
  /** Decision threshold on the malignancy probability; malignant when probability >= threshold. */
  threshold: number;
  confusionMatrix: ConfusionMatrix;
  /** Expected calibration error over 10 equal-width bins (see `expectedCalibrationError`). */
  ece: number;
  /** Brier score: mean of (probability - label)^2. */
  brier: number;
}

/** One equal-width probability bin of a reliability diagram. */
export interface ReliabilityBin {
  /** Lower edge of the bin (inclusive). */
  lower: number;
  /** Upper edge of the bin (exclusive, except 1.0 for the last bin). */
  upper: number;
  /** Number of cases whose probability falls in the bin. */
  count: number;
  /** Mean predicted probability in the bin, or null when the bin is empty. */
  meanProbability: number | null;
  /** Observed fraction of malignant cases in the bin, or null when the bin is empty. */
  fractionPositive: number | null;
}

/** Precision, recall, F1 and support of one class; a 0/0 rate is null. */
export interface ClassScores {
  precision: number | null;
  recall: number | null;
  f1: number | null;
  /** Number of true cases of the class. */
  support: number;
}

/** Per-class scores like scikit-learn's `classification_report`, for one threshold. */
export interface PerClassReport {
  benign: ClassScores;
  malignant: ClassScores;
  accuracy: number;
  /** Unweighted mean over the two classes; a field is null when either class has it null. */
  macroAvg: ClassScores;
  /** Mean weighted by support; a field is null when either class has it null. */
  weightedAvg: ClassScores;
}

/** Options of `bootstrapAucCi`. */
export interface BootstrapOptions {
  /** Number of bootstrap resamples. Defaults to 2000. */
  iterations?: number;
  /** Seed of the resampling, so the interval is reproducible. */
  seed: number;
  /** Coverage of the interval, in (0, 1). Defaults to 0.95. */
  level?: number;
}

/** Options of `binaryMetrics`. */
export interface BinaryMetricsOptions {
  /** Seed of the AUC bootstrap. */
  seed: number;
  /** Number of bootstrap resamples for the AUC interval. Defaults to 2000. */
  bootstrapIterations?: number;
}

/** Checks labels and probabilities and returns the class counts. Throws DataError on bad input. */
function validateInputs(yTrue: ArrayLike<number>, yProb: ArrayLike<number>): { positives: number; negatives: number } {
  if (yTrue.length !== yProb.length) {
    throw new DataError(`metrics: expected as many probabilities as labels, received ${yTrue.length} labels and ${yProb.length} probabilities`);
  }
  if (yTrue.length === 0) {
    throw new DataError('metrics: expected at least one case, received none');
  }
  let positives = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const label = yTrue[i];
    if (label !== 0 && label !== 1) {
      throw new DataError(`metrics: expected labels in {0, 1}, received ${label} at index ${i}`);
    }
    const probability = yProb[i];
    if (!(probability >= 0 && probability <= 1)) {
      throw new DataError(`metrics: expected probabilities in [0, 1], received ${probability} at index ${i}`);
    }
    positives += label;
  }
  return { positives, negatives: yTrue.length - positives };
}

/** Throws DataError with the class counts unless both classes are present. */
function requireBothClasses(counts: { positives: number; negatives: number }, context: string): void {
  if (counts.positives === 0 || counts.negatives === 0) {
    throw new DataError(
      `${context}: both classes are needed, received ${counts.negatives} benign and ${counts.positives} malignant cases. ` +
        'Evaluate on data that contains benign and malignant images.',
    );
  }
}

function validateThreshold(threshold: number): void {
  if (Number.isNaN(threshold)) {
    throw new ConfigError('metrics: expected a numeric threshold, received NaN');
  }
}

/** Returns `numerator / denominator`, or null when the denominator is zero. */
function ratio(numerator: number, denominator: number): number | null {
  return denominator === 0 ? null : numerator / denominator;
}

/**
 * Counts the confusion matrix `[[tn, fp], [fn, tp]]` at `threshold`
 * (malignant when probability >= threshold; any threshold, including ±Infinity, is accepted).
 */
export function confusionMatrix(yTrue: ArrayLike<number>, yProb: ArrayLike<number>, threshold: number): ConfusionMatrix {
  validateInputs(yTrue, yProb);
  validateThreshold(threshold);
  return confusionMatrixOfCalls(yTrue, Array.from(yProb, (probability) => (probability >= threshold ? 1 : 0)));
}

/** Confusion matrix of given calls (1 = called malignant, 0 = called benign) against the labels. */
function confusionMatrixOfCalls(yTrue: ArrayLike<number>, calls: ArrayLike<number>): ConfusionMatrix {
  let tn = 0;
  let fp = 0;
  let fn = 0;
  let tp = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const predictedMalignant = calls[i] === 1;
    if (yTrue[i] === 1) {
      if (predictedMalignant) tp++;
      else fn++;
    } else if (predictedMalignant) {
      fp++;
    } else {
      tn++;
    }
  }
  return [
    [tn, fp],
    [fn, tp],
  ];
}

/**
 * Computes the ROC curve with one point per distinct probability, so tied probabilities move the
 * curve diagonally in one step instead of in an order-dependent staircase. Throws DataError with
 * the class counts when one class is absent.
 */
export function rocCurve(yTrue: ArrayLike<number>, yProb: ArrayLike<number>): RocCurve {
  const counts = validateInputs(yTrue, yProb);
  requireBothClasses(counts, 'ROC curve');

  const order = Array.from({ length: yTrue.length }, (_, i) => i).sort((a, b) => yProb[b] - yProb[a]);
  const fpr = [0];
  const tpr = [0];
  const thresholds = [Infinity];
  let tp = 0;
  let fp = 0;
  let k = 0;
  while (k < order.length) {
    // Take every case tied at this probability before emitting a point.
    const threshold = yProb[order[k]];
    while (k < order.length && yProb[order[k]] === threshold) {
      if (yTrue[order[k]] === 1) tp++;
      else fp++;
      k++;
    }
    fpr.push(fp / counts.negatives);
    tpr.push(tp / counts.positives);
    thresholds.push(threshold);
  }
  return { fpr, tpr, thresholds };
}

/**
 * Computes the ROC AUC as the Mann-Whitney U statistic divided by positives * negatives:
 * the probability that a random malignant case scores higher than a random benign one, with
 * ties counting 0.5. Throws DataError with the class counts when one class is absent.
 */
export function rocAuc(yTrue: ArrayLike<number>, yProb: ArrayLike<number>): number {
  const counts = validateInputs(yTrue, yProb);
  requireBothClasses(counts, 'ROC AUC');
  const order = Array.from({ length: yTrue.length }, (_, i) => i).sort((a, b) => yProb[a] - yProb[b]);
  const weights = new Float64Array(yTrue.length).fill(1);
  return weightedAucSorted(order, yTrue, yProb, weights, counts.positives, counts.negatives);
}

/**
 * AUC over cases given in ascending probability order, each case counted `weights[i]` times.
 * Each positive scores the weight of negatives below it plus half the weight of tied negatives.
 */
function weightedAucSorted(
  ascending: readonly number[],
  yTrue: ArrayLike<number>,
  yProb: ArrayLike<number>,
  weights: Float64Array,
  positives: number,
  negatives: number,
): number {
  let negativesBelow = 0;
  let wins = 0;
  let k = 0;
  while (k < ascending.length) {
    const probability = yProb[ascending[k]];
    let tiedPositives = 0;
    let tiedNegatives = 0;
    while (k < ascending.length && yProb[ascending[k]] === probability) {
      const index = ascending[k];
      if (yTrue[index] === 1) tiedPositives += weights[index];
      else tiedNegatives += weights[index];
      k++;
    }
    wins += tiedPositives * (negativesBelow + 0.5 * tiedNegatives);
    negativesBelow += tiedNegatives;
  }
  return wins / (positives * negatives);
}

/**
 * Estimates a confidence interval of the ROC AUC by stratified percentile bootstrap.
 *
 * Each of `iterations` resamples draws malignant cases with replacement from the malignant ones,
 * and benign cases from the benign ones, as many of each as the data has. So every resample keeps
 * the class counts and always has a defined AUC. The bounds are the (1 - level) / 2 and
 * (1 + level) / 2 quantiles of the resampled AUCs, linearly interpolated between order statistics
 * (numpy's default percentile method). The same seed gives the same interval.
 * Throws DataError with the class counts when one class is absent and ConfigError on bad options.
 */
export function bootstrapAucCi(
  yTrue: ArrayLike<number>,
  yProb: ArrayLike<number>,
  options: BootstrapOptions,
): [number, number] {
  const iterations = options.iterations ?? 2000;
  const level = options.level ?? 0.95;
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new ConfigError(`bootstrap: expected a positive integer number of iterations, received ${iterations}`);
  }
  if (!(level > 0 && level < 1)) {
    throw new ConfigError(`bootstrap: expected a level in (0, 1), received ${level}`);
  }
  if (!Number.isFinite(options.seed)) {
    throw new ConfigError(`bootstrap: expected a finite seed, received ${options.seed}`);
  }
  const counts = validateInputs(yTrue, yProb);
  requireBothClasses(counts, 'AUC bootstrap');

  // Sort once; each resample is then a vector of per-case multiplicities.
  const ascending = Array.from({ length: yTrue.length }, (_, i) => i).sort((a, b) => yProb[a] - yProb[b]);
  const positiveIndices: number[] = [];
  const negativeIndices: number[] = [];
  for (let i = 0; i < yTrue.length; i++) {
    if (yTrue[i] === 1) positiveIndices.push(i);
    else negativeIndices.push(i);
  }

  const rng = new Rng(options.seed);
  const weights = new Float64Array(yTrue.length);
  const aucs = new Float64Array(iterations);
  for (let iteration = 0; iteration < iterations; iteration++) {
    weights.fill(0);
    for (let j = 0; j < positiveIndices.length; j++) weights[positiveIndices[rng.int(positiveIndices.length)]]++;
    for (let j = 0; j < negativeIndices.length; j++) weights[negativeIndices[rng.int(negativeIndices.length)]]++;
    aucs[iteration] = weightedAucSorted(ascending, yTrue, yProb, weights, counts.positives, counts.negatives);
  }
  aucs.sort();
  return [quantileSorted(aucs, (1 - level) / 2), quantileSorted(aucs, (1 + level) / 2)];
}

/** Quantile `q` in [0, 1] of ascending values, interpolating linearly between order statistics. */
function quantileSorted(sorted: Float64Array, q: number): number {
  const position = q * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
}

function validateBinCount(bins: number): void {
  if (!Number.isInteger(bins) || bins < 1) {
    throw new ConfigError(`calibration: expected a positive integer number of bins, received ${bins}`);
  }
}

/**
 * Groups cases into `bins` equal-width probability bins over [0, 1] for a reliability diagram.
 * Bin b covers [b / bins, (b + 1) / bins), and the last bin also includes 1.0.
 */
export function reliabilityBins(yTrue: ArrayLike<number>, yProb: ArrayLike<number>, bins = 10): ReliabilityBin[] {
  validateInputs(yTrue, yProb);
  validateBinCount(bins);
  const counts = new Array<number>(bins).fill(0);
  const probabilitySums = new Array<number>(bins).fill(0);
  const positiveCounts = new Array<number>(bins).fill(0);
  for (let i = 0; i < yTrue.length; i++) {
    const bin = Math.min(Math.floor(yProb[i] * bins), bins - 1);
    counts[bin]++;
    probabilitySums[bin] += yProb[i];
    positiveCounts[bin] += yTrue[i];
  }
  return counts.map((count, bin) => ({
    lower: bin / bins,
    upper: (bin + 1) / bins,
    count,
    meanProbability: ratio(probabilitySums[bin], count),
    fractionPositive: ratio(positiveCounts[bin], count),
  }));
}

/**
 * Computes the expected calibration error over `bins` equal-width bins (see `reliabilityBins`):
 * the sum over non-empty bins of (count / n) * |fraction malignant - mean probability|.
 * Single-class input is allowed.
 */
export function expectedCalibrationError(yTrue: ArrayLike<number>, yProb: ArrayLike<number>, bins = 10): number {
  let error = 0;
  for (const bin of reliabilityBins(yTrue, yProb, bins)) {
    if (bin.count === 0) continue;
    error += (bin.count / yTrue.length) * Math.abs((bin.fractionPositive as number) - (bin.meanProbability as number));
  }
  return error;
}

/** Computes the Brier score, the mean of (probability - label)^2, in [0, 1]. Single-class input is allowed. */
export function brierScore(yTrue: ArrayLike<number>, yProb: ArrayLike<number>): number {
  validateInputs(yTrue, yProb);
  let sum = 0;
  for (let i = 0; i < yTrue.length; i++) sum += (yProb[i] - yTrue[i]) ** 2;
  return sum / yTrue.length;
}

/**
 * Returns the highest specificity among the points of an ROC curve whose sensitivity is >=
 * `target`: the best a threshold chosen on this very data could do, so an optimistic number.
 */
export function specificityAtSensitivity(roc: RocCurve, target: number): number {
  let best = 0;
  for (let i = 0; i < roc.tpr.length; i++) {
    if (roc.tpr[i] >= target - 1e-12) best = Math.max(best, 1 - roc.fpr[i]);
  }
  return best;
}

/**
 * Returns the highest threshold whose sensitivity on this data is >= `target`, which is the
 * probability of the k-th most probable malignant case, k = ceil(target * positives).
 * Meant for the validation split; the sensitivity on other data can be lower.
 * Throws ConfigError unless 0 < target <= 1, and DataError when there is no malignant case.
 */
export function thresholdForSensitivity(yTrue: ArrayLike<number>, yProb: ArrayLike<number>, target: number): number {
  if (!(target > 0 && target <= 1)) {
    throw new ConfigError(`target sensitivity: expected a value in (0, 1], received ${target}`);
  }
  const counts = validateInputs(yTrue, yProb);
  if (counts.positives === 0) {
    throw new DataError(
      `target sensitivity: at least one malignant case is needed, received ${counts.negatives} benign and 0 malignant cases`,
    );
  }
  const positiveProbabilities: number[] = [];
  for (let i = 0; i < yTrue.length; i++) {
    if (yTrue[i] === 1) positiveProbabilities.push(yProb[i]);
  }
  positiveProbabilities.sort((a, b) => b - a);
  // The small tolerance keeps 0.9 * 30 = 27.000000000000004 from asking for 28 cases.
  const needed = Math.max(1, Math.ceil(target * counts.positives - 1e-9));
  return positiveProbabilities[needed - 1];
}

/**
 * Computes precision, recall, F1 and support of each class at `threshold`, with accuracy and
 * macro and weighted averages, like scikit-learn's `classification_report`. Rates that are 0/0 are
 * null (scikit-learn reports them as 0 with a warning). Single-class input is allowed.
 */
export function perClassReport(yTrue: ArrayLike<number>, yProb: ArrayLike<number>, threshold: number): PerClassReport {
  const [[tn, fp], [fn, tp]] = confusionMatrix(yTrue, yProb, threshold);
  const malignant = classScores(tp, fp, fn);
  const benign = classScores(tn, fn, fp);
  const n = tn + fp + fn + tp;
  const average = (weightBenign: number, weightMalignant: number, field: 'precision' | 'recall' | 'f1'): number | null => {
    const a = benign[field];
    const b = malignant[field];
    if (a === null || b === null) return null;
    return (weightBenign * a + weightMalignant * b) / (weightBenign + weightMalignant);
  };
  return {
    benign,
    malignant,
    accuracy: (tp + tn) / n,
    macroAvg: {
      precision: average(1, 1, 'precision'),
      recall: average(1, 1, 'recall'),
      f1: average(1, 1, 'f1'),
      support: n,
    },
    weightedAvg: {
      precision: average(benign.support, malignant.support, 'precision'),
      recall: average(benign.support, malignant.support, 'recall'),
      f1: average(benign.support, malignant.support, 'f1'),
      support: n,
    },
  };
}

/** Scores of one class from its own true positives, false positives and false negatives. */
function classScores(truePositives: number, falsePositives: number, falseNegatives: number): ClassScores {
  return {
    precision: ratio(truePositives, truePositives + falsePositives),
    recall: ratio(truePositives, truePositives + falseNegatives),
    f1: ratio(2 * truePositives, 2 * truePositives + falsePositives + falseNegatives),
    support: truePositives + falseNegatives,
  };
}

/**
 * Computes the headline metrics of one split at `threshold`, with a stratified bootstrap 95%
 * interval of the AUC. Throws DataError with the class counts when one class is absent.
 */
export function binaryMetrics(
  yTrue: ArrayLike<number>,
  yProb: ArrayLike<number>,
  threshold: number,
  options: BinaryMetricsOptions,
): BinaryMetrics {
  validateInputs(yTrue, yProb);
  validateThreshold(threshold);
  const calls = Array.from(yProb, (probability) => (probability >= threshold ? 1 : 0));
  return { ...metricsOfCalls(yTrue, yProb, calls, options), threshold };
}

/**
 * Computes the headline metrics when each case was called with its own threshold, as in pooled
 * cross-validation. The rates and the confusion matrix come from `calls` (1 = called malignant);
 * the AUC, calibration and Brier score come from the probabilities. Throws DataError on bad input.
 */
export function metricsOfCalls(
  yTrue: ArrayLike<number>,
  yProb: ArrayLike<number>,
  calls: ArrayLike<number>,
  options: BinaryMetricsOptions,
): Omit<BinaryMetrics, 'threshold'> {
  const counts = validateInputs(yTrue, yProb);
  requireBothClasses(counts, 'metrics');
  if (calls.length !== yTrue.length || Array.prototype.some.call(calls, (call: number) => call !== 0 && call !== 1)) {
    throw new DataError(`metrics: expected ${yTrue.length} calls of 0 or 1, received ${calls.length} values`);
  }
  const matrix = confusionMatrixOfCalls(yTrue, calls);
  const [[tn, fp], [fn, tp]] = matrix;
  return {
    n: yTrue.length,
    positives: counts.positives,
    negatives: counts.negatives,
    auc: rocAuc(yTrue, yProb),
    aucCi95: bootstrapAucCi(yTrue, yProb, { iterations: options.bootstrapIterations ?? 2000, seed: options.seed, level: 0.95 }),
    accuracy: (tp + tn) / yTrue.length,
    sensitivity: tp / (tp + fn),
    specificity: tn / (tn + fp),
    ppv: ratio(tp, tp + fp),
    npv: ratio(tn, tn + fn),
    f1: (2 * tp) / (2 * tp + fp + fn),
    confusionMatrix: matrix,
    ece: expectedCalibrationError(yTrue, yProb, 10),
    brier: brierScore(yTrue, yProb),
  };
}
