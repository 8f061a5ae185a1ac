import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';

import { buildDicom } from '../data/formats/dicom-fixture.js';
import { MIN_ASSESSABLE_SIDE } from '../data/image-content.js';
import { loadPredictor, type Predictor } from '../model/predictor.js';
import { memoryLogger } from '../util/log.js';
import { busiImages, trainedTestBundle } from './bundle-fixture.js';
import { CSV_COLUMNS } from './case-json.js';
import { CaseStore } from './case-store.js';
import { API_ERROR_CODES } from './http-error.js';
import { isKnownErrorCode, translate, WEB_LANGUAGES } from './i18n.js';
import type { ServeLimits } from './options.js';
import { buildServeApp } from './server.js';
import { blankPng, containsText, dicomHeaderOnly, jpegWithExif, PATIENT_MARKER, ultrasoundLikePng, withPngTextChunk } from './upload-fixtures.js';

/** Limits small enough to test each rejection with small files. */
const TEST_LIMITS: Partial<ServeLimits> = {
  maxUploadBytes: 1024 * 1024,
  maxPixels: 1_000_000,
  maxConcurrent: 1,
  maxQueued: 2,
  requestTimeoutMs: 60_000,
};

interface TestServer {
  app: FastifyInstance;
  store: CaseStore;
  dataDir: string;
  baseUrl: string;
  logger: ReturnType<typeof memoryLogger>;
}

let predictor: Predictor;
let uploadPng: Buffer;
const servers: TestServer[] = [];

async function startTestServer(limits: Partial<ServeLimits> = {}): Promise<TestServer> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'busight-api-'));
  const store = CaseStore.open(dataDir);
  const logger = memoryLogger();
  const app = await buildServeApp({ predictor, store, limits: { ...TEST_LIMITS, ...limits }, logger });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  assert.ok(address !== null, 'the server has an address');
  assert.ok(typeof address === 'object', 'the server listens on TCP, not a pipe');
  const server = { app, store, dataDir, baseUrl: `http://127.0.0.1:${address.port}`, logger };
  servers.push(server);
  return server;
}

function imageForm(bytes: Uint8Array, fileName = 'scan.png', field = 'image'): FormData {
  const form = new FormData();
  form.append(field, new Blob([new Uint8Array(bytes)]), fileName);
  return form;
}

async function postImage(server: TestServer, body: FormData | string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.baseUrl}/api/v1/predictions`, { method: 'POST', body, headers });
}

async function expectError(response: Response, status: number, code: string): Promise<{ code: string; message: string }> {
  const body = (await response.json()) as { error: { code: string; message: string } };
  assert.equal(response.status, status, `expected HTTP ${status}, received ${response.status}: ${JSON.stringify(body)}`);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(body.error.code, code);
  assert.ok(body.error.message.length > 10, 'the message explains the error');
  return body.error;
}

before(async () => {
  predictor = await loadPredictor(await trainedTestBundle());
  const [busiFile] = await busiImages('malignant', 1);
  const png = busiFile ? await fs.readFile(busiFile) : await ultrasoundLikePng(256, 256);
  uploadPng = withPngTextChunk(png, 'Comment', PATIENT_MARKER);
});

after(async () => {
  for (const server of servers) {
    await server.app.close();
    server.store.close();
    await fs.rm(server.dataDir, { recursive: true, force: true });
  }
  await predictor?.dispose();
});

describe('prediction API', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });

  test('POST stores and returns prediction', async () => {
    const response = await postImage(server, imageForm(uploadPng, `${PATIENT_MARKER}.png`));
    assert.equal(response.status, 201);
    const body = await response.json();

    assert.ok(body.probability >= 0, `probability ${body.probability}`);
    assert.ok(body.probability <= 1, `probability ${body.probability}`);
    assert.equal(body.label, body.probability >= body.threshold ? 'malignant' : 'benign');
    assert.equal(body.threshold, predictor.manifest.threshold);
    assert.equal(body.modelVersion, predictor.manifest.modelVersion);
    assert.equal(body.modelName, predictor.manifest.modelName);
    assert.equal(body.caseNumber, 1);
    assert.match(body.heatmapUrl, /^\/api\/v1\/predictions\/[0-9a-f]{32}\/heatmap\.png$/);
    assert.equal(typeof body.heatmapEmpty, 'boolean');
    assert.equal(body.sourceFrames, 1);
    assert.equal(body.contentBox, null);
    assert.equal(body.atypical, false);
    assert.equal(response.headers.get('location'), `/api/v1/predictions/${body.id}`);
    assert.equal(containsText(Buffer.from(JSON.stringify(body)), PATIENT_MARKER), false, 'the file name is not echoed');

    // The response to the upload adds sourceFrames and contentBox, facts about the upload that are not stored.
    const fetched = await (await fetch(`${server.baseUrl}/api/v1/predictions/${body.id}`)).json();
    const { sourceFrames: _sourceFrames, contentBox: _contentBox, ...stored } = body;
    assert.deepEqual(fetched, stored);

    const heatmap = await fetch(`${server.baseUrl}${body.heatmapUrl}`);
    assert.equal(heatmap.status, 200);
    assert.equal(heatmap.headers.get('content-type'), 'image/png');
    const heatmapMeta = await sharp(Buffer.from(await heatmap.arrayBuffer())).metadata();
    assert.equal(heatmapMeta.width, body.image.width);
    assert.equal(heatmapMeta.channels, 4);

    const image = Buffer.from(await (await fetch(`${server.baseUrl}${body.imageUrl}`)).arrayBuffer());
    assert.equal((await sharp(image).metadata()).format, 'png');
    assert.equal(containsText(image, PATIENT_MARKER), false, 'the PNG text chunk is removed');

    const logText = server.logger.lines.join('\n');
    assert.equal(logText.includes(PATIENT_MARKER), false, 'the log holds no file name');
    assert.match(logText, /stored case 1/);
  });

  test('padded upload stores only the analysed part', async () => {
    const { width = 0, height = 0 } = await sharp(uploadPng).metadata();
    const padded = await sharp(uploadPng).extend({ left: width, top: 0, bottom: 0, right: 0, background: '#000000' }).png().toBuffer();
    const response = await postImage(server, imageForm(padded));
    assert.equal(response.status, 201);
    const body = await response.json();
    assert.deepEqual(body.contentBox, { left: width, top: 0, width, height });
    // The stored image is the upload without its band, so it equals the unpadded image's pixels.
    const storedPng = Buffer.from(await (await fetch(`${server.baseUrl}${body.imageUrl}`)).arrayBuffer());
    const stored = await sharp(storedPng).greyscale().raw().toBuffer({ resolveWithObject: true });
    const original = await sharp(uploadPng).greyscale().raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([stored.info.width, stored.info.height], [width, height]);
    assert.ok(stored.data.equals(original.data), 'stored pixels differ from the unpadded image');
    const heatmap = await sharp(Buffer.from(await (await fetch(`${server.baseUrl}${body.heatmapUrl}`)).arrayBuffer())).metadata();
    assert.equal((heatmap.width ?? 0) / (heatmap.height ?? 1), width / height);
  });

  test('JPEG upload drops EXIF', async () => {
    const response = await postImage(server, imageForm(await jpegWithExif(uploadPng), 'scan.jpg'));
    assert.equal(response.status, 201);
    const body = await response.json();
    const image = Buffer.from(await (await fetch(`${server.baseUrl}${body.imageUrl}`)).arrayBuffer());
    assert.equal(containsText(image, PATIENT_MARKER), false);
    assert.equal((await sharp(image).metadata()).exif, undefined);
  });

  test('DICOM upload keeps no patient tags', async () => {
    const { data, info } = await sharp(uploadPng).greyscale().raw().toBuffer({ resolveWithObject: true });
    // Two frames, so the response must also report that only the first was analysed.
    const dicom = buildDicom({
      rows: info.height,
      columns: info.width,
      pixels: new Uint8Array([...data, ...data]),
      frames: 2,
      patientName: PATIENT_MARKER,
      patientId: PATIENT_MARKER,
      patientBirthDate: '19700101',
    });
    assert.equal(containsText(Buffer.from(dicom), PATIENT_MARKER), true, 'the fixture carries the patient tags');

    const response = await postImage(server, imageForm(dicom, `${PATIENT_MARKER}.dcm`));
    assert.equal(response.status, 201);
    const body = await response.json();
    assert.equal(body.sourceFrames, 2);
    assert.equal(JSON.stringify(body).includes(PATIENT_MARKER), false);
    const image = Buffer.from(await (await fetch(`${server.baseUrl}${body.imageUrl}`)).arrayBuffer());
    assert.equal(containsText(image, PATIENT_MARKER), false);
    const csv = await (await fetch(`${server.baseUrl}/api/v1/predictions.csv`)).text();
    assert.equal(csv.includes(PATIENT_MARKER), false);
    const stored = await fs.readdir(server.dataDir, { recursive: true });
    for (const name of stored) {
      const file = path.join(server.dataDir, name);
      if (!(await fs.stat(file)).isFile()) continue;
      assert.equal(containsText(await fs.readFile(file), PATIENT_MARKER), false, `${name} contains a patient tag`);
    }
  });

  test('case list and CSV export', async () => {
    const list = await (await fetch(`${server.baseUrl}/api/v1/predictions?limit=1`)).json();
    assert.ok(list.total >= 2);
    assert.equal(list.items.length, 1);
    assert.equal(list.items[0].caseNumber, list.total, 'newest first');

    const csvResponse = await fetch(`${server.baseUrl}/api/v1/predictions.csv`);
    assert.equal(csvResponse.status, 200);
    assert.match(csvResponse.headers.get('content-type') ?? '', /^text\/csv/);
    assert.match(csvResponse.headers.get('content-disposition') ?? '', /attachment; filename="busight-cases-\d{4}-\d{2}-\d{2}\.csv"/);
    const csv = await csvResponse.text();
    const lines = csv.replace(/^\uFEFF/, '').trim().split('\n');
    assert.equal(lines[0], CSV_COLUMNS.join(','));
    assert.equal(lines.length, list.total + 1);
    assert.match(lines[1], /^1,[0-9a-f]{32},/);
  });

  test('health reports model and queue', async () => {
    const response = await fetch(`${server.baseUrl}/api/v1/health`);
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.equal(body.status, 'ok');
    assert.equal(body.model.version, predictor.manifest.modelVersion);
    assert.equal(body.limits.maxUploadBytes, TEST_LIMITS.maxUploadBytes);
    assert.equal(body.queue.admitted, 0);
  });

  test('page, report page and assets', async () => {
    const page = await fetch(`${server.baseUrl}/`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<html lang="zh-CN">/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    for (const asset of ['/assets/style.css', '/assets/i18n.js', '/assets/client/app.js', '/assets/client/report.js', '/assets/client/common.js']) {
      assert.equal((await fetch(`${server.baseUrl}${asset}`)).status, 200, asset);
    }
    assert.equal((await fetch(`${server.baseUrl}/report/${'a'.repeat(32)}`)).status, 200);
    await expectError(await fetch(`${server.baseUrl}/assets/../package.json`), 404, 'not_found');
  });
});

describe('prediction API rejections', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });

  test('400 for missing image field', async () => {
    const form = new FormData();
    form.append('note', 'no file here');
    await expectError(await postImage(server, form), 400, 'bad_request');
  });

  test('400 for wrong field name', async () => {
    await expectError(await postImage(server, imageForm(uploadPng, 'scan.png', 'file')), 400, 'bad_request');
  });

  test('400 for two images', async () => {
    const form = imageForm(uploadPng);
    form.append('image', new Blob([new Uint8Array(uploadPng)]), 'second.png');
    await expectError(await postImage(server, form), 400, 'bad_request');
  });

  test('400 for empty file', async () => {
    await expectError(await postImage(server, imageForm(new Uint8Array(0))), 400, 'bad_request');
  });

  test('400 for corrupt PNG', async () => {
    const corrupt = Buffer.from(uploadPng);
    corrupt.fill(0, 60);
    await expectError(await postImage(server, imageForm(corrupt)), 400, 'invalid_image');
  });

  test('400 for blank image', async () => {
    const error = await expectError(await postImage(server, imageForm(await blankPng(300, 200))), 400, 'blank_image');
    assert.match(error.message, /image is blank/);
  });

  test('400 for too small image', async () => {
    const small = await ultrasoundLikePng(MIN_ASSESSABLE_SIDE - 1, 64);
    const error = await expectError(await postImage(server, imageForm(small)), 400, 'image_too_small');
    assert.match(error.message, /too small to assess/);
  });

  test('400 for a small image inside black padding', async () => {
    // A 60-pixel image on a 900-pixel black canvas: the whole file is large, the content is not.
    const small = await ultrasoundLikePng(60, 60);
    const padded = await sharp(small).extend({ left: 420, right: 420, top: 420, bottom: 420, background: '#000000' }).png().toBuffer();
    const error = await expectError(await postImage(server, imageForm(padded)), 400, 'image_too_small');
    assert.match(error.message, /image content inside the black bands is 60x60 pixels, too small to assess/);
  });

  test('400 for invalid id and query', async () => {
    await expectError(await fetch(`${server.baseUrl}/api/v1/predictions/not-an-id`), 400, 'bad_request');
    await expectError(await fetch(`${server.baseUrl}/api/v1/predictions?limit=abc`), 400, 'bad_request');
    await expectError(await fetch(`${server.baseUrl}/api/v1/predictions?limit=100000`), 400, 'bad_request');
  });

  test('404 for unknown case', async () => {
    await expectError(await fetch(`${server.baseUrl}/api/v1/predictions/${'0'.repeat(32)}`), 404, 'not_found');
    await expectError(await fetch(`${server.baseUrl}/api/v1/predictions/${'0'.repeat(32)}/heatmap.png`), 404, 'not_found');
  });

  test('413 for oversized upload', async () => {
    const large = Buffer.alloc(2 * 1024 * 1024, 7);
    uploadPng.copy(large, 0, 0, 8);
    await expectError(await postImage(server, imageForm(large)), 413, 'payload_too_large');
  });

  test('413 for too many pixels', async () => {
    // A flat grey image compresses to a few kilobytes, far below the byte limit.
    const wide = await sharp({ create: { width: 1200, height: 1000, channels: 3, background: { r: 90, g: 90, b: 90 } } }).png().toBuffer();
    assert.ok(wide.length < 1024 * 1024, 'the fixture must pass the byte limit');
    await expectError(await postImage(server, imageForm(wide)), 413, 'too_many_pixels');
  });

  test('415 for non-image file', async () => {
    await expectError(await postImage(server, imageForm(Buffer.from('name,age\nZhang San,56\n'), 'notes.csv')), 415, 'unsupported_media_type');
  });

  test('400 for DICOM without pixel data', async () => {
    const error = await expectError(await postImage(server, imageForm(dicomHeaderOnly(), 'scan.dcm')), 400, 'invalid_image');
    assert.equal(error.message.includes(PATIENT_MARKER), false);
  });

  test('415 for non-multipart body', async () => {
    await expectError(await postImage(server, JSON.stringify({ image: 'x' }), { 'content-type': 'application/json' }), 415, 'unsupported_media_type');
    await expectError(await postImage(server, 'raw', { 'content-type': 'image/png' }), 415, 'unsupported_media_type');
  });

  test('nothing stored after rejections', async () => {
    assert.equal(server.store.count(), 0);
  });
});

describe('API error texts', () => {
  test('every error code has page text', () => {
    for (const code of API_ERROR_CODES) assert.ok(isKnownErrorCode(code), `no 'error.${code}' text in i18n.ts`);
  });

  test('too small text gives minimum side', () => {
    // i18n.ts is loaded by the browser without imports, so it repeats MIN_ASSESSABLE_SIDE as a literal.
    for (const language of WEB_LANGUAGES) {
      assert.ok(translate(language, 'error.image_too_small').includes(`${MIN_ASSESSABLE_SIDE} `), language);
    }
  });
});

describe('prediction API overload', () => {
  test('429 when the queue is full', async () => {
    const server = await startTestServer({ maxConcurrent: 1, maxQueued: 1 });
    const responses = await Promise.all(Array.from({ length: 8 }, () => postImage(server, imageForm(uploadPng))));
    const statuses = responses.map((response) => response.status);
    assert.ok(statuses.includes(201), `some uploads succeed: ${statuses.join(', ')}`);
    assert.ok(statuses.includes(429), `some uploads are rejected: ${statuses.join(', ')}`);
    assert.ok(statuses.every((status) => status === 201 || status === 429), statuses.join(', '));

    const rejected = responses.find((response) => response.status === 429)!;
    assert.match(rejected.headers.get('retry-after') ?? '', /^\d+$/);
    await expectError(rejected, 429, 'queue_full');
    for (const response of responses) if (!response.bodyUsed) await response.arrayBuffer();
    assert.equal(server.store.count(), statuses.filter((status) => status === 201).length);
  });

  test('503 when analysis times out', async () => {
    const server = await startTestServer({ requestTimeoutMs: 1 });
    const response = await postImage(server, imageForm(uploadPng));
    assert.match(response.headers.get('retry-after') ?? '', /^\d+$/);
    await expectError(response, 503, 'timeout');

    // The timed-out work finishes in the background, releases its slot and stores no case.
    let admitted = -1;
    for (let attempt = 0; attempt < 100 && admitted !== 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      admitted = (await (await fetch(`${server.baseUrl}/api/v1/health`)).json()).queue.admitted;
    }
    assert.equal(admitted, 0, 'the slot is released once the work stops');
    assert.equal(server.store.count(), 0);
  });
});
