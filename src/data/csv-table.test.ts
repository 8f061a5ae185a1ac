import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { DataError } from '../errors.js';
import { readCsvRows, throwRowProblems } from './csv-table.js';

async function writeTemp(text: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'busight-csv-'));
  const file = path.join(dir, 'table.csv');
  await fs.writeFile(file, text);
  return file;
}

test('readCsvRows normalises header and lines', async () => {
  const file = await writeTemp('\ufeff Path ,LABEL\n\na.png, 1 \nb.png,0\n');
  const rows = await readCsvRows(file, 'manifest', ['path', 'label']);
  assert.deepEqual(rows, [
    { record: { path: 'a.png', label: '1' }, line: 3 },
    { record: { path: 'b.png', label: '0' }, line: 4 },
  ]);
});

test('readCsvRows rejects bad files', async () => {
  const cases = [
    { text: 'path,label\n', message: /table\.csv: manifest has no rows/ },
    { text: 'path\na.png\n', message: /table\.csv: missing column 'label'; expected a header row with path,label, received path/ },
    { text: 'img/b4.png,0\nimg/a.png,1\n', message: /missing column 'path'; expected a header row with path,label, received img\/b4\.png,0$/ },
    { text: 'path,label\n"a.png,1\n', message: /table\.csv: invalid CSV/ },
  ];
  for (const { text, message } of cases) {
    const file = await writeTemp(text);
    await assert.rejects(readCsvRows(file, 'manifest', ['path', 'label']), DataError);
    await assert.rejects(readCsvRows(file, 'manifest', ['path', 'label']), message);
  }
  await assert.rejects(readCsvRows('/nonexistent/split.csv', 'split file', ['path']), /split\.csv: split file not found/);
});

test('throwRowProblems lists and counts rows', () => {
  assert.doesNotThrow(() => throwRowProblems('t.csv', []));
  const problems = Array.from({ length: 23 }, (_, i) => `line ${i + 2}: bad`);
  assert.throws(() => throwRowProblems('t.csv', problems), DataError);
  assert.throws(() => throwRowProblems('t.csv', problems), /t\.csv: 23 invalid rows:\n {2}line 2: bad\n/);
  assert.throws(() => throwRowProblems('t.csv', problems), /line 21: bad\n {2}\.\.\. and 3 more$/);
});
