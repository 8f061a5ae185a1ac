import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { compareIds } from '../data/dataset.js';
import { hasImageExtension, IMAGE_EXTENSIONS, isMaskFile } from '../data/discover.js';
import { isDicom } from '../data/formats/dicom.js';
import { decodeImageBytes, isSkippableImageError, readSampleBytes, type RgbImage } from '../data/image.js';
import { checkAssessable } from '../data/image-content.js';
import type { PixelBox } from '../data/padding.js';
import { CLASS_NAMES } from '../data/sample.js';
import { DataError } from '../errors.js';
import sharp from 'sharp';

import type { Predictor } from '../model/predictor.js';
import { heatmapOverlay } from '../report/thumbnails.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { makeOutputDirectory } from '../util/make-directory.js';

/** Opacity of the heat map over the image in the overlays that `heatmapDir` receives. */
const OVERLAY_OPACITY = 0.45;

/**
 * Maximum length of an input's name kept in its overlay's name, in UTF-8 bytes. File systems allow
 * 255 bytes a name, and the number prefix and the atomic write's temporary suffix need the rest.
 */
const MAX_OVERLAY_STEM_BYTES = 160;

/** One output row of `busight predict`. */
export interface PredictionRow {
  path: string;
  /** Calibrated malignancy probability in [0, 1], or null when the file could not be read. */
  probability: number | null;
  /** Class at the bundle's threshold, or null when the file could not be read. */
  label: 'benign' | 'malignant' | null;
  threshold: number;
  /** Reason the file was not predicted, when it was not. */
  error?: string;
  /** Path of the heat map overlay PNG, when predictFiles was given a `heatmapDir`. */
  heatmap?: string;
  /** The part of the image that was scored, when black padding bands were cut off (see trimPadding). */
  contentBox?: PixelBox;
  /** Whether the image looks unlike the model's training images (see Typicality), when the bundle can tell. */
  atypical?: boolean;
  typicalityDistance?: number;
}

/**
 * Expands files and folders into the image files to predict: folders are walked recursively in
 * sorted order, keeping files with an image extension and leaving out segmentation masks
 * (`*_mask*.png`) and hidden entries (names starting with a dot, such as macOS `._a.jpg`
 * resource files). Files without an extension are kept when they start as DICOM Part 10 files,
 * as scanners often write them (`IM0001`). A file named explicitly is always kept. Throws DataError for a missing path,
 * or when no image file is found at all.
 */
export async function expandInputs(inputs: string[], logger: Logger = silentLogger): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    let stat;
    try {
      stat = await fs.stat(input);
    } catch {
      throw new DataError(`${input}: file or folder not found`, input);
    }
    if (stat.isDirectory()) {
      const found = await walk(input);
      const masks = found.filter((file) => isMaskFile(file)).length;
      if (masks > 0) logger.info(`${input}: left out ${masks} segmentation mask file(s)`);
      const images: string[] = [];
      for (const file of found) {
        if (isMaskFile(file)) continue;
        if (hasImageExtension(file) || (path.extname(file) === '' && (await startsAsDicom(file)))) images.push(file);
      }
      if (images.length === 0) logger.warn(`${input}: no image files found (image extensions: ${IMAGE_EXTENSIONS.join(' ')})`);
      files.push(...images);
    } else {
      files.push(input);
    }
  }
  if (files.length === 0) {
    throw new DataError(`no image files found in ${inputs.join(', ')}. Pass image files or folders that contain images`, inputs[0]);
  }
  return files;
}

/**
 * Predicts each file in batches. A file that cannot be read gets a row with `error` and the run
 * goes on; other errors stop it. With `heatmapDir`, each predicted image's heat map is written
 * there as an overlay PNG named after the file's position in `files` and its name, for example
 * `0001-benign (1).png`, at the image's own size and without metadata.
 */
export async function predictFiles(
  predictor: Predictor,
  files: string[],
  options: { batchSize?: number; logger?: Logger; heatmapDir?: string } = {},
): Promise<PredictionRow[]> {
  const batchSize = options.batchSize ?? 16;
  const logger = options.logger ?? silentLogger;
  const { heatmapDir } = options;
  if (heatmapDir !== undefined) {
    await makeOutputDirectory(heatmapDir, '--heatmaps');
    const existing = (await fs.readdir(heatmapDir)).filter((name) => name.toLowerCase().endsWith('.png')).length;
    if (existing > 0) logger.warn(`${heatmapDir} already contains ${existing} PNG file(s); overlays of this run replace those with the same name and leave the others`);
  }
  const threshold = predictor.manifest.threshold;
  const rows: PredictionRow[] = [];
  for (let start = 0; start < files.length; start += batchSize) {
    const chunk = files.slice(start, start + batchSize);
    const decoded = await Promise.all(
      chunk.map(async (file) => {
        try {
          const bytes = await readSampleBytes({ id: file, file, label: 0 });
          const image = await decodeImageBytes(bytes, file, undefined, logger);
          checkAssessable(image, file);
          return { file, image };
        } catch (error) {
          if (isSkippableImageError(error)) return { file, error: error.message };
          throw error;
        }
      }),
    );
    const readable = decoded.filter((item) => item.image !== undefined);
    const predictions =
      readable.length > 0 ? await predictor.predictBatch(readable.map((item) => item.image!), { heatmap: heatmapDir !== undefined }) : [];
    let next = 0;
    for (const [offset, item] of decoded.entries()) {
      if (item.image === undefined) {
        logger.warn(`skipped ${item.error}`);
        rows.push({ path: item.file, probability: null, label: null, threshold, error: item.error });
        continue;
      }
      const prediction = predictions[next++];
      const row: PredictionRow = { path: item.file, probability: prediction.probability, label: CLASS_NAMES[prediction.label], threshold };
      if (prediction.contentBox) row.contentBox = prediction.contentBox;
      if (prediction.atypical !== undefined) {
        row.atypical = prediction.atypical;
        row.typicalityDistance = prediction.typicalityDistance;
      }
      if (heatmapDir !== undefined && prediction.heatmap) {
        const name = `${String(start + offset + 1).padStart(4, '0')}-${truncateUtf8(path.parse(item.file).name, MAX_OVERLAY_STEM_BYTES)}.png`;
        row.heatmap = path.join(heatmapDir, name);
        await writeOverlayPng(row.heatmap, item.image, prediction.heatmap, prediction.heatmapWidth!, prediction.heatmapHeight!);
      }
      rows.push(row);
    }
    logger.progress({ stage: 'predict', current: Math.min(start + batchSize, files.length), total: files.length });
  }
  return rows;
}

/** Returns `text` cut to at most `maxBytes` UTF-8 bytes, never inside a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  let result = '';
  let bytes = 0;
  for (const character of text) {
    bytes += Buffer.byteLength(character);
    if (bytes > maxBytes) break;
    result += character;
  }
  return result;
}

/** Writes the inferno overlay of `heatmap` (float32 [height, width], values >= 0) on `image` (RGB uint8 HWC) as a PNG. */
async function writeOverlayPng(file: string, image: RgbImage, heatmap: Float32Array, width: number, height: number): Promise<void> {
  const overlay = await heatmapOverlay(image, heatmap, width, height, OVERLAY_OPACITY);
  const png = await sharp(overlay.data, { raw: { width: overlay.width, height: overlay.height, channels: 3 } }).png().toBuffer();
  await writeFileAtomic(file, png);
}

/** Returns true when the file's first 132 bytes carry the DICOM Part-10 marker. */
async function startsAsDicom(file: string): Promise<boolean> {
  const handle = await fs.open(file, 'r');
  try {
    const head = new Uint8Array(132);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return isDicom(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

async function walk(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => compareIds(a.name, b.name));
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await walk(full)));
    else if (entry.isFile()) files.push(full);
  }
  return files;
}
