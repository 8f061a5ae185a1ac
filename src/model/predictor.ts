import type { RgbImage } from '../data/image.js';
import type { Label } from '../data/sample.js';
import { ModelError } from '../errors.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';
import type { Backbone } from './backbone.js';
import type { BundleManifest, LoadedBundle } from './bundle.js';
import { readBundle } from './bundle.js';
import { fixedViews } from './fixed-views.js';
import { calibratedProbability, gradCam, headLogit } from './head.js';
import { loadBackboneFromDir } from './load-backbone.js';
import { mirrorMap } from './mirror.js';

/** Result for one image. */
export interface Prediction {
  /** Calibrated malignancy probability in [0, 1]. */
  probability: number;
  /** 1 (malignant) when probability >= threshold, else 0. */
  label: Label;
  /** The bundle's operating threshold in [0, 1]. */
  threshold: number;
  /** Grad-CAM heat map float32 [heatmapHeight, heatmapWidth], values >= 0 (0 = no malignant evidence), averaged over the image and mirror views (the image view alone in 1-view bundles), when requested. */
  heatmap?: Float32Array;
  heatmapWidth?: number;
  heatmapHeight?: number;
}

/** A loaded model bundle ready for inference. */
export interface Predictor {
  readonly manifest: BundleManifest;
  /** Predicts one decoded image (RGB uint8 HWC, any size; resized as the bundle's preprocessing specifies). */
  predict(image: RgbImage, options?: { heatmap?: boolean }): Promise<Prediction>;
  /** Predicts a batch of decoded images (same contract as predict). */
  predictBatch(images: RgbImage[], options?: { heatmap?: boolean }): Promise<Prediction[]>;
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

  async predict(image: RgbImage, options: { heatmap?: boolean } = {}): Promise<Prediction> {
    return (await this.predictBatch([image], options))[0];
  }

  async predictBatch(images: RgbImage[], options: { heatmap?: boolean } = {}): Promise<Prediction[]> {
    const { inputSize, testTimeViews } = this.manifest.preprocessing;
    const dim = this.backbone.featureDim;
    const [mapHeight, mapWidth] = this.backbone.mapShape;

    // Build the test-time views (the same fixed views as in training): image-major, views consecutive.
    const views: RgbImage[] = [];
    for (const image of images) views.push(...(await fixedViews(image, inputSize, testTimeViews)));

    // Run the backbone, then the head on each view; average the logits over views.
    const batch = await this.backbone.extract(views, { maps: options.heatmap === true });
    return images.map((_, index) => {
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
      if (options.heatmap && batch.maps) {
        prediction.heatmap = this.heatmap(batch.maps, batch.pooled, index * testTimeViews, Math.min(testTimeViews, 2));
        prediction.heatmapWidth = mapWidth;
        prediction.heatmapHeight = mapHeight;
      }
      return prediction;
    });
  }

  /**
   * Averages view 0's Grad-CAM map and view 1's map flipped back left-right (view 0 alone when
   * `views` is 1) for the image whose views start at row `firstRow`. Returns float32 [h, w], values >= 0.
   */
  private heatmap(maps: Float32Array, pooled: Float32Array, firstRow: number, views: number): Float32Array {
    const dim = this.backbone.featureDim;
    const [mapHeight, mapWidth, channels] = this.backbone.mapShape;
    const mapSize = mapHeight * mapWidth * channels;

    // View 1 is the exact mirror of view 0 (see fixedViews), so its map flipped back lies on the
    // image's own coordinates. A mirrored upload thus gets the mirrored heat map.
    // NOTE: the zoomed views 2 and 3 count in the probability but not in the heat map. Only the
    // channel means of the last map get a location, so the evidence in their standard deviations
    // and in earlier blocks is not shown, and a malignant prediction can get an all-zero map.
    const sum = new Float32Array(mapHeight * mapWidth);
    for (let view = 0; view < views; view++) {
      const row = firstRow + view;
      const cam = gradCam(
        this.bundle.head,
        maps.subarray(row * mapSize, (row + 1) * mapSize),
        mapHeight,
        mapWidth,
        pooled.subarray(row * dim, (row + 1) * dim),
      );
      const aligned = view === 1 ? mirrorMap(cam, mapHeight, mapWidth) : cam;
      for (let position = 0; position < sum.length; position++) sum[position] += aligned[position];
    }
    for (let position = 0; position < sum.length; position++) sum[position] /= views;
    return sum;
  }

  async dispose(): Promise<void> {
    await this.backbone.dispose();
  }
}
