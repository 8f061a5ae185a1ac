import { CLASS_NAMES, type ClassName } from '../data/sample.js';
import type { CaseRecord } from './case-store.js';

/** JSON of one prediction as the API returns it; documented in docs/openapi.yaml. */
export interface PredictionJson {
  id: string;
  caseNumber: number;
  createdAt: string;
  /** Calibrated malignancy probability in [0, 1]. */
  probability: number;
  /** 'malignant' when probability >= threshold, else 'benign'. */
  label: ClassName;
  threshold: number;
  modelName: string;
  modelVersion: string;
  image: { width: number; height: number };
  imageUrl: string;
  /** URL of the heat map PNG, or null when the case has none. */
  heatmapUrl: string | null;
  /** True when the case has a heat map whose values are all 0, so no region raised the malignancy score. */
  heatmapEmpty: boolean;
  /** Whether the image looked unlike the model's training images; null when the model could not tell. */
  atypical: boolean | null;
  reportUrl: string;
}

/** Builds the API's JSON for a stored case; URLs are absolute paths on this server. */
export function toPredictionJson(record: CaseRecord): PredictionJson {
  const base = `/api/v1/predictions/${record.id}`;
  return {
    id: record.id,
    caseNumber: record.caseNumber,
    createdAt: record.createdAt,
    probability: record.probability,
    label: CLASS_NAMES[record.label],
    threshold: record.threshold,
    modelName: record.modelName,
    modelVersion: record.modelVersion,
    image: { width: record.imageWidth, height: record.imageHeight },
    imageUrl: `${base}/image.png`,
    heatmapUrl: record.heatmapWidth !== undefined ? `${base}/heatmap.png` : null,
    heatmapEmpty: record.heatmapMax === 0,
    atypical: record.atypical ?? null,
    reportUrl: `/report/${record.id}`,
  };
}

/** Header of the CSV export; one row per case, oldest first. */
export const CSV_COLUMNS = [
  'case_number',
  'id',
  'created_at',
  'probability',
  'label',
  'threshold',
  'model_name',
  'model_version',
  'image_width',
  'image_height',
  'atypical',
] as const;

/** Returns one CSV row for a case, in the order of CSV_COLUMNS. */
export function toCsvRow(record: CaseRecord): Array<string | number> {
  return [
    record.caseNumber,
    record.id,
    record.createdAt,
    record.probability,
    CLASS_NAMES[record.label],
    record.threshold,
    record.modelName,
    record.modelVersion,
    record.imageWidth,
    record.imageHeight,
    record.atypical === undefined ? '' : String(record.atypical),
  ];
}
