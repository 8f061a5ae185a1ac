import * as path from 'node:path';

import type { Dataset } from '../data/dataset.js';
import { discoverClassFolders } from '../data/discover.js';
import type { Label, SplitName, SplitSample } from '../data/sample.js';
import { SPLIT_NAMES } from '../data/sample.js';
import { readSplitFile, stratifiedSplit, writeSplitFile } from '../data/split.js';
import { DataError } from '../errors.js';
import { binaryMetrics, thresholdForSensitivity } from '../evaluate/metrics.js';
import type { BinaryMetrics } from '../evaluate/metrics.js';
import { toCaseResults } from '../evaluate/case-results.js';
import { writeEvaluationOutputs } from '../evaluate/write-outputs.js';
import type { BackboneName } from '../model/backbone.js';
import type { Backbone } from '../model/backbone.js';
import type { BundleManifest } from '../model/bundle.js';
import { writeBundle } from '../model/bundle.js';
import { calibratedProbability, headLogit } from '../model/head.js';
import type { HeadWeights } from '../model/head.js';
import { loadBackbone } from '../model/load-backbone.js';
import { loadPredictor } from '../model/predictor.js';
import { cacheRootDir } from '../model/weights.js';
import { sha256, sha256File } from '../util/atomic.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { BUSIGHT_VERSION } from '../version.js';
import { fitPlatt } from './calibrate.js';
import { extractFeatures } from './extract-features.js';
import type { FeatureSet } from './feature-set.js';
import type { HeadTrainingOptions } from './train-head.js';
import { averageViews, trainHead } from './train-head.js';

/** Options of `busight train`. Defaults are in TRAIN_DEFAULTS. */
export interface TrainOptions {
  /** Data folder with benign/ and malignant/ subfolders. */
  data: string;
  /** Run folder that receives split.csv, model/, metrics.json and report.html. */
  out: string;
  /** CSV `path,label,split` to use instead of a random stratified split. */
  splitFile?: string;
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
  /** Views per training image: the image, its mirror, and random augmentations (>= 1). */
  trainViews: number;
  head: Partial<HeadTrainingOptions>;
  /** Bootstrap resamples for the AUC confidence intervals. */
  bootstrapIterations: number;
  /** Language the report opens in. */
  reportLanguage: 'en' | 'zh-CN';
  logger: Logger;
}

export const TRAIN_DEFAULTS = {
  seed: 42,
  targetSensitivity: 0.95,
  backbone: 'mobilenet_v2_1.0',
  noCache: false,
  trainViews: 8,
  head: {},
  bootstrapIterations: 2000,
  reportLanguage: 'en',
} as const satisfies Partial<TrainOptions>;

/** Test-time views: the image and its mirror, logits averaged. */
const EVAL_VIEWS = 2;

export interface TrainResult {
  outDir: string;
  manifest: BundleManifest;
  validation: BinaryMetrics;
  test: BinaryMetrics;
  timings: Record<string, number>;
}

/**
 * Runs the whole training path: discover, split, extract features with a frozen backbone, train
 * the head, calibrate, choose the threshold on validation, evaluate on test, and write split.csv,
 * model/, metrics.json and report.html into `out`.
 */
export async function runTraining(input: Partial<TrainOptions> & Pick<TrainOptions, 'data' | 'out'>): Promise<TrainResult> {
  const options: TrainOptions = { ...TRAIN_DEFAULTS, logger: silentLogger, ...input } as TrainOptions;
  const logger = options.logger;
  const started = performance.now();
  const timings: Record<string, number> = {};
  const lap = (name: string, since: number) => {
    timings[name] = round((performance.now() - since) / 1000, 3);
    return performance.now();
  };
  logger.info(`busight ${BUSIGHT_VERSION} train: data ${options.data}, backbone ${options.backbone}, seed ${options.seed}`);

  // Discover and split.
  let mark = performance.now();
  const dataset = await discoverClassFolders(options.data, logger);
  const samples = options.splitFile
    ? await readSplitFile(options.splitFile, dataset, logger)
    : stratifiedSplit(dataset.samples, { seed: options.seed });
  const bySplit = groupBySplit(samples);
  checkSplits(bySplit, options.splitFile ?? 'the stratified split');
  await writeSplitFile(path.join(options.out, 'split.csv'), samples);
  logger.info(splitSummary(bySplit));
  mark = lap('splitSeconds', mark);

  // Extract features.
  const backbone = await loadBackbone(options.backbone, { weightsDir: options.weightsDir, cacheDir: options.cacheDir, logger });
  let result: TrainResult;
  try {
    const backboneKey = `${options.backbone}-${sha256(await backboneHash(backbone)).slice(0, 16)}`;
    const cacheDir = options.noCache ? undefined : cacheRootDir(options.cacheDir, process.env);
    const common = { seed: options.seed, cacheDir, logger };
    const train = await extractFeatures(bySplit.train, backbone, backboneKey, {
      ...common,
      views: options.trainViews,
      augment: true,
      stage: 'features: train',
    });
    const val = await extractFeatures(bySplit.val, backbone, backboneKey, { ...common, views: EVAL_VIEWS, augment: false, stage: 'features: val' });
    const test = await extractFeatures(bySplit.test, backbone, backboneKey, { ...common, views: EVAL_VIEWS, augment: false, stage: 'features: test' });
    const skipped = [...dataset.skipped.filter((file) => file.reason !== 'segmentation mask'), ...train.skipped, ...val.skipped, ...test.skipped];
    checkSplits({ train: train.samples as SplitSample[], val: val.samples as SplitSample[], test: test.samples as SplitSample[] }, 'the readable images');
    mark = lap('featureSeconds', mark);

    // Train, calibrate and choose the threshold.
    const trained = await trainHead(train.set, val.set, { ...options.head, seed: options.seed }, logger);
    const head: HeadWeights = { ...trained.head, calibration: fitPlatt(val.set.labels, trained.valLogits) };
    const valProbabilities = trained.valLogits.map((logit) => calibratedProbability(head, logit));
    const threshold = thresholdForSensitivity(val.set.labels, valProbabilities, options.targetSensitivity);
    const testProbabilities = probabilitiesOf(head, test.set);
    mark = lap('trainSeconds', mark);

    // Write the bundle.
    const validation = binaryMetrics(val.set.labels, valProbabilities, threshold, { seed: options.seed, bootstrapIterations: options.bootstrapIterations });
    const modelDir = path.join(options.out, 'model');
    const manifest = await writeBundle(modelDir, {
      backboneName: options.backbone,
      backboneFiles: backbone.files,
      head,
      preprocessing: { inputSize: backbone.inputSize, resize: 'fill', channels: 'rgb', testTimeViews: EVAL_VIEWS },
      threshold,
      targetSensitivity: options.targetSensitivity,
      training: {
        seed: options.seed,
        data: path.basename(path.resolve(options.data)),
        images: { train: train.samples.length, val: val.samples.length, test: test.samples.length },
        trainViews: options.trainViews,
        selectedEpoch: trained.selectedEpoch,
        validationAuc: validation.auc,
      },
    });

    // Evaluate on test and write metrics.json and report.html.
    const predictor = await loadPredictor(modelDir, { logger });
    try {
      const outputs = await writeEvaluationOutputs({
        out: options.out,
        title: 'busight training run',
        predictor,
        recheck: true,
        cases: toCaseResults(test.samples, testProbabilities, threshold),
        validation: { labels: val.set.labels, probabilities: valProbabilities },
        history: { epochs: trained.history, selectedEpoch: trained.selectedEpoch },
        settings: {
          data: path.resolve(options.data),
          backbone: options.backbone,
          seed: options.seed,
          targetSensitivity: options.targetSensitivity,
          splitPolicy: options.splitFile
            ? `given split file ${path.basename(options.splitFile)}`
            : `stratified 7:2:1 split by image, seed ${options.seed}`,
          splitCounts: countsBySplit({ train: train.samples, val: val.samples, test: test.samples }),
          trainViews: options.trainViews,
          selectedEpoch: trained.selectedEpoch,
          calibration: head.calibration,
        },
        skipped,
        seed: options.seed,
        bootstrapIterations: options.bootstrapIterations,
        reportLanguage: options.reportLanguage,
        timings: () => ({ ...timings, totalSeconds: round((performance.now() - started) / 1000, 3) }),
        logger,
      });
      result = { outDir: options.out, manifest, validation, test: outputs.test, timings: outputs.timings };
    } finally {
      await predictor.dispose();
    }
  } finally {
    await backbone.dispose();
  }
  return result;
}

/** Returns calibrated probabilities of each image of a feature set (logits averaged over views). */
export function probabilitiesOf(head: HeadWeights, set: FeatureSet): number[] {
  const rows = set.features.length / set.dim;
  const rowLogits = new Float64Array(rows);
  for (let row = 0; row < rows; row++) rowLogits[row] = headLogit(head, set.features.subarray(row * set.dim, (row + 1) * set.dim));
  return averageViews(rowLogits, set.views).map((logit) => calibratedProbability(head, logit));
}

function groupBySplit(samples: SplitSample[]): Record<SplitName, SplitSample[]> {
  const groups: Record<SplitName, SplitSample[]> = { train: [], val: [], test: [] };
  for (const sample of samples) groups[sample.split].push(sample);
  return groups;
}

/** Throws DataError unless every split holds both classes (validation needs both to set the threshold). */
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
