/**
 * Finds a backbone's weight files on disk, downloading them into the cache folder only when no
 * local copy exists. Search order: the `--weights` folder, the BUSIGHT_WEIGHTS_DIR folder, the
 * cache folder, then a download from the official URL.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { ModelError } from '../errors.js';
import { writeDirAtomic } from '../util/atomic.js';
import { silentLogger, type Logger } from '../util/log.js';
import { BACKBONE_SPECS, type BackboneName, type BackboneSpec } from './backbone.js';

/** Environment variable naming a folder of backbone weights, used when `--weights` is not given. */
export const WEIGHTS_DIR_ENV = 'BUSIGHT_WEIGHTS_DIR';
/** Environment variable naming busight's cache folder; downloaded weights go to its `models/` subfolder. */
export const CACHE_DIR_ENV = 'BUSIGHT_CACHE_DIR';

/** Download location of a backbone's files and the digests a download must match. */
export interface WeightsSource {
  /** URL of the folder holding the backbone's files, ending in '/'. */
  baseUrl: string;
  /** SHA-256 (lowercase hex) of the entry file (the .onnx graph or model.json). */
  entrySha256: string;
  /** For TF.js models: SHA-256 of all weight shards concatenated in weightsManifest order. */
  shardsSha256?: string;
}

/**
 * Official download locations. The digests were computed from copies that their provenance notes
 * describe as the unchanged official files (ONNX Model Zoo, and Google's tfjs-models bucket).
 */
export const OFFICIAL_WEIGHTS_SOURCES: Readonly<Record<BackboneName, WeightsSource>> = Object.freeze({
  'mobilenet_v2_1.0': {
    // Raw media URL of the Git LFS object in github.com/onnx/models (the plain raw URL returns the LFS pointer).
    baseUrl: 'https://media.githubusercontent.com/media/onnx/models/main/validated/vision/classification/mobilenet/model/',
    entrySha256: '83530ad811bc31d2b60a5599a21265a5057608c9b044b4ee758cc22f2309f54f',
  },
  'mobilenet_v1_0.75': {
    baseUrl: 'https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_0.75_224/',
    entrySha256: 'a74c25424bd9939b1c245a58da417e35d1ca16f0b009490a1c44b43d982600d9',
    shardsSha256: '0c27b9b79c52b63b42e78628f640cd7259e2bfab5d82151a2d30e902d8f376b2',
  },
});

/** Options of resolveWeightsDir. */
export interface ResolveWeightsOptions {
  /** Value of the `--weights` flag: a folder with one subfolder per backbone, or the backbone's own folder. */
  weightsDir?: string;
  /** Environment to read BUSIGHT_WEIGHTS_DIR, BUSIGHT_CACHE_DIR and XDG_CACHE_HOME from. Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Cache root folder; overrides the environment. Weights are cached in its `models/<folder>` subfolder. */
  cacheDir?: string;
  logger?: Logger;
  /** Whether a missing backbone may be downloaded into the cache. Defaults to true. */
  allowDownload?: boolean;
  /** Folder URL to download from instead of the official one (for tests and mirrors). Digests are still checked. */
  downloadBaseUrl?: string;
  /** Time limit of each HTTP request in milliseconds. Defaults to 300000 (5 minutes). */
  downloadTimeoutMs?: number;
}

const DEFAULT_DOWNLOAD_TIMEOUT_MS = 300_000;

/**
 * Returns the folder holding the named backbone's files. Looks in the `weightsDir` folder, then
 * BUSIGHT_WEIGHTS_DIR, then the cache, and downloads into the cache only when nothing was given.
 * A folder given by flag or environment must contain the backbone: it is never skipped in favour
 * of the cache. Throws ModelError naming the folders searched and the flag and variable to set.
 */
export async function resolveWeightsDir(name: BackboneName, options: ResolveWeightsOptions = {}): Promise<string> {
  const spec = BACKBONE_SPECS[name];
  const env = options.env ?? process.env;
  const logger = options.logger ?? silentLogger;

  // Folder given by the user
  const explicit = explicitWeightsDir(options.weightsDir, env);
  if (explicit !== undefined) {
    const candidates = candidateDirs(spec, explicit.dir);
    const found = await firstCompleteDir(spec, candidates);
    if (found !== undefined) return found;
    throw new ModelError(
      `${spec.name} weights not found: no ${spec.entryFile} (with its weight files) in ${candidates.join(' or ')}, ` +
        `the folder given by ${explicit.origin}. ${howToProvide(spec)}`,
    );
  }

  // Cache folder
  const cacheRoot = cacheRootDir(options.cacheDir, env);
  const cached = path.join(cacheRoot, 'models', spec.folder);
  if (await isCompleteBackboneDir(spec, cached)) return cached;

  // Download into the cache
  const baseUrl = options.downloadBaseUrl ?? OFFICIAL_WEIGHTS_SOURCES[name].baseUrl;
  if (options.allowDownload === false) {
    throw new ModelError(
      `${spec.name} weights not found: no ${spec.entryFile} in the cache folder ${cached}, ` +
        `and downloading is turned off. ${howToProvide(spec)}`,
    );
  }
  logger.info(`downloading ${spec.name} weights from ${baseUrl} to ${cached}`);
  try {
    await downloadBackbone(spec, cached, {
      baseUrl,
      source: OFFICIAL_WEIGHTS_SOURCES[name],
      timeoutMs: options.downloadTimeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS,
      logger,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ModelError(
      `${spec.name} weights not found in the cache folder ${cached}, and the download from ${baseUrl} failed: ` +
        `${reason}. ${howToProvide(spec)}`,
    );
  }
  return cached;
}

/**
 * Returns the absolute paths of the backbone's files in `dir` (the entry file first, then any
 * weight shards), or throws ModelError naming the first missing file. `dir` is the backbone's own folder.
 */
export async function listBackboneFiles(spec: BackboneSpec, dir: string): Promise<string[]> {
  const entry = path.resolve(dir, spec.entryFile);
  const files = [entry];
  if (spec.format === 'tfjs-layers') {
    const shards = shardPaths(await readModelJson(entry));
    for (const shard of shards) files.push(path.resolve(dir, shard));
  }
  for (const file of files) {
    if (!(await isFile(file))) {
      throw new ModelError(`${spec.name} weights are incomplete: ${file} is missing. ${howToProvide(spec)}`);
    }
  }
  return files;
}

/**
 * Returns the backbone's own folder inside `dir`: `dir/<folder>` when that is complete, else `dir`
 * itself when it is complete. Throws ModelError naming both paths when neither is.
 */
export async function locateBackboneDir(spec: BackboneSpec, dir: string): Promise<string> {
  const candidates = candidateDirs(spec, dir);
  const found = await firstCompleteDir(spec, candidates);
  if (found !== undefined) return found;
  throw new ModelError(
    `${spec.name} weights not found: no ${spec.entryFile} (with its weight files) in ${candidates.join(' or ')}`,
  );
}

/** Returns the cache root: `cacheDir`, else $BUSIGHT_CACHE_DIR, else $XDG_CACHE_HOME/busight, else ~/.cache/busight. */
export function cacheRootDir(cacheDir: string | undefined, env: NodeJS.ProcessEnv): string {
  if (cacheDir) return path.resolve(cacheDir);
  if (env[CACHE_DIR_ENV]) return path.resolve(env[CACHE_DIR_ENV]);
  if (env.XDG_CACHE_HOME) return path.resolve(env.XDG_CACHE_HOME, 'busight');
  return path.join(os.homedir(), '.cache', 'busight');
}

function explicitWeightsDir(
  weightsDir: string | undefined,
  env: NodeJS.ProcessEnv,
): { dir: string; origin: string } | undefined {
  if (weightsDir) return { dir: path.resolve(weightsDir), origin: '--weights' };
  const fromEnv = env[WEIGHTS_DIR_ENV];
  if (fromEnv) return { dir: path.resolve(fromEnv), origin: WEIGHTS_DIR_ENV };
  return undefined;
}

function howToProvide(spec: BackboneSpec): string {
  return (
    `Pass --weights <dir> or set ${WEIGHTS_DIR_ENV}=<dir>, where <dir>/${spec.folder}/${spec.entryFile} exists ` +
    `(or <dir> is the ${spec.folder} folder itself).`
  );
}

function candidateDirs(spec: BackboneSpec, dir: string): string[] {
  const nested = path.join(dir, spec.folder);
  return path.basename(dir) === spec.folder ? [dir] : [nested, dir];
}

/** Returns the first candidate holding the backbone's entry file, after checking that its weight files are all there. */
async function firstCompleteDir(spec: BackboneSpec, candidates: string[]): Promise<string | undefined> {
  for (const candidate of candidates) {
    if (!(await isFile(path.join(candidate, spec.entryFile)))) continue;
    await listBackboneFiles(spec, candidate);
    return candidate;
  }
  return undefined;
}

/** Returns whether `dir` contains all of the backbone's files. A damaged folder counts as absent, so it is downloaded again. */
async function isCompleteBackboneDir(spec: BackboneSpec, dir: string): Promise<boolean> {
  try {
    return (await firstCompleteDir(spec, [dir])) !== undefined;
  } catch (error) {
    if (error instanceof ModelError) return false;
    throw error;
  }
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** The parts of a TF.js model.json that locating and checking the weights needs. */
interface TfjsWeightsManifestGroup {
  paths: string[];
  weights: { name: string; shape: number[]; dtype: string }[];
}

async function readModelJson(file: string): Promise<{ weightsManifest: TfjsWeightsManifestGroup[] }> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ModelError(`${file} is missing`);
    throw error;
  }
  return parseModelJson(text, file);
}

function parseModelJson(text: string, source: string): { weightsManifest: TfjsWeightsManifestGroup[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ModelError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
  const manifest = (parsed as { weightsManifest?: unknown }).weightsManifest;
  if (!Array.isArray(manifest) || !manifest.every((group) => Array.isArray(group?.paths))) {
    throw new ModelError(`${source} has no valid weightsManifest (expected an array of {paths, weights} groups)`);
  }
  return { weightsManifest: manifest as TfjsWeightsManifestGroup[] };
}

/** Returns the shard file names listed in a model.json, rejecting any that is not a plain file name. */
function shardPaths(modelJson: { weightsManifest: TfjsWeightsManifestGroup[] }): string[] {
  const paths = modelJson.weightsManifest.flatMap((group) => group.paths);
  for (const shard of paths) {
    // A shard name must not point outside the model folder, for example through a crafted download.
    if (typeof shard !== 'string' || shard === '' || shard !== path.basename(shard) || shard === '..') {
      throw new ModelError(`model.json lists an invalid weight shard path ${JSON.stringify(shard)}`);
    }
  }
  return paths;
}

interface DownloadOptions {
  baseUrl: string;
  source: WeightsSource;
  timeoutMs: number;
  logger: Logger;
}

/** Downloads a backbone into `target`, writing to a temporary folder that is renamed only after every digest matched. */
async function downloadBackbone(spec: BackboneSpec, target: string, options: DownloadOptions): Promise<void> {
  const baseUrl = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`;
  await writeDirAtomic(target, async (dir) => {
    const entry = await fetchBytes(new URL(spec.entryFile, baseUrl), options);
    checkSha256(entry, options.source.entrySha256, spec.entryFile);
    await fs.writeFile(path.join(dir, spec.entryFile), entry);
    if (spec.format !== 'tfjs-layers') return;

    // Weight shards listed by model.json
    const shards = shardPaths(parseModelJson(Buffer.from(entry).toString('utf8'), spec.entryFile));
    const digest = createHash('sha256');
    for (const [index, shard] of shards.entries()) {
      const bytes = await fetchBytes(new URL(shard, baseUrl), options);
      digest.update(bytes);
      await fs.writeFile(path.join(dir, shard), bytes);
      options.logger.progress({ stage: `download ${spec.name}`, current: index + 1, total: shards.length });
    }
    const expected = options.source.shardsSha256;
    const actual = digest.digest('hex');
    if (expected !== undefined && actual !== expected) {
      throw new Error(`weight shards have SHA-256 ${actual}, expected ${expected}`);
    }
  });
}

async function fetchBytes(url: URL, options: DownloadOptions): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs) });
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    throw new Error(`GET ${url.href} failed: ${(error as Error).message}${cause ? ` (${cause})` : ''}`);
  }
  if (!response.ok) throw new Error(`GET ${url.href} returned HTTP ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

function checkSha256(bytes: Uint8Array, expected: string, file: string): void {
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== expected) throw new Error(`${file} has SHA-256 ${actual}, expected ${expected}`);
}
