/**
 * The classification head: standardisation of pooled backbone features followed by a small
 * multilayer perceptron (zero or more ReLU hidden layers, then one logit), and Platt scaling of
 * that logit. Inference runs in plain TypeScript so a bundle needs no training framework.
 */

/** One dense layer: `kernel` float [inputs * units] row-major (input-major), `bias` [units]. */
export interface DenseWeights {
  inputs: number;
  units: number;
  kernel: number[];
  bias: number[];
  activation: 'relu' | 'linear';
}

/** Serialised head, stored as `head.json` in a bundle. */
export interface HeadWeights {
  /** Length of the pooled feature vector the head expects. */
  featureDim: number;
  /** Per-feature mean and standard deviation of the training features. */
  mean: number[];
  std: number[];
  /** Dense layers in order; the last has one unit and a linear activation (the logit). */
  layers: DenseWeights[];
  /** Platt scaling of the logit: probability = sigmoid(scale * logit + shift). */
  calibration: { scale: number; shift: number };
}

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** Computes the raw (uncalibrated) logit for one pooled feature vector float32 [featureDim]. */
export function headLogit(head: HeadWeights, features: ArrayLike<number>): number {
  let activations = standardize(head, features);
  for (const layer of head.layers) activations = denseForward(layer, activations);
  return activations[0];
}

/** Maps a raw logit to the calibrated malignancy probability in [0, 1]. */
export function calibratedProbability(head: HeadWeights, logit: number): number {
  return sigmoid(head.calibration.scale * logit + head.calibration.shift);
}

/**
 * Computes the gradient of the raw logit with respect to the pooled (unstandardised) features,
 * float64 [featureDim]. For a linear head it is the constant `kernel / std`.
 */
export function logitGradient(head: HeadWeights, features: ArrayLike<number>): Float64Array {
  // Forward pass, keeping each layer's input and pre-activation.
  const inputs: Float64Array[] = [];
  const preActivations: Float64Array[] = [];
  let activations = standardize(head, features);
  for (const layer of head.layers) {
    inputs.push(activations);
    const z = denseLinear(layer, activations);
    preActivations.push(z);
    activations = layer.activation === 'relu' ? z.map((value) => Math.max(0, value)) : z;
  }

  // Backward pass from d(logit)/d(logit) = 1.
  let upstream: Float64Array = Float64Array.of(1);
  for (let index = head.layers.length - 1; index >= 0; index--) {
    const layer = head.layers[index];
    const z = preActivations[index];
    const local =
      layer.activation === 'relu' ? upstream.map((value, unit) => (z[unit] > 0 ? value : 0)) : upstream;
    const downstream = new Float64Array(layer.inputs);
    for (let input = 0; input < layer.inputs; input++) {
      let sum = 0;
      const row = input * layer.units;
      for (let unit = 0; unit < layer.units; unit++) sum += layer.kernel[row + unit] * local[unit];
      downstream[input] = sum;
    }
    upstream = downstream;
  }

  // Undo standardisation: d(standardised)/d(raw) = 1 / std.
  return upstream.map((value, feature) => value / head.std[feature]);
}

function standardize(head: HeadWeights, features: ArrayLike<number>): Float64Array {
  if (features.length !== head.featureDim) {
    throw new RangeError(`head: expected ${head.featureDim} features, received ${features.length}`);
  }
  const out = new Float64Array(head.featureDim);
  for (let i = 0; i < head.featureDim; i++) out[i] = (features[i] - head.mean[i]) / head.std[i];
  return out;
}

function denseLinear(layer: DenseWeights, input: Float64Array): Float64Array {
  const out = Float64Array.from(layer.bias);
  for (let i = 0; i < layer.inputs; i++) {
    const value = input[i];
    if (value === 0) continue;
    const row = i * layer.units;
    for (let unit = 0; unit < layer.units; unit++) out[unit] += value * layer.kernel[row + unit];
  }
  return out;
}

function denseForward(layer: DenseWeights, input: Float64Array): Float64Array {
  const z = denseLinear(layer, input);
  return layer.activation === 'relu' ? z.map((value) => Math.max(0, value)) : z;
}
