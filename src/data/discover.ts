import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { DataError } from '../errors.js';
import type { Logger } from '../util/log.js';
import { compareIds, type Dataset, type SkippedFile } from './dataset.js';
import { CLASS_NAMES, type Label, type Sample } from './sample.js';

/** File extensions (lower case, with the dot) read as images; everything else is skipped. */
export const IMAGE_EXTENSIONS: readonly string[] = [
  '.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.gif', '.dcm', '.dicom',
];

/** Segmentation masks stored next to the images, such as BUSI's `benign (1)_mask.png`. */
const MASK_PATTERN = /_mask[^/]*\.png$/i;

/** Returns true when the file name is a segmentation mask that must never be read as an image. */
export function isMaskFile(fileName: string): boolean {
  return MASK_PATTERN.test(path.posix.basename(fileName.replaceAll('\\', '/')));
}

/** Returns true when the file extension is one of IMAGE_EXTENSIONS (case-insensitive). */
export function hasImageExtension(fileName: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(fileName).toLowerCase());
}

/** Maps a folder name to its label, case-insensitively: benign = 0, malignant = 1. */
export function labelOfClassFolder(name: string): Label | undefined {
  const index = (CLASS_NAMES as readonly string[]).indexOf(name.toLowerCase());
  return index === 0 || index === 1 ? index : undefined;
}

/** Lists regular files under `dir` recursively as posix paths relative to `root`. Symbolic links are followed. */
async function listFiles(root: string, dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    let isDirectory = entry.isDirectory();
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      const stat = await fs.stat(full);
      isDirectory = stat.isDirectory();
      isFile = stat.isFile();
    }
    if (isDirectory) {
      files.push(...(await listFiles(root, full)));
    } else if (isFile) {
      files.push(path.relative(root, full).split(path.sep).join('/'));
    }
  }
  return files;
}

/**
 * Finds the labelled images of a folder laid out as `benign/` and `malignant/` subfolders (names
 * case-insensitive, searched recursively inside each). Other top-level folders, such as BUSI's
 * `normal/`, are ignored with one info line each. Segmentation masks (`*_mask*.png`) and files
 * without an image extension are listed in `skipped` and counted in one info line. Samples are
 * sorted by id, so the order is the same on every machine.
 *
 * Throws DataError naming the folder when it is missing, is not a folder, contains no images, or
 * contains images of only one class.
 */
export async function discoverClassFolders(root: string, logger: Logger): Promise<Dataset> {
  const absoluteRoot = path.resolve(root);
  let stat;
  try {
    stat = await fs.stat(absoluteRoot);
  } catch {
    throw new DataError(`${absoluteRoot}: data folder not found`, absoluteRoot);
  }
  if (!stat.isDirectory()) {
    throw new DataError(`${absoluteRoot}: not a folder; expected a folder with benign/ and malignant/ subfolders`, absoluteRoot);
  }

  // Sort top-level folders by name
  const entries = (await fs.readdir(absoluteRoot, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory() || entry.isSymbolicLink())
    .sort((a, b) => compareIds(a.name, b.name));

  const samples: Sample[] = [];
  const skipped: SkippedFile[] = [];
  let maskCount = 0;
  let otherCount = 0;
  for (const entry of entries) {
    const label = labelOfClassFolder(entry.name);
    const folder = path.join(absoluteRoot, entry.name);
    if (label === undefined) {
      if (entry.isSymbolicLink() && !(await fs.stat(folder)).isDirectory()) continue;
      logger.info(`ignoring folder ${entry.name}/: not a class folder (expected benign/ or malignant/)`);
      continue;
    }
    if (!(await fs.stat(folder)).isDirectory()) continue;
    for (const id of await listFiles(absoluteRoot, folder)) {
      if (isMaskFile(id)) {
        maskCount++;
        skipped.push({ id, reason: 'segmentation mask' });
      } else if (!hasImageExtension(id)) {
        otherCount++;
        skipped.push({ id, reason: 'not an image file extension' });
      } else {
        samples.push({ id, file: path.join(absoluteRoot, ...id.split('/')), label });
      }
    }
  }
  samples.sort((a, b) => compareIds(a.id, b.id));
  skipped.sort((a, b) => compareIds(a.id, b.id));
  if (maskCount + otherCount > 0) {
    logger.info(`skipped ${maskCount} mask files and ${otherCount} files without an image extension`);
  }

  // Both classes must be present
  const counts = [0, 0];
  for (const sample of samples) counts[sample.label]++;
  if (samples.length === 0) {
    throw new DataError(
      `${absoluteRoot}: no images found in benign/ or malignant/ subfolders (image extensions: ${IMAGE_EXTENSIONS.join(' ')})`,
      absoluteRoot,
    );
  }
  for (const label of [0, 1] as const) {
    if (counts[label] === 0) {
      const present = CLASS_NAMES[1 - label];
      throw new DataError(
        `${absoluteRoot}: only class ${present} has images (${counts[1 - label]}); add a ${CLASS_NAMES[label]}/ folder with images`,
        absoluteRoot,
      );
    }
  }
  return { root: absoluteRoot, format: 'folders', samples, skipped };
}
