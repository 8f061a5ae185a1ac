import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { makeDirectory } from './make-directory.js';

/**
 * Writes a file atomically: the content goes to a temporary file in the same folder,
 * which is then renamed over the target, so a killed process leaves either the old file or the new one.
 */
export async function writeFileAtomic(target: string, content: string | Uint8Array): Promise<void> {
  await makeDirectory(path.dirname(target));
  const temporary = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await fs.writeFile(temporary, content);
    await fs.rename(temporary, target);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw error;
  }
}

/**
 * Builds a folder atomically: `fill` writes into a fresh temporary sibling folder, which then
 * replaces `target`. An existing `target` is moved aside first and deleted only after the swap.
 */
export async function writeDirAtomic(target: string, fill: (dir: string) => Promise<void>): Promise<void> {
  const parent = path.dirname(target);
  await makeDirectory(parent);
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const temporary = path.join(parent, `.${path.basename(target)}.tmp-${suffix}`);
  const previous = path.join(parent, `.${path.basename(target)}.old-${suffix}`);
  await makeDirectory(temporary);
  try {
    await fill(temporary);
  } catch (error) {
    await fs.rm(temporary, { recursive: true, force: true });
    throw error;
  }
  let movedAside = false;
  try {
    await fs.rename(target, previous);
    movedAside = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await fs.rename(temporary, target);
  if (movedAside) await fs.rm(previous, { recursive: true, force: true });
}

/** Returns the lowercase hex SHA-256 of a byte buffer. */
export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Returns the lowercase hex SHA-256 of a file's bytes. */
export async function sha256File(file: string): Promise<string> {
  return sha256(await fs.readFile(file));
}

/**
 * Moves every entry of `staging` into `target`, replacing entries of the same name, then removes
 * `staging`. Each replacement is one rename, so the window in which a killed process leaves a
 * mix of old and new outputs is a few system calls long instead of the length of a whole run.
 */
export async function publishStaged(staging: string, target: string): Promise<void> {
  const entries = await fs.readdir(staging);
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const moved: string[] = [];
  for (const name of entries) {
    const destination = path.join(target, name);
    const aside = path.join(target, `.${name}.old-${suffix}`);
    try {
      await fs.rename(destination, aside);
      moved.push(aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await fs.rename(path.join(staging, name), destination);
  }
  await Promise.all(moved.map((aside) => fs.rm(aside, { recursive: true, force: true })));
  await fs.rm(staging, { recursive: true, force: true });
}

/** Removes staging folders (`.incomplete-*`) that killed runs left in `dir`. */
export async function removeStaleStaging(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const stale = entries.filter((name) => name.startsWith('.incomplete-') || /\.(old|tmp)-\d+-[0-9a-f]{8}$/.test(name));
  await Promise.all(stale.map((name) => fs.rm(path.join(dir, name), { recursive: true, force: true })));
}

/** Returns a fresh staging folder path inside `dir` for `publishStaged`. */
export function stagingDirIn(dir: string): string {
  return path.join(dir, `.incomplete-${process.pid}-${randomBytes(4).toString('hex')}`);
}
