/**
 * Child process of the benchmark. It runs one `runTraining` (the code path of `busight train`)
 * with the JSON options in argv[2] and prints one JSON line with the result and its own peak
 * resident set size, so each run's memory is measured on its own.
 */
import { runTraining } from '../train/train.js';
import type { TrainOptions } from '../train/train.js';

const options = JSON.parse(process.argv[2]) as Partial<TrainOptions> & Pick<TrainOptions, 'data' | 'out'>;
const started = performance.now();
const result = await runTraining(options);
const wallSeconds = (performance.now() - started) / 1000;
const summary = {
  wallSeconds,
  maxRssMb: process.resourceUsage().maxRSS / 1024,
  timings: result.timings,
  featureViews: result.featureViews,
  validation: result.validation,
  test: result.test,
  crossValidation: result.crossValidation,
  modelDir: `${result.rounds[0].outDir}/model`,
};
process.stdout.write(`${JSON.stringify(summary)}\n`);
