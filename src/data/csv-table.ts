/**
 * Reading of the CSV files busight takes (split files and dataset manifests): one header row,
 * case-insensitive column names, a line number for every row, and errors that name the file.
 */
import { promises as fs } from 'node:fs';

import { parse } from 'csv-parse/sync';

import { DataError } from '../errors.js';

/** One data row with its line number in the file (the header is line 1). */
export interface CsvRow {
  record: Record<string, string>;
  line: number;
}

/** Rows listed in one error message before the rest is summarised as a count. */
const MAX_LISTED_PROBLEMS = 20;

/**
 * Reads `file` as CSV with a header row (column names trimmed and lower-cased, BOM and empty
 * lines skipped, cells trimmed). `kind` names the file in messages ("split file", "manifest").
 * Throws DataError naming the file when it cannot be read, is not valid CSV, has no data rows or
 * lacks one of `columns`.
 */
export async function readCsvRows(file: string, kind: string, columns: readonly string[]): Promise<CsvRow[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DataError(`${file}: ${code === 'ENOENT' ? `${kind} not found` : `cannot read ${kind} (${code})`}`, file);
  }

  let records: { record: Record<string, string>; info: { lines: number; columns: { name: string }[] } }[];
  try {
    records = parse(text, {
      columns: (header: string[]) => header.map((name) => name.trim().toLowerCase()),
      bom: true,
      skip_empty_lines: true,
      trim: true,
      info: true,
    });
  } catch (error) {
    throw new DataError(`${file}: invalid CSV (${(error as Error).message})`, file);
  }
  if (records.length === 0) throw new DataError(`${file}: ${kind} has no rows`, file);
  for (const column of columns) {
    if (!(column in records[0].record)) {
      throw new DataError(
        // The parser's column list keeps the file's order; Object.keys would put number-like names first.
        `${file}: missing column '${column}'; expected a header row with ${columns.join(',')}, received ${records[0].info.columns.map((entry) => entry.name).join(',')}`,
        file,
      );
    }
  }
  return records.map(({ record, info }) => ({ record, line: info.lines }));
}

/**
 * Throws one DataError naming `file` and listing the first MAX_LISTED_PROBLEMS row problems
 * (each already prefixed with its line), with a count of the rest. Does nothing for none.
 */
export function throwRowProblems(file: string, problems: string[]): void {
  if (problems.length === 0) return;
  const listed = problems.slice(0, MAX_LISTED_PROBLEMS).join('\n  ');
  const more = problems.length > MAX_LISTED_PROBLEMS ? `\n  ... and ${problems.length - MAX_LISTED_PROBLEMS} more` : '';
  throw new DataError(`${file}: ${problems.length} invalid ${problems.length === 1 ? 'row' : 'rows'}:\n  ${listed}${more}`, file);
}
