import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { expandInputs } from './predict-files.js';

test('expandInputs picks images, skips the rest', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'busight-expand-'));
  for (const name of ['a.png', '._a.png', 'c_mask.png', 'd.txt', path.join('.hidden', 'b.png'), path.join('sub', 'e.jpg')]) {
    await fs.mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await fs.writeFile(path.join(root, name), 'x');
  }
  const dicom = new Uint8Array(200);
  dicom.set(new TextEncoder().encode('DICM'), 128);
  await fs.writeFile(path.join(root, 'IM0001'), dicom);
  await fs.writeFile(path.join(root, 'README'), 'not an image');
  const files = await expandInputs([root]);
  assert.deepEqual(files, [path.join(root, 'IM0001'), path.join(root, 'a.png'), path.join(root, 'sub', 'e.jpg')]);
  // A file named explicitly is kept even when hidden.
  assert.deepEqual(await expandInputs([path.join(root, '._a.png')]), [path.join(root, '._a.png')]);
});
