import assert from 'node:assert/strict';
import { existsSync, promises as fs, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { ConfigError } from '../errors.js';
import { makeDirectory, makeDirectorySync, makeOutputDirectory } from './make-directory.js';

test('makeDirectory creates nested folders', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'busight-mkdir-'));
  const nested = path.join(root, 'a', 'b', 'c');
  await makeDirectory(nested, 0o700);
  assert.ok(statSync(nested).isDirectory());
  assert.equal(statSync(nested).mode & 0o777, 0o700);
  // An existing folder is fine.
  await makeDirectory(nested);
  makeDirectorySync(nested);
  makeDirectorySync(path.join(root, 'd', 'e'));
  assert.ok(statSync(path.join(root, 'd', 'e')).isDirectory());
});

test('makeDirectory rejects a file in the way', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'busight-mkdir-'));
  const file = path.join(root, 'file');
  await fs.writeFile(file, 'x');
  await assert.rejects(makeDirectory(file), { code: 'EEXIST' });
  await assert.rejects(makeDirectory(path.join(file, 'below')), { code: 'ENOTDIR' });
  assert.throws(() => makeDirectorySync(path.join(file, 'below')), { code: 'ENOTDIR' });
});

test('makeOutputDirectory names the folder', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'busight-mkdir-'));
  const file = path.join(root, 'file');
  await fs.writeFile(file, 'x');
  const target = path.join(file, 'run');
  await assert.rejects(makeOutputDirectory(target), ConfigError);
  await assert.rejects(makeOutputDirectory(target, '--data-dir'), /cannot create the output folder .*file\/run \(a part of the path is a file, not a folder \(ENOTDIR\)\); choose a writable folder with --data-dir/);
});

test('makeDirectory settles under /proc', async (t) => {
  if (!existsSync('/proc/self')) {
    t.skip('no /proc on this system');
    return;
  }
  // Node 20's recursive fs.mkdir never settles here; this must reject.
  await assert.rejects(makeDirectory('/proc/busight-no-such/x'), { code: 'ENOENT' });
  assert.throws(() => makeDirectorySync('/proc/busight-no-such/x'), { code: 'ENOENT' });
});
