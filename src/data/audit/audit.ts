/**
 * Dataset audit: counts, formats and layouts, unreadable files, exact and near duplicates, label
 * conflicts and burned-in annotations, written as audit.json and audit.html.
 */
import * as path from 'node:path';
import { renderAuditHtml } from '../../report/audit-html.js';
import { writeFileAtomic } from '../../util/atomic.js';
import type { Logger } from '../../util/log.js';
import { BUSIGHT_VERSION } from '../../version.js';
import { DEFAULT_IMAGE_LIMITS, loadSampleImage, type ImageLimits, type RgbImage } from '../image.js';
import { openDataset } from '../open-dataset.js';
import { CLASS_NAMES } from '../sample.js';
import { ANNOTATION_THRESHOLDS } from './annotations.js';
import { DEFAULT_NEAR_THRESHOLD, fingerprintDataset, groupFingerprints, type DuplicateGroup } from './duplicates.js';
import { ConfigError } from '../../errors.js';
import { makeOutputDirectory } from '../../util/make-directory.js';

export interface AuditOptions {
  /** Data folder, CSV manifest or parquet file/folder (see openDataset). */
  data: string;
  /** Output folder for audit.json and audit.html; defaults to `audit` in the working folder. */
  out?: string;
  /** Maximum perceptual-hash distance in bits (0-64) for near duplicates; defaults to DEFAULT_NEAR_THRESHOLD. */
  nearThreshold?: number;
  limits?: ImageLimits;
  logger: Logger;
}

/** Summary of an audit, as written to audit.json (without the per-image lists) and printed by the CLI. */
export interface AuditSummary {
  source: string;
  format: string;
  images: number;
  readable: number;
  perClass: Record<string, number>;
  unreadable: number;
  skippedFiles: number;
  /** Count per container format, for example { png: 780 }. */
  formats: Record<string, number>;
  /** Count per size, for example { '256x256': 780 }. */
  sizes: Record<string, number>;
  /** Count per stored layout, for example { '3 channels, 8-bit, srgb': 780 }. */
  layouts: Record<string, number>;
  nearThreshold: number;
  /** Sets of two or more images with identical decoded pixels, whatever near-duplicate group they are in. */
  exactGroups: number;
  exactDuplicateImages: number;
  nearGroups: number;
  nearDuplicateImages: number;
  labelConflicts: number;
  annotatedImages: number;
  seconds: number;
}

export interface AuditResult {
  summary: AuditSummary;
  groups: DuplicateGroup[];
  conflicts: DuplicateGroup[];
  unreadable: { id: string; reason: string }[];
  annotated: { id: string; label: string; colourPixels: number; markPixels: number }[];
  jsonFile: string;
  htmlFile: string;
}

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

/** Runs the audit of one data source and writes audit.json and audit.html atomically into `out`. */
export async function runAudit(options: AuditOptions): Promise<AuditResult> {
  const started = performance.now();
  const logger = options.logger;
  const nearThreshold = options.nearThreshold ?? DEFAULT_NEAR_THRESHOLD;
  if (!Number.isInteger(nearThreshold) || nearThreshold < 0 || nearThreshold > 64) {
    throw new ConfigError(`near-duplicate threshold: expected an integer number of bits from 0 to 64, received ${nearThreshold}`);
  }
  const limits = options.limits ?? DEFAULT_IMAGE_LIMITS;
  const out = path.resolve(options.out ?? 'audit');
  // Fail on an unwritable --out before hashing every image.
  await makeOutputDirectory(out);

  // Read and hash every image
  const dataset = await openDataset(options.data, {}, logger);
  const { fingerprints, unreadable } = await fingerprintDataset(dataset, { limits, logger });
  const { groups, conflicts } = groupFingerprints(fingerprints, nearThreshold);
  const annotated = fingerprints
    .filter((fingerprint) => fingerprint.annotations.flagged)
    .map((fingerprint) => ({
      id: fingerprint.id,
      label: CLASS_NAMES[fingerprint.label],
      colourPixels: fingerprint.annotations.colourPixels,
      markPixels: fingerprint.annotations.markPixels,
    }));

  // Sets of images with identical pixels are counted on their own, because a near-duplicate group
  // can contain them together with images that differ.
  const exactSets = Object.values(countBy(fingerprints, (fingerprint) => fingerprint.pixelHash)).filter((size) => size > 1);
  const near = groups.filter((group) => group.kind === 'near');
  const summary: AuditSummary = {
    source: dataset.root,
    format: dataset.format,
    images: dataset.samples.length,
    readable: fingerprints.length,
    perClass: countBy(dataset.samples, (sample) => CLASS_NAMES[sample.label]),
    unreadable: unreadable.length,
    skippedFiles: dataset.skipped.length,
    formats: countBy(fingerprints, (fingerprint) => fingerprint.info.format),
    sizes: countBy(fingerprints, (fingerprint) => `${fingerprint.info.width}x${fingerprint.info.height}`),
    layouts: countBy(fingerprints, ({ info }) => `${info.channels} channels, ${info.bitsPerSample}-bit, ${info.space}${info.hasAlpha ? ', alpha' : ''}`),
    nearThreshold,
    exactGroups: exactSets.length,
    exactDuplicateImages: exactSets.reduce((sum, size) => sum + size, 0),
    nearGroups: near.length,
    nearDuplicateImages: near.reduce((sum, group) => sum + group.ids.length, 0),
    labelConflicts: conflicts.length,
    annotatedImages: annotated.length,
    seconds: 0,
  };

  // Thumbnails of group members and flagged images for the contact sheets
  const thumbnailIds = new Set([...groups.flatMap((group) => group.ids), ...annotated.map((item) => item.id)]);
  const images = new Map<string, RgbImage>();
  for (const sample of dataset.samples) {
    if (thumbnailIds.has(sample.id)) images.set(sample.id, await loadSampleImage(sample, limits));
  }
  const html = await renderAuditHtml({
    summary,
    groups,
    unreadable,
    annotated,
    skipped: dataset.skipped,
    images,
    annotationThresholds: ANNOTATION_THRESHOLDS,
    version: BUSIGHT_VERSION,
  });

  summary.seconds = Math.round((performance.now() - started) / 10) / 100;
  const jsonFile = path.join(out, 'audit.json');
  const htmlFile = path.join(out, 'audit.html');
  const report = {
    busightVersion: BUSIGHT_VERSION,
    summary,
    annotationHeuristic: ANNOTATION_THRESHOLDS,
    groups,
    unreadable,
    annotated,
    skipped: dataset.skipped,
  };
  await writeFileAtomic(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
  await writeFileAtomic(htmlFile, html);
  logger.info(`audit written to ${jsonFile} and ${htmlFile}`);
  return { summary, groups, conflicts, unreadable, annotated, jsonFile, htmlFile };
}
