import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { CLASS_NAMES } from '../data/sample.js';
import { ModelError } from '../errors.js';
import { sha256, sha256File, writeDirAtomic } from '../util/atomic.js';
import { BUSIGHT_VERSION } from '../version.js';
import type { BackboneName } from './backbone.js';
import { BACKBONE_NAMES, BACKBONE_SPECS } from './backbone.js';
import { FIXED_VIEW_COUNT } from './fixed-views.js';
import type { HeadWeights } from './head.js';
import type { Typicality } from './typicality.js';

export const BUNDLE_MANIFEST_FILE = 'bundle.json';
/** Format version of the bundles this busight writes and reads (see BundleManifest.formatVersion). */
export const BUNDLE_FORMAT_VERSION = 2;
const HEAD_FILE = 'head.json';
const BACKBONE_FOLDER = 'backbone';

/** Preprocessing that turns a decoded image into backbone input. */
export interface Preprocessing {
  /** Side of the square network input in pixels. */
  inputSize: number;
  /** 'fill': resize to inputSize x inputSize without keeping the aspect ratio (bilinear). */
  resize: 'fill';
  /** Grey images are replicated to three channels, alpha is dropped. */
  channels: 'rgb';
  /**
   * Number of fixed test-time views whose logits are averaged (see fixedViews): 1 = the image,
   * 2 = plus its left-right mirror, 4 = plus the central zoom and its mirror, 6 = plus the rotated
   * image and its mirror.
   */
  testTimeViews: 1 | 2 | 3 | 4 | 5 | 6;
  /**
   * Whether black padding bands are cut off before the views are built (see trimPadding).
   * Bundles written before busight recorded this field were trained without it.
   */
  trimPadding?: boolean;
}

/** Contents of `bundle.json`, the manifest of a model bundle folder. */
export interface BundleManifest {
  format: 'busight-bundle';
  /**
   * BUNDLE_FORMAT_VERSION. Version 2: the head reads root-pooled features (see rootPool), so a
   * version 1 head would score them wrongly and is rejected.
   */
  formatVersion: typeof BUNDLE_FORMAT_VERSION;
  /** busight version that wrote the bundle. */
  busightVersion: string;
  /** Human-readable model name, e.g. "busight-mobilenet_v2_1.0". */
  modelName: string;
  /**
   * Model version: the first 12 hex digits of the SHA-256 over the hashes of all bundle files and
   * the manifest fields that change predictions (see `modelVersionOf`), checked on load.
   */
  modelVersion: string;
  createdAt: string;
  classNames: ['benign', 'malignant'];
  /** Backbone name and its files, relative to the bundle folder, with SHA-256 of each. */
  backbone: { name: BackboneName; files: { path: string; sha256: string }[] };
  preprocessing: Preprocessing;
  head: { file: string; sha256: string };
  /** Decision threshold on the calibrated malignancy probability, in [0, 1]. */
  threshold: number;
  /** Malignant sensitivity on validation data that the threshold was chosen for. */
  targetSensitivity: number;
  /** Free-form facts about training (data size, seed, validation AUC), for the report and audits. */
  training: Record<string, unknown>;
  /** Threshold for flagging atypical images (see Typicality); absent in bundles written before it. */
  typicality?: Typicality;
}

export interface BundleContents {
  backboneName: BackboneName;
  /** Absolute paths of the backbone's files; copied flat into the bundle's backbone folder. */
  backboneFiles: readonly string[];
  head: HeadWeights;
  preprocessing: Preprocessing;
  threshold: number;
  targetSensitivity: number;
  training: Record<string, unknown>;
  typicality?: Typicality;
}

/** Writes a self-contained bundle folder atomically (a killed run leaves no half-written bundle). */
export async function writeBundle(target: string, contents: BundleContents): Promise<BundleManifest> {
  let manifest: BundleManifest | undefined;
  await writeDirAtomic(target, async (dir) => {
    // Copy the backbone files.
    await fs.mkdir(path.join(dir, BACKBONE_FOLDER));
    const backboneFiles: { path: string; sha256: string }[] = [];
    for (const file of contents.backboneFiles) {
      const relative = `${BACKBONE_FOLDER}/${path.basename(file)}`;
      await fs.copyFile(file, path.join(dir, relative));
      backboneFiles.push({ path: relative, sha256: await sha256File(file) });
    }

    // Write the head.
    const headText = JSON.stringify(contents.head);
    await fs.writeFile(path.join(dir, HEAD_FILE), headText);
    const headHash = sha256(headText);

    // Write the manifest last.
    manifest = {
      format: 'busight-bundle',
      formatVersion: BUNDLE_FORMAT_VERSION,
      busightVersion: BUSIGHT_VERSION,
      modelName: `busight-${contents.backboneName}`,
      modelVersion: '',
      createdAt: new Date().toISOString(),
      classNames: [...CLASS_NAMES],
      backbone: { name: contents.backboneName, files: backboneFiles },
      preprocessing: contents.preprocessing,
      head: { file: HEAD_FILE, sha256: headHash },
      threshold: contents.threshold,
      targetSensitivity: contents.targetSensitivity,
      training: contents.training,
      ...(contents.typicality ? { typicality: contents.typicality } : {}),
    };
    manifest.modelVersion = modelVersionOf(manifest);
    await fs.writeFile(path.join(dir, BUNDLE_MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  });
  return manifest!;
}

/**
 * Computes a bundle's model version from its file hashes and the manifest fields that change
 * predictions (backbone, preprocessing, classes, threshold), so editing any of them is detected.
 */
export function modelVersionOf(manifest: BundleManifest): string {
  const decisive = {
    backbone: manifest.backbone,
    head: manifest.head,
    preprocessing: manifest.preprocessing,
    classNames: manifest.classNames,
    threshold: manifest.threshold,
    // Absent in older bundles, so their versions stay as they were.
    typicality: manifest.typicality,
  };
  return sha256(JSON.stringify(decisive)).slice(0, 12);
}

/** A bundle read from disk and checked against its hashes. */
export interface LoadedBundle {
  dir: string;
  manifest: BundleManifest;
  head: HeadWeights;
  /** Folder holding the backbone's files. */
  backboneDir: string;
}

/**
 * Reads a bundle folder and verifies every file's SHA-256 against the manifest. Throws
 * ModelError naming the folder or file when the bundle is missing, incomplete or altered.
 */
export async function readBundle(dir: string): Promise<LoadedBundle> {
  const manifestFile = path.join(dir, BUNDLE_MANIFEST_FILE);
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as BundleManifest;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new ModelError(`${dir}: not a busight model bundle (missing ${BUNDLE_MANIFEST_FILE}); pass the model/ folder that train wrote`);
    }
    throw new ModelError(`${manifestFile}: invalid bundle manifest: ${(error as Error).message}`);
  }
  checkFormatVersion(manifest, manifestFile);
  if (!(BACKBONE_NAMES as readonly string[]).includes(manifest.backbone?.name)) {
    throw new ModelError(`${manifestFile}: unknown backbone ${JSON.stringify(manifest.backbone?.name)}; expected one of ${BACKBONE_NAMES.join(', ')}`);
  }

  checkManifestValues(manifest, manifestFile);

  // Verify hashes.
  for (const entry of [...manifest.backbone.files, { path: manifest.head.file, sha256: manifest.head.sha256 }]) {
    const file = path.join(dir, entry.path);
    let actual: string;
    try {
      actual = await sha256File(file);
    } catch {
      throw new ModelError(`${file}: missing from the bundle; copy the whole model folder`);
    }
    if (actual !== entry.sha256) {
      throw new ModelError(`${file}: SHA-256 ${actual} does not match the manifest's ${entry.sha256}; the bundle was altered or damaged`);
    }
  }

  const expectedVersion = modelVersionOf(manifest);
  if (manifest.modelVersion !== expectedVersion) {
    throw new ModelError(
      `${manifestFile}: model version ${manifest.modelVersion} does not match its contents (${expectedVersion}); ` +
        'the threshold, typicality, preprocessing, class names or backbone in the manifest was edited. Retrain or restore the original bundle.',
    );
  }

  const head = JSON.parse(await fs.readFile(path.join(dir, manifest.head.file), 'utf8')) as HeadWeights;
  return { dir, manifest, head, backboneDir: path.join(dir, BACKBONE_FOLDER) };
}

/** Throws ModelError naming the manifest unless it is a busight bundle of BUNDLE_FORMAT_VERSION, with what to do next. */
function checkFormatVersion(manifest: BundleManifest, manifestFile: string): void {
  if (manifest.format !== 'busight-bundle') {
    throw new ModelError(`${manifestFile}: format is ${JSON.stringify(manifest.format) ?? 'missing'}, expected "busight-bundle"; pass the model/ folder that train wrote`);
  }
  const version: unknown = manifest.formatVersion;
  if (version === BUNDLE_FORMAT_VERSION) return;
  if (version === 1) {
    throw new ModelError(
      `${manifestFile}: this bundle has format version 1, from a busight version whose features were not root pooled; ` +
        `this version reads format version ${BUNDLE_FORMAT_VERSION} only. Retrain the model with this busight version.`,
    );
  }
  if (typeof version === 'number' && Number.isInteger(version) && version > BUNDLE_FORMAT_VERSION) {
    throw new ModelError(
      `${manifestFile}: format version ${version} was written by a newer busight; this version reads format version ${BUNDLE_FORMAT_VERSION} only. ` +
        'Update busight, or retrain the model with this version.',
    );
  }
  throw new ModelError(
    `${manifestFile}: formatVersion is ${JSON.stringify(version) ?? 'missing'}, expected the number ${BUNDLE_FORMAT_VERSION}; ` +
      'restore the bundle that train wrote, or retrain the model.',
  );
}

/**
 * Checks the manifest values that predictions use, because a hand-edited manifest can carry a
 * recomputed model version. Throws ModelError naming the manifest and the value.
 */
function checkManifestValues(manifest: BundleManifest, manifestFile: string): void {
  const invalid = (field: string, value: unknown, expected: string) =>
    new ModelError(`${manifestFile}: ${field} is ${JSON.stringify(value)}, expected ${expected}; restore the bundle that train wrote`);
  if (typeof manifest.threshold !== 'number' || !(manifest.threshold >= 0 && manifest.threshold <= 1)) {
    throw invalid('threshold', manifest.threshold, 'a probability from 0 to 1');
  }
  const { testTimeViews, inputSize } = manifest.preprocessing ?? {};
  if (!Number.isInteger(testTimeViews) || testTimeViews < 1 || testTimeViews > FIXED_VIEW_COUNT) {
    throw invalid('preprocessing.testTimeViews', testTimeViews, `an integer from 1 to ${FIXED_VIEW_COUNT}`);
  }
  if (manifest.typicality !== undefined && !(typeof manifest.typicality?.threshold === 'number' && manifest.typicality.threshold > 0)) {
    throw invalid('typicality.threshold', manifest.typicality?.threshold, 'a number above 0');
  }
  const { trimPadding } = manifest.preprocessing;
  if (trimPadding !== undefined && typeof trimPadding !== 'boolean') throw invalid('preprocessing.trimPadding', trimPadding, 'true or false');
  const expectedSize = BACKBONE_SPECS[manifest.backbone.name].inputSize;
  if (inputSize !== expectedSize) throw invalid('preprocessing.inputSize', inputSize, `${expectedSize} for ${manifest.backbone.name}`);
  for (const file of [...manifest.backbone.files.map((entry) => entry.path), manifest.head?.file]) {
    // Files must stay inside the bundle folder.
    const normalised = typeof file === 'string' ? path.posix.normalize(file.replaceAll('\\', '/')) : '';
    if (normalised === '' || path.isAbsolute(normalised) || normalised === '..' || normalised.startsWith('../')) {
      throw invalid('a file path', file, 'a path inside the bundle folder');
    }
  }
}
