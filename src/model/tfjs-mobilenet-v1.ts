/**
 * MobileNet v1 width 0.75 (Google's TF.js layers release `mobilenet_v1_0.75_224`) run by
 * @tensorflow/tfjs. Features are the `conv_pw_13_relu` map (7x7x768) and the square roots of its
 * channel means (see rootPool). Logits are the output of the 1x1 convolution `conv_preds`, before
 * the softmax.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import * as tf from '@tensorflow/tfjs';

import type { RgbImage } from '../data/image.js';
import { ModelError } from '../errors.js';
import { silentLogger, type Logger } from '../util/log.js';
import {
  BACKBONE_SPECS,
  checkBackboneInput,
  type Backbone,
  type BackboneName,
  type FeatureBatch,
} from './backbone.js';
import { initTfjsBackend, type TfjsBackendName } from './tfjs-backend.js';
import { listBackboneFiles } from './weights.js';

const FEATURE_LAYER = 'conv_pw_13_relu';
/** Shape [height, width, channels] of the FEATURE_LAYER map at 224 x 224 input. */
const MAP_SHAPE = [7, 7, 768] as const;
const LOGITS_LAYER = 'conv_preds';
const IMAGENET_CLASSES = 1000;

/**
 * Images per TF.js call. With the wasm backend on a 2-core x86_64 machine, batches of 8 were the
 * fastest per image of 1, 8 and 32 in each of three timing runs. That machine was under other load.
 */
export const DEFAULT_TFJS_BATCH_SIZE = 8;

/** Options of loadTfjsMobileNetV1. */
export interface TfjsMobileNetV1Options {
  logger?: Logger;
  /** TF.js backend to request. Defaults to 'wasm', which falls back to 'cpu' with a warning. */
  backend?: TfjsBackendName;
  /** Images per TF.js call; larger inputs are split. Defaults to DEFAULT_TFJS_BATCH_SIZE. */
  batchSize?: number;
}

/**
 * Returns a TF.js IOHandler that reads a layers-format model.json and the weight shards it lists
 * from disk, letting `editTopology` change the parsed topology in place first. TF.js 4.22 has no
 * file:// loader without @tensorflow/tfjs-node.
 */
export function fileIOHandler(
  modelJsonPath: string,
  editTopology: (topology: tf.io.ModelJSON['modelTopology']) => void = () => {},
): tf.io.IOHandler {
  const dir = path.dirname(modelJsonPath);
  return {
    load: async () => {
      let modelJson: tf.io.ModelJSON;
      try {
        modelJson = JSON.parse(await fs.readFile(modelJsonPath, 'utf8')) as tf.io.ModelJSON;
      } catch (error) {
        throw new ModelError(`failed to read TF.js model ${modelJsonPath}: ${(error as Error).message}`);
      }
      editTopology(modelJson.modelTopology);
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const shards: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const shard of group.paths) {
            const bytes = await fs.readFile(path.join(dir, shard));
            shards.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
          }
        }
        return [specs, shards];
      });
    },
  };
}

/**
 * Loads MobileNet v1 0.75 from the backbone's own folder `dir` (model.json and its shards) and
 * returns it as a Backbone. Throws ModelError when files are missing or the topology lacks the
 * expected layers.
 */
export async function loadTfjsMobileNetV1(dir: string, options: TfjsMobileNetV1Options = {}): Promise<Backbone> {
  const spec = BACKBONE_SPECS['mobilenet_v1_0.75'];
  const logger = options.logger ?? silentLogger;
  const batchSize = options.batchSize ?? DEFAULT_TFJS_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new ModelError(`batchSize: expected a positive integer, received ${batchSize}`);
  }
  await initTfjsBackend(options.backend ?? 'wasm', logger);

  // Read the network
  const files = await listBackboneFiles(spec, dir);
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(fileIOHandler(files[0], replaceRelu6Activations));
  } catch (error) {
    if (error instanceof ModelError) throw error;
    throw new ModelError(`failed to load TF.js model ${files[0]}: ${(error as Error).message}`);
  }

  // Sub-models sharing its weights: one ending at the feature map, one at the logits
  let featureOutput: tf.SymbolicTensor;
  let logitsOutput: tf.SymbolicTensor;
  try {
    featureOutput = model.getLayer(FEATURE_LAYER).output as tf.SymbolicTensor;
    logitsOutput = model.getLayer(LOGITS_LAYER).output as tf.SymbolicTensor;
  } catch (error) {
    model.dispose();
    throw new ModelError(`${files[0]} is not MobileNet v1 with an ImageNet head: ${(error as Error).message}`);
  }
  const featureModel = tf.model({ inputs: model.inputs, outputs: featureOutput });
  const logitsModel = tf.model({ inputs: model.inputs, outputs: logitsOutput });
  return new TfjsMobileNetV1(model, featureModel, logitsModel, files, batchSize);
}

class TfjsMobileNetV1 implements Backbone {
  readonly name: BackboneName = 'mobilenet_v1_0.75';
  readonly inputSize = BACKBONE_SPECS['mobilenet_v1_0.75'].inputSize;
  readonly featureDim = BACKBONE_SPECS['mobilenet_v1_0.75'].featureDim;
  private disposed = false;

  constructor(
    private readonly model: tf.LayersModel,
    private readonly featureModel: tf.LayersModel,
    private readonly logitsModel: tf.LayersModel,
    readonly files: readonly string[],
    private readonly batchSize: number,
  ) {}

  async extract(images: RgbImage[], options: { maps?: boolean } = {}): Promise<FeatureBatch> {
    checkBackboneInput(images, this.inputSize);
    this.checkNotDisposed();
    const [height, width, channels] = MAP_SHAPE;
    const mapSize = height * width * channels;
    const pooled = new Float32Array(images.length * this.featureDim);
    const maps = options.maps ? new Float32Array(images.length * mapSize) : undefined;

    for (let start = 0; start < images.length; start += this.batchSize) {
      const chunk = images.slice(start, start + this.batchSize);
      const [pooledTensor, mapTensor] = tf.tidy(() => {
        const map = this.featureModel.predict(toScaledNhwc(chunk, this.inputSize)) as tf.Tensor4D; // [n,7,7,768]
        const rooted = tf.sqrt(tf.relu(tf.mean(map, [1, 2]))); // [n,768], root pooled (see rootPool)
        return maps ? [rooted, tf.transpose(map, [0, 3, 1, 2])] : [rooted]; // map as NCHW [n,768,7,7]
      });
      try {
        pooled.set(await pooledTensor.data<'float32'>(), start * this.featureDim);
        if (maps && mapTensor) maps.set(await mapTensor.data<'float32'>(), start * mapSize);
      } finally {
        pooledTensor.dispose();
        mapTensor?.dispose();
      }
    }
    // The features are the root-pooled channel means of the map alone; this backbone pools no standard deviations.
    return maps ? { pooled, maps: [{ values: maps, height, width, channels, meanOffset: 0 }] } : { pooled };
  }

  async classify(images: RgbImage[]): Promise<Float32Array> {
    checkBackboneInput(images, this.inputSize);
    this.checkNotDisposed();
    const logits = new Float32Array(images.length * IMAGENET_CLASSES);
    for (let start = 0; start < images.length; start += this.batchSize) {
      const chunk = images.slice(start, start + this.batchSize);
      const output = tf.tidy(() => {
        const raw = this.logitsModel.predict(toScaledNhwc(chunk, this.inputSize)) as tf.Tensor; // [n,1,1,1000]
        return raw.reshape([chunk.length, IMAGENET_CLASSES]);
      });
      try {
        logits.set(await output.data<'float32'>(), start * IMAGENET_CLASSES);
      } finally {
        output.dispose();
      }
    }
    return logits;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    // The sub-models share the base model's weights, so disposing the base frees everything.
    this.model.dispose();
  }

  private checkNotDisposed(): void {
    if (this.disposed) throw new ModelError(`${this.name} backbone was used after dispose()`);
  }
}

/**
 * Replaces each `Activation` layer with activation 'relu6' by a `ReLU` layer with max_value 6,
 * which computes the same values. TF.js 4.22 runs the first as minimum(6, relu(x)), whose
 * broadcast Minimum kernel took about a third of the wasm backend's time, and the second as
 * relu then clipByValue.
 */
function replaceRelu6Activations(topology: tf.io.ModelJSON['modelTopology']): void {
  const config = (topology as { model_config?: { config?: { layers?: unknown } } } | null)?.model_config?.config;
  if (!Array.isArray(config?.layers)) return;
  for (const layer of config.layers as { class_name: string; config: Record<string, unknown> }[]) {
    if (layer.class_name !== 'Activation' || layer.config.activation !== 'relu6') continue;
    layer.class_name = 'ReLU';
    layer.config = { name: layer.config.name, trainable: layer.config.trainable, max_value: 6 };
  }
}

/** Converts n RGB uint8 HWC size x size images to a float32 NHWC [n, size, size, 3] tensor scaled to [-1, 1]. */
function toScaledNhwc(images: readonly RgbImage[], size: number): tf.Tensor4D {
  const pixels = size * size * 3;
  const values = new Float32Array(images.length * pixels);
  for (const [n, image] of images.entries()) {
    const base = n * pixels;
    for (let i = 0; i < pixels; i++) values[base + i] = image.data[i] / 127.5 - 1;
  }
  return tf.tensor4d(values, [images.length, size, size, 3]);
}
