import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';

import Database from 'better-sqlite3';

import { DataError } from '../errors.js';
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
    assert.equal(second.heatmapWidth, undefined);

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

test('case store rejects newer schema', async () => {
  const dir = await tempDir();
  const db = new Database(path.join(dir, DATABASE_FILE));
  db.pragma('user_version = 99');
  db.close();
  assert.throws(() => CaseStore.open(dir), (error: unknown) => error instanceof DataError && /schema version 99/.test(error.message));
});
