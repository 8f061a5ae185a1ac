#!/usr/bin/env node
import * as path from 'node:path';

import { Command, Option } from 'commander';
import { stringify } from 'csv-stringify/sync';

import { exitCodeFor } from '../errors.js';
import { EVALUATE_DEFAULTS, runEvaluation } from '../evaluate/evaluate.js';
import { BACKBONE_NAMES } from '../model/backbone.js';
import { loadPredictor } from '../model/predictor.js';
import { expandInputs, predictFiles } from '../predict/predict-files.js';
import { HEAD_TRAINING_DEFAULTS } from '../train/train-head.js';
import { runTraining, TRAIN_DEFAULTS } from '../train/train.js';
import { BUSIGHT_VERSION } from '../version.js';
import { parseBackbone, parseFraction, parseLanguage, parsePositiveInteger, parseUnitList } from './options.js';
import { formatMetricsTable } from './summary-table.js';
import { terminalLogger } from './terminal-logger.js';

const program = new Command();
program
  .name('busight')
  .description('Benign/malignant classification of breast ultrasound images')
  .version(BUSIGHT_VERSION)
  .showHelpAfterError();

program
  .command('train')
  .description('Train a model on a labelled folder and write split.csv, model/, metrics.json and report.html')
  .requiredOption('--data <dir>', 'data folder with benign/ and malignant/ subfolders')
  .requiredOption('--out <dir>', 'run folder to write')
  .option('--split-file <csv>', 'CSV path,label,split (paths relative to --data) instead of a random stratified split')
  .option('--seed <n>', 'seed of the split, augmentation, training and bootstrap', parsePositiveIntegerOrZero, TRAIN_DEFAULTS.seed)
  .option('--target-sensitivity <x>', 'malignant sensitivity on validation that the threshold is chosen for', parseFraction, TRAIN_DEFAULTS.targetSensitivity)
  .addOption(new Option('--backbone <name>', 'ImageNet backbone').choices([...BACKBONE_NAMES]).default(TRAIN_DEFAULTS.backbone).argParser(parseBackbone))
  .option('--weights <dir>', 'folder with backbone weights (default: $BUSIGHT_WEIGHTS_DIR, then the cache, then download)')
  .option('--cache-dir <dir>', 'cache folder for weights and features (default: $BUSIGHT_CACHE_DIR or ~/.cache/busight)')
  .option('--no-cache', 'do not read or write cached features')
  .option('--views <n>', 'views per training image: the image, its mirror and random augmentations', parsePositiveInteger, TRAIN_DEFAULTS.trainViews)
  .option('--hidden <units>', 'comma-separated hidden layer sizes of the head; empty for logistic regression', parseUnitList, HEAD_TRAINING_DEFAULTS.hiddenUnits)
  .option('--max-epochs <n>', 'maximum head training epochs', parsePositiveInteger, HEAD_TRAINING_DEFAULTS.maxEpochs)
  .option('--patience <n>', 'early stopping patience in epochs', parsePositiveInteger, HEAD_TRAINING_DEFAULTS.patience)
  .addOption(new Option('--select-on <metric>', 'validation metric that picks the kept epoch').choices(['auc', 'loss']).default(HEAD_TRAINING_DEFAULTS.selectOn))
  .option('--bootstrap <n>', 'bootstrap resamples for AUC confidence intervals', parsePositiveInteger, TRAIN_DEFAULTS.bootstrapIterations)
  .option('--report-language <lang>', 'language the report opens in (en or zh-CN)', parseLanguage, TRAIN_DEFAULTS.reportLanguage)
  .option('--quiet', 'print only warnings, errors and the summary')
  .action(async (options) => {
    const logger = terminalLogger({ quiet: options.quiet });
    const result = await runTraining({
      data: options.data,
      out: options.out,
      splitFile: options.splitFile,
      seed: options.seed,
      targetSensitivity: options.targetSensitivity,
      backbone: options.backbone,
      weightsDir: options.weights,
      cacheDir: options.cacheDir,
      noCache: options.cache === false,
      trainViews: options.views,
      head: { hiddenUnits: options.hidden, maxEpochs: options.maxEpochs, patience: options.patience, selectOn: options.selectOn },
      bootstrapIterations: options.bootstrap,
      reportLanguage: options.reportLanguage,
      logger,
    });
    logger.close();
    process.stdout.write(`\n${formatMetricsTable([{ title: 'validation', metrics: result.validation }, { title: 'test', metrics: result.test }])}\n\n`);
    process.stdout.write(`model ${result.manifest.modelName} ${result.manifest.modelVersion}, threshold ${result.manifest.threshold.toFixed(3)}\n`);
    process.stdout.write(`wrote ${path.join(result.outDir, 'report.html')} in ${result.timings.totalSeconds.toFixed(1)} s\n`);
  });

program
  .command('evaluate')
  .description('Evaluate a model bundle on a labelled folder and write metrics.json and report.html')
  .requiredOption('--model <dir>', 'model bundle folder (a run\'s model/)')
  .requiredOption('--data <dir>', 'data folder with benign/ and malignant/ subfolders')
  .requiredOption('--out <dir>', 'folder to write')
  .option('--split-file <csv>', 'CSV path,label,split (paths relative to --data)')
  .addOption(new Option('--split <name>', 'evaluate only this split of --split-file').choices(['train', 'val', 'test']))
  .option('--seed <n>', 'seed of the bootstrap', parsePositiveIntegerOrZero, EVALUATE_DEFAULTS.seed)
  .option('--bootstrap <n>', 'bootstrap resamples for AUC confidence intervals', parsePositiveInteger, EVALUATE_DEFAULTS.bootstrapIterations)
  .option('--report-language <lang>', 'language the report opens in (en or zh-CN)', parseLanguage, EVALUATE_DEFAULTS.reportLanguage)
  .option('--quiet', 'print only warnings, errors and the summary')
  .action(async (options) => {
    const logger = terminalLogger({ quiet: options.quiet });
    const result = await runEvaluation({
      model: options.model,
      data: options.data,
      out: options.out,
      splitFile: options.splitFile,
      split: options.split,
      seed: options.seed,
      bootstrapIterations: options.bootstrap,
      reportLanguage: options.reportLanguage,
      logger,
    });
    logger.close();
    process.stdout.write(`\n${formatMetricsTable([{ title: 'evaluated', metrics: result.test }])}\n\n`);
    process.stdout.write(`wrote ${path.join(options.out, 'report.html')}\n`);
  });

program
  .command('predict')
  .description('Print the malignancy probability of each image file (folders are walked recursively)')
  .requiredOption('--model <dir>', 'model bundle folder')
  .argument('<paths...>', 'image files or folders')
  .addOption(new Option('--format <format>', 'output format').choices(['csv', 'json']).default('csv'))
  .option('--quiet', 'print only warnings and errors on stderr')
  .action(async (paths: string[], options) => {
    const logger = terminalLogger({ quiet: options.quiet });
    const files = await expandInputs(paths, logger);
    const predictor = await loadPredictor(options.model, { logger });
    try {
      const rows = await predictFiles(predictor, files, { logger });
      logger.close();
      if (options.format === 'json') {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      } else {
        const records = rows.map((row) => [row.path, row.probability === null ? '' : row.probability.toFixed(6), row.label ?? '', row.threshold.toFixed(6), row.error ?? '']);
        process.stdout.write(stringify([['path', 'probability', 'label', 'threshold', 'error'], ...records]));
      }
      if (rows.some((row) => row.error !== undefined)) process.exitCode = 3;
    } finally {
      await predictor.dispose();
    }
  });

function parsePositiveIntegerOrZero(value: string): number {
  return value === '0' ? 0 : parsePositiveInteger(value);
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`\nerror: ${message}\n`);
  if (exitCodeFor(error) === 1 && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  if (process.exitCode === undefined || process.exitCode === 0) process.exitCode = exitCodeFor(error);
}
