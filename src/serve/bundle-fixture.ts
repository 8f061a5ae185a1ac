/**
 * Test helper: trains a small real model bundle with `busight train` and caches it in the temporary
 * folder. The cache key is a hash of the compiled model and training code, so the serve tests
 * share one bundle and a code change retrains it.
 */
import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { sha256, writeDirAtomic } from '../util/atomic.js';
import { ultrasoundLikePng } from './upload-fixtures.js';

const run = promisify(execFile);

/** Repository root, two levels above the compiled file (dist/serve/). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** BUSI images next to the repository, when the shared data folder is present. */
export const BUSI_DIR = path.join(REPO_ROOT, '..', 'shared', 'data', 'busi');

/** ImageNet backbones next to the repository. */
export const SHARED_MODELS_DIR = path.join(REPO_ROOT, '..', 'shared', 'models');

/** Images per class in the training folder: enough for a 7:2:1 split with both classes in each part. */
const IMAGES_PER_CLASS = 20;

/** Returns the first `count` BUSI image files of a class (no masks), sorted by name, or [] without BUSI. */
export async function busiImages(className: 'benign' | 'malignant', count: number): Promise<string[]> {
  const folder = path.join(BUSI_DIR, className);
  if (!existsSync(folder)) return [];
  const names = (await fs.readdir(folder)).filter((name) => name.endsWith('.png') && !name.includes('_mask')).sort();
  return names.slice(0, count).map((name) => path.join(folder, name));
}

/**
 * Returns the model folder of a bundle trained by the real `busight train` on 20 BUSI images per
 * class (links to ../shared), or on generated ultrasound-like images when BUSI is absent.
 * Training takes tens of seconds the first time; later calls reuse the cached bundle.
 */
export async function trainedTestBundle(): Promise<string> {
  const key = await codeHash();
  const runDir = path.join(os.tmpdir(), `busight-serve-test-bundle-${key}`);
  const modelDir = path.join(runDir, 'model');
  if (existsSync(path.join(modelDir, 'bundle.json'))) return modelDir;

  await writeDirAtomic(runDir, async (scratch) => {
    const dataDir = path.join(scratch, 'data');
    await fillTrainingFolder(dataDir);
    const args = [
      path.join(REPO_ROOT, 'dist', 'cli', 'main.js'),
      'train',
      '--data', dataDir,
      '--out', scratch,
      '--max-epochs', '5',
      '--views', '1',
      '--bootstrap', '20',
      '--no-cache',
      '--quiet',
    ];
    if (existsSync(SHARED_MODELS_DIR)) args.push('--weights', SHARED_MODELS_DIR);
    await run(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 });
    await fs.rm(dataDir, { recursive: true, force: true });
  });
  return modelDir;
}

async function fillTrainingFolder(dataDir: string): Promise<void> {
  for (const [index, className] of (['benign', 'malignant'] as const).entries()) {
    const classDir = path.join(dataDir, className);
    await fs.mkdir(classDir, { recursive: true });
    const files = await busiImages(className, IMAGES_PER_CLASS);
    if (files.length === IMAGES_PER_CLASS) {
      for (const file of files) await fs.symlink(file, path.join(classDir, path.basename(file)));
      continue;
    }
    for (let i = 0; i < IMAGES_PER_CLASS; i++) {
      await fs.writeFile(path.join(classDir, `${className}-${i}.png`), await ultrasoundLikePng(256, 256, 1000 * index + i));
    }
  }
}

/** Hashes the compiled code that decides what a trained bundle contains. */
async function codeHash(): Promise<string> {
  const parts: string[] = [];
  for (const folder of ['model', 'train', 'data', 'cli']) {
    const dir = path.join(REPO_ROOT, 'dist', folder);
    if (!existsSync(dir)) continue;
    for (const name of (await fs.readdir(dir)).filter((file) => file.endsWith('.js')).sort()) {
      parts.push(name, await fs.readFile(path.join(dir, name), 'utf8'));
    }
  }
  return sha256(parts.join('\0')).slice(0, 16);
}
