/**
 * Builds one self-contained ONNX model from the MobileNetV2 backbone and a linear head: the
 * float32 feature graph of addFeatureOutputs, followed by the head's standardisation, its linear
 * layer, the mean logit over the views of one image and Platt scaling. Runtimes other than
 * busight can then score an image from its preprocessed views alone.
 */
import onnxProto from 'onnx-proto';

import { ModelError } from '../errors.js';
import { BUSIGHT_VERSION } from '../version.js';
import { floatTensor } from './dequantize-graph.js';
import { BACKBONE_SPECS } from './backbone.js';
import type { DenseWeights, HeadWeights } from './head.js';
import { addFeatureOutputs, INPUT_NAME, POOLED_PARTS } from './onnx-mobilenet-v2.js';

const { onnx } = onnxProto;
type ModelProto = onnxProto.onnx.ModelProto;
type NodeProto = onnxProto.onnx.INodeProto;
type AttributeProto = onnxProto.onnx.IAttributeProto;

/** Input of the exported model: float32 [V, 3, 224, 224] in [-2.12, 2.64], the V views of one image normalised by toNormalisedNchw. */
export const EXPORT_INPUT = 'views';
/** Output of the exported model: float32 [V], the raw head logit of each view. */
export const VIEW_LOGITS_OUTPUT = 'view_logits';
/** Output of the exported model: float32 [1], the calibrated malignancy probability of the mean logit. */
export const PROBABILITY_OUTPUT = 'probability';

/** Length of the feature vector that the backbone graph computes (the sum of POOLED_PARTS channels). */
export const EXPORT_FEATURE_DIM = POOLED_PARTS.reduce((sum, part) => sum + part.channels, 0);

/** Symbolic name of the view axis in the exported input and output shapes, as the JSON contract writes it. */
export const VIEW_AXIS = 'V';

/** Prefix of every tensor and node that the export adds, so none collides with a backbone tensor. */
const PREFIX = 'busight_export';

/** First opset version in which ReduceMean takes its axes as an input instead of an attribute. */
const REDUCE_MEAN_AXES_INPUT_OPSET = 18;

/** Options of buildExportModel. */
export interface ExportModelOptions {
  /** Names the bundle in error messages. */
  source: string;
  /** Extra string entries for the ONNX metadata_props, such as the model version and threshold. */
  metadata?: Record<string, string>;
}

/**
 * Returns the head's single linear layer after checking that the head fits the exported graph:
 * one dense layer with one linear unit over EXPORT_FEATURE_DIM features, finite values and positive
 * standard deviations. Throws ModelError naming `source` and the reason otherwise, for example
 * for a head with hidden layers.
 */
export function linearLayerOf(head: HeadWeights, source: string): DenseWeights {
  const layers = head.layers ?? [];
  if (layers.length === 0) throw new ModelError(`${source}: the head has no dense layer; the bundle is damaged. Retrain it.`);
  if (layers.length > 1) {
    const hidden = layers.slice(0, -1).map((layer) => layer.units);
    throw new ModelError(
      `${source}: the head has ${hidden.length} hidden layer(s) of ${hidden.join(', ')} units, but export supports linear heads only. ` +
        'Retrain without --hidden to get a linear head.',
    );
  }

  const [layer] = layers;
  if (layer.units !== 1 || layer.activation !== 'linear') {
    throw new ModelError(`${source}: expected a head layer with 1 linear unit, received ${layer.units} unit(s) with activation ${layer.activation}`);
  }
  if (head.featureDim !== EXPORT_FEATURE_DIM) {
    throw new ModelError(
      `${source}: the head expects ${head.featureDim} features but this busight version's mobilenet_v2_1.0 gives ` +
        `${EXPORT_FEATURE_DIM}; the bundle was written by another busight version. Retrain it.`,
    );
  }
  const lengths: [string, number, number][] = [
    ['layer inputs', layer.inputs, head.featureDim],
    ['kernel', layer.kernel.length, head.featureDim],
    ['bias', layer.bias.length, 1],
    ['mean', head.mean.length, head.featureDim],
    ['std', head.std.length, head.featureDim],
  ];
  for (const [name, actual, expected] of lengths) {
    if (actual !== expected) throw new ModelError(`${source}: head ${name} has length ${actual}, expected ${expected}; the bundle is damaged`);
  }

  const values: [string, readonly number[]][] = [
    ['kernel', layer.kernel],
    ['bias', layer.bias],
    ['mean', head.mean],
    ['std', head.std],
    ['calibration', [head.calibration.scale, head.calibration.shift]],
  ];
  for (const [name, array] of values) {
    const index = array.findIndex((value) => !Number.isFinite(value));
    if (index >= 0) throw new ModelError(`${source}: head ${name}[${index}] is ${array[index]}, expected a finite number`);
  }
  const badStd = head.std.findIndex((value) => value <= 0);
  if (badStd >= 0) throw new ModelError(`${source}: head std[${badStd}] is ${head.std[badStd]}, expected a positive number`);
  return layer;
}

/**
 * Builds the exported ONNX model. `backboneBytes`: the bytes of mobilenetv2-12-int8.onnx, and
 * `head`: a linear head over its EXPORT_FEATURE_DIM features. Returns the serialised model with
 * the input EXPORT_INPUT and the outputs VIEW_LOGITS_OUTPUT and PROBABILITY_OUTPUT. Backbone nodes,
 * initializers and outputs that these outputs do not need (the ImageNet classifier, the last map)
 * are dropped. Throws ModelError for a head that linearLayerOf rejects or a graph that
 * addFeatureOutputs rejects.
 */
export function buildExportModel(backboneBytes: Uint8Array, head: HeadWeights, options: ExportModelOptions): Uint8Array {
  const layer = linearLayerOf(head, options.source);
  const model = onnx.ModelProto.decode(addFeatureOutputs(backboneBytes, options.source));
  const graph = model.graph!;
  const opset = defaultOpset(model);
  if (opset >= REDUCE_MEAN_AXES_INPUT_OPSET) {
    // The Model Zoo graph uses opset 12, so the head below writes ReduceMean with the axes attribute.
    throw new ModelError(`${options.source}: the backbone graph uses opset ${opset}, but the export supports opsets below ${REDUCE_MEAN_AXES_INPUT_OPSET}`);
  }
  const featureDim = head.featureDim;
  const name = (suffix: string) => `${PREFIX}_${suffix}`;
  const nodes: NodeProto[] = [];
  const node = (opType: string, inputs: string[], output: string, attribute: AttributeProto[] = []) => {
    nodes.push(onnx.NodeProto.create({ name: `${output}_node`, opType, input: inputs, output: [output], attribute }));
  };

  // Features: the pooled outputs [V, channels, 1, 1] in POOLED_PARTS order become [V, featureDim].
  node('Concat', POOLED_PARTS.map((part) => part.output), name('features_nchw'), [intAttribute('axis', 1)]);
  node('Flatten', [name('features_nchw')], name('features'), [intAttribute('axis', 1)]);

  // Standardisation and the linear layer. Subtracting the mean and dividing by std in the graph,
  // as headLogit does, keeps the float32 error small. Folding them into the kernel and bias would
  // cancel large terms when std is at its training floor of 1e-6.
  node('Sub', [name('features'), name('mean')], name('features_centred'));
  node('Div', [name('features_centred'), name('std')], name('features_standardised'));
  node('MatMul', [name('features_standardised'), name('kernel')], name('logit_product'));
  node('Add', [name('logit_product'), name('bias')], name('logit_column'));
  node('Reshape', [name('logit_column'), name('vector_shape')], VIEW_LOGITS_OUTPUT);

  // Mean logit over the views, then Platt scaling: sigmoid(scale * logit + shift).
  node('ReduceMean', [VIEW_LOGITS_OUTPUT], name('mean_logit'), [intsAttribute('axes', [0]), intAttribute('keepdims', 1)]);
  node('Mul', [name('mean_logit'), name('calibration_scale')], name('scaled_logit'));
  node('Add', [name('scaled_logit'), name('calibration_shift')], name('calibrated_logit'));
  node('Sigmoid', [name('calibrated_logit')], PROBABILITY_OUTPUT);

  // The views feed the backbone's input tensor. Nodes are stored in topological order, so this
  // node goes first and the head's nodes after the backbone's.
  const inputNode = onnx.NodeProto.create({ name: `${PREFIX}_input_node`, opType: 'Identity', input: [EXPORT_INPUT], output: [INPUT_NAME] });
  graph.node = [inputNode, ...(graph.node ?? []), ...nodes];
  graph.initializer = [
    ...(graph.initializer ?? []),
    floatTensor(name('mean'), [featureDim], head.mean),
    floatTensor(name('std'), [featureDim], head.std),
    floatTensor(name('kernel'), [featureDim, 1], layer.kernel),
    floatTensor(name('bias'), [1], layer.bias),
    floatTensor(name('calibration_scale'), [], [head.calibration.scale]),
    floatTensor(name('calibration_shift'), [], [head.calibration.shift]),
    int64Tensor(name('vector_shape'), [-1]),
  ];
  const size = BACKBONE_SPECS['mobilenet_v2_1.0'].inputSize;
  graph.input = [floatValueInfo(EXPORT_INPUT, [VIEW_AXIS, 3, size, size])];
  graph.output = [floatValueInfo(VIEW_LOGITS_OUTPUT, [VIEW_AXIS]), floatValueInfo(PROBABILITY_OUTPUT, [1])];
  pruneGraph(model);

  model.producerName = 'busight';
  model.producerVersion = BUSIGHT_VERSION;
  model.docString =
    `busight breast ultrasound classifier. Input ${EXPORT_INPUT}: float32 [V, 3, ${size}, ${size}], the normalised views of one image. ` +
    `Outputs ${VIEW_LOGITS_OUTPUT}: float32 [V], and ${PROBABILITY_OUTPUT}: float32 [1], the calibrated malignancy probability.`;
  model.metadataProps = Object.entries(options.metadata ?? {}).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value }));
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Drops nodes whose outputs no graph output needs, then initializers no kept node reads, and
 * opset imports of domains no kept node uses. Relies on the ONNX rule that nodes are stored in
 * topological order.
 */
function pruneGraph(model: ModelProto): void {
  const graph = model.graph!;
  const needed = new Set((graph.output ?? []).map((output) => output.name ?? ''));
  const reachableNodes: NodeProto[] = [];
  for (const node of [...(graph.node ?? [])].reverse()) {
    if (!(node.output ?? []).some((output) => needed.has(output))) continue;
    reachableNodes.push(node);
    for (const input of node.input ?? []) needed.add(input);
  }
  graph.node = reachableNodes.reverse();
  graph.initializer = (graph.initializer ?? []).filter((tensor) => needed.has(tensor.name ?? ''));
  graph.valueInfo = (graph.valueInfo ?? []).filter((info) => needed.has(info.name ?? ''));

  const domains = new Set(graph.node.map((node) => node.domain ?? ''));
  model.opsetImport = (model.opsetImport ?? []).filter((entry) => (entry.domain ?? '') === '' || domains.has(entry.domain ?? ''));
}

/** Returns the model's opset version of the default ONNX domain. */
function defaultOpset(model: ModelProto): number {
  const entry = (model.opsetImport ?? []).find((opset) => (opset.domain ?? '') === '');
  return Number(entry?.version ?? 0);
}

function intAttribute(name: string, value: number): AttributeProto {
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: value });
}

function intsAttribute(name: string, values: number[]): AttributeProto {
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: values });
}

function int64Tensor(name: string, values: number[]): onnxProto.onnx.ITensorProto {
  return onnx.TensorProto.create({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: values });
}

/** Describes a float32 graph input or output. String dimensions are symbolic, such as the view count. */
function floatValueInfo(name: string, dims: (string | number)[]): onnxProto.onnx.IValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((dim) => (typeof dim === 'string' ? { dimParam: dim } : { dimValue: dim })) },
      },
    },
  });
}
