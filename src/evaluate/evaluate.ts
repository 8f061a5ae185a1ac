import * as path from 'node:path';

import { openDataset } from '../data/open-dataset.js';
import { decodeImageBytes, isSkippableImageError, readSampleBytes } from '../data/image.js';
import { checkAssessable } from '../data/image-content.js';
import type { Sample, SplitName } from '../data/sample.js';
import { readSplitFile } from '../data/split.js';
import { ConfigError, DataError } from '../errors.js';
import { loadPredictor } from '../model/predictor.js';
import { localize, type Language } from '../report/i18n.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { BUSIGHT_VERSION } from '../version.js';
import type { CaseResult } from './case-results.js';
import type { EvaluationOutputs } from './write-outputs.js';
import { writeEvaluationOutputs } from './write-outputs.js';
import { makeOutputDirectory } from '../util/make-directory.js';

/** Options of `busight evaluate`. */
export interface EvaluateOptions {
  /** Model bundle folder (a run's model/). */
  model: string;
  /** Labelled data folder with benign/ and malignant/ subfolders. */
  data: string;
  /** Folder that receives metrics.json and report.html. */
  out: string;
  /** CSV `path,label,split`; with `split`, only that split's images are evaluated. */
  splitFile?: string;
  split?: SplitName;
  seed: number;
  bootstrapIterations: number;
  reportLanguage: Language;
  batchSize: number;
  logger: Logger;
}

export const EVALUATE_DEFAULTS = { seed: 42, bootstrapIterations: 2000, reportLanguage: 'en', batchSize: 16 } as const;

/** Evaluates a bundle on every image of a labelled folder (or one split of it) and writes metrics.json and report.html. */
export async function runEvaluation(
  input: Partial<EvaluateOptions> & Pick<EvaluateOptions, 'model' | 'data' | 'out'>,
): Promise<EvaluationOutputs> {
  const options: EvaluateOptions = { ...EVALUATE_DEFAULTS, logger: silentLogger, ...input } as EvaluateOptions;
  const logger = options.logger;
  const started = performance.now();
  if (options.split && !options.splitFile) throw new ConfigError('--split needs --split-file <csv>');
  // Fail on an unwritable --out before scoring every image.
  await makeOutputDirectory(options.out);
  logger.info(`busight ${BUSIGHT_VERSION} evaluate: model ${options.model}, data ${options.data}`);

  // Load the model first, so a bundle that cannot be used fails before the data is read.
  const predictor = await loadPredictor(options.model, { logger });
  try {
    // Choose the images.
    const dataset = await openDataset(options.data, {}, logger);
    let samples: Sample[] = dataset.samples;
    if (options.splitFile) {
      const withSplits = await readSplitFile(options.splitFile, dataset, logger);
      samples = options.split ? withSplits.filter((sample) => sample.split === options.split) : withSplits;
      if (samples.length === 0) throw new DataError(`${options.splitFile}: no images in split ${options.split}`, options.splitFile);
    }

    // Predict in batches; unreadable files are listed and skipped.
    const cases: CaseResult[] = [];
    const skipped = dataset.skipped.filter((file) => file.reason !== 'segmentation mask');
    let unreadable = 0;
    for (let start = 0; start < samples.length; start += options.batchSize) {
      const chunk = samples.slice(start, start + options.batchSize);
      const decoded = await Promise.all(
        chunk.map(async (sample) => {
          try {
            const image = await decodeImageBytes(await readSampleBytes(sample), sample.file);
            checkAssessable(image, sample.file);
            return { sample, image };
          } catch (error) {
            if (isSkippableImageError(error)) return { sample, error: error.message };
            throw error;
          }
        }),
      );
      const readable = decoded.filter((item) => item.image !== undefined);
      const predictions = await predictor.predictBatch(readable.map((item) => item.image!));
      readable.forEach((item, index) => {
        const prediction = predictions[index];
        cases.push({ sample: item.sample, label: item.sample.label, probability: prediction.probability, predicted: prediction.label });
      });
      for (const item of decoded) {
        if (item.error === undefined) continue;
        skipped.push({ id: item.sample.id, reason: item.error });
        unreadable++;
        logger.warn(`skipped ${item.error}`);
      }
      logger.progress({ stage: 'evaluate', current: Math.min(start + options.batchSize, samples.length), total: samples.length });
    }
    const malignant = cases.filter((result) => result.label === 1).length;
    if (malignant === 0 || malignant === cases.length) {
      throw new DataError(
        `${dataset.root}: ${cases.length - malignant} benign and ${malignant} malignant images could be read ` +
          `(${unreadable} unreadable images skipped); the metrics need both classes. Fix or replace the skipped images named in the warnings.`,
        dataset.root,
      );
    }

    return await writeEvaluationOutputs({
      out: options.out,
      title: localize('report.titleEvaluation'),
      predictor,
      recheck: false,
      cases,
      settings: {
        model: path.resolve(options.model),
        modelVersion: predictor.manifest.modelVersion,
        data: path.resolve(options.data),
        backbone: predictor.manifest.backbone.name,
        targetSensitivity: predictor.manifest.targetSensitivity,
        splitPolicy: options.split ? `split ${options.split} of ${path.basename(options.splitFile!)}` : 'all images of the folder',
        splitCounts: { test: { benign: cases.length - malignant, malignant } },
      },
      skipped,
      seed: options.seed,
      bootstrapIterations: options.bootstrapIterations,
      reportLanguage: options.reportLanguage,
      timings: () => ({ totalSeconds: Math.round(performance.now() - started) / 1000 }),
      logger,
    });
  } finally {
    await predictor.dispose();
  }
}
