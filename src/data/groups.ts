/**
 * Group-aware splits: every member of a duplicate group (see audit/duplicates.ts) lands in the
 * same split or fold, so copies of one lesion never sit on both sides of an evaluation.
 */
import { ConfigError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { compareIds } from './dataset.js';
import { CLASS_NAMES, type Label, type Sample, type SplitName, type SplitSample } from './sample.js';
import { checkFractions, DEFAULT_SPLIT_FRACTIONS, splitCounts, type SplitOptions } from './split.js';

/** Group id per sample id. Samples missing from the map are groups of their own. */
export type GroupMap = Map<string, number>;

interface Unit {
  members: Sample[];
  label: Label;
}

/**
 * Collects samples into units (one per group), sorted by their smallest id. A unit's label is the
 * majority label of its members, benign on a tie. Callers that must not use conflicting groups
 * drop them before splitting.
 */
function unitsOf(samples: Sample[], groups: GroupMap): Unit[] {
  const sorted = [...samples].sort((a, b) => compareIds(a.id, b.id));
  const byKey = new Map<string, Sample[]>();
  for (const sample of sorted) {
    const group = groups.get(sample.id);
    const key = group === undefined ? `id:${sample.id}` : `group:${group}`;
    const members = byKey.get(key);
    if (members) members.push(sample);
    else byKey.set(key, [sample]);
  }
  return [...byKey.values()].map((members) => {
    const malignant = members.filter((sample) => sample.label === 1).length;
    return { members, label: malignant * 2 > members.length ? 1 : 0 };
  });
}

/**
 * Deals units of one class into bins with the given image targets. Units are shuffled with `rng`
 * and then ordered by size, largest first (a stable sort). Each unit goes to the bin with the
 * largest remaining deficit (target minus images so far), the first such bin on a tie.
 */
function dealUnits(units: Unit[], targets: number[], rng: Rng): number[] {
  const order = rng.shuffle(units.map((_, index) => index));
  order.sort((a, b) => units[b].members.length - units[a].members.length);
  const filled = targets.map(() => 0);
  const binOf = new Array<number>(units.length);
  for (const index of order) {
    let best = 0;
    for (let bin = 1; bin < targets.length; bin++) {
      if (targets[bin] - filled[bin] > targets[best] - filled[best]) best = bin;
    }
    binOf[index] = best;
    filled[best] += units[index].members.length;
  }
  return binOf;
}

/**
 * Splits samples into train/val/test stratified by label, keeping each duplicate group in one
 * split. Per class, image targets come from `splitCounts` (as in `stratifiedSplit`) and groups
 * are dealt largest first, so each split's class count is within the largest group size of its
 * target. Returns the samples sorted by id, each with its split.
 */
export function groupAwareSplit(samples: Sample[], groups: GroupMap, options: SplitOptions): SplitSample[] {
  const fractions = options.fractions ?? DEFAULT_SPLIT_FRACTIONS;
  checkFractions(fractions);
  const rng = new Rng(options.seed);
  const units = unitsOf(samples, groups);
  const result: SplitSample[] = [];
  const splitNames: SplitName[] = ['train', 'val', 'test'];
  for (const label of [0, 1] as Label[]) {
    const classUnits = units.filter((unit) => unit.label === label);
    const imageCount = classUnits.reduce((sum, unit) => sum + unit.members.length, 0);
    const binOf = dealUnits(classUnits, splitCounts(imageCount, fractions), rng);
    classUnits.forEach((unit, index) => {
      for (const sample of unit.members) result.push({ ...sample, split: splitNames[binOf[index]] });
    });
  }
  return result.sort((a, b) => compareIds(a.id, b.id));
}

export interface KFoldOptions {
  /** Number of folds, at least 2. */
  k: number;
  seed: number;
}

/** A sample with the fold (0 to k - 1) it is held out in. */
export interface FoldSample extends Sample {
  fold: number;
}

/**
 * Assigns each sample to one of k folds, stratified by label and keeping each duplicate group in
 * one fold. Per class, each fold targets an equal share of images (the first `n % k` folds take
 * one more) and groups are dealt largest first. Returns the samples sorted by id. Throws
 * ConfigError when k < 2 or a class has fewer groups than k.
 */
export function groupKFold(samples: Sample[], groups: GroupMap, options: KFoldOptions): FoldSample[] {
  const { k } = options;
  if (!Number.isInteger(k) || k < 2) throw new ConfigError(`folds: expected an integer of at least 2, received ${k}`);
  const rng = new Rng(options.seed);
  const units = unitsOf(samples, groups);
  const result: FoldSample[] = [];
  for (const label of [0, 1] as Label[]) {
    const classUnits = units.filter((unit) => unit.label === label);
    if (classUnits.length < k) {
      throw new ConfigError(
        `folds: ${k} folds need at least ${k} ${CLASS_NAMES[label]} groups, found ${classUnits.length}; use fewer folds`,
      );
    }
    const imageCount = classUnits.reduce((sum, unit) => sum + unit.members.length, 0);
    const targets = Array.from({ length: k }, (_, fold) => Math.floor(imageCount / k) + (fold < imageCount % k ? 1 : 0));
    const binOf = dealUnits(classUnits, targets, rng);
    classUnits.forEach((unit, index) => {
      for (const sample of unit.members) result.push({ ...sample, fold: binOf[index] });
    });
  }
  return result.sort((a, b) => compareIds(a.id, b.id));
}

/**
 * Turns fold assignments into the train/val/test split of one round: fold `round` is test, fold
 * `(round + 1) % k` is val, the others train.
 */
export function foldRoundSplit(folds: FoldSample[], round: number, k: number): SplitSample[] {
  if (!Number.isInteger(round) || round < 0 || round >= k) {
    throw new ConfigError(`fold round: expected an integer in [0, ${k - 1}], received ${round}`);
  }
  const valFold = (round + 1) % k;
  return folds.map(({ fold, ...sample }) => {
    let split: SplitName = 'train';
    if (fold === round) split = 'test';
    else if (fold === valFold) split = 'val';
    return { ...sample, split };
  });
}
