import type { Sample } from './sample.js';

/** Input layouts that busight reads; each is opened by its own reader under src/data/. */
export const DATASET_FORMATS = ['folders', 'csv', 'parquet'] as const;

export type DatasetFormat = (typeof DATASET_FORMATS)[number];

/** A file that was found but not used as a sample, with the reason in plain words. */
export interface SkippedFile {
  /** Path relative to the dataset root, with forward slashes. */
  id: string;
  reason: string;
}

/** The labelled images of one data source, in a fixed order (sorted by `id`). */
export interface Dataset {
  /** Absolute path of the folder, CSV manifest or parquet file/folder that was opened. */
  root: string;
  format: DatasetFormat;
  samples: Sample[];
  skipped: SkippedFile[];
}

/** Compares two ids by UTF-16 code units, so sorting does not depend on the machine's locale. */
export function compareIds(a: string, b: string): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}
