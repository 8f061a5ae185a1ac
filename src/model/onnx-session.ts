/** Creation of every ONNX Runtime session in busight, so thread counts and optimisation settings live in one place. */
import './ort-telemetry-off.js';
import * as ort from 'onnxruntime-node';

import { ModelError } from '../errors.js';

/** Options of createOnnxSession. */
export interface OnnxSessionOptions {
  /** Threads used inside one operator. Defaults to 2. */
  intraOpNumThreads?: number;
}

export const DEFAULT_ONNX_INTRA_OP_THREADS = 2;

/**
 * Creates an inference session on the CPU from serialised ONNX model bytes, with all graph
 * optimisations and sequential execution. `source` names the model in error messages.
 * Throws ModelError when ONNX Runtime rejects the model.
 */
export async function createOnnxSession(
  model: Uint8Array,
  source: string,
  options: OnnxSessionOptions = {},
): Promise<ort.InferenceSession> {
  const intraOpNumThreads = options.intraOpNumThreads ?? DEFAULT_ONNX_INTRA_OP_THREADS;
  if (!Number.isInteger(intraOpNumThreads) || intraOpNumThreads < 1) {
    throw new ModelError(`intraOpNumThreads: expected a positive integer, received ${intraOpNumThreads}`);
  }
  try {
    return await ort.InferenceSession.create(model, {
      executionProviders: ['cpu'],
      intraOpNumThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (error) {
    throw new ModelError(`ONNX Runtime could not load ${source}: ${(error as Error).message}`);
  }
}
