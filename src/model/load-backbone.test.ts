import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { ConfigError, ModelError } from '../errors.js';
import { BACKBONE_NAMES, BACKBONE_SPECS, type BackboneName } from './backbone.js';
import { BUSI_DIR, loadTestImage, testWeightsDir } from './backbone-fixtures.js';
import { loadBackbone, loadBackboneFromDir } from './load-backbone.js';

for (const name of BACKBONE_NAMES) {
  test(`loadBackbone ${name} from weights folder`, async () => {
    const spec = BACKBONE_SPECS[name];
    const backbone = await loadBackbone(name, { weightsDir: testWeightsDir(), env: {}, allowDownload: false });
    try {
      assert.equal(backbone.name, name);
      assert.equal(backbone.featureDim, spec.featureDim);
      assert.equal(backbone.files[0], path.join(testWeightsDir(), spec.folder, spec.entryFile));
      assert.ok(backbone.files.every((file) => path.isAbsolute(file) && existsSync(file)));
      const image = await loadTestImage(path.join(BUSI_DIR, 'benign', 'benign (1).png'));
      const { pooled } = await backbone.extract([image]);
      assert.equal(pooled.length, spec.featureDim);
    } finally {
      await backbone.dispose();
    }
  });

  test(`loadBackboneFromDir ${name} own folder`, async () => {
    const ownDir = path.join(testWeightsDir(), BACKBONE_SPECS[name].folder);
    const backbone = await loadBackboneFromDir(name, ownDir);
    assert.equal(backbone.name, name);
    await backbone.dispose();
  });
}

test('loadBackbone rejects unknown name', async () => {
  await assert.rejects(loadBackbone('resnet50' as BackboneName, {}), ConfigError);
  await assert.rejects(loadBackbone('resnet50' as BackboneName, {}), /expected one of mobilenet_v2_1\.0, mobilenet_v1_0\.75/);
});

test('loadBackboneFromDir reports missing files', async () => {
  const empty = mkdtempSync(path.join(os.tmpdir(), 'busight-no-backbone-'));
  try {
    await assert.rejects(loadBackboneFromDir('mobilenet_v2_1.0', empty), ModelError);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});
