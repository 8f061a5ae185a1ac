import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { DEFAULT_NEAR_THRESHOLD } from '../data/audit/duplicates.js';
import type { Dataset } from '../data/dataset.js';
import { openDataset } from '../data/open-dataset.js';
import type { Label, SplitName, SplitSample } from '../data/sample.js';
import { SPLIT_NAMES } from '../data/sample.js';
import { writeSplitFile } from '../data/split.js';
import { ConfigError, DataError } from '../errors.js';
import { binaryMetrics, metricsOfCalls, rocCurve, specificityAtSensitivity, thresholdForSensitivity } from '../evaluate/metrics.js';
import type { BinaryMetrics, RocCurve } from '../evaluate/metrics.js';
import { renderCrossValidationReport } from '../report/cv-html.js';
import { localize } from '../report/i18n.js';
import type { CaseResult } from '../evaluate/case-results.js';
import { toCaseResults } from '../evaluate/case-results.js';
import { writeEvaluationOutputs } from '../evaluate/write-outputs.js';
import type { BackboneName } from '../model/backbone.js';
import type { Backbone } from '../model/backbone.js';
import type { BundleManifest } from '../model/bundle.js';
import { writeBundle } from '../model/bundle.js';
import { FIXED_VIEW_COUNT } from '../model/fixed-views.js';
import { calibratedProbability } from '../model/head.js';
import type { HeadWeights } from '../model/head.js';
import { loadBackbone } from '../model/load-backbone.js';
import { loadPredictor } from '../model/predictor.js';
import { cacheRootDir } from '../model/weights.js';
import { type Typicality, typicalityDistance, typicalityOf } from '../model/typicality.js';
import { makeOutputDirectory } from '../util/make-directory.js';
import { publishStaged, removeStaleStaging, sha256, sha256File, stagingDirIn, writeFileAtomic } from '../util/atomic.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { mean, standardDeviation } from '../util/statistics.js';
import { BUSIGHT_VERSION } from '../version.js';
import { fitPlatt } from './calibrate.js';
import { crossFittedLogits } from './cross-fit.js';
import { checkLinearHeadSettings } from './linear-head.js';
import { extractFeatures } from './extract-features.js';
import type { FeatureSet } from './feature-set.js';
import type { HeadTrainingOptions } from './train-head.js';
import { HEAD_TRAINING_DEFAULTS, imageLogits, trainHead } from './train-head.js';
import type { SplitPlan } from './plan-splits.js';
import { planSplits } from './plan-splits.js';

/** Options of `busight train`. Defaults are in TRAIN_DEFAULTS. */
export interface TrainOptions {
  /** Data source: a folder with benign/ and malignant/ subfolders, a CSV manifest or Hugging Face parquet. */
  data: string;
  /** Run folder that receives split.csv, model/, metrics.json and report.html (one fold-N/ folder each with `folds`). */
  out: string;
  /** CSV `path,label,split` to use instead of a random stratified split. */
  splitFile?: string;
  /** k >= 3 for group-aware stratified k-fold cross-validation instead of one 7:2:1 split. */
  folds?: number;
  /** Keep duplicate groups within one split (true) or split image by image (false). */
  groupSplit: boolean;
  /** Keep images whose duplicate group carries both labels (left out by default). */
  keepConflicts: boolean;
  /** Maximum perceptual-hash distance in bits for two images to count as near duplicates. */
  nearThreshold: number;
  /** Seed of the split, augmentation, head initialisation and bootstrap. */
  seed: number;
  /** Malignant sensitivity on the validation split that the threshold is chosen for, in (0, 1]. */
  targetSensitivity: number;
  backbone: BackboneName;
  /** Folder with backbone weights (see resolveWeightsDir). */
  weightsDir?: string;
  /** Cache folder for downloaded weights and extracted features. */
  cacheDir?: string;
  /** Turns the feature cache off. */
  noCache: boolean;
  /** Views per training image: up to 4 fixed views (see fixedViews), then random augmentations (>= 1). */
  trainViews: number;
  head: Partial<HeadTrainingOptions>;
  /** Bootstrap resamples for the AUC confidence intervals. */
  bootstrapIterations: number;
  /** Language the report opens in. */
  reportLanguage: 'en' | 'zh-CN';
  logger: Logger;
}

export const TRAIN_DEFAULTS = {
  groupSplit: true,
  keepConflicts: false,
  nearThreshold: DEFAULT_NEAR_THRESHOLD,
  seed: 42,
  targetSensitivity: 0.95,
  backbone: 'mobilenet_v2_1.0',
  noCache: false,
  trainViews: FIXED_VIEW_COUNT,
  head: {},
  bootstrapIterations: 2000,
  reportLanguage: 'en',
} as const satisfies Partial<TrainOptions>;

/** Test-time views: every fixed view of fixedViews, logits averaged. */
const EVAL_VIEWS = FIXED_VIEW_COUNT;

/** Result of one trained split (the whole run, or one fold). */
export interface RoundResult {
  outDir: string;
  manifest: BundleManifest;
  validation: BinaryMetrics;
  test: BinaryMetrics;
  /** Test images with their calibrated probabilities and labels, for pooling across folds. */
  testCases: CaseResult[];
  /** Backbone forward passes the run needed (images x views), whether computed or read from the cache. */
  featureViews: number;
  timings: Record<string, number>;
}

export interface TrainResult extends RoundResult {
  /** One entry per fold with `folds`; a single entry otherwise. */
  rounds: RoundResult[];
  /** Cross-validation summary, with `folds`. */
  crossValidation?: CrossValidationSummary;
}

/**
 * Runs the whole training path: open the data, audit duplicates, split (group-aware), extract
 * features with a frozen backbone, train the head, calibrate, choose the threshold on validation,
 * evaluate on test, and write split.csv, model/, metrics.json and report.html into `out`. With
 * `folds`, does this once per fold into `out/fold-N/` and writes `out/cv-metrics.json`.
 */
export async function runTraining(input: Partial<TrainOptions> & Pick<TrainOptions, 'data' | 'out'>): Promise<TrainResult> {
  const options: TrainOptions = { ...TRAIN_DEFAULTS, logger: silentLogger, ...input } as TrainOptions;
  const logger = options.logger;
  const started = performance.now();
  if (options.folds !== undefined && options.splitFile) throw new ConfigError('--folds and --split-file cannot be combined: choose one way to split');
  if (options.folds !== undefined && (!Number.isInteger(options.folds) || options.folds < 3)) {
    throw new ConfigError(`--folds ${options.folds}: expected an integer of at least 3 (one fold tests, one validates, the rest train)`);
  }
  const head = { ...HEAD_TRAINING_DEFAULTS, ...options.head };
  if (head.solver === 'lbfgs') checkLinearHeadSettings(head);
  const outStat = await fs.stat(options.out).catch(() => undefined);
  if (outStat && !outStat.isDirectory()) throw new ConfigError(`--out ${options.out}: exists and is not a folder; choose a folder for the run`);
  // Create the run folder before the slow work, so an unwritable --out fails at once.
  await makeOutputDirectory(options.out);
  logger.info(`busight ${BUSIGHT_VERSION} train: backbone ${options.backbone}, seed ${options.seed}`);

  // Open, audit and split.
  const dataset = await openDataset(options.data, {}, logger);
  const plan = await planSplits(dataset, options, logger);
  const splitSeconds = (performance.now() - started) / 1000;

  // Train each round with one loaded backbone.
  const backbone = await loadBackbone(options.backbone, { weightsDir: options.weightsDir, cacheDir: options.cacheDir, logger });
  const rounds: RoundResult[] = [];
  try {
    const backboneKey = `${options.backbone}-${sha256(await backboneHash(backbone)).slice(0, 16)}`;
    for (const [index, samples] of plan.rounds.entries()) {
      const outDir = options.folds !== undefined ? path.join(options.out, `fold-${index + 1}`) : options.out;
      if (options.folds !== undefined) logger.info(`fold ${index + 1} of ${options.folds}`);
      rounds.push(
        await trainRound(samples, { ...options, out: outDir }, { backbone, backboneKey, dataset, plan, splitSeconds: index === 0 ? splitSeconds : 0 }),
      );
    }
  } finally {
    await backbone.dispose();
  }
  if (options.folds === undefined) return { ...rounds[0], rounds };

  // Summarise cross-validation.
  const roc = pooledRoc(rounds);
  const crossValidation = summariseFolds(rounds, roc, { seed: options.seed, bootstrapIterations: options.bootstrapIterations, targetSensitivity: options.targetSensitivity });
  const totalSeconds = round((performance.now() - started) / 1000, 3);
  await writeFileAtomic(
    path.join(options.out, 'cv-report.html'),
    renderCrossValidationReport({
      version: BUSIGHT_VERSION,
      created: new Date().toISOString(),
      defaultLanguage: options.reportLanguage,
      splitPolicy: plan.policy,
      folds: crossValidation.folds,
      mean: crossValidation.mean,
      sd: crossValidation.sd,
      pooled: crossValidation.pooled,
      pooledRoc: roc,
    }),
  );
  await writeFileAtomic(
    path.join(options.out, 'cv-metrics.json'),
    `${JSON.stringify({ busightVersion: BUSIGHT_VERSION, createdAt: new Date().toISOString(), splitPolicy: plan.policy, audit: plan.audit, ...crossValidation, timings: { totalSeconds } }, null, 2)}\n`,
  );
  return { ...rounds[0], outDir: options.out, rounds, crossValidation, timings: { totalSeconds } };
}

interface RoundContext {
  backbone: Backbone;
  backboneKey: string;
  dataset: Dataset;
  plan: SplitPlan;
  splitSeconds: number;
}

/**
 * Trains and evaluates on one split and writes its run folder. Outputs go to a staging folder
 * and replace the previous run's together at the end, so a killed or failed run never leaves a
 * split.csv that disagrees with model/ or metrics.json.
 */
async function trainRound(samples: SplitSample[], options: TrainOptions, context: RoundContext): Promise<RoundResult> {
  const outDir = options.out;
  await makeOutputDirectory(outDir);
  await removeStaleStaging(outDir);
  const staging = stagingDirIn(outDir);
  await fs.mkdir(staging);
  try {
    const result = await trainRoundInto(staging, samples, options, context);
    await publishStaged(staging, outDir);
    return { ...result, outDir };
  } catch (error) {
    await fs.rm(staging, { recursive: true, force: true });
    throw error;
  }
}

/** Does the work of trainRound, writing every output into `staging`. */
async function trainRoundInto(staging: string, samples: SplitSample[], options: TrainOptions, context: RoundContext): Promise<RoundResult> {
  const { backbone, backboneKey, dataset, plan } = context;
  const logger = options.logger;
  const started = performance.now();
  const timings: Record<string, number> = { splitSeconds: round(context.splitSeconds, 3) };
  const lap = (name: string, since: number) => {
    timings[name] = round((performance.now() - since) / 1000, 3);
    return performance.now();
  };

  // Check and write the split.
  const bySplit = groupBySplit(samples);
  checkSplits(bySplit, options.splitFile ?? 'the split');
  await writeSplitFile(path.join(staging, 'split.csv'), samples);
  logger.info(splitSummary(bySplit));

  // Extract features.
  let mark = performance.now();
  const cacheDir = options.noCache ? undefined : cacheRootDir(options.cacheDir, process.env);
  const common = { seed: options.seed, cacheDir, logger };
  const train = await extractFeatures(bySplit.train, backbone, backboneKey, { ...common, views: options.trainViews, augment: true, stage: 'features: train' });
  const val = await extractFeatures(bySplit.val, backbone, backboneKey, { ...common, views: EVAL_VIEWS, augment: false, stage: 'features: val' });
  const test = await extractFeatures(bySplit.test, backbone, backboneKey, { ...common, views: EVAL_VIEWS, augment: false, stage: 'features: test' });
  const skipped = [
    ...dataset.skipped.filter((file) => file.reason !== 'segmentation mask'),
    ...plan.audit.excludedConflictImages.map((id) => ({ id, reason: 'duplicate group with both labels (label conflict)' })),
    ...train.skipped,
    ...val.skipped,
    ...test.skipped,
  ];
  checkSplits({ train: train.samples, val: val.samples, test: test.samples }, 'the readable images');
  mark = lap('featureSeconds', mark);

  // Train, calibrate and choose the threshold.
  const headSettings = { ...HEAD_TRAINING_DEFAULTS, ...options.head, seed: options.seed };
  const trained = await trainHead(train.set, val.set, headSettings, logger);

  // Calibration and the threshold need held-out logits of models fitted like the shipped head.
  // A head refitted on train + val gets cross-fitted logits over train + val. Otherwise the
  // trained head's validation logits are held out already.
  const refitted = headSettings.solver === 'lbfgs' && headSettings.refit && trained.selectedL2 !== undefined;
  const crossFitted = refitted ? crossFittedLogits(train, val, context.plan.groupOf, headSettings, trained.selectedL2!, 5, trained.head) : undefined;
  if (refitted && !crossFitted) logger.warn('too few duplicate groups for cross-fitted calibration; calibrating on the first fit\'s validation logits');
  const calibrationSet = crossFitted ?? { labels: val.set.labels, logits: trained.valLogits, folds: 0 };
  const head: HeadWeights = { ...trained.head, calibration: fitPlatt(calibrationSet.labels, calibrationSet.logits) };
  const calibrationProbabilities = calibrationSet.logits.map((logit) => calibratedProbability(head, logit));
  const threshold = thresholdForSensitivity(calibrationSet.labels, calibrationProbabilities, options.targetSensitivity);
  // Validation metrics: the validation images' held-out probabilities (out-of-fold when cross-fitted).
  const valProbabilities = crossFitted ? calibrationProbabilities.slice(train.samples.length) : calibrationProbabilities;
  const testProbabilities = probabilitiesOf(head, test.set);
  mark = lap('trainSeconds', mark);

  // Write the bundle.
  const validation = binaryMetrics(val.set.labels, valProbabilities, threshold, { seed: options.seed, bootstrapIterations: options.bootstrapIterations });
  const modelDir = path.join(staging, 'model');
  const manifest = await writeBundle(modelDir, {
    backboneName: options.backbone,
    backboneFiles: backbone.files,
    head,
    preprocessing: { inputSize: backbone.inputSize, resize: 'fill', channels: 'rgb', testTimeViews: EVAL_VIEWS, trimPadding: true },
    threshold,
    targetSensitivity: options.targetSensitivity,
    typicality: fittedTypicality(head, refitted ? [train.set, val.set] : [train.set]),
    training: {
      seed: options.seed,
      images: { train: train.samples.length, val: val.samples.length, test: test.samples.length },
      trainViews: options.trainViews,
      selectedEpoch: trained.selectedEpoch,
      validationAuc: validation.auc,
      splitPolicy: plan.policy,
    },
  });
  mark = lap('bundleSeconds', mark);

  // Evaluate on test and write metrics.json and report.html.
  const testCases = toCaseResults(test.samples, testProbabilities, threshold);
  const predictor = await loadPredictor(modelDir, { logger });
  try {
    const outputs = await writeEvaluationOutputs({
      out: staging,
      title: localize('report.titleTraining'),
      predictor,
      recheck: true,
      cases: testCases,
      validation: { labels: val.set.labels, probabilities: valProbabilities },
      history: { epochs: trained.history, selectedEpoch: trained.selectedEpoch, steps: headSettings.solver === 'lbfgs' ? 'lbfgs-iteration' : 'epoch' },
      settings: {
        data: path.resolve(options.data),
        dataFormat: dataset.format,
        backbone: options.backbone,
        seed: options.seed,
        targetSensitivity: options.targetSensitivity,
        splitPolicy: plan.policy,
        splitCounts: reportSplitCounts(countsBySplit({ train: train.samples, val: val.samples, test: test.samples })),
        audit: plan.audit,
        trainViews: options.trainViews,
        head: { ...HEAD_TRAINING_DEFAULTS, ...options.head, seed: options.seed },
        selectedEpoch: trained.selectedEpoch,
        selectedL2: trained.selectedL2,
        calibration: {
          ...head.calibration,
          method: crossFitted
            ? `Platt scaling and threshold on out-of-fold logits of ${crossFitted.folds} group-aware folds over train + validation (${crossFitted.labels.length} images)`
            : `Platt scaling and threshold on validation logits (${val.samples.length} images)`,
        },
      },
      skipped,
      seed: options.seed,
      bootstrapIterations: options.bootstrapIterations,
      reportLanguage: options.reportLanguage,
      timings: () => ({ ...timings, totalSeconds: round((performance.now() - started) / 1000 + context.splitSeconds, 3) }),
      logger,
    });
    const featureViews = train.samples.length * options.trainViews + (val.samples.length + test.samples.length) * EVAL_VIEWS;
    return { outDir: staging, manifest, validation, test: outputs.test, testCases, featureViews, timings: outputs.timings };
  } finally {
    await predictor.dispose();
  }
}

/** Cross-validation results: per-fold test metrics, their mean and sd, and pooled out-of-fold metrics. */
export interface CrossValidationSummary {
  folds: { fold: number; test: BinaryMetrics; threshold: number }[];
  mean: { auc: number; sensitivity: number; specificity: number; ece: number };
  sd: { auc: number; sensitivity: number; specificity: number; ece: number };
  /**
   * Metrics of all out-of-fold test predictions together. Each image is called with its own
   * fold's validation-chosen threshold, so the rates and the confusion matrix are what the k
   * models achieved at their operating points.
   */
  pooled: PooledMetrics;
}

/** Metrics of the pooled out-of-fold predictions of a cross-validation (see CrossValidationSummary). */
export type PooledMetrics = Omit<BinaryMetrics, 'threshold'> & {
  /** The thresholds the images were called with, one per fold in fold order. */
  foldThresholds: number[];
  /** Sensitivity the fold thresholds were chosen for, and at which rocSpecificityAtTarget is read. */
  targetSensitivity: number;
  /**
   * Specificity where the pooled out-of-fold ROC curve first reaches the target sensitivity. No
   * threshold chosen in advance does better at that sensitivity, so it is an upper bound.
   */
  rocSpecificityAtTarget: number;
};

/** Summarises the folds' test results; `roc` is the pooled out-of-fold ROC curve of the same rounds. */
function summariseFolds(
  rounds: RoundResult[],
  roc: RocCurve,
  options: { seed: number; bootstrapIterations: number; targetSensitivity: number },
): CrossValidationSummary {
  const pick = (key: 'auc' | 'sensitivity' | 'specificity' | 'ece') => rounds.map((result) => result.test[key]);
  const cases = rounds.flatMap((result) => result.testCases);
  const calls = cases.map((result) => result.predicted);
  const pooled = metricsOfCalls(cases.map((result) => result.label), cases.map((result) => result.probability), calls, options);
  return {
    folds: rounds.map((result, index) => ({ fold: index + 1, test: result.test, threshold: result.manifest.threshold })),
    mean: { auc: mean(pick('auc')), sensitivity: mean(pick('sensitivity')), specificity: mean(pick('specificity')), ece: mean(pick('ece')) },
    sd: {
      auc: standardDeviation(pick('auc')),
      sensitivity: standardDeviation(pick('sensitivity')),
      specificity: standardDeviation(pick('specificity')),
      ece: standardDeviation(pick('ece')),
    },
    pooled: {
      ...pooled,
      foldThresholds: rounds.map((result) => result.manifest.threshold),
      targetSensitivity: options.targetSensitivity,
      rocSpecificityAtTarget: specificityAtSensitivity(roc, options.targetSensitivity),
    },
  };
}

function pooledRoc(rounds: RoundResult[]): RocCurve {
  const cases = rounds.flatMap((result) => result.testCases);
  return rocCurve(cases.map((result) => result.label), cases.map((result) => result.probability));
}

/** Returns the typicality threshold from the images the shipped head was fitted on (see Typicality). */
function fittedTypicality(head: HeadWeights, sets: FeatureSet[]): Typicality {
  const distances: number[] = [];
  for (const set of sets) {
    for (let image = 0; image < set.labels.length; image++) distances.push(typicalityDistance(head, set.features, image * set.views, set.views, set.dim));
  }
  return typicalityOf(distances);
}

/** Returns calibrated probabilities of each image of a feature set (logits averaged over views). */
export function probabilitiesOf(head: HeadWeights, set: FeatureSet): number[] {
  return imageLogits(head, set).map((logit) => calibratedProbability(head, logit));
}

function groupBySplit(samples: SplitSample[]): Record<SplitName, SplitSample[]> {
  const groups: Record<SplitName, SplitSample[]> = { train: [], val: [], test: [] };
  for (const sample of samples) groups[sample.split].push(sample);
  return groups;
}

/** Throws DataError unless every split contains both classes, because validation needs both to set the threshold. */
function checkSplits(groups: Record<SplitName, { label: Label }[]>, source: string): void {
  for (const split of SPLIT_NAMES) {
    const malignant = groups[split].filter((sample) => sample.label === 1).length;
    const benign = groups[split].length - malignant;
    if (benign === 0 || malignant === 0) {
      throw new DataError(
        `${source}: the ${split} split has ${benign} benign and ${malignant} malignant images; every split needs both classes. ` +
          'Add images or pass a --split-file that puts both classes in train, val and test.',
      );
    }
  }
}

function countsBySplit(groups: Record<SplitName, { label: Label }[]>): Record<SplitName, { benign: number; malignant: number }> {
  const counts = {} as Record<SplitName, { benign: number; malignant: number }>;
  for (const split of SPLIT_NAMES) {
    const malignant = groups[split].filter((sample) => sample.label === 1).length;
    counts[split] = { benign: groups[split].length - malignant, malignant };
  }
  return counts;
}

/** Renames `val` to `validation`, the key the report translates. */
function reportSplitCounts(counts: Record<SplitName, { benign: number; malignant: number }>) {
  return { train: counts.train, validation: counts.val, test: counts.test };
}

function splitSummary(groups: Record<SplitName, { label: Label }[]>): string {
  const counts = countsBySplit(groups);
  return `split: ${SPLIT_NAMES.map((split) => `${split} ${counts[split].benign} benign + ${counts[split].malignant} malignant`).join(', ')}`;
}

async function backboneHash(backbone: Backbone): Promise<string> {
  const hashes = await Promise.all(backbone.files.map((file) => sha256File(file)));
  return hashes.join('|');
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
