import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';

import { ModelError } from '../errors.js';
import { memoryLogger } from '../util/log.js';
import { BACKBONE_SPECS } from './backbone.js';
import { testWeightsDir } from './backbone-fixtures.js';
import { cacheRootDir, listBackboneFiles, resolveWeightsDir } from './weights.js';

const V2 = BACKBONE_SPECS['mobilenet_v2_1.0'];
const V1 = BACKBONE_SPECS['mobilenet_v1_0.75'];

let scratch: string;

before(async () => {
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'busight-weights-'));
});

after(async () => {
  await fs.rm(scratch, { recursive: true, force: true });
});

/** Creates `root/<folder>` holding placeholder files laid out like the backbone (contents are not checked here). */
async function makeBackboneDir(root: string, withFolder = true): Promise<string> {
  const v2Dir = withFolder ? path.join(root, V2.folder) : root;
  await fs.mkdir(v2Dir, { recursive: true });
  await fs.writeFile(path.join(v2Dir, V2.entryFile), 'placeholder');
  return v2Dir;
}

async function makeTfjsDir(dir: string, shards: string[]): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const manifest = [{ paths: shards, weights: [] }];
  await fs.writeFile(path.join(dir, V1.entryFile), JSON.stringify({ modelTopology: {}, weightsManifest: manifest }));
  for (const shard of shards) await fs.writeFile(path.join(dir, shard), new Uint8Array(4));
}

test('flag wins over environment and cache', async () => {
  const flagDir = path.join(scratch, 'order-flag');
  const envDir = path.join(scratch, 'order-env');
  const cacheDir = path.join(scratch, 'order-cache');
  await makeBackboneDir(flagDir);
  await makeBackboneDir(envDir);
  await makeBackboneDir(path.join(cacheDir, 'models'));
  const env = { BUSIGHT_WEIGHTS_DIR: envDir };

  const fromFlag = await resolveWeightsDir('mobilenet_v2_1.0', { weightsDir: flagDir, env, cacheDir, allowDownload: false });
  assert.equal(fromFlag, path.join(flagDir, V2.folder));
  const fromEnv = await resolveWeightsDir('mobilenet_v2_1.0', { env, cacheDir, allowDownload: false });
  assert.equal(fromEnv, path.join(envDir, V2.folder));
  const fromCache = await resolveWeightsDir('mobilenet_v2_1.0', { env: {}, cacheDir, allowDownload: false });
  assert.equal(fromCache, path.join(cacheDir, 'models', V2.folder));
});

test('flag may name backbone folder itself', async () => {
  const own = await makeBackboneDir(path.join(scratch, 'own-folder', 'anything'), false);
  assert.equal(await resolveWeightsDir('mobilenet_v2_1.0', { weightsDir: own, env: {}, allowDownload: false }), own);
});

test('cache root follows environment', () => {
  assert.equal(cacheRootDir('/x/cache', { BUSIGHT_CACHE_DIR: '/y' }), path.resolve('/x/cache'));
  assert.equal(cacheRootDir(undefined, { BUSIGHT_CACHE_DIR: '/y', XDG_CACHE_HOME: '/z' }), path.resolve('/y'));
  assert.equal(cacheRootDir(undefined, { XDG_CACHE_HOME: '/z' }), path.resolve('/z', 'busight'));
  assert.equal(cacheRootDir(undefined, {}), path.join(os.homedir(), '.cache', 'busight'));
});

test('cache found through BUSIGHT_CACHE_DIR', async () => {
  const cacheRoot = path.join(scratch, 'env-cache');
  await makeBackboneDir(path.join(cacheRoot, 'models'));
  const found = await resolveWeightsDir('mobilenet_v2_1.0', { env: { BUSIGHT_CACHE_DIR: cacheRoot }, allowDownload: false });
  assert.equal(found, path.join(cacheRoot, 'models', V2.folder));
});

test('flag folder without backbone is an error', async () => {
  const empty = path.join(scratch, 'empty-flag');
  const cacheDir = path.join(scratch, 'unused-cache');
  await fs.mkdir(empty, { recursive: true });
  await makeBackboneDir(path.join(cacheDir, 'models'));
  const error = await resolveWeightsDir('mobilenet_v2_1.0', { weightsDir: empty, env: {}, cacheDir }).catch((e) => e);
  assert.ok(error instanceof ModelError);
  assert.match(error.message, new RegExp(path.join(empty, V2.folder).replace(/[.()]/g, '\\$&')));
  assert.match(error.message, /--weights/);
  assert.match(error.message, /BUSIGHT_WEIGHTS_DIR/);
});

test('missing cache without download is an error', async () => {
  const cacheDir = path.join(scratch, 'no-cache');
  const error = await resolveWeightsDir('mobilenet_v1_0.75', { env: {}, cacheDir, allowDownload: false }).catch((e) => e);
  assert.ok(error instanceof ModelError);
  assert.ok(error.message.includes(path.join(cacheDir, 'models', V1.folder)), error.message);
  assert.match(error.message, /--weights <dir> or set BUSIGHT_WEIGHTS_DIR/);
});

test('missing TF.js shard is named', async () => {
  const root = path.join(scratch, 'tfjs-missing-shard');
  await makeTfjsDir(path.join(root, V1.folder), ['group1-shard1of1', 'group2-shard1of1']);
  await fs.rm(path.join(root, V1.folder, 'group2-shard1of1'));
  await assert.rejects(
    resolveWeightsDir('mobilenet_v1_0.75', { weightsDir: root, env: {}, allowDownload: false }),
    /group2-shard1of1 is missing/,
  );
});

test('shard paths outside folder are rejected', async () => {
  const dir = path.join(scratch, 'tfjs-traversal', V1.folder);
  await makeTfjsDir(dir, ['group1-shard1of1']);
  const modelJson = { modelTopology: {}, weightsManifest: [{ paths: ['../secret'], weights: [] }] };
  await fs.writeFile(path.join(dir, V1.entryFile), JSON.stringify(modelJson));
  await assert.rejects(listBackboneFiles(V1, dir), /invalid weight shard path "\.\.\/secret"/);
});

/** Starts an HTTP server on 127.0.0.1 that serves one folder and records each request; `corrupt` flips a byte of every response. */
async function serveFolder(dir: string, options: { corrupt?: boolean } = {}): Promise<{ server: Server; url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    const name = decodeURIComponent(new URL(request.url ?? '/', 'http://127.0.0.1').pathname.slice(1));
    requests.push(name);
    fs.readFile(path.join(dir, path.basename(name))).then(
      (bytes) => {
        if (options.corrupt) bytes[bytes.length - 1] ^= 0xff;
        response.writeHead(200, { 'content-length': bytes.length }).end(bytes);
      },
      () => response.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { server, url: `http://127.0.0.1:${port}/`, requests };
}

for (const spec of [V2, V1]) {
  test(`download ${spec.name} into cache`, async () => {
    const source = path.join(testWeightsDir(), spec.folder);
    const { server, url, requests } = await serveFolder(source);
    const cacheDir = path.join(scratch, `download-${spec.folder}`);
    const logger = memoryLogger();
    try {
      const dir = await resolveWeightsDir(spec.name, { env: {}, cacheDir, downloadBaseUrl: url, logger });
      assert.equal(dir, path.join(cacheDir, 'models', spec.folder));
      const files = await listBackboneFiles(spec, dir);
      for (const file of files) {
        const expected = await fs.readFile(path.join(source, path.basename(file)));
        assert.ok(expected.equals(await fs.readFile(file)), `${path.basename(file)} differs from the served file`);
      }
      assert.equal(requests.length, files.length);
      assert.match(logger.lines[0], /^info: downloading/);

      // A second resolution uses the cache without any request.
      await resolveWeightsDir(spec.name, { env: {}, cacheDir, downloadBaseUrl: url });
      assert.equal(requests.length, files.length);
      assert.deepEqual(await fs.readdir(path.join(cacheDir, 'models')), [spec.folder]);
    } finally {
      server.close();
    }
  });
}

test('corrupt download leaves no cache', async () => {
  const { server, url } = await serveFolder(path.join(testWeightsDir(), V2.folder), { corrupt: true });
  const cacheDir = path.join(scratch, 'download-corrupt');
  try {
    const error = await resolveWeightsDir('mobilenet_v2_1.0', { env: {}, cacheDir, downloadBaseUrl: url }).catch((e) => e);
    assert.ok(error instanceof ModelError);
    assert.match(error.message, /SHA-256 [0-9a-f]{64}, expected 83530ad8/);
    assert.deepEqual(await fs.readdir(path.join(cacheDir, 'models')), []);
  } finally {
    server.close();
  }
});

test('corrupt TF.js shard leaves no cache', async () => {
  // Serve the real model.json, but with every shard altered.
  const source = path.join(testWeightsDir(), V1.folder);
  const mixed = path.join(scratch, 'mixed-source');
  await fs.mkdir(mixed, { recursive: true });
  for (const name of await fs.readdir(source)) {
    const bytes = await fs.readFile(path.join(source, name));
    if (name.startsWith('group')) bytes[0] ^= 0xff;
    await fs.writeFile(path.join(mixed, name), bytes);
  }
  const { server, url } = await serveFolder(mixed);
  const cacheDir = path.join(scratch, 'download-corrupt-shard');
  try {
    await assert.rejects(
      resolveWeightsDir('mobilenet_v1_0.75', { env: {}, cacheDir, downloadBaseUrl: url }),
      /weight shards have SHA-256/,
    );
    assert.deepEqual(await fs.readdir(path.join(cacheDir, 'models')), []);
  } finally {
    server.close();
  }
});

test('HTTP error names status and URL', async () => {
  const empty = path.join(scratch, 'empty-source');
  await fs.mkdir(empty, { recursive: true });
  const { server, url } = await serveFolder(empty);
  try {
    const error = await resolveWeightsDir('mobilenet_v2_1.0', {
      env: {},
      cacheDir: path.join(scratch, 'download-404'),
      downloadBaseUrl: url,
    }).catch((e) => e);
    assert.ok(error instanceof ModelError);
    assert.match(error.message, /returned HTTP 404/);
    assert.ok(error.message.includes(`${url}${V2.entryFile}`), error.message);
  } finally {
    server.close();
  }
});

test('unreachable server is reported', async () => {
  // Port 9 on loopback normally has no listener, so the connection is refused at once.
  const error = await resolveWeightsDir('mobilenet_v2_1.0', {
    env: {},
    cacheDir: path.join(scratch, 'download-refused'),
    downloadBaseUrl: 'http://127.0.0.1:9/',
    downloadTimeoutMs: 5000,
  }).catch((e) => e);
  assert.ok(error instanceof ModelError);
  assert.match(error.message, /download from http:\/\/127\.0\.0\.1:9\/ failed/);
});
