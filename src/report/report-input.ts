/**
 * Everything `renderRunReport` needs for one training or evaluation run. The renderer computes
 * nothing that needs the model: the caller passes metrics, the ROC curve and the per-image results.
 */
import type { BinaryMetrics, RocCurve } from '../evaluate/metrics.js';
import type { Language, LocalizedText } from './i18n.js';

/** MIME types accepted for embedded images. */
export const EMBEDDED_IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp'] as const;
export type EmbeddedImageType = (typeof EMBEDDED_IMAGE_TYPES)[number];

/** An encoded image embedded in the page as a `data:` URI. */
export interface EmbeddedImage {
  mime: EmbeddedImageType;
  /** The encoded file bytes in standard base64 (RFC 4648, with padding). */
  base64: string;
}

/** Image counts of one split. */
export interface ClassCounts {
  benign: number;
  malignant: number;
}

/** Settings of the run, shown at the top of the report. */
export interface RunSettings {
  /** Backbone name, for example `mobilenet_v2_1.0_int8`. */
  backbone: string;
  /** Seed of the split and of training; absent for `evaluate`, which does not train. */
  seed?: number;
  /** Malignant sensitivity the threshold was chosen for on the validation split, in (0, 1]. */
  targetSensitivity?: number;
  /** Description of the split in plain words, for example "stratified 7:2:1, seed 42". */
  splitPolicy: string;
  /**
   * Image counts per split and class, keyed by split name. The names `train`, `validation` and
   * `test` are translated; other names are shown as given.
   */
  splitCounts: Record<string, ClassCounts>;
}

/** Metrics of one epoch of head training. Losses are mean binary cross-entropy per image. */
export interface TrainingEpoch {
  /** Epoch number, starting at 1. */
  epoch: number;
  trainLoss: number;
  valLoss: number;
  valAuc: number;
  /** Training-split AUC, when the trainer computes it. */
  trainAuc?: number;
  learningRate: number;
}

/** Training history with the epoch whose weights were kept. */
export interface TrainingHistory {
  epochs: TrainingEpoch[];
  /** The `epoch` value of the kept weights. */
  selectedEpoch: number;
  /**
   * Kind of entry: an 'epoch' of mini-batch training (the default), or an 'lbfgs-iteration' of
   * the full-batch solver, whose `learningRate` field holds the line-search step length.
   */
  steps?: 'epoch' | 'lbfgs-iteration';
}

/** One evaluated image of the test split (or of the evaluated folder). */
export interface ReportCase {
  /** Identifier shown under the image, usually the path relative to the data folder. Escaped when rendered. */
  id: string;
  /** True class: 0 benign, 1 malignant. */
  label: 0 | 1;
  /** Malignancy probability in [0, 1]. */
  probability: number;
  /** Predicted class at the report's threshold: 0 benign, 1 malignant. */
  predicted: 0 | 1;
  /** Small version of the image, for example from `thumbnailJpeg`. */
  thumbnail: EmbeddedImage;
  /** The image with its heat map overlaid, for example from `heatmapOverlay`. */
  heatmap?: EmbeddedImage;
}

/** Input of `renderRunReport`. */
export interface RunReportInput {
  /** Page title: text in each language (see localize), or one text shown in every language. */
  title: string | LocalizedText;
  /** busight version that produced the run. */
  version: string;
  /** Creation time as an ISO 8601 string. */
  created: string;
  /** Language shown before the reader chooses one. Defaults to English. */
  defaultLanguage?: Language;
  settings: RunSettings;
  /** Metrics of the validation split (absent for `evaluate`) and the test split, at the same threshold. */
  metrics: {
    validation?: BinaryMetrics;
    test: BinaryMetrics;
  };
  /** ROC curve of the test split. */
  testRoc: RocCurve;
  /** Absent for `evaluate`, which does not train. */
  history?: TrainingHistory;
  /** Duration of each step in seconds, keyed like `metrics.json` (`totalSeconds`, `trainSeconds`, ...). */
  timings?: Record<string, number>;
  /** Every test image; the per-class report, histogram and reliability diagram are computed from these. */
  cases: ReportCase[];
}
