import type { RgbImage } from '../data/image.js';
import type { PixelBox } from '../data/padding.js';
import { isWholeBox, trimPadding } from '../data/padding.js';
import type { Label } from '../data/sample.js';
import { ModelError } from '../errors.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import { logitHeatmap } from './attribution.js';
import type { Backbone } from './backbone.js';
import type { BundleManifest, LoadedBundle } from './bundle.js';
import { readBundle } from './bundle.js';
import { fixedViews } from './fixed-views.js';
import { calibratedProbability, headLogit } from './head.js';
import { loadBackboneFromDir } from './load-backbone.js';
import { typicalityDistance } from './typicality.js';

/** Result for one image. */
export interface Prediction {
  /** Calibrated malignancy probability in [0, 1]. */
  probability: number;
  /** 1 (malignant) when probability >= threshold, else 0. */
  label: Label;
  /** The bundle's operating threshold in [0, 1]. */
  threshold: number;
  /**
   * Heat map float32 [heatmapHeight, heatmapWidth] over the image (or over contentBox with
   * heatmapOver 'content'), when requested:
   * the ReLU of the head's logit split over positions and averaged over the test-time views (see
   * logitHeatmap). Values are >= 0 and 0 means no evidence for malignancy at that position.
   */
  heatmap?: Float32Array;
  heatmapWidth?: number;
  heatmapHeight?: number;
  /** The part of the image that was scored, when black padding bands were cut off (see trimPadding). */
  contentBox?: PixelBox;
  /** Distance of the image's features from the images the model was fitted on (see Typicality). Absent for bundles without a threshold. */
  typicalityDistance?: number;
  /** True when typicalityDistance exceeds the bundle's threshold. Absent for bundles without one. */
  atypical?: boolean;
}

/** Options of Predictor.predict and predictBatch. */
export interface PredictOptions {
  /** Whether to compute the heat map. */
  heatmap?: boolean;
  /**
   * Coordinates of the heat map: 'image' (default) spans the whole image, 'content' spans only
   * the scored part (Prediction.contentBox) when black padding bands were cut off.
   */
  heatmapOver?: 'image' | 'content';
}

/** A loaded model bundle ready for inference. */
export interface Predictor {
  readonly manifest: BundleManifest;
  /** Predicts one decoded image (RGB uint8 HWC, any size; resized as the bundle's preprocessing specifies). */
  predict(image: RgbImage, options?: PredictOptions): Promise<Prediction>;
  /** Predicts a batch of decoded images (same contract as predict). */
  predictBatch(images: RgbImage[], options?: PredictOptions): Promise<Prediction[]>;
  dispose(): Promise<void>;
}

/** Loads a bundle folder (hashes verified) and its backbone, ready for inference. */
export async function loadPredictor(bundleDir: string, options: { logger?: Logger } = {}): Promise<Predictor> {
  const bundle = await readBundle(bundleDir);
  const backbone = await loadBackboneFromDir(bundle.manifest.backbone.name, bundle.backboneDir, { logger: options.logger ?? silentLogger });
  if (bundle.head.featureDim !== backbone.featureDim) {
    await backbone.dispose();
    throw new ModelError(
      `${bundleDir}: the head expects ${bundle.head.featureDim} features but this busight version's ${backbone.name} ` +
        `gives ${backbone.featureDim}; the bundle was written by another version (${bundle.manifest.busightVersion}). Retrain it.`,
    );
  }
  return new BundlePredictor(bundle, backbone);
}

class BundlePredictor implements Predictor {
  readonly manifest: BundleManifest;

  constructor(
    private readonly bundle: LoadedBundle,
    private readonly backbone: Backbone,
  ) {
    this.manifest = bundle.manifest;
  }

  async predict(image: RgbImage, options: PredictOptions = {}): Promise<Prediction> {
    return (await this.predictBatch([image], options))[0];
  }

  async predictBatch(images: RgbImage[], options: PredictOptions = {}): Promise<Prediction[]> {
    // The spatial tensors behind a heat map take about 1.7 MB a view (MobileNetV2), so with heat
    // maps the images go through the backbone one at a time to keep memory flat.
    if (options.heatmap && images.length > 1) {
      const predictions: Prediction[] = [];
      for (const image of images) predictions.push(...(await this.predictBatch([image], options)));
      return predictions;
    }

    const { inputSize, testTimeViews, trimPadding: trim } = this.manifest.preprocessing;
    const dim = this.backbone.featureDim;

    // Build the test-time views (the same fixed views as in training): image-major, views consecutive.
    const views: RgbImage[] = [];
    const boxes: PixelBox[] = [];
    for (const image of images) {
      const trimmed = trim ? trimPadding(image) : { image, box: { left: 0, top: 0, width: image.width, height: image.height } };
      boxes.push(trimmed.box);
      views.push(...(await fixedViews(trimmed.image, inputSize, testTimeViews)));
    }

    // Run the backbone, then the head on each view; average the logits over views.
    const batch = await this.backbone.extract(views, { maps: options.heatmap === true });
    return images.map((image, index) => {
      let logitSum = 0;
      for (let view = 0; view < testTimeViews; view++) {
        const row = index * testTimeViews + view;
        logitSum += headLogit(this.bundle.head, batch.pooled.subarray(row * dim, (row + 1) * dim));
      }
      const probability = calibratedProbability(this.bundle.head, logitSum / testTimeViews);
      const prediction: Prediction = {
        probability,
        label: probability >= this.manifest.threshold ? 1 : 0,
        threshold: this.manifest.threshold,
      };
      if (!isWholeBox(boxes[index], image)) prediction.contentBox = boxes[index];
      const { typicality } = this.manifest;
      if (typicality) {
        prediction.typicalityDistance = typicalityDistance(this.bundle.head, batch.pooled, index * testTimeViews, testTimeViews, dim);
        prediction.atypical = prediction.typicalityDistance > typicality.threshold;
      }
      if (options.heatmap) {
        // NOTE: for a linear head the map sums, before its ReLU, to the mean view logit minus the
        // head's bias. When the bias alone reaches the threshold, a malignant call can have no
        // position above 0 and get an all-zero map. The web app then shows a message instead.
        const contentMap = logitHeatmap(this.bundle.head, batch, index * testTimeViews, testTimeViews);
        const heatmap = options.heatmapOver === 'content' ? contentMap : placeHeatmap(contentMap, boxes[index], image);
        prediction.heatmap = heatmap.values;
        prediction.heatmapWidth = heatmap.width;
        prediction.heatmapHeight = heatmap.height;
      }
      return prediction;
    });
  }

  async dispose(): Promise<void> {
    await this.backbone.dispose();
  }
}

/** A heat map grid float32 [height, width], row-major. */
interface HeatmapGrid {
  values: Float32Array;
  width: number;
  height: number;
}

/** Cells of a placed heat map per model cell along each axis, so the box edges fall within a quarter cell. */
const PLACED_SUBDIVISION = 4;

/** Maximum cells along either side of a placed heat map, so a thin content box cannot make a huge map. */
const MAX_PLACED_SIDE = 512;

/**
 * Places a heat map computed on the part `box` of an image into the whole image's coordinates.
 * The result has cells of a quarter of the input's along each axis (fewer when a side would
 * exceed MAX_PLACED_SIDE), each holding the value of the input cell under its centre, and 0
 * outside the box. A box that is the whole image returns `grid`.
 */
export function placeHeatmap(grid: HeatmapGrid, box: PixelBox, image: { width: number; height: number }): HeatmapGrid {
  if (isWholeBox(box, image)) return grid;
  const cells = (gridSide: number, imageSide: number, boxSide: number) =>
    Math.min(MAX_PLACED_SIDE, Math.max(gridSide, Math.round((gridSide * PLACED_SUBDIVISION * imageSide) / boxSide)));
  const width = cells(grid.width, image.width, box.width);
  const height = cells(grid.height, image.height, box.height);
  const values = new Float32Array(width * height);
  for (let gy = 0; gy < height; gy++) {
    const cellY = Math.floor((((gy + 0.5) * image.height) / height - box.top) * (grid.height / box.height));
    if (cellY < 0 || cellY >= grid.height) continue;
    for (let gx = 0; gx < width; gx++) {
      const cellX = Math.floor((((gx + 0.5) * image.width) / width - box.left) * (grid.width / box.width));
      if (cellX >= 0 && cellX < grid.width) values[gy * width + gx] = grid.values[cellY * grid.width + cellX];
    }
  }
  return { values, width, height };
}
