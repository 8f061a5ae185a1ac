import { randomBytes } from 'node:crypto';
import { chmodSync } from 'node:fs';
import * as path from 'node:path';

import Database from 'better-sqlite3';

import { DataError } from '../errors.js';
import type { Label } from '../data/sample.js';
import { makeDirectorySync } from '../util/make-directory.js';
import type { Logger } from '../util/log.js';
import { silentLogger } from '../util/log.js';

/** One stored prediction without its image and heat map bytes. */
export interface CaseRecord {
  /** Random 128-bit hex id used in URLs, so case URLs cannot be guessed from the case number. */
  id: string;
  /** Sequential number of this installation, never reused; the de-identified case number. */
  caseNumber: number;
  /** ISO 8601 time in UTC when the result was stored. */
  createdAt: string;
  /** Calibrated malignancy probability in [0, 1]. */
  probability: number;
  label: Label;
  /** Threshold in [0, 1] that produced `label`. */
  threshold: number;
  modelName: string;
  modelVersion: string;
  imageWidth: number;
  imageHeight: number;
  /** Heat map size, or undefined when the case has no heat map. */
  heatmapWidth?: number;
  heatmapHeight?: number;
  /** Largest finite heat map value, when the case has a heat map. 0 means the map is all zero. */
  heatmapMax?: number;
  /** Whether the image looked unlike the model's training images; undefined when the model could not tell. */
  atypical?: boolean;
}

/** A new case as given to `CaseStore.insert`. */
export interface NewCase {
  probability: number;
  label: Label;
  threshold: number;
  modelName: string;
  modelVersion: string;
  imageWidth: number;
  imageHeight: number;
  /** De-identified PNG re-encoded from decoded pixels; never the uploaded bytes. */
  imagePng: Uint8Array;
  /** Heat map float32 [heatmapHeight, heatmapWidth], when there is one. */
  heatmap?: { data: Float32Array; width: number; height: number };
  /** Whether the image looked unlike the model's training images, when the model can tell. */
  atypical?: boolean;
}

/** The database file inside the data folder. */
export const DATABASE_FILE = 'busight-cases.sqlite';

/**
 * Schema version stored in `PRAGMA user_version`; a database from a newer busight is rejected.
 * Version 2 added the column heatmap_max, version 3 the column atypical.
 */
const SCHEMA_VERSION = 3;

const CASE_COLUMNS = `id, case_number, created_at, probability, label, threshold, model_name, model_version,
  image_width, image_height, heatmap_width, heatmap_height, heatmap_max, atypical`;

interface CaseRow {
  id: string;
  case_number: number;
  created_at: string;
  probability: number;
  label: number;
  threshold: number;
  model_name: string;
  model_version: string;
  image_width: number;
  image_height: number;
  heatmap_width: number | null;
  heatmap_height: number | null;
  heatmap_max: number | null;
  atypical: number | null;
}

/**
 * Case list of one installation in a local SQLite database (WAL journal, so a crash keeps every
 * committed case). Stores only de-identified data: the result, the model, the re-encoded image
 * and the heat map. Never the upload's bytes, its file name or any metadata.
 */
export class CaseStore {
  private readonly db: Database.Database;

  private constructor(db: Database.Database) {
    this.db = db;
  }

  /**
   * Opens or creates the database in `dataDir`, creating the folder when missing, and updates an
   * older schema in place, logging that step.
   */
  static open(dataDir: string, logger: Logger = silentLogger): CaseStore {
    // Cases are patient images: only the user running the server may read them.
    makeDirectorySync(dataDir, 0o700);
    const file = path.join(dataDir, DATABASE_FILE);
    let db: Database.Database;
    try {
      db = new Database(file);
      // SQLite gives its -wal and -shm files the database file's permissions.
      chmodSync(file, 0o600);
      db.pragma('journal_mode = WAL');
      db.pragma('foreign_keys = ON');
    } catch (error) {
      throw new DataError(`Cannot open the case database ${file}: ${(error as Error).message}`, file);
    }

    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      db.close();
      throw new DataError(
        `The case database ${file} has schema version ${version}, but this busight reads up to ${SCHEMA_VERSION}. Upgrade busight or choose another --data-dir.`,
        file,
      );
    }
    try {
      if (version === 0) createSchema(db);
      if (version > 0 && version < SCHEMA_VERSION) {
        migrateFrom(db, version);
        logger.info(`updated the case database ${file} from schema version ${version} to ${SCHEMA_VERSION}`);
      }
    } catch (error) {
      db.close();
      throw new DataError(
        `Failed to update the case database ${file} from schema version ${version}: ${(error as Error).message}. Check that the file is writable, or choose another --data-dir.`,
        file,
      );
    }
    return new CaseStore(db);
  }

  /** Stores a case and returns its record with the new id and case number. */
  insert(newCase: NewCase, now: Date = new Date()): CaseRecord {
    const id = randomBytes(16).toString('hex');
    // NOTE: float32 values are stored in host byte order, little-endian on x86 and ARM; a database
    // moved to a big-endian host would read wrong heat maps.
    const heatmapBytes = newCase.heatmap
      ? Buffer.from(newCase.heatmap.data.buffer, newCase.heatmap.data.byteOffset, newCase.heatmap.data.byteLength)
      : null;
    const result = this.db
      .prepare(
        `INSERT INTO cases (id, created_at, probability, label, threshold, model_name, model_version,
           image_width, image_height, heatmap_width, heatmap_height, heatmap_max, atypical, image_png, heatmap_f32)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        now.toISOString(),
        newCase.probability,
        newCase.label,
        newCase.threshold,
        newCase.modelName,
        newCase.modelVersion,
        newCase.imageWidth,
        newCase.imageHeight,
        newCase.heatmap?.width ?? null,
        newCase.heatmap?.height ?? null,
        newCase.heatmap ? heatmapMax(newCase.heatmap.data) : null,
        newCase.atypical === undefined ? null : Number(newCase.atypical),
        Buffer.from(newCase.imagePng),
        heatmapBytes,
      );
    const record = this.get(id);
    if (!record || record.caseNumber !== Number(result.lastInsertRowid)) {
      throw new Error(`The case database did not return the case it just stored (id ${id}).`);
    }
    return record;
  }

  /** Returns the case with this id, or undefined. */
  get(id: string): CaseRecord | undefined {
    const row = this.db.prepare(`SELECT ${CASE_COLUMNS} FROM cases WHERE id = ?`).get(id) as CaseRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** Returns cases newest first, `limit` of them after skipping `offset`. */
  list(limit: number, offset = 0): CaseRecord[] {
    const rows = this.db
      .prepare(`SELECT ${CASE_COLUMNS} FROM cases ORDER BY case_number DESC LIMIT ? OFFSET ?`)
      .all(limit, offset) as CaseRow[];
    return rows.map(toRecord);
  }

  /** Returns every case, oldest first, one at a time (for the CSV export). */
  *iterateAll(): IterableIterator<CaseRecord> {
    const statement = this.db.prepare(`SELECT ${CASE_COLUMNS} FROM cases ORDER BY case_number ASC`);
    for (const row of statement.iterate() as IterableIterator<CaseRow>) yield toRecord(row);
  }

  /** Returns the number of stored cases. */
  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM cases').get() as { n: number }).n;
  }

  /** Returns the de-identified PNG of a case, or undefined. */
  getImagePng(id: string): Buffer | undefined {
    const row = this.db.prepare('SELECT image_png FROM cases WHERE id = ?').get(id) as { image_png: Buffer } | undefined;
    return row?.image_png;
  }

  /** Returns the heat map of a case as float32 [height, width], or undefined when it has none. */
  getHeatmap(id: string): { data: Float32Array; width: number; height: number } | undefined {
    const row = this.db
      .prepare('SELECT heatmap_f32, heatmap_width, heatmap_height FROM cases WHERE id = ?')
      .get(id) as { heatmap_f32: Buffer | null; heatmap_width: number | null; heatmap_height: number | null } | undefined;
    if (!row?.heatmap_f32 || row.heatmap_width === null || row.heatmap_height === null) return undefined;
    return { data: float32FromBlob(row.heatmap_f32), width: row.heatmap_width, height: row.heatmap_height };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Columns of the cases table. Image and heat map columns come last so that list queries never read their overflow pages. */
const CASES_TABLE_COLUMNS = `
      case_number INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      created_at TEXT NOT NULL,
      probability REAL NOT NULL CHECK (probability BETWEEN 0 AND 1),
      label INTEGER NOT NULL CHECK (label IN (0, 1)),
      threshold REAL NOT NULL CHECK (threshold BETWEEN 0 AND 1),
      model_name TEXT NOT NULL,
      model_version TEXT NOT NULL,
      image_width INTEGER NOT NULL,
      image_height INTEGER NOT NULL,
      heatmap_width INTEGER,
      heatmap_height INTEGER,
      heatmap_max REAL,
      atypical INTEGER CHECK (atypical IN (0, 1)),
      image_png BLOB NOT NULL,
      heatmap_f32 BLOB`;

function createSchema(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS cases (${CASES_TABLE_COLUMNS});
    PRAGMA user_version = ${SCHEMA_VERSION};
  `);
}

/**
 * Rebuilds an older cases table with the current columns, in one transaction. ALTER TABLE ADD
 * COLUMN would put a new column after the image, so every list query would read the image. The
 * AUTOINCREMENT counter moves to the new table, so case numbers are still never reused. Columns
 * that the old version lacks stay NULL: heatmap_max of version 1 cases, whose maps were Grad-CAM
 * of the last layer only and could be all zero, so a zero there would not mean the empty map
 * that heatmap_max = 0 reports; and atypical of cases from before the flag existed.
 */
function migrateFrom(db: Database.Database, version: number): void {
  const copied = `case_number, id, created_at, probability, label, threshold, model_name, model_version,
    image_width, image_height, heatmap_width, heatmap_height, ${version >= 2 ? 'heatmap_max, ' : ''}image_png, heatmap_f32`;
  const old = `cases_version_${version}`;
  db.transaction(() => {
    db.exec(`
      ALTER TABLE cases RENAME TO ${old};
      CREATE TABLE cases (${CASES_TABLE_COLUMNS});
      INSERT INTO cases (${copied}) SELECT ${copied} FROM ${old};
      DELETE FROM sqlite_sequence WHERE name = 'cases';
      UPDATE sqlite_sequence SET name = 'cases' WHERE name = '${old}';
      DROP TABLE ${old};
      PRAGMA user_version = ${SCHEMA_VERSION};
    `);
  })();
}

/** Returns the largest finite value of a heat map, or 0 when it has none above 0. */
function heatmapMax(values: Float32Array): number {
  let max = 0;
  for (const value of values) if (Number.isFinite(value) && value > max) max = value;
  return max;
}

/** Copies a float32 blob into an aligned Float32Array: a Buffer from SQLite may start at an odd byte offset. */
function float32FromBlob(blob: Buffer): Float32Array {
  const data = new Float32Array(Math.floor(blob.byteLength / 4));
  new Uint8Array(data.buffer).set(blob.subarray(0, data.byteLength));
  return data;
}

function toRecord(row: CaseRow): CaseRecord {
  return {
    id: row.id,
    caseNumber: row.case_number,
    createdAt: row.created_at,
    probability: row.probability,
    label: row.label === 1 ? 1 : 0,
    threshold: row.threshold,
    modelName: row.model_name,
    modelVersion: row.model_version,
    imageWidth: row.image_width,
    imageHeight: row.image_height,
    heatmapWidth: row.heatmap_width ?? undefined,
    heatmapHeight: row.heatmap_height ?? undefined,
    heatmapMax: row.heatmap_max ?? undefined,
    atypical: row.atypical === null ? undefined : row.atypical === 1,
  };
}
