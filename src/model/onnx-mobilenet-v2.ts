/**
 * MobileNetV2 1.0 (ONNX Model Zoo `mobilenetv2-12-int8.onnx`, torchvision weights quantized to
 * int8) run by onnxruntime-node. At load time the graph is converted in memory to float32
 * activations (see dequantizeGraph) and extended to also output the pooled features and the
 * spatial tensors they are pooled from. The file on disk stays unchanged, so a bundle can copy and
 * hash it as published.
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
  type PooledMap,
} from './backbone.js';
import { dequantizeGraph, floatName } from './dequantize-graph.js';
import { createOnnxSession, type OnnxSessionOptions } from './onnx-session.js';

const { onnx } = onnxProto;

/** Tensors of the Model Zoo graph (float names, see floatName) that carry the features. */
const MAP_TENSOR = '627';
const POOLED_TENSOR = '464';
/** A tensor of the graph whose root-pooled spatial mean (see rootPool) is appended to the pooled features. */
interface PooledTap {
  /** Float tensor name in the dequantized graph, float32 [N, channels, side, side]. */
  tensor: string;
  channels: number;
  /** Height and width of the tensor at 224 x 224 input. */
  side: number;
  /** Name of the added graph output, float32 [N, channels, 1, 1]. */
  output: string;
  /** Name of the added graph output that returns the tensor itself, float32 [N, channels, side, side]. */
  mapOutput: string;
}

/**
 * ReLU6 outputs of 1x1 expansion convs of earlier inverted-residual blocks, appended after the
 * 1280 last-layer features in this order (block numbers count the 17 inverted-residual blocks
 * from 0). On BUSI with int8 activations, a logistic-regression head on the last layer alone
 * reached validation AUC 0.925, and block 12 (96 -> 576 channels, 14x14 at 224 input) was the
 * best single addition of 18 intermediate tensors (0.947). With float32 activations, group-aware
 * 5-fold cross-validation on two fold shuffles gave mean AUC 0.952 for blocks 12 and 14 and
 * 0.956 for the five expansions below.
 */
export const POOLED_TAPS: readonly PooledTap[] = [
  { tensor: '582', channels: 576, side: 14, output: 'busight_features_block12_expansion_pooled', mapOutput: 'busight_features_block12_expansion_map' },
  { tensor: '600', channels: 960, side: 7, output: 'busight_features_block14_expansion_pooled', mapOutput: 'busight_features_block14_expansion_map' },
  { tensor: '591', channels: 576, side: 14, output: 'busight_features_block13_expansion_pooled', mapOutput: 'busight_features_block13_expansion_map' },
  { tensor: '609', channels: 960, side: 7, output: 'busight_features_block15_expansion_pooled', mapOutput: 'busight_features_block15_expansion_map' },
  { tensor: '618', channels: 960, side: 7, output: 'busight_features_block16_expansion_pooled', mapOutput: 'busight_features_block16_expansion_map' },
];
const MAP_CHANNELS = 1280;
const MAP_SIDE = 7;

/** A pooled feature block: a graph output float32 [N, channels, 1, 1]. */
interface PooledPart {
  output: string;
  channels: number;
}

/**
 * Spatial standard deviations of the last map and of every POOLED_TAPS tensor, appended after
 * the means in that order. The mean measures how much of a pattern an image has, and the standard
 * deviation how unevenly it is spread, which is meant to tell a focal lesion from diffuse texture. In
 * group-aware 5-fold cross-validation on BUSI (two fold shuffles) they raised the mean AUC from
 * 0.956 to 0.960, at no backbone cost.
 */
export const STD_POOLED: readonly (PooledPart & { tensor: string })[] = [
  { tensor: MAP_TENSOR, channels: MAP_CHANNELS, output: 'busight_features_last_std' },
  ...POOLED_TAPS.map((tap) => ({ tensor: tap.tensor, channels: tap.channels, output: tap.output.replace(/_pooled$/, '_std') })),
];

/** Names of the graph outputs added at load time. */
export const MAP_OUTPUT = 'busight_features_map';
export const POOLED_OUTPUT = 'busight_features_pooled';

/** Feature blocks in feature-vector order: last-layer means, POOLED_TAPS means, then STD_POOLED. */
export const POOLED_PARTS: readonly PooledPart[] = [{ output: POOLED_OUTPUT, channels: MAP_CHANNELS }, ...POOLED_TAPS, ...STD_POOLED];

/** A spatial tensor returned with `maps: true`, and where its mean and std features start. */
interface MapSource {
  /** Graph output that returns the tensor, float32 [N, channels, side, side]. */
  output: string;
  channels: number;
  side: number;
  meanOffset: number;
  stdOffset: number;
}

/** The last map and every POOLED_TAPS tensor, in the feature-vector order of their means. */
const MAP_SOURCES: readonly MapSource[] = [
  mapSource(MAP_TENSOR, MAP_OUTPUT, POOLED_OUTPUT, MAP_CHANNELS, MAP_SIDE),
  ...POOLED_TAPS.map((tap) => mapSource(tap.tensor, tap.mapOutput, tap.output, tap.channels, tap.side)),
];

/** Describes graph output `output` of tensor `tensor`, whose channel means are the POOLED_PARTS block `meanOutput`. */
function mapSource(tensor: string, output: string, meanOutput: string, channels: number, side: number): MapSource {
  const std = STD_POOLED.find((part) => part.tensor === tensor);
  if (!std) throw new Error(`no STD_POOLED entry has the tensor ${tensor}`);
  return { output, channels, side, meanOffset: featureOffset(meanOutput), stdOffset: featureOffset(std.output) };
}

/** Returns the index in the feature vector where the POOLED_PARTS block with this output starts. */
function featureOffset(output: string): number {
  const index = POOLED_PARTS.findIndex((part) => part.output === output);
  if (index < 0) throw new Error(`no pooled feature block has the output ${output}`);
  return POOLED_PARTS.slice(0, index).reduce((sum, part) => sum + part.channels, 0);
}

const LOGITS_OUTPUT = 'output';
/** Name of the Model Zoo graph's input, float32 [N, 3, 224, 224] (see toNormalisedNchw). */
export const INPUT_NAME = 'input';

/** ImageNet channel statistics used by torchvision, applied after scaling RGB to [0, 1]. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/**
 * Images per ONNX Runtime call. On a 2-core x86_64 machine with 2 intra-op threads, batches of 8
 * took 5.8 ms an image against 7.5 ms for single images and 14 ms for batches of 32 (median of 7
 * runs, int8 activations).
 */
export const DEFAULT_ONNX_BATCH_SIZE = 8;

/** Options of loadOnnxMobileNetV2. */
export interface OnnxMobileNetV2Options extends OnnxSessionOptions {
  /** Images per ONNX Runtime call; larger inputs are split. Defaults to DEFAULT_ONNX_BATCH_SIZE. */
  batchSize?: number;
}

/**
 * Returns the serialised Model Zoo graph converted to float32 activations (see dequantizeGraph),
 * with extra graph outputs. MAP_OUTPUT is the last convolutional map (float32 [N,1280,7,7]) and
 * POOLED_OUTPUT the square root of its channel means (float32 [N,1280,1,1]). Each POOLED_TAPS
 * output is the square root of the tensor's channel means, and its mapOutput the tensor itself.
 * Each STD_POOLED output is the square root of the spatial standard deviation (float32
 * [N,channels,1,1]). See rootPool for why. The map outputs only copy tensors that
 * the features already need, so they leave the features unchanged. Throws ModelError when the
 * bytes are not an ONNX model or the graph lacks the expected tensors, which means it is not
 * mobilenetv2-12-int8.onnx.
 */
export function addFeatureOutputs(modelBytes: Uint8Array, source: string): Uint8Array {
  let quantized: onnxProto.onnx.ModelProto;
  try {
    quantized = onnx.ModelProto.decode(modelBytes);
  } catch (error) {
    throw new ModelError(`${source} is not a valid ONNX model: ${(error as Error).message}`);
  }
  if (!quantized.graph) throw new ModelError(`${source} is not a valid ONNX model: it has no graph`);
  const produced = new Set((quantized.graph.node ?? []).flatMap((node) => (node.output ?? []).map(floatName)));
  const missing = [MAP_TENSOR, POOLED_TENSOR, ...POOLED_TAPS.map((tap) => tap.tensor)].filter((name) => !produced.has(name));
  if (missing.length > 0) {
    throw new ModelError(
      `${source} lacks the tensors ${missing.map((name) => `${name}_quantized`).join(', ')}; expected the ONNX Model Zoo mobilenetv2-12-int8.onnx graph`,
    );
  }

  const model = dequantizeGraph(quantized, source);
  const nodes = (model.graph!.node ??= []);
  const outputs = (model.graph!.output ??= []);
  const additions = [
    { output: MAP_OUTPUT, dims: ['batch_size', MAP_CHANNELS, MAP_SIDE, MAP_SIDE] },
    { output: POOLED_OUTPUT, dims: ['batch_size', MAP_CHANNELS, 1, 1] },
    ...POOLED_TAPS.map((tap) => ({ output: tap.output, dims: ['batch_size', tap.channels, 1, 1] })),
    ...POOLED_TAPS.map((tap) => ({ output: tap.mapOutput, dims: ['batch_size', tap.channels, tap.side, tap.side] })),
    ...STD_POOLED.map((part) => ({ output: part.output, dims: ['batch_size', part.channels, 1, 1] })),
  ];
  const node = (opType: string, input: string[], output: string) => nodes.push(onnx.NodeProto.create({ name: `${output}_node`, opType, input, output: [output] }));
  // Every pooled feature is root pooled (see rootPool): the square root of a spatial mean or of a
  // spatial standard deviation. The Relu guards the square roots against rounding below 0.
  node('Identity', [MAP_TENSOR], MAP_OUTPUT);
  node('Relu', [POOLED_TENSOR], `${POOLED_OUTPUT}_mean`);
  node('Sqrt', [`${POOLED_OUTPUT}_mean`], POOLED_OUTPUT);
  for (const tap of POOLED_TAPS) {
    node('GlobalAveragePool', [tap.tensor], `${tap.output}_mean`);
    node('Relu', [`${tap.output}_mean`], `${tap.output}_mean_clamped`);
    node('Sqrt', [`${tap.output}_mean_clamped`], tap.output);
  }
  for (const tap of POOLED_TAPS) node('Identity', [tap.tensor], tap.mapOutput);
  for (const part of STD_POOLED) {
    // std = sqrt(max(0, mean(x^2) - mean(x)^2)) over the spatial positions of each channel.
    const prefix = part.output;
    node('GlobalAveragePool', [part.tensor], `${prefix}_mean`);
    node('Mul', [part.tensor, part.tensor], `${prefix}_square`);
    node('GlobalAveragePool', [`${prefix}_square`], `${prefix}_mean_square`);
    node('Mul', [`${prefix}_mean`, `${prefix}_mean`], `${prefix}_square_mean`);
    node('Sub', [`${prefix}_mean_square`, `${prefix}_square_mean`], `${prefix}_variance`);
    node('Relu', [`${prefix}_variance`], `${prefix}_variance_clamped`);
    node('Sqrt', [`${prefix}_variance_clamped`], `${prefix}_deviation`);
    node('Sqrt', [`${prefix}_deviation`], part.output);
  }
  for (const { output, dims } of additions) {
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
  /** Root-pooled last-layer means (1280, see rootPool), then POOLED_TAPS means and STD_POOLED. */
  readonly featureDim = POOLED_PARTS.reduce((sum, part) => sum + part.channels, 0);
  private disposed = false;

  constructor(
    private readonly session: ort.InferenceSession,
    readonly files: readonly string[],
    private readonly batchSize: number,
  ) {}

  async extract(images: RgbImage[], options: { maps?: boolean } = {}): Promise<FeatureBatch> {
    checkBackboneInput(images, this.inputSize);
    const pooled = new Float32Array(images.length * this.featureDim);
    // Per MAP_SOURCES entry, the map values of each batch run, float32 [run size, channels, side, side].
    const mapRuns: Float32Array[][] | undefined = options.maps ? MAP_SOURCES.map(() => []) : undefined;
    const pooledParts = POOLED_PARTS;
    const pooledFetches = pooledParts.map((part) => part.output);
    const fetches = mapRuns ? [...pooledFetches, ...MAP_SOURCES.map((source) => source.output)] : pooledFetches;

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
      if (mapRuns) {
        for (const [index, source] of MAP_SOURCES.entries()) {
          const size = source.channels * source.side * source.side;
          const nchw = outputs[source.output].data as Float32Array;
          if (nchw.length !== chunk.length * size) {
            throw new ModelError(`${source.output}: expected ${chunk.length} x ${size} values from ONNX Runtime, received ${nchw.length}`);
          }
          mapRuns[index].push(nchw);
        }
      }
    }
    if (!mapRuns) return { pooled };

    const maps: PooledMap[] = MAP_SOURCES.map(({ channels, side, meanOffset, stdOffset }, index) => ({
      values: concatenate(mapRuns[index], images.length * channels * side * side),
      height: side,
      width: side,
      channels,
      meanOffset,
      stdOffset,
    }));
    return { pooled, maps };
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

/** Returns the arrays joined end to end, float32 [length], without a copy when there is only one. */
function concatenate(parts: Float32Array[], length: number): Float32Array {
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
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
