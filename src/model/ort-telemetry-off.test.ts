import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { testWeightsDir } from './backbone-fixtures.js';

const run = promisify(execFile);
const loader = path.join(path.dirname(fileURLToPath(import.meta.url)), 'load-backbone.js');

test('ONNX backbone writes no telemetry files', async () => {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'busight-home-'));
  try {
    const script = `const { loadBackbone } = await import(${JSON.stringify(loader)});
const backbone = await loadBackbone('mobilenet_v2_1.0', { weightsDir: ${JSON.stringify(testWeightsDir())} });
await backbone.dispose();`;
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CACHE_HOME: path.join(home, '.cache') };
    delete env.ORT_DISABLE_TELEMETRY;
    await run(process.execPath, ['--input-type=module', '-e', script], { env });
    assert.equal(existsSync(path.join(home, '.cache', 'Microsoft')), false, 'onnxruntime wrote ~/.cache/Microsoft');
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
});
