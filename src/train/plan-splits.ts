import type { Dataset } from '../data/dataset.js';
import { duplicateGroups } from '../data/audit/duplicates.js';
import type { DuplicateGroup } from '../data/audit/duplicates.js';
import { foldRoundSplit, groupAwareSplit, groupKFold } from '../data/groups.js';
import type { GroupMap } from '../data/groups.js';
import type { Sample, SplitSample } from '../data/sample.js';
import { CLASS_NAMES } from '../data/sample.js';
import { DataError } from '../errors.js';
import { readSplitFile, stratifiedSplit } from '../data/split.js';
import type { Logger } from '../util/log.js';

/** Options of split planning for a training run. */
export interface SplitPlanOptions {
  /** CSV `path,label,split` used as given. */
  splitFile?: string;
  /** k >= 3 for group-aware stratified k-fold cross-validation; undefined for one 7:2:1 split. */
  folds?: number;
  seed: number;
  /** Keep duplicate groups in one split (true) or split image by image (false, leaky). */
  groupSplit: boolean;
  /** Keep images of groups whose members carry different labels. */
  keepConflicts: boolean;
  /** Maximum perceptual-hash distance in bits for near duplicates. */
  nearThreshold: number;
}

/** The splits of a run, and what the duplicate audit found, for the report. */
export interface SplitPlan {
  /** One split for a single run, k for cross-validation (round r tests fold r, validates on fold r + 1). */
  rounds: SplitSample[][];
  /** Duplicate group of every readable image, for splits inside a round. */
  groupOf: GroupMap;
  /** Plain-words description of the policy and the audit counts, shown in the report. */
  policy: string;
  audit: {
    duplicateGroups: number;
    imagesInDuplicateGroups: number;
    conflictGroups: number;
    /** Images left out because their group carries both labels. */
    excludedConflictImages: string[];
    /** Validation and test images with a duplicate in train (non-zero only for image-wise or given splits). */
    heldOutWithTrainDuplicate: number;
  };
}

/**
 * Plans the splits of a run. Duplicate groups come from the audit's hashes. Conflicting groups are
 * left out unless `keepConflicts`. A given split file is used as is, but its leakage (held-out
 * images with a duplicate in train) is counted and reported.
 */
export async function planSplits(dataset: Dataset, options: SplitPlanOptions, logger: Logger): Promise<SplitPlan> {
  const duplicates = await duplicateGroups(dataset, { nearThreshold: options.nearThreshold, logger });
  const conflictIds = new Set(options.keepConflicts ? [] : duplicates.conflicts.flatMap((group) => group.ids));
  const usable = dataset.samples.filter((sample) => !conflictIds.has(sample.id));
  if (conflictIds.size > 0) {
    logger.info(`left out ${conflictIds.size} images in ${duplicates.conflicts.length} duplicate groups that carry both labels (--keep-conflicts keeps them)`);
  }
  checkReadableClasses(dataset.root, usable, new Set(duplicates.unreadable.map((entry) => entry.id)));

  // Choose the rounds.
  let rounds: SplitSample[][];
  let policy: string;
  if (options.splitFile) {
    const given = await readSplitFile(options.splitFile, dataset, logger);
    rounds = [given.filter((sample) => !conflictIds.has(sample.id))];
    policy = `given split file ${options.splitFile.split(/[\\/]/).pop()}`;
  } else if (options.folds !== undefined) {
    const folds = groupKFold(usable, groupingFor(usable, duplicates.groupOf, options.groupSplit), { k: options.folds, seed: options.seed });
    rounds = Array.from({ length: options.folds }, (_, round) => foldRoundSplit(folds, round, options.folds!));
    policy = `${options.folds}-fold cross-validation, stratified, ${options.groupSplit ? 'duplicate groups kept in one fold' : 'image by image'}, seed ${options.seed}`;
  } else {
    rounds = [
      options.groupSplit
        ? groupAwareSplit(usable, duplicates.groupOf, { seed: options.seed })
        : stratifiedSplit(usable, { seed: options.seed }),
    ];
    policy = `stratified 7:2:1 split, ${options.groupSplit ? 'duplicate groups kept in one split' : 'image by image'}, seed ${options.seed}`;
  }

  // Count leakage of the first round.
  const leaked = countHeldOutWithTrainDuplicate(rounds[0], duplicates.groupOf);
  const inGroups = duplicates.groups.reduce((sum, group) => sum + group.ids.length, 0);
  policy += `; audit: ${duplicates.groups.length} duplicate groups (${inGroups} images), ${describeConflicts(duplicates.conflicts, options.keepConflicts)}`;
  if (leaked > 0) {
    policy += `; ${leaked} validation/test images have a duplicate in train, so held-out numbers are optimistic`;
    logger.warn(`${leaked} validation/test images have a near or exact duplicate in train; held-out metrics will be optimistic`);
  }
  return {
    rounds,
    groupOf: duplicates.groupOf,
    policy,
    audit: {
      duplicateGroups: duplicates.groups.length,
      imagesInDuplicateGroups: inGroups,
      conflictGroups: duplicates.conflicts.length,
      excludedConflictImages: [...conflictIds].sort(),
      heldOutWithTrainDuplicate: leaked,
    },
  };
}

/**
 * Throws DataError naming the data source when every image of a class is unreadable, because a
 * split could then never contain both classes. Each unreadable image already got its own warning.
 */
function checkReadableClasses(source: string, samples: Sample[], unreadable: ReadonlySet<string>): void {
  for (const label of [0, 1] as const) {
    const ofClass = samples.filter((sample) => sample.label === label);
    if (ofClass.length > 0 && ofClass.every((sample) => unreadable.has(sample.id))) {
      throw new DataError(
        `${source}: none of the ${ofClass.length} ${CLASS_NAMES[label]} images could be read (see the warnings above); ` +
          `replace the damaged files or add readable ${CLASS_NAMES[label]} images`,
        source,
      );
    }
  }
}

function groupingFor(samples: Sample[], groupOf: GroupMap, groupSplit: boolean): GroupMap {
  if (groupSplit) return groupOf;
  return new Map(samples.map((sample, index) => [sample.id, index]));
}

function describeConflicts(conflicts: DuplicateGroup[], kept: boolean): string {
  const images = conflicts.reduce((sum, group) => sum + group.ids.length, 0);
  if (conflicts.length === 0) return 'no label conflicts';
  return `${conflicts.length} label-conflict groups (${images} images) ${kept ? 'kept' : 'left out'}`;
}

/** Counts validation and test images whose duplicate group also has a member in train. */
export function countHeldOutWithTrainDuplicate(samples: SplitSample[], groupOf: GroupMap): number {
  const trainGroups = new Set<number>();
  for (const sample of samples) {
    const group = groupOf.get(sample.id);
    if (sample.split === 'train' && group !== undefined) trainGroups.add(group);
  }
  return samples.filter((sample) => {
    const group = groupOf.get(sample.id);
    return sample.split !== 'train' && group !== undefined && trainGroups.has(group);
  }).length;
}
