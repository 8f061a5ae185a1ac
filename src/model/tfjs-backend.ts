/**
 * One-time selection of the TensorFlow.js backend for the whole process. Every module that runs
 * TF.js calls initTfjsBackend first, so they all share one backend.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';

import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

import type { Logger } from '../util/log.js';

/** TF.js backends busight can run on: 'wasm' (WebAssembly, with SIMD where supported) or 'cpu' (plain JavaScript, slower). */
export type TfjsBackendName = 'wasm' | 'cpu';

let pending: Promise<TfjsBackendName> | undefined;
let pendingPreference: TfjsBackendName | undefined;

/**
 * Makes `preferred` the active TF.js backend and returns the backend in use. When 'wasm' fails to
 * initialise, it logs a warning and falls back to 'cpu'. Repeated calls with the same preference
 * return the first result without initialising again.
 */
export function initTfjsBackend(preferred: TfjsBackendName, logger: Logger): Promise<TfjsBackendName> {
  if (pending === undefined || pendingPreference !== preferred) {
    pendingPreference = preferred;
    pending = selectBackend(preferred, logger);
  }
  return pending;
}

async function selectBackend(preferred: TfjsBackendName, logger: Logger): Promise<TfjsBackendName> {
  if (preferred === 'wasm') {
    try {
      configureWasm();
      if (await tf.setBackend('wasm')) {
        await tf.ready();
        return 'wasm';
      }
      logger.warn('the TF.js wasm backend failed to initialise; using the slower cpu backend instead');
    } catch (error) {
      logger.warn(
        `the TF.js wasm backend failed to initialise (${(error as Error).message}); using the slower cpu backend instead`,
      );
    }
  }
  if (!(await tf.setBackend('cpu'))) throw new Error('the TF.js cpu backend failed to initialise');
  await tf.ready();
  return 'cpu';
}

let wasmConfigured = false;

/** Points the wasm backend at the .wasm files of the installed package, because Node has no page URL to fetch them from. */
function configureWasm(): void {
  if (wasmConfigured) return;
  const require = createRequire(import.meta.url);
  const distDir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  // NOTE: in Node 20, tfjs-backend-wasm 4.22 reports no multithread support, so it runs the
  // single-threaded SIMD binary; forcing the threaded binary failed to initialise here.
  setWasmPaths(`${distDir}${path.sep}`);
  wasmConfigured = true;
}
