/** Class names in label order: label 0 is benign, label 1 is malignant. */
export const CLASS_NAMES = ['benign', 'malignant'] as const;

export type ClassName = (typeof CLASS_NAMES)[number];

/** Binary label: 0 = benign, 1 = malignant. */
export type Label = 0 | 1;

export const SPLIT_NAMES = ['train', 'val', 'test'] as const;

export type SplitName = (typeof SPLIT_NAMES)[number];

/** One labelled image of a dataset. */
export interface Sample {
  /** Path relative to the dataset root, with forward slashes; unique within a dataset. */
  id: string;
  /**
   * Absolute path of the image file. For a sample stored inside another file (a parquet row),
   * the container's path followed by `#` and the row index; `readBytes` then returns the bytes.
   */
  file: string;
  label: Label;
  /** Returns the encoded image bytes when they are not a file of their own (parquet rows). */
  readBytes?: () => Promise<Uint8Array>;
}

/** A sample with the split it belongs to. */
export interface SplitSample extends Sample {
  split: SplitName;
}
