import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ConfigError, DataError } from '../errors.js';
import {
  binaryMetrics,
  bootstrapAucCi,
  brierScore,
  confusionMatrix,
  expectedCalibrationError,
  metricsOfCalls,
  perClassReport,
  reliabilityBins,
  rocAuc,
  rocCurve,
  specificityAtSensitivity,
  thresholdForSensitivity,
} from './metrics.js';

const TOLERANCE = 1e-12;

function assertClose(actual: number | null, expected: number, message?: string): void {
  assert.ok(actual !== null, message ?? `expected ${expected}, received null`);
  assert.ok(Math.abs(actual - expected) <= TOLERANCE, message ?? `expected ${expected}, received ${actual}`);
}

/** Trapezoidal area under a ROC curve. */
function trapezoidArea(fpr: number[], tpr: number[]): number {
  let area = 0;
  for (let i = 1; i < fpr.length; i++) area += ((fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1])) / 2;
  return area;
}

// Ten cases used by several tests:
//   benign     0.05 0.10 0.20 0.30 0.45 0.60
//   malignant  0.40 0.70 0.80 0.95
const TEN_TRUE = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1];
const TEN_PROB = [0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.4, 0.7, 0.8, 0.95];

test('rocAuc on four cases', () => {
  // Malignant 0.35 beats benign 0.1 and loses to 0.4; malignant 0.8 beats both: 3 of 4 pairs.
  assertClose(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 0.75);
});

test('rocAuc counts ties as half', () => {
  // Malignant 0.5: tie with benign 0.5 (0.5) and win over 0.2 (1). Malignant 0.9: 2 wins. 3.5 / 4.
  assertClose(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]), 0.875);
  // Every score tied: every pair counts 0.5.
  assertClose(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]), 0.5);
});

test('rocAuc perfect and inverted scores', () => {
  assertClose(rocAuc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]), 1);
  assertClose(rocAuc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]), 0);
});

test('rocAuc on ten cases', () => {
  // Malignant 0.40 beats 4 benign, 0.70, 0.80 and 0.95 beat all 6: (4 + 6 + 6 + 6) / 24.
  assertClose(rocAuc(TEN_TRUE, TEN_PROB), 22 / 24);
});

test('rocAuc one class throws with counts', () => {
  assert.throws(() => rocAuc([1, 1, 1], [0.2, 0.5, 0.9]), (error: unknown) => {
    assert.ok(error instanceof DataError);
    assert.match(error.message, /0 benign and 3 malignant/);
    return true;
  });
  assert.throws(() => rocAuc([0, 0], [0.2, 0.5]), /2 benign and 0 malignant/);
});

test('metrics reject invalid inputs', () => {
  assert.throws(() => rocAuc([0, 1], [0.5]), DataError);
  assert.throws(() => rocAuc([], []), DataError);
  assert.throws(() => rocAuc([0, 2], [0.1, 0.2]), /labels in \{0, 1\}, received 2 at index 1/);
  assert.throws(() => rocAuc([0, 1], [0.1, 1.5]), /probabilities in \[0, 1\], received 1.5 at index 1/);
  assert.throws(() => rocAuc([0, 1], [0.1, Number.NaN]), DataError);
  assert.throws(() => confusionMatrix([0, 1], [0.1, 0.2], Number.NaN), ConfigError);
});

test('rocCurve on four cases', () => {
  // Descending: 0.8 (M), 0.4 (B), 0.35 (M), 0.1 (B).
  const curve = rocCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]);
  assert.deepEqual(curve.thresholds, [Infinity, 0.8, 0.4, 0.35, 0.1]);
  assert.deepEqual(curve.fpr, [0, 0, 0.5, 0.5, 1]);
  assert.deepEqual(curve.tpr, [0, 0.5, 0.5, 1, 1]);
});

test('rocCurve merges tied scores', () => {
  // 0.9 (M) -> (0, 0.5); 0.5 has one M and one B -> one diagonal step to (0.5, 1); 0.2 (B) -> (1, 1).
  const curve = rocCurve([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]);
  assert.deepEqual(curve.thresholds, [Infinity, 0.9, 0.5, 0.2]);
  assert.deepEqual(curve.fpr, [0, 0, 0.5, 1]);
  assert.deepEqual(curve.tpr, [0, 0.5, 1, 1]);
  assertClose(trapezoidArea(curve.fpr, curve.tpr), 0.875);
});

test('rocCurve area equals rocAuc', () => {
  const curve = rocCurve(TEN_TRUE, TEN_PROB);
  assertClose(trapezoidArea(curve.fpr, curve.tpr), rocAuc(TEN_TRUE, TEN_PROB));
});

test('confusionMatrix threshold edges', () => {
  const yTrue = [0, 0, 1, 1];
  const yProb = [0.1, 0.4, 0.35, 0.8];
  // A probability equal to the threshold counts as malignant: 0.4 (B) is a false positive.
  assert.deepEqual(confusionMatrix(yTrue, yProb, 0.4), [[1, 1], [1, 1]]);
  // Threshold 0: everything malignant.
  assert.deepEqual(confusionMatrix(yTrue, yProb, 0), [[0, 2], [0, 2]]);
  // Threshold at the top score: only 0.8 is malignant.
  assert.deepEqual(confusionMatrix(yTrue, yProb, 0.8), [[2, 0], [1, 1]]);
  // Above every score, including Infinity: everything benign.
  assert.deepEqual(confusionMatrix(yTrue, yProb, 0.81), [[2, 0], [2, 0]]);
  assert.deepEqual(confusionMatrix(yTrue, yProb, Infinity), [[2, 0], [2, 0]]);
  // Threshold 1 keeps a probability of exactly 1 malignant.
  assert.deepEqual(confusionMatrix([0, 1], [0.99, 1], 1), [[1, 0], [0, 1]]);
});

test('binaryMetrics on ten cases', () => {
  // At 0.5: tp = 3 (0.7, 0.8, 0.95), fn = 1 (0.4), fp = 1 (0.6), tn = 5.
  const metrics = binaryMetrics(TEN_TRUE, TEN_PROB, 0.5, { seed: 7, bootstrapIterations: 500 });
  assert.equal(metrics.n, 10);
  assert.equal(metrics.positives, 4);
  assert.equal(metrics.negatives, 6);
  assert.deepEqual(metrics.confusionMatrix, [[5, 1], [1, 3]]);
  assertClose(metrics.accuracy, 0.8);
  assertClose(metrics.sensitivity, 0.75);
  assertClose(metrics.specificity, 5 / 6);
  assertClose(metrics.ppv, 0.75);
  assertClose(metrics.npv, 5 / 6);
  // F1 = 2 tp / (2 tp + fp + fn) = 6 / 8.
  assertClose(metrics.f1, 0.75);
  assert.equal(metrics.threshold, 0.5);
  assertClose(metrics.auc, 22 / 24);
  // Brier: benign 0.0025 + 0.01 + 0.04 + 0.09 + 0.2025 + 0.36 = 0.705,
  // malignant 0.36 + 0.09 + 0.04 + 0.0025 = 0.4925; (0.705 + 0.4925) / 10.
  assertClose(metrics.brier, 0.11975);
  // ECE: bins 0,1,2,3,6,7,8,9 contain one case each with gaps 0.05, 0.1, 0.2, 0.3, 0.6, 0.3, 0.2, 0.05
  // (sum 1.8); bin 4 contains 0.40 (M) and 0.45 (B): |0.5 - 0.425| = 0.075 with weight 2.
  // (1.8 + 2 * 0.075) / 10 = 0.195.
  assertClose(metrics.ece, 0.195);
  assert.ok(metrics.aucCi95[0] <= metrics.auc);
  assert.ok(metrics.aucCi95[1] >= metrics.auc);
  assert.deepEqual(Object.keys(metrics).sort(), [
    'accuracy', 'auc', 'aucCi95', 'brier', 'confusionMatrix', 'ece', 'f1', 'n', 'negatives', 'npv',
    'positives', 'ppv', 'sensitivity', 'specificity', 'threshold',
  ]);
});

test('binaryMetrics null ppv without positive predictions', () => {
  // Threshold above every score: tp = fp = 0, so ppv = 0/0; npv = 6 / 10.
  const metrics = binaryMetrics(TEN_TRUE, TEN_PROB, 0.99, { seed: 1, bootstrapIterations: 50 });
  assert.equal(metrics.ppv, null);
  assertClose(metrics.npv, 0.6);
  assertClose(metrics.sensitivity, 0);
  assertClose(metrics.f1, 0);
  // Threshold 0: tn = fn = 0, so npv = 0/0.
  assert.equal(binaryMetrics(TEN_TRUE, TEN_PROB, 0, { seed: 1, bootstrapIterations: 50 }).npv, null);
});

test('metricsOfCalls uses the calls for rates and the probabilities for the AUC', () => {
  const atHalf = binaryMetrics(TEN_TRUE, TEN_PROB, 0.5, { seed: 7, bootstrapIterations: 500 });
  const sameCalls = Array.from(TEN_PROB, (probability) => (probability >= 0.5 ? 1 : 0));
  const { threshold, ...rest } = atHalf;
  assert.equal(threshold, 0.5);
  assert.deepEqual(metricsOfCalls(TEN_TRUE, TEN_PROB, sameCalls, { seed: 7, bootstrapIterations: 500 }), rest);
  // Calling every case malignant: tp = 4, fp = 6; the AUC and calibration do not change.
  const allMalignant = metricsOfCalls(TEN_TRUE, TEN_PROB, new Array(10).fill(1), { seed: 7, bootstrapIterations: 500 });
  assert.deepEqual(allMalignant.confusionMatrix, [[0, 6], [0, 4]]);
  assertClose(allMalignant.sensitivity, 1);
  assertClose(allMalignant.specificity, 0);
  assertClose(allMalignant.auc, atHalf.auc);
  assertClose(allMalignant.ece, atHalf.ece);
  assert.throws(() => metricsOfCalls(TEN_TRUE, TEN_PROB, [1, 0], { seed: 1 }), /expected 10 calls of 0 or 1, received 2 values/);
  assert.throws(() => metricsOfCalls(TEN_TRUE, TEN_PROB, new Array(10).fill(0.5), { seed: 1 }), /calls of 0 or 1/);
});

test('binaryMetrics one class throws', () => {
  assert.throws(() => binaryMetrics([0, 0, 0], [0.1, 0.2, 0.3], 0.5, { seed: 1 }), /3 benign and 0 malignant/);
});

test('bootstrapAucCi is seeded and ordered', () => {
  const first = bootstrapAucCi(TEN_TRUE, TEN_PROB, { seed: 42, iterations: 1000 });
  const second = bootstrapAucCi(TEN_TRUE, TEN_PROB, { seed: 42, iterations: 1000 });
  assert.deepEqual(first, second);
  assert.ok(first[0] <= first[1]);
  assert.ok(first[0] >= 0);
  assert.ok(first[1] <= 1);
  const narrow = bootstrapAucCi(TEN_TRUE, TEN_PROB, { seed: 42, iterations: 1000, level: 0.5 });
  assert.ok(narrow[0] >= first[0]);
  assert.ok(narrow[1] <= first[1]);
});

test('bootstrapAucCi perfect separation', () => {
  // Every resample keeps both classes and every malignant score above every benign one.
  assert.deepEqual(bootstrapAucCi([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], { seed: 3, iterations: 200 }), [1, 1]);
});

test('bootstrapAucCi covers a known AUC', () => {
  // 200 benign scores i/400 and 200 malignant scores 0.25 + i/400 (i = 0..199): a malignant
  // score s beats the benign scores below it, so the AUC is 1 - (sum over overlap) / 40000.
  const yTrue: number[] = [];
  const yProb: number[] = [];
  for (let i = 0; i < 200; i++) {
    yTrue.push(0, 1);
    yProb.push(i / 400, 0.25 + i / 400);
  }
  const auc = rocAuc(yTrue, yProb);
  const [lo, hi] = bootstrapAucCi(yTrue, yProb, { seed: 5, iterations: 2000 });
  assert.ok(lo < auc, `lower bound ${lo} should be below ${auc}`);
  assert.ok(auc < hi, `upper bound ${hi} should be above ${auc}`);
  assert.ok(hi - lo < 0.1, `interval width ${hi - lo} should be below 0.1 for n = 400`);
});

test('bootstrapAucCi rejects bad options', () => {
  assert.throws(() => bootstrapAucCi(TEN_TRUE, TEN_PROB, { seed: 1, iterations: 0 }), ConfigError);
  assert.throws(() => bootstrapAucCi(TEN_TRUE, TEN_PROB, { seed: 1, level: 1 }), ConfigError);
  assert.throws(() => bootstrapAucCi([1, 1], [0.2, 0.3], { seed: 1 }), DataError);
});

test('reliabilityBins edges', () => {
  // 0 goes to the first bin, 1 to the last, 0.5 to the bin [0.5, 1).
  const bins = reliabilityBins([0, 1, 1], [0, 0.5, 1], 2);
  assert.equal(bins.length, 2);
  assert.deepEqual(bins[0], { lower: 0, upper: 0.5, count: 1, meanProbability: 0, fractionPositive: 0 });
  assert.deepEqual(bins[1], { lower: 0.5, upper: 1, count: 2, meanProbability: 0.75, fractionPositive: 1 });
  const empty = reliabilityBins([0], [0.05], 10)[5];
  assert.equal(empty.count, 0);
  assert.equal(empty.meanProbability, null);
  assert.equal(empty.fractionPositive, null);
  assert.throws(() => reliabilityBins([0], [0.5], 0), ConfigError);
});

test('expectedCalibrationError perfect calibration', () => {
  // Bin [0, 0.5): probabilities 0.25 with 1 of 4 malignant; bin [0.5, 1]: 0.75 with 3 of 4.
  const yTrue = [1, 0, 0, 0, 1, 1, 1, 0];
  const yProb = [0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75];
  assertClose(expectedCalibrationError(yTrue, yProb, 2), 0);
  // Certain and always wrong probabilities have the maximum calibration error.
  assertClose(expectedCalibrationError([0, 1], [1, 0]), 1);
  assertClose(brierScore([0, 1], [1, 0]), 1);
});

test('specificityAtSensitivity reads the ROC curve', () => {
  // Malignant 0.9, 0.8, 0.3; benign 0.7, 0.2, 0.1.
  const roc = rocCurve([1, 1, 1, 0, 0, 0], [0.9, 0.8, 0.3, 0.7, 0.2, 0.1]);
  assert.ok(Math.abs(specificityAtSensitivity(roc, 1) - 2 / 3) < 1e-12);
  assert.equal(specificityAtSensitivity(roc, 2 / 3), 1);
  assert.ok(Math.abs(specificityAtSensitivity(roc, 0.9) - 2 / 3) < 1e-12);
});

test('thresholdForSensitivity picks highest threshold', () => {
  // Malignant probabilities, descending: 0.95, 0.8, 0.7, 0.4.
  assert.equal(thresholdForSensitivity(TEN_TRUE, TEN_PROB, 0.75), 0.7);
  assert.equal(thresholdForSensitivity(TEN_TRUE, TEN_PROB, 0.76), 0.4);
  assert.equal(thresholdForSensitivity(TEN_TRUE, TEN_PROB, 1), 0.4);
  assert.equal(thresholdForSensitivity(TEN_TRUE, TEN_PROB, 0.25), 0.95);
  assert.equal(thresholdForSensitivity(TEN_TRUE, TEN_PROB, 0.01), 0.95);
});

test('thresholdForSensitivity meets target and is maximal', () => {
  for (const target of [0.1, 0.5, 0.75, 0.9, 0.95, 1]) {
    const threshold = thresholdForSensitivity(TEN_TRUE, TEN_PROB, target);
    const atThreshold = binaryMetrics(TEN_TRUE, TEN_PROB, threshold, { seed: 1, bootstrapIterations: 10 });
    assert.ok(atThreshold.sensitivity >= target, `target ${target}: sensitivity ${atThreshold.sensitivity}`);
    const above = binaryMetrics(TEN_TRUE, TEN_PROB, threshold + 1e-9, { seed: 1, bootstrapIterations: 10 });
    assert.ok(above.sensitivity < target, `target ${target}: a higher threshold still reaches it`);
  }
});

test('thresholdForSensitivity floating point target', () => {
  // 0.9 * 30 = 27.000000000000004 in floating point; 27 of 30 cases are enough.
  const yTrue = new Array(30).fill(1);
  const yProb = Array.from({ length: 30 }, (_, i) => (30 - i) / 30);
  assert.equal(thresholdForSensitivity(yTrue, yProb, 0.9), yProb[26]);
});

test('thresholdForSensitivity with tied malignant scores', () => {
  // Malignant 0.8, 0.5, 0.5, 0.2: target 0.5 needs 2 cases, the 2nd is 0.5, which keeps both ties (0.75).
  assert.equal(thresholdForSensitivity([1, 1, 1, 1, 0], [0.8, 0.5, 0.5, 0.2, 0.6], 0.5), 0.5);
});

test('thresholdForSensitivity rejects bad input', () => {
  assert.throws(() => thresholdForSensitivity(TEN_TRUE, TEN_PROB, 0), ConfigError);
  assert.throws(() => thresholdForSensitivity(TEN_TRUE, TEN_PROB, 1.2), ConfigError);
  assert.throws(() => thresholdForSensitivity([0, 0], [0.1, 0.2], 0.9), /2 benign and 0 malignant/);
});

test('perClassReport on ten cases', () => {
  // At 0.5: tn 5, fp 1, fn 1, tp 3.
  const report = perClassReport(TEN_TRUE, TEN_PROB, 0.5);
  // Malignant: precision 3/4, recall 3/4, F1 3/4, support 4.
  assertClose(report.malignant.precision, 0.75);
  assertClose(report.malignant.recall, 0.75);
  assertClose(report.malignant.f1, 0.75);
  assert.equal(report.malignant.support, 4);
  // Benign: precision 5/6 (5 of 6 predicted benign), recall 5/6, F1 10/12.
  assertClose(report.benign.precision, 5 / 6);
  assertClose(report.benign.recall, 5 / 6);
  assertClose(report.benign.f1, 5 / 6);
  assert.equal(report.benign.support, 6);
  assertClose(report.accuracy, 0.8);
  // Macro precision (5/6 + 3/4) / 2 = 19/24; weighted (6 * 5/6 + 4 * 3/4) / 10 = 0.8.
  assertClose(report.macroAvg.precision, 19 / 24);
  assertClose(report.weightedAvg.precision, 0.8);
  assert.equal(report.weightedAvg.support, 10);
});

test('perClassReport null precision without predictions', () => {
  const report = perClassReport(TEN_TRUE, TEN_PROB, 1);
  assert.equal(report.malignant.precision, null);
  assertClose(report.malignant.recall, 0);
  assertClose(report.malignant.f1, 0);
  assert.equal(report.macroAvg.precision, null);
  assertClose(report.benign.recall, 1);
});
