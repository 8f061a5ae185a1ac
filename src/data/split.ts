import * as path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { ConfigError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { silentLogger, type Logger } from '../util/log.js';
import { Rng } from '../util/rng.js';
import { readCsvRows, throwRowProblems } from './csv-table.js';
import { compareIds, type Dataset } from './dataset.js';
import { CLASS_NAMES, SPLIT_NAMES, type Label, type Sample, type SplitName, type SplitSample } from './sample.js';

/** Default train:val:test fractions. */
export const DEFAULT_SPLIT_FRACTIONS: [number, number, number] = [0.7, 0.2, 0.1];

export interface SplitOptions {
  /** Seed of the shuffle; the same seed and samples give the same split on every machine. */
  seed: number;
  /** Fractions of train, val and test, each in [0, 1], summing to 1. Defaults to [0.7, 0.2, 0.1]. */
  fractions?: [number, number, number];
}

/** Throws ConfigError unless the fractions are three numbers in [0, 1] summing to 1. */
export function checkFractions(fractions: [number, number, number]): void {
  const valid = fractions.length === 3 && fractions.every((f) => Number.isFinite(f) && f >= 0 && f <= 1);
  const sum = fractions.reduce((a, b) => a + b, 0);
  if (!valid || Math.abs(sum - 1) > 1e-6) {
    throw new ConfigError(
      `split fractions: expected three numbers in [0, 1] summing to 1 (train, val, test), received ${JSON.stringify(fractions)}`,
    );
  }
}

/**
 * Returns how many of `n` items of one class go to train, val and test. Val and test get
 * `Math.round(n * fraction)` each. When n >= 3, a split with a fraction above 0 gets at least one
 * item, taken from train, and train keeps at least one. Train receives the rest.
 */
export function splitCounts(n: number, fractions: [number, number, number]): [number, number, number] {
  let val = Math.round(n * fractions[1]);
  let test = Math.round(n * fractions[2]);
  if (n >= 3) {
    if (fractions[1] > 0) val = Math.max(val, 1);
    if (fractions[2] > 0) test = Math.max(test, 1);
    if (fractions[0] > 0) {
      // Keep at least one training item by taking it from the larger held-out split.
      while (val + test > n - 1) {
        if (val >= test) val--;
        else test--;
      }
    }
  }
  while (val + test > n) {
    if (val >= test) val--;
    else test--;
  }
  return [n - val - test, val, test];
}

/**
 * Splits samples stratified by label. Samples are first sorted by id, then each class (benign,
 * then malignant) is shuffled with one `Rng(seed)` and cut in the order train, val, test using
 * `splitCounts`. Returns the samples sorted by id, each with its split.
 */
export function stratifiedSplit(samples: Sample[], options: SplitOptions): SplitSample[] {
  const fractions = options.fractions ?? DEFAULT_SPLIT_FRACTIONS;
  checkFractions(fractions);
  const sorted = [...samples].sort((a, b) => compareIds(a.id, b.id));
  const rng = new Rng(options.seed);
  const result: SplitSample[] = [];
  for (const label of [0, 1] as Label[]) {
    const members = rng.shuffle(sorted.filter((sample) => sample.label === label));
    const [train, val] = splitCounts(members.length, fractions);
    members.forEach((sample, index) => {
      let split: SplitName = 'test';
      if (index < train) split = 'train';
      else if (index < train + val) split = 'val';
      result.push({ ...sample, split });
    });
  }
  return result.sort((a, b) => compareIds(a.id, b.id));
}

/** Parses a label cell: 0/1 or a class name (case-insensitive). Returns undefined when invalid. */
export function parseLabel(value: string): Label | undefined {
  const text = value.trim().toLowerCase();
  if (text === '0' || text === CLASS_NAMES[0]) return 0;
  if (text === '1' || text === CLASS_NAMES[1]) return 1;
  return undefined;
}

/** Normalises a relative path from a CSV cell to a dataset id: forward slashes, no leading `./`. */
export function normaliseRelativePath(value: string): string {
  return path.posix.normalize(value.trim().replaceAll('\\', '/')).replace(/^(\.\/)+/, '');
}

/**
 * Reads a split file: a CSV with header `path,label,split` (any column order), paths relative to
 * the data folder, labels 0/1 or class names, splits train/val/test. Returns the listed samples
 * sorted by id. A label that disagrees with the dataset's label is a warning naming the row, and
 * the file's label is used. Throws DataError naming the file and each bad row (line number, header
 * is line 1) for missing images, unknown split names, invalid labels and duplicate rows.
 */
export async function readSplitFile(file: string, dataset: Dataset, logger: Logger = silentLogger): Promise<SplitSample[]> {
  const rows = await readCsvRows(file, 'split file', ['path', 'label', 'split']);

  const byId = new Map(dataset.samples.map((sample) => [sample.id, sample]));
  const skippedById = new Map(dataset.skipped.map((entry) => [entry.id, entry.reason]));
  const seen = new Map<string, number>();
  const problems: string[] = [];
  const result: SplitSample[] = [];
  for (const { record, line } of rows) {
    const id = normaliseRelativePath(record.path ?? '');
    const label = parseLabel(record.label ?? '');
    const split = (record.split ?? '').toLowerCase() as SplitName;
    const sample = byId.get(id);

    if (seen.has(id)) {
      problems.push(`line ${line}: duplicate row for '${id}' (first on line ${seen.get(id)})`);
      continue;
    }
    seen.set(id, line);
    if (!sample) {
      const skip = skippedById.get(id);
      const problem = skip ? `was skipped when the dataset was read (${skip})` : `not found in ${dataset.root}`;
      problems.push(`line ${line}: image '${id}' ${problem}`);
      continue;
    }
    if (label === undefined) {
      problems.push(`line ${line}: invalid label '${record.label}'; expected 0, 1, benign or malignant`);
      continue;
    }
    if (!SPLIT_NAMES.includes(split)) {
      problems.push(`line ${line}: unknown split '${record.split}'; expected one of ${SPLIT_NAMES.join(', ')}`);
      continue;
    }
    if (label !== sample.label) {
      logger.warn(
        `${file} line ${line}: label ${label} (${CLASS_NAMES[label]}) of '${id}' disagrees with the dataset label ${sample.label} (${CLASS_NAMES[sample.label]}); using the split file's label`,
      );
    }
    result.push({ ...sample, label, split });
  }

  throwRowProblems(file, problems);
  return result.sort((a, b) => compareIds(a.id, b.id));
}

/** Writes samples as a `path,label,split` CSV (labels as 0/1), atomically, in the given order. */
export async function writeSplitFile(file: string, samples: SplitSample[]): Promise<void> {
  const rows = samples.map((sample) => [sample.id, sample.label, sample.split]);
  const text = stringify(rows, { header: true, columns: ['path', 'label', 'split'] });
  await writeFileAtomic(file, text);
}
