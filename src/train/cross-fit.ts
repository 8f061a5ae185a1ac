import { groupKFold } from '../data/groups.js';
import type { GroupMap } from '../data/groups.js';
import type { Label, Sample } from '../data/sample.js';
import { ConfigError } from '../errors.js';
import type { HeadWeights } from '../model/head.js';
import type { FeatureSet } from './feature-set.js';
import { selectImages } from './feature-set.js';
import { fitLinearHeadOn } from './linear-head.js';
import type { HeadTrainingOptions } from './train-head.js';
import { imageLogits } from './train-head.js';

/** Out-of-fold logits of the training and validation images, in that order, with their labels. */
export interface CrossFittedLogits {
  labels: Label[];
  logits: number[];
  folds: number;
}

/**
 * Computes out-of-fold logits for every training and validation image with the chosen L2
 * penalty: the images are dealt into `folds` stratified folds that keep duplicate groups together,
 * and each fold is scored by a head fitted on the other folds. The shipped head is refitted on
 * all these images. Its calibration and threshold therefore come from models fitted the same way
 * on slightly less data. The first fit on training images alone gives logits on another scale.
 * `warmStart`, normally the shipped head, starts every fold's fit (see fitLinearHeadOn). Returns
 * undefined when a class has fewer duplicate groups than folds.
 */
export function crossFittedLogits(
  train: { set: FeatureSet; samples: Sample[] },
  val: { set: FeatureSet; samples: Sample[] },
  groupOf: GroupMap,
  settings: HeadTrainingOptions,
  l2: number,
  folds = 5,
  warmStart?: HeadWeights,
): CrossFittedLogits | undefined {
  const samples = [...train.samples, ...val.samples];
  let assignment;
  try {
    assignment = groupKFold(samples, groupOf, { k: folds, seed: settings.seed });
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
  const foldOf = new Map(assignment.map((sample) => [sample.id, sample.fold]));
  const trainCount = train.samples.length;
  const logits = new Array<number>(samples.length);

  for (let fold = 0; fold < folds; fold++) {
    // Split both sets into the images used for fitting and the held-out fold.
    const trainFit: number[] = [];
    const valFit: number[] = [];
    const trainHeldOut: number[] = [];
    const valHeldOut: number[] = [];
    samples.forEach((sample, index) => {
      const heldOut = foldOf.get(sample.id) === fold;
      if (index < trainCount) (heldOut ? trainHeldOut : trainFit).push(index);
      else (heldOut ? valHeldOut : valFit).push(index - trainCount);
    });
    const head = fitLinearHeadOn([selectImages(train.set, trainFit), selectImages(val.set, valFit)], settings, l2, warmStart);

    // Score the held-out images.
    imageLogits(head, selectImages(train.set, trainHeldOut)).forEach((logit, position) => (logits[trainHeldOut[position]] = logit));
    imageLogits(head, selectImages(val.set, valHeldOut)).forEach((logit, position) => (logits[trainCount + valHeldOut[position]] = logit));
  }
  return { labels: samples.map((sample) => sample.label), logits, folds };
}
