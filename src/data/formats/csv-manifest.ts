/**
 * CSV manifest input: a CSV file with columns `path,label` (any order, more columns allowed),
 * paths relative to the CSV's folder, labels 0/1 or class names.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../../util/log.js';
import { readCsvRows, throwRowProblems } from '../csv-table.js';
import { compareIds, type Dataset } from '../dataset.js';
import { isMaskFile } from '../discover.js';
import type { Sample } from '../sample.js';
import { normaliseRelativePath, parseLabel } from '../split.js';

/**
 * Reads a CSV manifest into a dataset sorted by id (the path as written, normalised to forward
 * slashes). Throws DataError naming the file and each bad row (line number, header is line 1)
 * for missing files, invalid labels, duplicate paths and paths outside the CSV's folder.
 * Mask files (`*_mask*.png`) are skipped with one info line.
 */
export async function openCsvManifest(file: string, logger: Logger): Promise<Dataset> {
  const absolute = path.resolve(file);
  const folder = path.dirname(absolute);
  const rows = await readCsvRows(absolute, 'manifest', ['path', 'label']);

  const samples: Sample[] = [];
  const skipped: Dataset['skipped'] = [];
  const problems: string[] = [];
  const seen = new Map<string, number>();
  for (const { record, line } of rows) {
    const id = normaliseRelativePath(record.path);
    const label = parseLabel(record.label);
    if (id === '' || id.startsWith('../') || path.isAbsolute(id)) {
      problems.push(`line ${line}: path '${record.path}' must be relative to the manifest's folder and inside it`);
      continue;
    }
    if (seen.has(id)) {
      problems.push(`line ${line}: duplicate path '${id}' (first on line ${seen.get(id)})`);
      continue;
    }
    seen.set(id, line);
    if (label === undefined) {
      problems.push(`line ${line}: invalid label '${record.label}'; expected 0, 1, benign or malignant`);
      continue;
    }
    if (isMaskFile(id)) {
      skipped.push({ id, reason: 'segmentation mask' });
      continue;
    }
    const imageFile = path.join(folder, ...id.split('/'));
    const exists = await fs.stat(imageFile).then((stat) => stat.isFile(), () => false);
    if (!exists) {
      problems.push(`line ${line}: image '${id}' not found in ${folder}`);
      continue;
    }
    samples.push({ id, file: imageFile, label });
  }
  throwRowProblems(absolute, problems);
  if (skipped.length > 0) logger.info(`skipped ${skipped.length} mask files listed in ${absolute}`);
  samples.sort((a, b) => compareIds(a.id, b.id));
  return { root: absolute, format: 'csv', samples, skipped };
}
