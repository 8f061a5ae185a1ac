import type { RgbImage } from '../data/image.js';
import { DataError } from '../errors.js';

/** Names of the supported ImageNet backbones, as given to `--backbone`. */
export const BACKBONE_NAMES = ['mobilenet_v2_1.0', 'mobilenet_v1_0.75'] as const;

export type BackboneName = (typeof BACKBONE_NAMES)[number];

/**
 * Root pooling, the last step of every pooled feature: the square root of a channel's spatial mean
 * (of non-negative activations) or of its spatial standard deviation. In group-aware 5-fold
 * cross-validation on BUSI (five fold shuffles, six views), it raised the specificity at the
 * threshold chosen for sensitivity 0.95 on every shuffle, by 0.021 on average, and the mean AUC by
 * 0.001. Values below 0 (rounding) count as 0.
 */
export function rootPool(value: number): number {
  return Math.sqrt(Math.max(0, value));
}

/**
 * A spatial activation tensor of a batch of n images whose root-pooled spatial means, and
 * optionally root-pooled spatial standard deviations (see rootPool), are part of the feature vector.
 */
export interface PooledMap {
  /** Activations float32 [n, channels, height, width] (NCHW), in the tensor's own value range. */
  values: Float32Array;
  height: number;
  width: number;
  channels: number;
  /** Index in the feature vector of channel 0's root-pooled mean; channel c's is at meanOffset + c. */
  meanOffset: number;
  /** Index in the feature vector of channel 0's root-pooled standard deviation, when the backbone pools them. */
  stdOffset?: number;
}

/** Features of a batch of n images. */
export interface FeatureBatch {
  /** Pooled features, float32 [n, featureDim], row-major. */
  pooled: Float32Array;
  /**
   * With `maps: true`, every spatial tensor that pooled features are computed from, in the
   * feature-vector order of their means. Every feature is the root-pooled mean or standard deviation
   * of one channel of one of them.
   */
  maps?: PooledMap[];
}

/** A frozen ImageNet network used as a feature extractor. */
export interface Backbone {
  readonly name: BackboneName;
  /** Side of the square input in pixels (224). */
  readonly inputSize: number;
  /** Length of one pooled feature vector. */
  readonly featureDim: number;
  /**
   * Extracts features. `images`: n RGB uint8 HWC images of exactly inputSize x inputSize.
   * Returns pooled float32 [n, featureDim] and, with `maps: true`, the spatial tensors behind them
   * (see FeatureBatch.maps).
   */
  extract(images: RgbImage[], options?: { maps?: boolean }): Promise<FeatureBatch>;
  /** ImageNet logits float32 [n, 1000] for n RGB uint8 HWC inputSize x inputSize images. */
  classify(images: RgbImage[]): Promise<Float32Array>;
  /** Absolute paths of the files this backbone was loaded from, to hash and copy into a bundle. */
  readonly files: readonly string[];
  dispose(): Promise<void>;
}

/** Storage format of a backbone's weights, which decides the runtime that loads it. */
export type BackboneFormat = 'onnx' | 'tfjs-layers';

/** Static facts about one backbone: where its files live and what it outputs. */
export interface BackboneSpec {
  readonly name: BackboneName;
  /** Network, width and weights, for help text and reports. */
  readonly description: string;
  /** Folder name of this backbone inside a weights folder or the download cache. */
  readonly folder: string;
  readonly format: BackboneFormat;
  /** File that the runtime opens: the .onnx graph, or the TF.js model.json that lists its weight shards. */
  readonly entryFile: string;
  /** JSON array of the 1000 ImageNet class names in output order, when the folder ships one (not downloaded). */
  readonly labelsFile: string;
  readonly inputSize: number;
  readonly featureDim: number;
}

/** Static facts of every supported backbone, keyed by name. */
export const BACKBONE_SPECS: Readonly<Record<BackboneName, BackboneSpec>> = Object.freeze({
  'mobilenet_v2_1.0': {
    name: 'mobilenet_v2_1.0',
    description: 'MobileNetV2 width 1.0, ImageNet-1k, ONNX int8 weights run with float32 activations (onnxruntime-node)',
    folder: 'mobilenet_v2_1.0_224',
    format: 'onnx',
    entryFile: 'mobilenetv2-12-int8.onnx',
    labelsFile: 'imagenet_labels.json',
    inputSize: 224,
    // 1280 pooled last-layer features, then the pooled expansion activations of blocks 12 (576),
    // 14 (960), 13 (576), 15 (960) and 16 (960): 5312 means, then the 5312 spatial standard
    // deviations of the same channels.
    featureDim: 10624,
  },
  'mobilenet_v1_0.75': {
    name: 'mobilenet_v1_0.75',
    description: 'MobileNet v1 width 0.75, ImageNet-1k, TF.js layers (float32)',
    folder: 'mobilenet_v1_0.75_224',
    format: 'tfjs-layers',
    entryFile: 'model.json',
    labelsFile: 'imagenet_labels.json',
    inputSize: 224,
    featureDim: 768,
  },
});

/** Returns whether `value` names a supported backbone. */
export function isBackboneName(value: string): value is BackboneName {
  return (BACKBONE_NAMES as readonly string[]).includes(value);
}

/**
 * Throws DataError unless every image is RGB uint8 HWC of exactly size x size
 * (`data.length === size * size * 3`), naming the first bad image's position in the batch.
 */
export function checkBackboneInput(images: readonly RgbImage[], size: number): void {
  for (const [index, image] of images.entries()) {
    const expectedBytes = size * size * 3;
    if (image.width !== size || image.height !== size || image.data.length !== expectedBytes) {
      throw new DataError(
        `backbone input ${index + 1} of ${images.length}: expected ${size}x${size} RGB (${expectedBytes} bytes), ` +
          `received ${image.width}x${image.height} with ${image.data.length} bytes. Resize images to ${size}x${size} first.`,
      );
    }
  }
}
