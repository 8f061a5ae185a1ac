/**
 * Helpers shared by the end-to-end tests: a small data folder copied from the real BUSI images
 * beside the repository, and the small training settings that keep a whole run to a few seconds.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { parse } from 'csv-parse/sync';

import { BUSI_DIR, testWeightsDir } from '../model/backbone-fixtures.js';
import type { TrainOptions } from './train.js';

/** Layout of a test data folder copied from BUSI. */
export interface BusiSubsetOptions {
  /** Images `benign (1).png` .. `benign (benign).png` copied into benign/. */
  benign: number;
  /** Images `malignant (1).png` .. `malignant (malignant).png` copied into malignant/. */
  malignant: number;
}

/** Name of the segmentation mask that copyBusiSubset adds. Training and predict must leave it out. */
export const MASK_ID = 'benign/benign (1)_mask.png';

/** Name of the image that copyBusiSubset puts in normal/, a folder training must ignore. */
export const NORMAL_ID = 'normal/normal (1).png';

/**
 * Copies real BUSI images into `target` as benign/ and malignant/ folders, adds one image under
 * normal/ and a `*_mask.png` file (a copy of a real image, so it would be used if it were not
 * recognised as a mask). Returns the ids (paths relative to `target`) of the copied class images.
 */
export async function copyBusiSubset(target: string, options: BusiSubsetOptions = { benign: 14, malignant: 10 }): Promise<string[]> {
  const ids: string[] = [];
  for (const [className, count] of [['benign', options.benign], ['malignant', options.malignant]] as const) {
    await fs.mkdir(path.join(target, className), { recursive: true });
    for (let index = 1; index <= count; index++) {
      const id = `${className}/${className} (${index}).png`;
      await fs.copyFile(path.join(BUSI_DIR, id), path.join(target, id));
      ids.push(id);
    }
  }
  await fs.mkdir(path.join(target, 'normal'), { recursive: true });
  await fs.copyFile(path.join(BUSI_DIR, NORMAL_ID), path.join(target, NORMAL_ID));
  await fs.copyFile(path.join(BUSI_DIR, 'benign', 'benign (1).png'), path.join(target, MASK_ID));
  return ids;
}

/**
 * Returns training options for a run of a few seconds on two cores: two views per training
 * image, five head epochs, 100 bootstrap resamples, and the test weights folder.
 */
export function smallTrainingOptions(data: string, out: string, cacheDir: string): Partial<TrainOptions> & Pick<TrainOptions, 'data' | 'out'> {
  return {
    data,
    out,
    cacheDir,
    weightsDir: testWeightsDir(),
    trainViews: 2,
    head: { maxEpochs: 5 },
    bootstrapIterations: 100,
  };
}

/** Reads a `path,label,split` CSV written by training into one record per row (header dropped). */
export async function readSplitRows(file: string): Promise<{ path: string; label: string; split: string }[]> {
  return parse(await fs.readFile(file, 'utf8'), { columns: true, skip_empty_lines: true });
}
