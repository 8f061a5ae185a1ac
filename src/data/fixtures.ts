/** Helpers that generate small image files for tests; no patient images are stored in the repository. */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import sharp from 'sharp';

/** BUSI and its seed split in the shared folder beside the repository (CI clones the repository elsewhere). */
export const SHARED_DATA_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'data');
export const BUSI_DIR = path.join(SHARED_DATA_DIR, 'busi');
export const SEED_SPLIT_FILE = path.join(SHARED_DATA_DIR, 'busi_seed_split.csv');

/** Creates a fresh temporary folder for one test. */
export async function makeTempDir(prefix = 'busight-test-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/**
 * Encodes a deterministic grey pattern (a gradient plus a disc whose position depends on `seed`)
 * as PNG. `channels` 1 gives a grey PNG, 3 an RGB PNG.
 */
export async function patternPng(seed: number, size = 32, channels: 1 | 3 = 3): Promise<Buffer> {
  const data = new Uint8Array(size * size * channels);
  const cx = (seed * 7) % size;
  const cy = (seed * 13) % size;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const inside = (x - cx) ** 2 + (y - cy) ** 2 < (size / 4) ** 2;
      const value = inside ? 230 : Math.round((255 * (x + y)) / (2 * size));
      for (let c = 0; c < channels; c++) data[(y * size + x) * channels + c] = value;
    }
  }
  return sharp(data, { raw: { width: size, height: size, channels } }).png().toBuffer();
}

/** Writes `files` (relative path -> bytes) under `root`, creating folders. */
export async function writeTree(root: string, files: Record<string, Uint8Array | string>): Promise<void> {
  for (const [relative, content] of Object.entries(files)) {
    const target = path.join(root, ...relative.split('/'));
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.writeFile(target, content);
  }
}

/**
 * Encodes a smooth random texture (seeded noise, Gaussian blur sigma 6) as PNG: `size` x `size`
 * grey pixels in RGB, different enough between seeds for perceptual hashing tests.
 */
export async function texturePng(seed: number, size = 256): Promise<Buffer> {
  let state = seed * 2654435761 + 1;
  const data = new Uint8Array(size * size);
  for (let i = 0; i < data.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = state >>> 24;
  }
  const blurred = await sharp(data, { raw: { width: size, height: size, channels: 1 } }).blur(6).normalise().raw().toBuffer();
  return sharp(blurred, { raw: { width: size, height: size, channels: 1 } }).toColourspace('srgb').png().toBuffer();
}
