#!/usr/bin/env node
import * as path from 'node:path';

import { Command, CommanderError, Option } from 'commander';
import { stringify } from 'csv-stringify/sync';

import { runAudit } from '../data/audit/audit.js';
import { DEFAULT_NEAR_THRESHOLD } from '../data/audit/duplicates.js';
import { DataError, exitCodeFor } from '../errors.js';
import { PATH_ERROR_REASONS } from '../util/path-error.js';
import { EVALUATE_DEFAULTS, runEvaluation } from '../evaluate/evaluate.js';
import { BACKBONE_NAMES } from '../model/backbone.js';
import { exportBundle } from '../model/export-bundle.js';
import { loadPredictor } from '../model/predictor.js';
import { expandInputs, predictFiles } from '../predict/predict-files.js';
import { HEAD_TRAINING_DEFAULTS } from '../train/train-head.js';
import { runTraining, TRAIN_DEFAULTS } from '../train/train.js';
import { BUSIGHT_VERSION } from '../version.js';
import { registerServeCommand } from './serve-command.js';
import { parseBackbone, parseFolder, parseFoldCount, parseHashDistance, parseFraction, parseLanguage, parsePositiveInteger, parseUnitList } from './options.js';
import { formatMetricsTable } from './summary-table.js';
import { terminalLogger } from './terminal-logger.js';

const program = new Command();
// Commander's own usage errors throw CommanderError, mapped to exit code 2 below.
program.exitOverride();
program
  .name('busight')
  .description('Benign/malignant classification of breast ultrasound images')
  .version(BUSIGHT_VERSION)
  .showHelpAfterError();

program
  .command('train')
  .description('Train a model on a labelled folder and write split.csv, model/, metrics.json and report.html')
  .requiredOption('--data <source>', 'data: a folder with benign/ and malignant/ subfolders, a CSV manifest or a parquet file/folder')
  .requiredOption('--out <dir>', 'run folder to write')
  .option('--split-file <csv>', 'CSV path,label,split (paths relative to --data) instead of a random stratified split')
  .option('--folds <k>', 'group-aware stratified k-fold cross-validation instead of one 7:2:1 split (k >= 3)', parseFoldCount)
  .option('--no-group-split', 'split image by image instead of keeping duplicate groups together (leaky; for comparison only)')
  .option('--keep-conflicts', 'keep images whose duplicate group carries both labels')
  .option('--near-threshold <bits>', 'maximum perceptual-hash distance (0-64 bits) for near duplicates', parseHashDistance, TRAIN_DEFAULTS.nearThreshold)
  .option('--seed <n>', 'seed of the split, augmentation, training and bootstrap', parsePositiveIntegerOrZero, TRAIN_DEFAULTS.seed)
  .option('--target-sensitivity <x>', 'malignant sensitivity on validation that the threshold is chosen for', parseFraction, TRAIN_DEFAULTS.targetSensitivity)
  .addOption(new Option('--backbone <name>', 'ImageNet backbone').choices([...BACKBONE_NAMES]).default(TRAIN_DEFAULTS.backbone).argParser(parseBackbone))
  .option('--weights <dir>', 'folder with backbone weights (default: $BUSIGHT_WEIGHTS_DIR, then the cache, then download)')
  .option('--cache-dir <dir>', 'cache folder for weights and features (default: $BUSIGHT_CACHE_DIR, else $XDG_CACHE_HOME/busight, else ~/.cache/busight)')
  .option('--no-cache', 'do not read or write cached features')
  .option('--views <n>', 'views per training image: up to 6 fixed views (the image, its mirror, the central 85% crop and its mirror, the image rotated by 10 degrees and its mirror), then random augmentations', parsePositiveInteger, TRAIN_DEFAULTS.trainViews)
  .addOption(
    new Option('--solver <name>', "head solver: 'lbfgs' = logistic regression with the L2 penalty chosen on validation; 'adam' = mini-batch Adam with dropout, learning-rate decay and early stopping")
      .choices(['lbfgs', 'adam'])
      .default(HEAD_TRAINING_DEFAULTS.solver),
  )
  .addOption(
    new Option('--view-rows <mode>', "rows the lbfgs head is fitted on: 'mean' = one row an image, its views averaged; 'each' = one row a view")
      .choices(['mean', 'each'])
      .default(HEAD_TRAINING_DEFAULTS.viewRows),
  )
  .option('--hidden <units>', "comma-separated hidden layer sizes of the head (needs --solver adam); empty for logistic regression", parseUnitList, HEAD_TRAINING_DEFAULTS.hiddenUnits)
  .option('--max-epochs <n>', 'maximum head training epochs (adam)', parsePositiveInteger, HEAD_TRAINING_DEFAULTS.maxEpochs)
  .option('--patience <n>', 'early stopping patience in epochs (adam)', parsePositiveInteger, HEAD_TRAINING_DEFAULTS.patience)
  .addOption(new Option('--select-on <metric>', 'validation metric that picks the L2 penalty (lbfgs) or the kept epoch (adam)').choices(['auc', 'loss']).default(HEAD_TRAINING_DEFAULTS.selectOn))
  .option('--bootstrap <n>', 'bootstrap resamples for AUC confidence intervals', parsePositiveInteger, TRAIN_DEFAULTS.bootstrapIterations)
  .option('--report-language <lang>', 'language the report opens in (en or zh-CN)', parseLanguage, TRAIN_DEFAULTS.reportLanguage)
  .option('--quiet', 'print only warnings, errors and the summary')
  .action(async (options) => {
    const logger = terminalLogger({ quiet: options.quiet });
    const result = await runTraining({
      data: options.data,
      out: options.out,
      splitFile: options.splitFile,
      folds: options.folds,
      groupSplit: options.groupSplit,
      keepConflicts: options.keepConflicts === true,
      nearThreshold: options.nearThreshold,
      seed: options.seed,
      targetSensitivity: options.targetSensitivity,
      backbone: options.backbone,
      weightsDir: options.weights,
      cacheDir: options.cacheDir,
      noCache: options.cache === false,
      trainViews: options.views,
      head: { solver: options.solver, viewRows: options.viewRows, hiddenUnits: options.hidden, maxEpochs: options.maxEpochs, patience: options.patience, selectOn: options.selectOn },
      bootstrapIterations: options.bootstrap,
      reportLanguage: options.reportLanguage,
      logger,
    });
    logger.close();
    if (result.crossValidation) {
      const cv = result.crossValidation;
      process.stdout.write(`\n${formatMetricsTable(cv.folds.map((fold) => ({ title: `fold ${fold.fold}`, metrics: fold.test })))}\n\n`);
      process.stdout.write(
        `cross-validation: AUC ${cv.mean.auc.toFixed(3)} ± ${cv.sd.auc.toFixed(3)} (mean ± sd over ${cv.folds.length} folds), ` +
          `pooled sensitivity ${cv.pooled.sensitivity.toFixed(3)}, specificity ${cv.pooled.specificity.toFixed(3)} at the folds' thresholds\n`,
      );
      process.stdout.write(`wrote ${path.join(result.outDir, 'cv-report.html')}, cv-metrics.json and fold-1..${cv.folds.length}/ in ${result.timings.totalSeconds.toFixed(1)} s\n`);
      return;
    }
    process.stdout.write(`\n${formatMetricsTable([{ title: 'validation', metrics: result.validation }, { title: 'test', metrics: result.test }])}\n\n`);
    process.stdout.write(`model ${result.manifest.modelName} ${result.manifest.modelVersion}, threshold ${result.manifest.threshold.toFixed(3)}\n`);
    process.stdout.write(`wrote ${path.join(result.outDir, 'report.html')} in ${result.timings.totalSeconds.toFixed(1)} s\n`);
  });

program
  .command('evaluate')
  .description('Evaluate a model bundle on a labelled folder and write metrics.json and report.html')
  .requiredOption('--model <dir>', 'model bundle folder (a run\'s model/)')
  .requiredOption('--data <source>', 'data: a folder with benign/ and malignant/ subfolders, a CSV manifest or a parquet file/folder')
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
  .option('--heatmaps <dir>', 'also write each image with its heat map overlaid as a PNG into this folder, and add a heatmap column', parseFolder)
  .option('--quiet', 'print only warnings and errors on stderr')
  .action(async (paths: string[], options) => {
    const logger = terminalLogger({ quiet: options.quiet });
    let files = await expandInputs(paths, logger);
    if (options.heatmaps !== undefined) {
      // Overlays from an earlier run into a folder under the inputs are not ultrasound images.
      const heatmapRoot = path.resolve(options.heatmaps) + path.sep;
      const overlays = files.filter((file) => path.resolve(file).startsWith(heatmapRoot));
      if (overlays.length > 0) logger.info(`left out ${overlays.length} file(s) inside the --heatmaps folder ${options.heatmaps}`);
      files = files.filter((file) => !overlays.includes(file));
      if (files.length === 0) throw new DataError(`no image files left outside the --heatmaps folder ${options.heatmaps}`, paths[0]);
    }
    const predictor = await loadPredictor(options.model, { logger });
    try {
      const rows = await predictFiles(predictor, files, { logger, heatmapDir: options.heatmaps });
      logger.close();
      if (options.format === 'json') {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      } else {
        const header = ['path', 'probability', 'label', 'threshold', 'error', 'content_box', 'atypical'];
        const records = rows.map((row) => [
          row.path,
          row.probability === null ? '' : row.probability.toFixed(6),
          row.label ?? '',
          row.threshold.toFixed(6),
          row.error ?? '',
          row.contentBox ? `${row.contentBox.width}x${row.contentBox.height}+${row.contentBox.left}+${row.contentBox.top}` : '',
          row.atypical === undefined ? '' : String(row.atypical),
        ]);
        if (options.heatmaps !== undefined) {
          header.push('heatmap');
          rows.forEach((row, index) => records[index].push(row.heatmap ?? ''));
        }
        process.stdout.write(stringify([header, ...records]));
      }
      const atypical = rows.filter((row) => row.atypical).length;
      if (atypical > 0) {
        process.stderr.write(
          `warning: ${atypical} image(s) look unlike the images the model was trained on (atypical = true); their probabilities may be unreliable\n`,
        );
      }
      if (rows.some((row) => row.error !== undefined)) process.exitCode = 3;
    } finally {
      await predictor.dispose();
    }
  });

program
  .command('audit')
  .description('Audit a labelled data set: counts, sizes, unreadable files, exact and near duplicates, label conflicts, burned-in annotations')
  .requiredOption('--data <source>', 'data folder, CSV manifest or parquet file/folder')
  .option('--out <dir>', 'folder for audit.json and audit.html', 'audit')
  .option('--near-threshold <bits>', 'maximum perceptual-hash distance (0-64 bits) for near duplicates', parseHashDistance, DEFAULT_NEAR_THRESHOLD)
  .option('--quiet', 'print only warnings, errors and the summary')
  .action(async (options) => {
    const logger = terminalLogger({ quiet: options.quiet });
    const result = await runAudit({ data: options.data, out: options.out, nearThreshold: options.nearThreshold, logger });
    logger.close();
    const summary = result.summary;
    const lines = [
      `images: ${summary.images} (${Object.entries(summary.perClass).map(([name, count]) => `${count} ${name}`).join(', ')}), unreadable ${summary.unreadable}`,
      `sizes: ${Object.entries(summary.sizes).map(([size, count]) => `${size} x${count}`).join(', ')}`,
      `exact duplicates: ${summary.exactGroups} group(s) (${summary.exactDuplicateImages} images)`,
      `near duplicates (pairs within ${summary.nearThreshold} bits, grouped transitively): ${summary.nearGroups} groups (${summary.nearDuplicateImages} images)`,
      `label conflicts: ${summary.labelConflicts} groups${result.conflicts.length > 0 ? `: ${result.conflicts.map((group) => group.ids.join(' = ')).join('; ')}` : ''}`,
      `burned-in annotations (heuristic): ${summary.annotatedImages} images`,
      `wrote ${result.jsonFile} and ${result.htmlFile} in ${summary.seconds.toFixed(1)} s`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  });

program
  .command('export')
  .description('Export a model bundle as one ONNX file (backbone, linear head and calibration) and a JSON preprocessing contract beside it')
  .requiredOption('--model <dir>', "model bundle folder (a run's model/); its backbone must be mobilenet_v2_1.0 and its head linear")
  .requiredOption('--out <file>', 'ONNX file to write, ending in .onnx; the contract is written to the same name ending in .json')
  .action(async (options) => {
    const result = await exportBundle(options.model, options.out);
    const megabytes = (result.onnxBytes / 1e6).toFixed(1);
    process.stdout.write(`model ${result.contract.model.name} ${result.contract.model.version}, threshold ${result.contract.model.threshold.toFixed(3)}\n`);
    process.stdout.write(`wrote ${result.onnxFile} (${megabytes} MB) and ${result.contractFile}\n`);
  });

registerServeCommand(program);

/** Returns a one-line message for a file system error on a path, or undefined for other errors. */
function describePathError(error: unknown): string | undefined {
  const { code, path: failedPath, syscall } = error as NodeJS.ErrnoException;
  if (typeof code !== 'string' || typeof failedPath !== 'string' || !(code in PATH_ERROR_REASONS)) return undefined;
  return `${syscall ?? 'access'} ${failedPath} failed: ${PATH_ERROR_REASONS[code]} (${code}); check the path and its permissions`;
}

function parsePositiveIntegerOrZero(value: string): number {
  return value === '0' ? 0 : parsePositiveInteger(value);
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander has printed its message; help and version exit 0, usage errors exit 2.
    process.exitCode = error.exitCode === 0 ? 0 : 2;
    process.exit();
  }
  const pathError = describePathError(error);
  if (pathError) {
    // A path the user gave cannot be written or read: a usage problem, not a busight bug.
    process.stderr.write(`\nerror: ${pathError}\n`);
    process.exitCode = 2;
  } else {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`\nerror: ${message}\n`);
    if (exitCodeFor(error) === 1 && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    if (process.exitCode === undefined || process.exitCode === 0) process.exitCode = exitCodeFor(error);
  }
}
