import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { applyAugmentation, sampleAugmentation } from '../data/augment.js';
import { trimPadding } from '../data/padding.js';
import type { RgbImage } from '../data/image.js';
import { decodeImageBytes, isSkippableImageError, readSampleBytes } from '../data/image.js';
import { checkAssessable } from '../data/image-content.js';
import type { Sample } from '../data/sample.js';
import type { Backbone } from '../model/backbone.js';
import { FIXED_VIEW_COUNT, fixedViews } from '../model/fixed-views.js';
import { sha256, writeFileAtomic } from '../util/atomic.js';
import { makeDirectory } from '../util/make-directory.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { Rng } from '../util/rng.js';
import type { FeatureSet } from './feature-set.js';

/**
 * Bump when the meaning of cached views or their feature rows changes, so stale cache files are
 * not reused. Version 2: MobileNetV2 rows gained the pooled expansion features of blocks 12 and 14.
 * Version 3: views 2 and 3 became the fixed zoomed views. Version 4: MobileNetV2 runs with float32
 * activations and its rows gained the expansions of blocks 13, 15 and 16. Version 5: views 4 and 5
 * became the fixed rotated views. Version 6: features are root pooled (see rootPool). Version 7:
 * black padding bands are trimmed before the views are built (see trimPadding). Version 8: the
 * trimming rule became per edge and cuts narrower bands.
 */
const VIEW_RECIPE_VERSION = 8;

export interface ExtractOptions {
  /**
   * Views per image. Views 0 to 5 are the fixed views of fixedViews (see FIXED_VIEWS). Views 6 and
   * up are random augmentations, allowed only when `augment` is true.
   */
  views: number;
  augment: boolean;
  /** Seed of the augmentation draws; each image's draws also depend on its content hash. */
  seed: number;
  /** Folder for cached features; none when undefined. */
  cacheDir?: string;
  /** Images per backbone call (each contributes `views` rows). */
  imagesPerBatch?: number;
  logger?: Logger;
  /** Progress stage name shown to the user. */
  stage?: string;
}

export interface ExtractResult {
  set: FeatureSet;
  /** Samples that were used, in the order of the feature rows. */
  samples: Sample[];
  /** Samples that could not be read, with the reason; they are left out of `set`. */
  skipped: { id: string; reason: string }[];
}

/**
 * Extracts pooled backbone features for every view of every sample. Unreadable images are
 * listed in `skipped` and left out, never fatal. With a cache folder, each image's views are
 * stored under a key of (backbone files, image bytes, view recipe), so an interrupted run
 * resumes and repeated runs reuse the work.
 */
export async function extractFeatures(
  samples: Sample[],
  backbone: Backbone,
  backboneKey: string,
  options: ExtractOptions,
): Promise<ExtractResult> {
  const logger = options.logger ?? silentLogger;
  const stage = options.stage ?? 'extract features';
  const imagesPerBatch = options.imagesPerBatch ?? Math.max(1, Math.floor(32 / options.views));
  const dim = backbone.featureDim;
  const cacheFolder = options.cacheDir ? path.join(options.cacheDir, 'features', backboneKey) : undefined;
  if (cacheFolder) await makeDirectory(cacheFolder);

  const perSample = new Map<string, Float32Array>();
  const skipped: { id: string; reason: string }[] = [];
  let done = 0;

  // Prepare views (read, hash, decode, augment) for one chunk; cached samples skip decoding.
  const prepare = async (chunk: Sample[]) => {
    return Promise.all(
      chunk.map(async (sample) => {
        try {
          const bytes = await readSampleBytes(sample);
          // Fixed views depend on neither the seed nor `augment`, so runs with other seeds share them.
          const random = options.augment && options.views > FIXED_VIEW_COUNT;
          const recipe = { v: VIEW_RECIPE_VERSION, views: options.views, augment: random, seed: random ? options.seed : 0, size: backbone.inputSize };
          const key = sha256(`${sha256(bytes)}|${JSON.stringify(recipe)}`);
          const cacheFile = cacheFolder ? path.join(cacheFolder, `${key}.f32`) : undefined;
          if (cacheFile) {
            const cached = await readCached(cacheFile, options.views * dim);
            if (cached) return { sample, cached, cacheFile };
          }
          const image = await decodeImageBytes(bytes, sample.file);
          checkAssessable(image, sample.file);
          const views = await buildViews(image, backbone.inputSize, options, key);
          return { sample, views, cacheFile };
        } catch (error) {
          if (isSkippableImageError(error)) return { sample, error: error.message };
          throw error;
        }
      }),
    );
  };

  const chunks: Sample[][] = [];
  for (let start = 0; start < samples.length; start += imagesPerBatch) chunks.push(samples.slice(start, start + imagesPerBatch));
  let next = chunks.length > 0 ? prepare(chunks[0]) : undefined;
  for (let index = 0; index < chunks.length; index++) {
    const prepared = await next!;
    // Start decoding the next chunk while the backbone runs on this one.
    next = index + 1 < chunks.length ? prepare(chunks[index + 1]) : undefined;

    const toRun = prepared.filter((item) => item.views !== undefined);
    if (toRun.length > 0) {
      const batch = await backbone.extract(toRun.flatMap((item) => item.views!));
      for (let i = 0; i < toRun.length; i++) {
        const rows = batch.pooled.slice(i * options.views * dim, (i + 1) * options.views * dim);
        perSample.set(toRun[i].sample.id, rows);
        if (toRun[i].cacheFile) await writeFileAtomic(toRun[i].cacheFile!, new Uint8Array(rows.buffer));
      }
    }
    for (const item of prepared) {
      if (item.cached) perSample.set(item.sample.id, item.cached);
      if (item.error !== undefined) {
        skipped.push({ id: item.sample.id, reason: item.error });
        logger.warn(`skipped ${item.sample.id}: ${item.error}`);
      }
    }
    done += chunks[index].length;
    logger.progress({ stage, current: done, total: samples.length });
  }

  // Assemble rows in sample order.
  const used = samples.filter((sample) => perSample.has(sample.id));
  const features = new Float32Array(used.length * options.views * dim);
  used.forEach((sample, i) => features.set(perSample.get(sample.id)!, i * options.views * dim));
  return {
    set: { features, dim, views: options.views, labels: used.map((sample) => sample.label) },
    samples: used,
    skipped,
  };
}

/**
 * Builds the views of one decoded image (RGB uint8 HWC, any size) after trimming its black padding
 * bands (see trimPadding). Each view is RGB uint8 HWC size x size.
 */
async function buildViews(decoded: RgbImage, size: number, options: ExtractOptions, key: string): Promise<RgbImage[]> {
  if (options.views > FIXED_VIEW_COUNT && !options.augment) {
    throw new RangeError(`extractFeatures: ${options.views} views need augment: true (only ${FIXED_VIEW_COUNT} fixed views exist)`);
  }
  const { image } = trimPadding(decoded);
  const views = await fixedViews(image, size, Math.min(options.views, FIXED_VIEW_COUNT));
  const rng = new Rng((options.seed ^ parseInt(key.slice(0, 8), 16)) >>> 0);
  for (let view = FIXED_VIEW_COUNT; view < options.views; view++) {
    views.push(await applyAugmentation(image, sampleAugmentation(rng), size));
  }
  return views;
}

async function readCached(file: string, length: number): Promise<Float32Array | undefined> {
  try {
    const bytes = await fs.readFile(file);
    if (bytes.length !== length * 4) return undefined;
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
