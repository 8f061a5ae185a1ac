import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';

import Database from 'better-sqlite3';

import { DataError } from '../errors.js';
import { memoryLogger } from '../util/log.js';
import { CaseStore, DATABASE_FILE, type NewCase } from './case-store.js';

function newCase(probability: number, withHeatmap = true): NewCase {
  return {
    probability,
    label: probability >= 0.4 ? 1 : 0,
    threshold: 0.4,
    modelName: 'busight-test',
    modelVersion: 'abcdef012345',
    imageWidth: 4,
    imageHeight: 3,
    imagePng: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]),
    heatmap: withHeatmap ? { data: new Float32Array([0, 0.5, 1, 2, 0, 0]), width: 3, height: 2 } : undefined,
  };
}

const createdDirs: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'busight-store-'));
  createdDirs.push(dir);
  return dir;
}

after(async () => {
  for (const dir of createdDirs) await fs.rm(dir, { recursive: true, force: true });
});

test('case store insert and read back', async () => {
  const dir = await tempDir();
  const store = CaseStore.open(dir);
  try {
    const first = store.insert(newCase(0.1), new Date('2026-01-02T03:04:05Z'));
    const second = store.insert(newCase(0.9, false));

    assert.equal(first.caseNumber, 1);
    assert.equal(second.caseNumber, 2);
    assert.match(first.id, /^[0-9a-f]{32}$/);
    assert.notEqual(first.id, second.id);
    assert.equal(first.createdAt, '2026-01-02T03:04:05.000Z');
    assert.equal(first.label, 0);
    assert.equal(second.label, 1);
    assert.equal(first.heatmapWidth, 3);
    assert.equal(first.heatmapMax, 2);
    assert.equal(second.heatmapWidth, undefined);
    assert.equal(second.heatmapMax, undefined);

    assert.deepEqual(store.get(first.id), first);
    assert.equal(store.get('0'.repeat(32)), undefined);
    assert.deepEqual([...store.getImagePng(first.id)!], [0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    assert.deepEqual([...store.getHeatmap(first.id)!.data], [0, 0.5, 1, 2, 0, 0]);
    assert.equal(store.getHeatmap(second.id), undefined);

    assert.equal(store.count(), 2);
    assert.deepEqual(store.list(10).map((record) => record.caseNumber), [2, 1], 'newest first');
    assert.deepEqual(store.list(1, 1).map((record) => record.caseNumber), [1]);
    assert.deepEqual([...store.iterateAll()].map((record) => record.caseNumber), [1, 2], 'export oldest first');
  } finally {
    store.close();
  }
});

test('case store survives reopen', async () => {
  const dir = await tempDir();
  const first = CaseStore.open(dir);
  const stored = first.insert(newCase(0.7));
  first.close();

  const reopened = CaseStore.open(dir);
  try {
    assert.deepEqual(reopened.get(stored.id), stored);
    const next = reopened.insert(newCase(0.2));
    assert.equal(next.caseNumber, 2, 'case numbers continue after a restart');
  } finally {
    reopened.close();
  }
});

test('case store rejects invalid probability', async () => {
  const store = CaseStore.open(await tempDir());
  try {
    assert.throws(() => store.insert({ ...newCase(0.5), probability: 1.5 }), /CHECK constraint/);
    assert.equal(store.count(), 0);
  } finally {
    store.close();
  }
});

test('case store marks all-zero heat map', async () => {
  const store = CaseStore.open(await tempDir());
  try {
    const empty = store.insert({ ...newCase(0.6), heatmap: { data: new Float32Array(6), width: 3, height: 2 } });
    assert.equal(empty.heatmapMax, 0);
    assert.equal(store.list(1)[0].heatmapMax, 0);
  } finally {
    store.close();
  }
});

test('case store migrates schema version 1', async () => {
  // A version 1 database: no heatmap_max column. Case 3 was deleted, so the next number is 4.
  const dir = await tempDir();
  const db = new Database(path.join(dir, DATABASE_FILE));
  db.exec(`
    CREATE TABLE cases (
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
      image_png BLOB NOT NULL,
      heatmap_f32 BLOB
    );
    PRAGMA user_version = 1;
  `);
  const insert = db.prepare(
    `INSERT INTO cases (id, created_at, probability, label, threshold, model_name, model_version,
       image_width, image_height, heatmap_width, heatmap_height, image_png, heatmap_f32)
     VALUES (?, '2026-01-02T03:04:05.000Z', 0.7, 1, 0.4, 'busight-test', 'abcdef012345', 4, 3, ?, ?, ?, ?)`,
  );
  const blob = (values: number[]) => Buffer.from(new Float32Array(values).buffer);
  insert.run('a'.repeat(32), 3, 1, Buffer.from([1, 2, 3]), blob([0, 1.5, 0.5]));
  insert.run('b'.repeat(32), 3, 1, Buffer.from([4, 5, 6]), blob([0, 0, 0]));
  insert.run('c'.repeat(32), null, null, Buffer.from([7]), null);
  db.prepare('DELETE FROM cases WHERE case_number = 3').run();
  db.close();

  const logger = memoryLogger();
  const store = CaseStore.open(dir, logger);
  try {
    const withMap = store.get('a'.repeat(32));
    const emptyMap = store.get('b'.repeat(32));
    assert.equal(withMap?.caseNumber, 1);
    assert.equal(emptyMap?.caseNumber, 2);
    // Old maps came from another method, so an all-zero one is not reported as empty.
    assert.equal(withMap?.heatmapMax, undefined);
    assert.equal(emptyMap?.heatmapMax, undefined);
    assert.ok(logger.lines.some((line) => /from schema version 1 to 3/.test(line)), `no migration log line in ${JSON.stringify(logger.lines)}`);
    assert.equal(withMap?.atypical, undefined);
    assert.deepEqual([...store.getImagePng('b'.repeat(32))!], [4, 5, 6]);
    assert.deepEqual([...store.getHeatmap('a'.repeat(32))!.data], [0, 1.5, 0.5]);
    assert.equal(store.count(), 2);
    assert.equal(store.insert(newCase(0.2)).caseNumber, 4, 'case numbers are never reused');
  } finally {
    store.close();
  }
  const reopened = new Database(path.join(dir, DATABASE_FILE));
  try {
    assert.equal(reopened.pragma('user_version', { simple: true }), 3);
    const tables = reopened.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[];
    assert.deepEqual(tables.map((table) => table.name), ['cases', 'sqlite_sequence']);
  } finally {
    reopened.close();
  }
});

test('case store rejects newer schema', async () => {
  const dir = await tempDir();
  const db = new Database(path.join(dir, DATABASE_FILE));
  db.pragma('user_version = 99');
  db.close();
  assert.throws(() => CaseStore.open(dir), (error: unknown) => error instanceof DataError && /schema version 99/.test(error.message));
});

test('case store migrates schema version 2 and keeps heatmap_max', async () => {
  const dir = await tempDir();
  const db = new Database(path.join(dir, DATABASE_FILE));
  db.exec(`
    CREATE TABLE cases (
      case_number INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL,
      probability REAL NOT NULL, label INTEGER NOT NULL, threshold REAL NOT NULL, model_name TEXT NOT NULL,
      model_version TEXT NOT NULL, image_width INTEGER NOT NULL, image_height INTEGER NOT NULL,
      heatmap_width INTEGER, heatmap_height INTEGER, heatmap_max REAL, image_png BLOB NOT NULL, heatmap_f32 BLOB
    );
    PRAGMA user_version = 2;
  `);
  db.prepare(
    `INSERT INTO cases (id, created_at, probability, label, threshold, model_name, model_version,
       image_width, image_height, heatmap_width, heatmap_height, heatmap_max, image_png, heatmap_f32)
     VALUES (?, '2026-01-02T03:04:05.000Z', 0.7, 1, 0.4, 'busight-test', 'abcdef012345', 4, 3, 3, 1, 0, ?, ?)`,
  ).run('d'.repeat(32), Buffer.from([1]), Buffer.from(new Float32Array([0, 0, 0]).buffer));
  db.close();

  const logger = memoryLogger();
  const store = CaseStore.open(dir, logger);
  try {
    const record = store.get('d'.repeat(32));
    assert.equal(record?.heatmapMax, 0, 'a version 2 empty map stays empty');
    assert.equal(record?.atypical, undefined);
    assert.ok(logger.lines.some((line) => /from schema version 2 to 3/.test(line)));
    const flagged = store.insert({ ...newCase(0.3), atypical: true });
    assert.equal(store.get(flagged.id)?.atypical, true);
    assert.equal(store.get(store.insert({ ...newCase(0.3), atypical: false }).id)?.atypical, false);
  } finally {
    store.close();
  }
});
