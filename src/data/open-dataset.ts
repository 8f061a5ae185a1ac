import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { DataError } from '../errors.js';
import type { Logger } from '../util/log.js';
import { labelOfClassFolder, discoverClassFolders } from './discover.js';
import type { Dataset } from './dataset.js';
import { openCsvManifest } from './formats/csv-manifest.js';
import { listParquetFiles, openParquet } from './formats/parquet.js';

export interface OpenDatasetOptions {
  /** Forces one layout instead of choosing from what the source is. */
  format?: Dataset['format'];
}

/** Throws DataError unless both classes have at least one sample. */
function checkBothClasses(dataset: Dataset): Dataset {
  const counts = [0, 0];
  for (const sample of dataset.samples) counts[sample.label]++;
  if (counts[0] === 0 || counts[1] === 0) {
    throw new DataError(
      `${dataset.root}: expected images of both classes, found ${counts[0]} benign and ${counts[1]} malignant`,
      dataset.root,
    );
  }
  return dataset;
}

/**
 * Opens a labelled dataset and chooses the layout from the source. A `.csv` file is a manifest.
 * A `.parquet` file, or a folder of parquet shards without class folders, is the Hugging Face
 * layout. Any other folder is read as `benign/` and `malignant/` class folders. Throws DataError
 * naming the source when it is missing or has images of one class only.
 */
export async function openDataset(source: string, options: OpenDatasetOptions, logger: Logger): Promise<Dataset> {
  const absolute = path.resolve(source);
  const stat = await fs.stat(absolute).catch(() => undefined);
  if (!stat) throw new DataError(`${absolute}: data source not found`, absolute);

  let format = options.format;
  if (!format) {
    const extension = path.extname(absolute).toLowerCase();
    if (stat.isFile() && extension === '.csv') format = 'csv';
    else if (stat.isFile() && extension === '.parquet') format = 'parquet';
    else if (stat.isFile()) {
      throw new DataError(`${absolute}: not a folder, .csv manifest or .parquet file`, absolute);
    } else {
      const entries = await fs.readdir(absolute, { withFileTypes: true });
      const hasClassFolders = entries.some((entry) => entry.isDirectory() && labelOfClassFolder(entry.name) !== undefined);
      const hasParquet = !hasClassFolders && (await listParquetFiles(absolute)).length > 0;
      format = hasParquet ? 'parquet' : 'folders';
    }
  }

  logger.info(`reading ${absolute} as ${format}`);
  switch (format) {
    case 'csv':
      return checkBothClasses(await openCsvManifest(absolute, logger));
    case 'parquet':
      return checkBothClasses(await openParquet(absolute, logger));
    case 'folders':
      return discoverClassFolders(absolute, logger);
  }
}
