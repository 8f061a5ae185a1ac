/**
 * Benchmark of busight on BUSI: the main training command (cold feature cache), the seed split
 * over several training seeds, group-aware 5-fold cross-validation, and single-image predict
 * latency. Writes bench/results.json and prints one summary line. Run with `npm run bench`.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { Command } from 'commander';

import { decodeImageBytes, readSampleBytes } from '../data/image.js';
import { openDataset } from '../data/open-dataset.js';
import type { BinaryMetrics } from '../evaluate/metrics.js';
import { loadPredictor } from '../model/predictor.js';
import type { PooledMetrics } from '../train/train.js';
import { writeFileAtomic } from '../util/atomic.js';
import { silentLogger } from '../util/log.js';
import { median, quantile, standardDeviation } from '../util/statistics.js';
import { BUSIGHT_VERSION } from '../version.js';


const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');

interface WorkerResult {
  wallSeconds: number;
  maxRssMb: number;
  timings: Record<string, number>;
  featureViews: number;
  validation: BinaryMetrics;
  test: BinaryMetrics;
  crossValidation?: {
    mean: { auc: number; sensitivity: number; specificity: number; ece: number };
    sd: { auc: number; sensitivity: number; specificity: number; ece: number };
    pooled: PooledMetrics;
  };
  modelDir: string;
}

/** Runs runTraining in a child process (see train-worker.ts) and returns its JSON line. */
async function trainInChild(options: Record<string, unknown>): Promise<WorkerResult> {
  const { stdout } = await run(process.execPath, [path.join(here, 'train-worker.js'), JSON.stringify(options)], {
    maxBuffer: 64 * 1024 * 1024,
    env: process.env,
  });
  const line = stdout.trim().split('\n').pop()!;
  return JSON.parse(line) as WorkerResult;
}

/** Keeps the headline numbers of a metrics object. */
function headline(metrics: BinaryMetrics) {
  const pick = (value: number | null) => (value === null ? null : Math.round(value * 10000) / 10000);
  return {
    n: metrics.n,
    auc: pick(metrics.auc),
    aucCi95: metrics.aucCi95.map(pick),
    sensitivity: pick(metrics.sensitivity),
    specificity: pick(metrics.specificity),
    ppv: pick(metrics.ppv),
    npv: pick(metrics.npv),
    ece: pick(metrics.ece),
    threshold: pick(metrics.threshold),
  };
}

const program = new Command()
  .name('busight-bench')
  .option('--data <dir>', 'BUSI folder', path.resolve(repoRoot, '..', 'shared', 'data', 'busi'))
  .option('--seed-split <csv>', 'the seed split file', path.resolve(repoRoot, '..', 'shared', 'data', 'busi_seed_split.csv'))
  .option('--weights <dir>', 'backbone weights folder', process.env.BUSIGHT_WEIGHTS_DIR ?? path.resolve(repoRoot, '..', 'shared', 'models'))
  .option('--seeds <list>', 'training seeds for the stability check', '42,1,2,3,4')
  .option('--folds <k>', 'cross-validation folds', '5')
  .option('--quick', 'only the main command, one seed-split run and predict latency')
  .option('--out <file>', 'results file', path.join(repoRoot, 'bench', 'results.json'))
  .parse();

const options = program.opts();
const work = await fs.mkdtemp(path.join(os.tmpdir(), 'busight-bench-'));
const coldCache = path.join(work, 'cache-cold');
const sharedCache = path.join(work, 'cache');
const seeds = String(options.seeds).split(',').map(Number);
const base = { data: options.data, weightsDir: options.weights, bootstrapIterations: 2000 };
const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

// Main command with a cold feature cache.
log('main command (cold cache)');
const main = await trainInChild({ ...base, out: path.join(work, 'main'), cacheDir: coldCache });

// Seed split over training seeds.
const seedRuns: { seed: number; result: WorkerResult }[] = [];
for (const seed of options.quick ? seeds.slice(0, 1) : seeds) {
  log(`seed split, seed ${seed}`);
  // Conflicting images are kept so the test split is the published recipe's 65 images.
  const splitRun = { ...base, out: path.join(work, `seed-${seed}`), splitFile: options.seedSplit, keepConflicts: true, seed, cacheDir: sharedCache };
  seedRuns.push({ seed, result: await trainInChild(splitRun) });
}

// Group-aware cross-validation.
let crossValidation: WorkerResult | undefined;
if (!options.quick) {
  log(`${options.folds}-fold cross-validation`);
  crossValidation = await trainInChild({ ...base, out: path.join(work, 'cv'), folds: Number(options.folds), cacheDir: sharedCache });
}

// Predict latency: decode + predict of one image at a time, after the model is loaded.
log('predict latency');
const predictor = await loadPredictor(seedRuns[0].result.modelDir);
const dataset = await openDataset(options.data, {}, silentLogger);
const latencies: number[] = [];
const probe = dataset.samples.filter((_, index) => index % 10 === 0).slice(0, 60);
for (const [index, sample] of probe.entries()) {
  const started = performance.now();
  const image = await decodeImageBytes(await readSampleBytes(sample), sample.file);
  await predictor.predict(image);
  if (index >= 5) latencies.push(performance.now() - started); // the first runs warm up ONNX Runtime
}
await predictor.dispose();

// Write the results.
const seedAucs = seedRuns.map((entry) => entry.result.test.auc);
const results = {
  busightVersion: BUSIGHT_VERSION,
  createdAt: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadAverage1m: os.loadavg()[0] },
  mainCommand: {
    wallSeconds: round(main.wallSeconds),
    timings: main.timings,
    maxRssMb: round(main.maxRssMb),
    featuresPerSecond: round(main.featureViews / main.timings.featureSeconds),
    validation: headline(main.validation),
    test: headline(main.test),
  },
  seedSplit: {
    runs: seedRuns.map((entry) => ({ seed: entry.seed, wallSeconds: round(entry.result.wallSeconds), maxRssMb: round(entry.result.maxRssMb), test: headline(entry.result.test) })),
    testAucMedian: round(median(seedAucs), 4),
    testAucSd: round(standardDeviation(seedAucs), 4),
  },
  crossValidation: crossValidation?.crossValidation
    ? {
        folds: Number(options.folds),
        wallSeconds: round(crossValidation.wallSeconds),
        aucMean: round(crossValidation.crossValidation.mean.auc, 4),
        aucSd: round(crossValidation.crossValidation.sd.auc, 4),
        eceMean: round(crossValidation.crossValidation.mean.ece, 4),
        pooledAuc: round(crossValidation.crossValidation.pooled.auc, 4),
        pooledSensitivity: round(crossValidation.crossValidation.pooled.sensitivity, 4),
        pooledSpecificity: round(crossValidation.crossValidation.pooled.specificity, 4),
        pooledRocSpecificityAtSensitivity95: round(crossValidation.crossValidation.pooled.rocSpecificityAtTarget, 4),
        pooledEce: round(crossValidation.crossValidation.pooled.ece, 4),
      }
    : undefined,
  predictLatencyMs: { images: latencies.length, p50: round(quantile(latencies, 0.5)), p95: round(quantile(latencies, 0.95)) },
  peakRssMb: round(Math.max(main.maxRssMb, ...seedRuns.map((entry) => entry.result.maxRssMb), crossValidation?.maxRssMb ?? 0)),
};
await writeFileAtomic(options.out, `${JSON.stringify(results, null, 2)}\n`);
await fs.rm(work, { recursive: true, force: true });

const first = seedRuns[0].result.test;
const cv = results.crossValidation;
process.stdout.write(
  `busight bench: seed-split AUC ${first.auc.toFixed(3)} (median ${results.seedSplit.testAucMedian.toFixed(3)}, sd ${results.seedSplit.testAucSd.toFixed(3)} over ${seedRuns.length} seeds), ` +
    `sens ${first.sensitivity.toFixed(3)} spec ${first.specificity.toFixed(3)} ECE ${first.ece.toFixed(3)}; ` +
    (cv ? `CV AUC ${cv.aucMean.toFixed(3)} ± ${cv.aucSd.toFixed(3)}, pooled spec ${cv.pooledSpecificity.toFixed(3)} at sens ${cv.pooledSensitivity.toFixed(3)} (ROC: spec ${cv.pooledRocSpecificityAtSensitivity95.toFixed(3)} at sens 0.95); ` : '') +
    `main command ${results.mainCommand.wallSeconds.toFixed(1)} s cold, ${results.mainCommand.featuresPerSecond.toFixed(0)} features/s; ` +
    `predict p50 ${results.predictLatencyMs.p50.toFixed(1)} ms p95 ${results.predictLatencyMs.p95.toFixed(1)} ms; peak RSS ${results.peakRssMb.toFixed(0)} MB\n`,
);

function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
