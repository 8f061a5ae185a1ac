/**
 * MobileNetV2 1.0 (ONNX Model Zoo `mobilenetv2-12-int8.onnx`, torchvision weights quantized to
 * int8) run by onnxruntime-node. The file's graph only outputs logits, so at load time the graph
 * is edited in memory to also output the dequantized last convolutional map, its pooled features
 * and the pooled expansion activations of an earlier block. The file on disk stays unchanged, so
 * a bundle can copy and hash it as published.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import onnxProto from 'onnx-proto';
import './ort-telemetry-off.js';
import * as ort from 'onnxruntime-node';

import type { RgbImage } from '../data/image.js';
import { ModelError } from '../errors.js';
import {
  BACKBONE_SPECS,
  checkBackboneInput,
  type Backbone,
  type BackboneName,
  type FeatureBatch,
} from './backbone.js';
import { createOnnxSession, type OnnxSessionOptions } from './onnx-session.js';

const { onnx } = onnxProto;

/** Quantized tensors of the Model Zoo graph that carry the features (names as in mobilenetv2-12-int8.onnx). */
const QUANTIZED_MAP = { tensor: '627_quantized', scale: '627_scale', zeroPoint: '627_zero_point' };
const QUANTIZED_POOLED = { tensor: '464_quantized', scale: '464_scale', zeroPoint: '464_zero_point' };
/** A quantized tensor of the graph whose spatial mean is appended to the pooled features. */
interface PooledTap {
  tensor: string;
  scale: string;
  zeroPoint: string;
  channels: number;
  /** Name of the added graph output, float32 [N, channels, 1, 1]. */
  output: string;
}

/**
 * ReLU6 outputs of 1x1 expansion convs of earlier inverted-residual blocks, appended after the
 * 1280 last-layer features in this order. On BUSI (452 train, 130 validation images), a
 * logistic-regression head on the last layer alone reached validation AUC 0.925. Adding block 12
 * (96 -> 576 channels, 14x14 at 224 input) raised it to 0.947, the best of the 18 intermediate
 * tensors tried one at a time. Adding block 14 (160 -> 960 channels, 7x7) as well gave 0.950 and
 * raised the 5-fold cross-validated AUC by 0.005 on two fold shuffles.
 */
export const POOLED_TAPS: readonly PooledTap[] = [
  { tensor: '582_quantized', scale: '582_scale', zeroPoint: '582_zero_point', channels: 576, output: 'busight_features_block12_expansion_pooled' },
  { tensor: '600_quantized', scale: '600_scale', zeroPoint: '600_zero_point', channels: 960, output: 'busight_features_block14_expansion_pooled' },
];
const MAP_CHANNELS = 1280;

/** Names of the graph outputs added at load time. */
export const MAP_OUTPUT = 'busight_features_map';
export const POOLED_OUTPUT = 'busight_features_pooled';
const LOGITS_OUTPUT = 'output';
const INPUT_NAME = 'input';

/** ImageNet channel statistics used by torchvision, applied after scaling RGB to [0, 1]. */
const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/**
 * Images per ONNX Runtime call. On a 2-core x86_64 machine with 2 intra-op threads, batches of 8
 * took 5.8 ms an image against 7.5 ms for single images and 14 ms for batches of 32 (median of 7 runs).
 */
export const DEFAULT_ONNX_BATCH_SIZE = 8;

/** Options of loadOnnxMobileNetV2. */
export interface OnnxMobileNetV2Options extends OnnxSessionOptions {
  /** Images per ONNX Runtime call; larger inputs are split. Defaults to DEFAULT_ONNX_BATCH_SIZE. */
  batchSize?: number;
}

/**
 * Returns a copy of the serialised Model Zoo graph with extra graph outputs. MAP_OUTPUT and
 * POOLED_OUTPUT dequantize the last convolutional map (float32 [N,1280,7,7]) and its pooled
 * features (float32 [N,1280,1,1]). Each POOLED_TAPS output dequantizes and average-pools its
 * tensor (float32 [N,channels,1,1]). Throws ModelError when the graph lacks the expected
 * quantized tensors, which means it is not mobilenetv2-12-int8.onnx.
 */
export function addFeatureOutputs(modelBytes: Uint8Array, source: string): Uint8Array {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(modelBytes);
  } catch (error) {
    throw new ModelError(`${source} is not a valid ONNX model: ${(error as Error).message}`);
  }
  const graph = model.graph;
  if (!graph) throw new ModelError(`${source} is not a valid ONNX model: it has no graph`);
  const nodes = (graph.node ??= []);
  const outputs = (graph.output ??= []);

  // Check that the quantized feature tensors exist
  const produced = new Set(nodes.flatMap((node) => node.output ?? []));
  const initializers = new Set((graph.initializer ?? []).map((tensor) => tensor.name));
  for (const quantized of [QUANTIZED_MAP, QUANTIZED_POOLED, ...POOLED_TAPS]) {
    const missing = [
      produced.has(quantized.tensor) ? undefined : quantized.tensor,
      initializers.has(quantized.scale) ? undefined : quantized.scale,
      initializers.has(quantized.zeroPoint) ? undefined : quantized.zeroPoint,
    ].filter((name) => name !== undefined);
    if (missing.length > 0) {
      throw new ModelError(
        `${source} lacks the tensors ${missing.join(', ')}; expected the ONNX Model Zoo mobilenetv2-12-int8.onnx graph`,
      );
    }
  }

  // Dequantize the feature tensors and expose them as graph outputs
  const additions = [
    { quantized: QUANTIZED_MAP, output: MAP_OUTPUT, dims: ['batch_size', MAP_CHANNELS, 7, 7], pool: false },
    { quantized: QUANTIZED_POOLED, output: POOLED_OUTPUT, dims: ['batch_size', MAP_CHANNELS, 1, 1], pool: false },
    ...POOLED_TAPS.map((tap) => ({ quantized: tap, output: tap.output, dims: ['batch_size', tap.channels, 1, 1], pool: true })),
  ];
  for (const { quantized, output, dims, pool } of additions) {
    const dequantized = pool ? `${output}_dequantized` : output;
    nodes.push(
      onnx.NodeProto.create({
        name: `${output}_dequantize`,
        opType: 'DequantizeLinear',
        input: [quantized.tensor, quantized.scale, quantized.zeroPoint],
        output: [dequantized],
      }),
    );
    if (pool) {
      nodes.push(onnx.NodeProto.create({ name: `${output}_pool`, opType: 'GlobalAveragePool', input: [dequantized], output: [output] }));
    }
    outputs.push(
      onnx.ValueInfoProto.create({
        name: output,
        type: {
          tensorType: {
            elemType: onnx.TensorProto.DataType.FLOAT,
            shape: {
              dim: dims.map((dim) => (typeof dim === 'string' ? { dimParam: dim } : { dimValue: dim })),
            },
          },
        },
      }),
    );
  }
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Loads mobilenetv2-12-int8.onnx from the backbone's own folder `dir` and returns it as a Backbone.
 * Throws ModelError when the file is missing or is not the expected graph.
 */
export async function loadOnnxMobileNetV2(dir: string, options: OnnxMobileNetV2Options = {}): Promise<Backbone> {
  const spec = BACKBONE_SPECS['mobilenet_v2_1.0'];
  const file = path.resolve(dir, spec.entryFile);
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (error) {
    throw new ModelError(`failed to read ${file}: ${(error as Error).message}`);
  }
  const batchSize = options.batchSize ?? DEFAULT_ONNX_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new ModelError(`batchSize: expected a positive integer, received ${batchSize}`);
  }
  const session = await createOnnxSession(addFeatureOutputs(bytes, file), file, options);
  return new OnnxMobileNetV2(session, [file], batchSize);
}

class OnnxMobileNetV2 implements Backbone {
  readonly name: BackboneName = 'mobilenet_v2_1.0';
  readonly inputSize = BACKBONE_SPECS['mobilenet_v2_1.0'].inputSize;
  /** Pooled last-layer features (1280, the channel means of the map), then each of POOLED_TAPS. */
  readonly featureDim = MAP_CHANNELS + POOLED_TAPS.reduce((sum, tap) => sum + tap.channels, 0);
  readonly mapShape = BACKBONE_SPECS['mobilenet_v2_1.0'].mapShape;
  private disposed = false;

  constructor(
    private readonly session: ort.InferenceSession,
    readonly files: readonly string[],
    private readonly batchSize: number,
  ) {}

  async extract(images: RgbImage[], options: { maps?: boolean } = {}): Promise<FeatureBatch> {
    checkBackboneInput(images, this.inputSize);
    const [mapH, mapW, channels] = this.mapShape;
    const mapSize = mapH * mapW * channels;
    const pooled = new Float32Array(images.length * this.featureDim);
    const maps = options.maps ? new Float32Array(images.length * mapSize) : undefined;
    const pooledParts = [{ output: POOLED_OUTPUT, channels: MAP_CHANNELS }, ...POOLED_TAPS];
    const pooledFetches = pooledParts.map((part) => part.output);
    const fetches = maps ? [...pooledFetches, MAP_OUTPUT] : pooledFetches;

    for (let start = 0; start < images.length; start += this.batchSize) {
      const chunk = images.slice(start, start + this.batchSize);
      const outputs = await this.run(chunk, fetches);
      // Outputs [n, c, 1, 1] are [n, c]; interleave them into rows of featureDim.
      for (let i = 0; i < chunk.length; i++) {
        let offset = (start + i) * this.featureDim;
        for (const part of pooledParts) {
          const data = outputs[part.output].data as Float32Array;
          pooled.set(data.subarray(i * part.channels, (i + 1) * part.channels), offset);
          offset += part.channels;
        }
      }
      if (maps) {
        const nchw = outputs[MAP_OUTPUT].data as Float32Array;
        nchwToNhwc(nchw, chunk.length, channels, mapH, mapW, maps.subarray(start * mapSize));
      }
    }
    return maps ? { pooled, maps } : { pooled };
  }

  async classify(images: RgbImage[]): Promise<Float32Array> {
    checkBackboneInput(images, this.inputSize);
    const classes = 1000;
    const logits = new Float32Array(images.length * classes);
    for (let start = 0; start < images.length; start += this.batchSize) {
      const outputs = await this.run(images.slice(start, start + this.batchSize), [LOGITS_OUTPUT]);
      logits.set(outputs[LOGITS_OUTPUT].data as Float32Array, start * classes);
    }
    return logits;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.release();
  }

  private async run(images: RgbImage[], fetches: string[]): Promise<ort.InferenceSession.OnnxValueMapType> {
    if (this.disposed) throw new ModelError(`${this.name} backbone was used after dispose()`);
    const size = this.inputSize;
    const input = new ort.Tensor('float32', toNormalisedNchw(images, size), [images.length, 3, size, size]);
    return this.session.run({ [INPUT_NAME]: input }, fetches);
  }
}

/**
 * Converts n RGB uint8 HWC size x size images to one float32 NCHW [n, 3, size, size] array:
 * RGB / 255, then (value - mean) / std per channel with the ImageNet statistics.
 */
export function toNormalisedNchw(images: readonly RgbImage[], size: number): Float32Array {
  const plane = size * size;
  const out = new Float32Array(images.length * 3 * plane);
  for (const [n, image] of images.entries()) {
    const data = image.data;
    for (let c = 0; c < 3; c++) {
      const scale = 1 / (255 * IMAGENET_STD[c]);
      const offset = IMAGENET_MEAN[c] / IMAGENET_STD[c];
      const base = (n * 3 + c) * plane;
      for (let p = 0; p < plane; p++) out[base + p] = data[p * 3 + c] * scale - offset; // HWC -> CHW
    }
  }
  return out;
}

/** Copies float32 NCHW [n, c, h, w] into `out` as NHWC [n, h, w, c]. */
function nchwToNhwc(src: Float32Array, n: number, c: number, h: number, w: number, out: Float32Array): void {
  const plane = h * w;
  for (let i = 0; i < n; i++) {
    const srcBase = i * c * plane;
    const outBase = i * plane * c;
    for (let ch = 0; ch < c; ch++) {
      const channelBase = srcBase + ch * plane;
      for (let p = 0; p < plane; p++) out[outBase + p * c + ch] = src[channelBase + p];
    }
  }
}
