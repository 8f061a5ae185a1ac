/**
 * Full-batch L2-regularised logistic regression solved by L-BFGS, with the matrix products in
 * TF.js (wasm) or plain TypeScript (see RowProducts). Because the objective is convex, the
 * solution depends only on the data and the penalty, not on a seed, a batch order or a learning
 * rate.
 */

import * as tf from '@tensorflow/tfjs';

/** Training rows for fitLogisticRegression. */
export interface LogisticProblem {
  /** float32 [rows, dim], row-major, already standardised. */
  x: Float32Array;
  dim: number;
  /** One target in {0, 1} per row. */
  targets: Float32Array;
  /** One non-negative loss weight per row. */
  weights: Float32Array;
}

export interface LogisticFitOptions {
  /** Penalty `l2 / 2 * |kernel|^2` added to the weighted mean cross-entropy; the bias is not penalised. */
  l2: number;
  maxIterations: number;
  /** Stop when the objective changes by less than this fraction between iterations. */
  tolerance: number;
  /** Starting point, float64 [dim + 1] (kernel, then bias); zeros when undefined. */
  initial?: Float64Array;
  /** Called after each accepted iteration with the current parameters, objective and line-search step length. */
  onIteration?: (parameters: Float64Array, objective: number, stepLength: number) => void;
  /** Implementation of the matrix products. When undefined, productsFor(rows, dim) chooses one. */
  products?: RowProductsFactory;
}

/** The two matrix products of the objective, over rows x float32 [rows, dim]. */
export interface RowProducts {
  /** Returns x * theta for the first `dim` entries of theta (the kernel), one value per row. */
  rowDots(theta: Float64Array): ArrayLike<number>;
  /** Returns x^T * residuals, one value per column, for `residuals` float64 [rows]. */
  columnDots(residuals: Float64Array): ArrayLike<number>;
  dispose(): void;
}

export type RowProductsFactory = (x: Float32Array, rows: number, dim: number) => RowProducts;

/** Products in plain TypeScript with float64 sums: exact to rounding, and the fallback without wasm. */
export const plainProducts: RowProductsFactory = (x, rows, dim) => ({
  rowDots(theta) {
    const out = new Float64Array(rows);
    for (let row = 0; row < rows; row++) {
      const offset = row * dim;
      let z = 0;
      for (let j = 0; j < dim; j++) z += x[offset + j] * theta[j];
      out[row] = z;
    }
    return out;
  },
  columnDots(residuals) {
    const out = new Float64Array(dim);
    for (let row = 0; row < rows; row++) {
      const residual = residuals[row];
      if (residual === 0) continue;
      const offset = row * dim;
      for (let j = 0; j < dim; j++) out[j] += residual * x[offset + j];
    }
    return out;
  },
  dispose() {},
});

/**
 * Products as TF.js matrix multiplications in float32 on the active backend. On the wasm backend
 * the objective of 580 rows x 10624 features took 8 ms against 24 ms in plain TypeScript (2-core
 * AMD EPYC), and head training in `busight train` fell from 17.7 s to 7.4 s. By float32 rounding, the
 * sums should move a logit by roughly 1e-6 of its magnitude (an estimate, not measured).
 */
export const tfjsProducts: RowProductsFactory = (x, rows, dim) => {
  const matrix = tf.tensor2d(x, [rows, dim]);
  // Read results outside tf.tidy, which would walk every element of a returned array.
  const read = (product: tf.Tensor) => {
    try {
      return product.dataSync();
    } finally {
      product.dispose();
    }
  };
  return {
    rowDots(theta) {
      return read(tf.tidy(() => tf.matMul(matrix, tf.tensor2d(Float32Array.from(theta.subarray(0, dim)), [dim, 1]))));
    },
    columnDots(residuals) {
      return read(tf.tidy(() => tf.matMul(tf.tensor2d(Float32Array.from(residuals), [1, rows]), matrix)));
    },
    dispose() {
      matrix.dispose();
    },
  };
};

/**
 * Largest matrix in bytes that tfjsProducts is given. The TF.js wasm heap failed near 2 GiB here:
 * a 52,000 x 10,624 float32 matrix gave "memory access out of bounds" and 48,000 rows worked.
 * Half of that leaves room for the heap's other buffers.
 */
export const MAX_WASM_MATRIX_BYTES = 2 ** 30;

/**
 * Returns the products for a rows x dim float32 matrix: tfjsProducts when `backend` (the active
 * TF.js backend by default, see initTfjsBackend) is wasm and the matrix fits MAX_WASM_MATRIX_BYTES,
 * else plainProducts.
 */
export function productsFor(rows: number, dim: number, backend: string | null = tf.getBackend()): RowProductsFactory {
  return backend === 'wasm' && rows * dim * Float32Array.BYTES_PER_ELEMENT <= MAX_WASM_MATRIX_BYTES ? tfjsProducts : plainProducts;
}

export interface LogisticFit {
  /** float64 [dim + 1]: the kernel, then the bias as the last entry. */
  parameters: Float64Array;
  /** Objective at `parameters`. */
  objective: number;
  /** Objective after each accepted iteration. */
  objectives: number[];
}

/** Past steps kept for the L-BFGS inverse-Hessian estimate. */
const MEMORY = 10;

/**
 * Minimises weighted mean binary cross-entropy plus `l2 / 2 * |kernel|^2` with L-BFGS and an
 * Armijo backtracking line search. Throws RangeError when the problem's arrays disagree in length.
 */
export function fitLogisticRegression(problem: LogisticProblem, options: LogisticFitOptions): LogisticFit {
  const { x, dim, targets, weights } = problem;
  const rows = targets.length;
  if (x.length !== rows * dim || weights.length !== rows) {
    throw new RangeError(`fitLogisticRegression: x has ${x.length} values, expected ${rows} rows x ${dim} features and ${rows} weights (received ${weights.length})`);
  }
  const size = dim + 1;
  const parameters = options.initial ? Float64Array.from(options.initial) : new Float64Array(size);
  if (parameters.length !== size) throw new RangeError(`fitLogisticRegression: initial has ${parameters.length} values, expected ${size}`);

  const weightSum = weights.reduce((sum, weight) => sum + weight, 0);
  const products = (options.products ?? productsFor(rows, dim))(x, rows, dim);
  const residuals = new Float64Array(rows);
  const objective = (theta: Float64Array, gradient: Float64Array): number => {
    const logits = products.rowDots(theta);
    let loss = 0;
    let biasGradient = 0;
    for (let row = 0; row < rows; row++) {
      const z = logits[row] + theta[dim];
      // log(1 + exp(-|z|)) + max(z, 0) - z * y, the stable form of the cross-entropy.
      loss += weights[row] * (Math.log1p(Math.exp(-Math.abs(z))) + Math.max(z, 0) - z * targets[row]);
      residuals[row] = (weights[row] * (1 / (1 + Math.exp(-z)) - targets[row])) / weightSum;
      biasGradient += residuals[row];
    }
    gradient.set(products.columnDots(residuals));
    gradient[dim] = biasGradient;
    loss /= weightSum;
    for (let j = 0; j < dim; j++) {
      loss += 0.5 * options.l2 * theta[j] * theta[j];
      gradient[j] += options.l2 * theta[j];
    }
    return loss;
  };

  try {
    return minimise(objective, parameters, options);
  } finally {
    products.dispose();
  }
}

/** Runs L-BFGS with Armijo backtracking on `objective` (value, and gradient written into its second argument) from `start`. */
function minimise(
  objective: (theta: Float64Array, gradient: Float64Array) => number,
  start: Float64Array,
  options: LogisticFitOptions,
): LogisticFit {
  const size = start.length;
  let parameters = start;
  let gradient = new Float64Array(size);
  let value = objective(parameters, gradient);
  const objectives: number[] = [];
  const steps: Float64Array[] = [];
  const gradientChanges: Float64Array[] = [];
  const inverseCurvatures: number[] = [];

  for (let iteration = 0; iteration < options.maxIterations; iteration++) {
    const direction = searchDirection(gradient, steps, gradientChanges, inverseCurvatures);
    let slope = 0;
    for (let j = 0; j < size; j++) slope += gradient[j] * direction[j];
    if (!(slope < 0)) break;

    // Armijo backtracking along the direction.
    let stepLength = 1;
    const candidate = new Float64Array(size);
    const candidateGradient = new Float64Array(size);
    let candidateValue = Number.POSITIVE_INFINITY;
    let accepted = false;
    for (let halving = 0; halving < 40; halving++) {
      for (let j = 0; j < size; j++) candidate[j] = parameters[j] + stepLength * direction[j];
      candidateValue = objective(candidate, candidateGradient);
      if (candidateValue <= value + 1e-4 * stepLength * slope) {
        accepted = true;
        break;
      }
      stepLength /= 2;
    }
    if (!accepted) break;

    // Update the curvature memory with the accepted step.
    const step = new Float64Array(size);
    const change = new Float64Array(size);
    let curvature = 0;
    for (let j = 0; j < size; j++) {
      step[j] = candidate[j] - parameters[j];
      change[j] = candidateGradient[j] - gradient[j];
      curvature += step[j] * change[j];
    }
    if (curvature > 1e-12) {
      steps.push(step);
      gradientChanges.push(change);
      inverseCurvatures.push(1 / curvature);
      if (steps.length > MEMORY) {
        steps.shift();
        gradientChanges.shift();
        inverseCurvatures.shift();
      }
    }

    const relativeChange = Math.abs(value - candidateValue) / Math.max(1, Math.abs(value));
    parameters = candidate;
    gradient = candidateGradient;
    value = candidateValue;
    objectives.push(value);
    options.onIteration?.(parameters, value, stepLength);
    if (relativeChange < options.tolerance) break;
  }
  return { parameters, objective: value, objectives };
}

/** Computes the L-BFGS direction -H * gradient by the two-loop recursion. */
function searchDirection(
  gradient: Float64Array,
  steps: Float64Array[],
  gradientChanges: Float64Array[],
  inverseCurvatures: number[],
): Float64Array {
  const size = gradient.length;
  const q = Float64Array.from(gradient);
  const alphas = new Float64Array(steps.length);
  for (let i = steps.length - 1; i >= 0; i--) {
    let alpha = 0;
    for (let j = 0; j < size; j++) alpha += steps[i][j] * q[j];
    alpha *= inverseCurvatures[i];
    alphas[i] = alpha;
    for (let j = 0; j < size; j++) q[j] -= alpha * gradientChanges[i][j];
  }

  // Initial inverse-Hessian scale: s'y / y'y from the latest step, or 1 / |gradient| on the first.
  let scale: number;
  if (steps.length > 0) {
    const last = steps.length - 1;
    let changeNorm = 0;
    for (let j = 0; j < size; j++) changeNorm += gradientChanges[last][j] ** 2;
    scale = 1 / (inverseCurvatures[last] * changeNorm);
  } else {
    let norm = 0;
    for (let j = 0; j < size; j++) norm += gradient[j] ** 2;
    scale = 1 / Math.max(1, Math.sqrt(norm));
  }
  for (let j = 0; j < size; j++) q[j] *= scale;

  for (let i = 0; i < steps.length; i++) {
    let beta = 0;
    for (let j = 0; j < size; j++) beta += gradientChanges[i][j] * q[j];
    beta *= inverseCurvatures[i];
    for (let j = 0; j < size; j++) q[j] += steps[i][j] * (alphas[i] - beta);
  }
  for (let j = 0; j < size; j++) q[j] = -q[j];
  return q;
}
