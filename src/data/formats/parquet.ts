/**
 * Hugging Face datasets parquet input: an `image` struct column with `bytes` and `path`, and an
 * integer `label` column. Label names come from the file's `huggingface` metadata when present
 * (names containing "benign" or "malignant"; rows of other classes are skipped), else 0 = benign
 * and 1 = malignant.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { DataError } from '../../errors.js';
import type { Logger } from '../../util/log.js';
import { compareIds, type Dataset, type SkippedFile } from '../dataset.js';
import { isMaskFile } from '../discover.js';
import type { Label, Sample } from '../sample.js';

/** Lists the parquet files of a source: the file itself, or the `*.parquet` files of a folder and its `data/` subfolder, sorted. */
export async function listParquetFiles(source: string): Promise<string[]> {
  const stat = await fs.stat(source);
  if (stat.isFile()) return [source];
  const files: string[] = [];
  for (const folder of [source, path.join(source, 'data')]) {
    const entries = await fs.readdir(folder, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.isFile() && entry.name.toLowerCase().endsWith('.parquet')) files.push(path.join(folder, entry.name));
    }
  }
  return files.sort(compareIds);
}

/** Reads the ClassLabel names of the `label` column from the `huggingface` key-value metadata, if any. */
function labelNamesOf(keyValues: { key: string; value?: string }[] | undefined): string[] | undefined {
  const entry = keyValues?.find((item) => item.key === 'huggingface');
  if (!entry?.value) return undefined;
  try {
    const parsed = JSON.parse(entry.value) as { info?: { features?: { label?: { names?: unknown } } } };
    const names = parsed.info?.features?.label?.names;
    return Array.isArray(names) && names.every((name) => typeof name === 'string') ? names : undefined;
  } catch {
    // Invalid metadata JSON: fall back to 0 = benign, 1 = malignant, as without metadata.
    return undefined;
  }
}

/** Maps a stored label value to busight's label, using the class names when the file has them. */
function mapLabel(value: unknown, names: string[] | undefined): Label | undefined {
  let index = Number.NaN;
  if (typeof value === 'bigint') index = Number(value);
  else if (typeof value === 'number') index = value;
  if (!Number.isInteger(index)) return undefined;
  if (!names) return index === 0 || index === 1 ? index : undefined;
  const name = (names[index] ?? '').toLowerCase();
  if (name.includes('malignant')) return 1;
  if (name.includes('benign')) return 0;
  return undefined;
}

interface ImageCell {
  bytes?: Uint8Array | null;
  path?: string | null;
}

/**
 * Opens a parquet file or a folder of shards (for example `train-00000-of-00001.parquet`). Sample
 * ids are `<shard file>/<image.path>` when the row has a path, else `<shard file>#<row>`; `file`
 * is `<shard path>#<row>`. Rows without image bytes, with a label other than benign/malignant, or
 * whose image.path names a segmentation mask (`*_mask*.png`) are listed in `skipped`.
 */
export async function openParquet(source: string, logger: Logger): Promise<Dataset> {
  const root = path.resolve(source);
  const files = await listParquetFiles(root);
  if (files.length === 0) throw new DataError(`${root}: no .parquet files found (looked in the folder and its data/ subfolder)`, root);
  const baseFolder = files.length === 1 && files[0] === root ? path.dirname(root) : root;

  const samples: Sample[] = [];
  const skipped: SkippedFile[] = [];
  const otherLabels = new Map<string, number>();
  for (const file of files) {
    const shard = path.relative(baseFolder, file).split(path.sep).join('/');
    let rows: Record<string, unknown>[];
    let names: string[] | undefined;
    try {
      const buffer = await asyncBufferFromFile(file);
      const metadata = await parquetMetadataAsync(buffer);
      const columns = metadata.schema.filter((element, index) => index > 0).map((element) => element.name);
      for (const column of ['image', 'label']) {
        if (!columns.includes(column)) {
          throw new DataError(`${file}: missing column '${column}'; expected the Hugging Face layout with image {bytes, path} and label`, file);
        }
      }
      names = labelNamesOf(metadata.key_value_metadata);
      // NOTE: all image bytes of the dataset are held in memory; fine for BUSI-sized sets (hundreds of MB).
      rows = await parquetReadObjects({ file: buffer, metadata, columns: ['image', 'label'], compressors, utf8: false });
    } catch (error) {
      if (error instanceof DataError) throw error;
      throw new DataError(`${file}: failed to read parquet file (${(error as Error).message})`, file);
    }

    rows.forEach((row, index) => {
      const image = row.image as ImageCell | null;
      const label = mapLabel(row.label, names);
      const imagePath = typeof image?.path === 'string' && image.path !== '' ? image.path : undefined;
      const id = imagePath ? `${shard}/${imagePath.replaceAll('\\', '/')}` : `${shard}#${index}`;
      if (label === undefined) {
        const key = names?.[Number(row.label)] ?? String(row.label);
        otherLabels.set(key, (otherLabels.get(key) ?? 0) + 1);
        skipped.push({ id, reason: `label ${key} is not benign or malignant` });
        return;
      }
      if (imagePath !== undefined && isMaskFile(imagePath)) {
        skipped.push({ id, reason: 'segmentation mask' });
        return;
      }
      const bytes = image?.bytes;
      if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
        skipped.push({ id, reason: 'row has no image bytes' });
        return;
      }
      samples.push({ id, file: `${file}#${index}`, label, readBytes: async () => bytes });
    });
  }

  // Make ids unique: a repeated image.path falls back to the row form.
  const counts = new Map<string, number>();
  for (const sample of samples) counts.set(sample.id, (counts.get(sample.id) ?? 0) + 1);
  for (const sample of samples) {
    if ((counts.get(sample.id) ?? 0) > 1) {
      const [shardFile, row] = sample.file.split('#');
      sample.id = `${path.relative(baseFolder, shardFile).split(path.sep).join('/')}#${row}`;
    }
  }
  for (const [name, count] of otherLabels) logger.info(`ignoring ${count} parquet rows of class ${name}: not benign or malignant`);

  samples.sort((a, b) => compareIds(a.id, b.id));
  skipped.sort((a, b) => compareIds(a.id, b.id));
  return { root, format: 'parquet', samples, skipped };
}
