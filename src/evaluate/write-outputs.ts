import * as path from 'node:path';

import type { SkippedFile } from '../data/dataset.js';
import { loadSampleImage } from '../data/image.js';
import type { Label } from '../data/sample.js';
import type { Predictor } from '../model/predictor.js';
import { renderRunReport } from '../report/html.js';
import type { Language, LocalizedText } from '../report/i18n.js';
import type { ReportCase, RunSettings, TrainingHistory } from '../report/report-input.js';
import { heatmapOverlay, thumbnailJpeg } from '../report/thumbnails.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { Logger } from '../util/log.js';
import { BUSIGHT_VERSION } from '../version.js';
import type { CaseResult } from './case-results.js';
import { caseOutcome, orderForReview } from './case-results.js';
import type { BinaryMetrics } from './metrics.js';
import { binaryMetrics, perClassReport, rocCurve } from './metrics.js';

/** Largest gap tolerated between the probabilities computed during training and by the saved bundle. */
const BUNDLE_CHECK_TOLERANCE = 1e-3;

export interface EvaluationOutputsInput {
  /** Folder that receives metrics.json and report.html. */
  out: string;
  /** Report title (see RunReportInput.title). */
  title: string | LocalizedText;
  /** The bundle being evaluated; used for heat maps and, with `recheck`, to re-check the given probabilities. */
  predictor: Predictor;
  /** Pass every case through the bundle again and record the largest probability difference. */
  recheck: boolean;
  /** Results on the evaluated (test) images at the bundle's threshold. */
  cases: CaseResult[];
  /** Validation labels and probabilities, when the run trained a model. */
  validation?: { labels: Label[]; probabilities: number[] };
  history?: TrainingHistory;
  /** Run settings for the report, plus any extra facts to keep in metrics.json. */
  settings: RunSettings & Record<string, unknown>;
  skipped: SkippedFile[];
  seed: number;
  bootstrapIterations: number;
  reportLanguage: Language;
  /** Called last, so the total includes writing the report. */
  timings: () => Record<string, number>;
  logger: Logger;
}

export interface EvaluationOutputs {
  test: BinaryMetrics;
  validation?: BinaryMetrics;
  timings: Record<string, number>;
}

/**
 * Computes the metrics of a run and writes metrics.json and report.html atomically. Every case's
 * image is decoded again for its thumbnail. With `recheck`, each also goes through the bundle and
 * the largest difference from the given probability is stored as `bundleCheck`, so a bundle that
 * does not reproduce training-time predictions is caught.
 */
export async function writeEvaluationOutputs(input: EvaluationOutputsInput): Promise<EvaluationOutputs> {
  const started = performance.now();
  const threshold = input.predictor.manifest.threshold;
  const labels = input.cases.map((result) => result.label);
  const probabilities = input.cases.map((result) => result.probability);

  // Metrics.
  const metricOptions = { seed: input.seed, bootstrapIterations: input.bootstrapIterations };
  const test = binaryMetrics(labels, probabilities, threshold, metricOptions);
  const validation = input.validation
    ? binaryMetrics(input.validation.labels, input.validation.probabilities, threshold, metricOptions)
    : undefined;

  // Thumbnails, heat maps of the errors, and the bundle check.
  const reportCases: ReportCase[] = [];
  let maxDifference = 0;
  const ordered = orderForReview(input.cases);
  for (let index = 0; index < ordered.length; index++) {
    const result = ordered[index];
    const image = await loadSampleImage(result.sample);
    const outcome = caseOutcome(result);
    const wantHeatmap = outcome === 'missed malignant' || outcome === 'false alarm';
    const prediction = input.recheck || wantHeatmap ? await input.predictor.predict(image, { heatmap: wantHeatmap }) : undefined;
    if (input.recheck && prediction) maxDifference = Math.max(maxDifference, Math.abs(prediction.probability - result.probability));
    const reportCase: ReportCase = {
      id: result.sample.id,
      label: result.label,
      probability: result.probability,
      predicted: result.predicted,
      thumbnail: await thumbnailJpeg(image),
    };
    if (prediction?.heatmap) {
      const overlay = await heatmapOverlay(image, prediction.heatmap, prediction.heatmapWidth!, prediction.heatmapHeight!, 0.45);
      reportCase.heatmap = await thumbnailJpeg(overlay, 224);
    }
    reportCases.push(reportCase);
    input.logger.progress({ stage: 'report images', current: index + 1, total: ordered.length });
  }
  if (maxDifference > BUNDLE_CHECK_TOLERANCE) {
    input.logger.warn(
      `the saved bundle's probabilities differ from the evaluated ones by up to ${maxDifference.toFixed(4)} ` +
        `(tolerance ${BUNDLE_CHECK_TOLERANCE}); predictions of the bundle may not match this report`,
    );
  }

  const timings = { ...input.timings(), reportSeconds: Math.round(performance.now() - started) / 1000 };
  const manifest = input.predictor.manifest;
  const roc = rocCurve(labels, probabilities);

  // Write report.html, then metrics.json.
  const html = renderRunReport({
    title: input.title,
    version: BUSIGHT_VERSION,
    created: new Date().toISOString(),
    defaultLanguage: input.reportLanguage,
    settings: input.settings,
    metrics: { validation, test },
    testRoc: roc,
    history: input.history,
    timings,
    cases: reportCases,
  });
  await writeFileAtomic(path.join(input.out, 'report.html'), html);
  const metrics = {
    busightVersion: BUSIGHT_VERSION,
    createdAt: new Date().toISOString(),
    model: { name: manifest.modelName, version: manifest.modelVersion, threshold, targetSensitivity: manifest.targetSensitivity },
    settings: input.settings,
    validation,
    test,
    testPerClass: perClassReport(labels, probabilities, threshold),
    testRoc: { fpr: roc.fpr, tpr: roc.tpr },
    history: input.history,
    skipped: input.skipped,
    bundleCheck: input.recheck ? { maxAbsProbabilityDifference: maxDifference, tolerance: BUNDLE_CHECK_TOLERANCE } : undefined,
    timings,
  };
  await writeFileAtomic(path.join(input.out, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
  return { test, validation, timings };
}
