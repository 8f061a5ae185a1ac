/**
 * Folder creation that always settles. In Node.js 20, `fs.mkdir(dir, { recursive: true })`
 * never resolves when a parent returns ENOENT for every new entry, as Linux /proc does, so a
 * command given `--out /proc/x` would hang. These functions walk up the path themselves.
 */
import { mkdirSync, promises as fs, statSync } from 'node:fs';
import * as path from 'node:path';

import { ConfigError } from '../errors.js';
import { describeFileSystemReason } from './path-error.js';

/**
 * Creates `dir` and any missing parents with `mode`, like mkdir -p. Resolves when `dir` exists as
 * a folder. Rejects with the file system error (ENOENT, EACCES, ENOTDIR, EEXIST for a file) otherwise.
 */
export async function makeDirectory(dir: string, mode?: number): Promise<void> {
  const target = path.resolve(dir);
  try {
    await fs.mkdir(target, { mode });
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && (await fs.stat(target)).isDirectory()) return;
    const parent = path.dirname(target);
    if (code !== 'ENOENT' || parent === target) throw error;
    await makeDirectory(parent, mode);
  }
  // The parent exists now; a second ENOENT means the file system refuses the entry.
  try {
    await fs.mkdir(target, { mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST' && (await fs.stat(target)).isDirectory()) return;
    throw error;
  }
}

/**
 * Creates a command's output folder before any slow work, so an unwritable path fails at once.
 * Throws ConfigError naming the folder, the file system's reason and `option`.
 */
export async function makeOutputDirectory(dir: string, option = '--out'): Promise<void> {
  try {
    await makeDirectory(dir);
  } catch (error) {
    throw new ConfigError(`cannot create the output folder ${dir} (${describeFileSystemReason(error)}); choose a writable folder with ${option}`);
  }
}

/** Synchronous makeDirectory, for start-up code that cannot await. */
export function makeDirectorySync(dir: string, mode?: number): void {
  const target = path.resolve(dir);
  try {
    mkdirSync(target, { mode });
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && statSync(target).isDirectory()) return;
    const parent = path.dirname(target);
    if (code !== 'ENOENT' || parent === target) throw error;
    makeDirectorySync(parent, mode);
  }
  try {
    mkdirSync(target, { mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST' && statSync(target).isDirectory()) return;
    throw error;
  }
}
