import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { stringify } from 'csv-stringify/sync';

import type { Predictor } from '../model/predictor.js';
import { BUSIGHT_VERSION } from '../version.js';
import { CSV_COLUMNS, toCsvRow, toPredictionJson } from './case-json.js';
import type { CaseStore } from './case-store.js';
import { renderHeatmapPng } from './heatmap-image.js';
import { HttpError } from './http-error.js';
import { ACCEPTED_UPLOAD_TYPES, type ServeLimits } from './options.js';
import type { PredictionService } from './prediction-service.js';

/** Name of the multipart field that carries the image. */
export const IMAGE_FIELD = 'image';

/** Allowance for multipart boundaries and part headers on top of maxUploadBytes. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

/** Largest page of the case list. */
const MAX_LIST_LIMIT = 500;

/** Case ids are 32 lowercase hex digits. */
const CASE_ID_PATTERN = /^[0-9a-f]{32}$/;

export interface ApiContext {
  predictor: Predictor;
  store: CaseStore;
  service: PredictionService;
  limits: ServeLimits;
}

/** Registers the JSON API under /api/v1. */
export function registerApiRoutes(app: FastifyInstance, context: ApiContext): void {
  const { predictor, store, service, limits } = context;

  app.get('/api/v1/health', async (_request, reply) => {
    noStore(reply);
    const manifest = predictor.manifest;
    return {
      status: 'ok',
      busightVersion: BUSIGHT_VERSION,
      model: {
        name: manifest.modelName,
        version: manifest.modelVersion,
        threshold: manifest.threshold,
        createdAt: manifest.createdAt,
      },
      limits: {
        maxUploadBytes: limits.maxUploadBytes,
        maxPixels: limits.maxPixels,
        requestTimeoutMs: limits.requestTimeoutMs,
        acceptedTypes: ACCEPTED_UPLOAD_TYPES.map((type) => type.name),
      },
      queue: {
        admitted: service.queue.admittedCount,
        running: service.queue.runningCount,
        maxConcurrent: limits.maxConcurrent,
        maxQueued: limits.maxQueued,
      },
      cases: store.count(),
    };
  });

  app.post('/api/v1/predictions', async (request, reply) => {
    if (!request.isMultipart()) {
      throw new HttpError(415, 'unsupported_media_type', `Unsupported content type: send multipart/form-data with the image in the field "${IMAGE_FIELD}".`);
    }
    const declaredBytes = Number(request.headers['content-length']);
    if (Number.isFinite(declaredBytes) && declaredBytes > limits.maxUploadBytes + MULTIPART_OVERHEAD_BYTES) {
      throw payloadTooLarge(limits.maxUploadBytes);
    }

    const release = service.admit();
    try {
      const bytes = await readImageField(request, limits.maxUploadBytes);
      const { record, sourceFrames, contentBox } = await service.analyse(bytes);
      noStore(reply);
      reply.code(201).header('Location', `/api/v1/predictions/${record.id}`);
      return { ...toPredictionJson(record), sourceFrames, contentBox };
    } finally {
      release();
    }
  });

  app.get('/api/v1/predictions', async (request, reply) => {
    noStore(reply);
    const query = request.query as Record<string, string | undefined>;
    const limit = parseQueryInteger(query.limit, 'limit', 50, 1, MAX_LIST_LIMIT);
    const offset = parseQueryInteger(query.offset, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
    return { total: store.count(), limit, offset, items: store.list(limit, offset).map(toPredictionJson) };
  });

  app.get('/api/v1/predictions.csv', async (_request, reply) => {
    noStore(reply);
    const rows = [[...CSV_COLUMNS], ...Array.from(store.iterateAll(), toCsvRow)];
    const date = new Date().toISOString().slice(0, 10);
    reply
      .type('text/csv; charset=utf-8')
      .header('Content-Disposition', `attachment; filename="busight-cases-${date}.csv"`);
    // A byte order mark lets spreadsheet programs on Chinese Windows read the file as UTF-8.
    return `\uFEFF${stringify(rows)}`;
  });

  app.get('/api/v1/predictions/:id', async (request, reply) => {
    noStore(reply);
    return toPredictionJson(findCase(store, request));
  });

  app.get('/api/v1/predictions/:id/image.png', async (request, reply) => {
    const record = findCase(store, request);
    const png = store.getImagePng(record.id);
    if (!png) throw caseNotFound(record.id);
    noStore(reply);
    return reply.type('image/png').send(png);
  });

  app.get('/api/v1/predictions/:id/heatmap.png', async (request, reply) => {
    const record = findCase(store, request);
    const heatmap = store.getHeatmap(record.id);
    if (!heatmap) throw new HttpError(404, 'not_found', `Not found: case ${record.id} has no heat map.`);
    const png = await renderHeatmapPng(heatmap.data, heatmap.width, heatmap.height, record.imageWidth, record.imageHeight);
    noStore(reply);
    return reply.type('image/png').send(png);
  });
}

/**
 * Reads the one file of a multipart request from the field IMAGE_FIELD. Throws HttpError 400 for
 * a missing, empty, misnamed or second file and 413 for a file over maxUploadBytes.
 */
async function readImageField(request: FastifyRequest, maxUploadBytes: number): Promise<Buffer> {
  let bytes: Buffer | undefined;
  try {
    for await (const part of request.parts()) {
      if (part.type !== 'file') continue;
      if (part.fieldname !== IMAGE_FIELD) {
        throw new HttpError(400, 'bad_request', `Unexpected file field "${part.fieldname.slice(0, 64)}": send the image in the field "${IMAGE_FIELD}".`);
      }
      if (bytes) {
        throw new HttpError(400, 'bad_request', 'More than one image in one request: send one image per request.');
      }
      bytes = await part.toBuffer();
    }
  } catch (error) {
    if (error instanceof HttpError) throw error;
    if ((error as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw payloadTooLarge(maxUploadBytes);
    throw error;
  }
  if (!bytes) {
    throw new HttpError(400, 'bad_request', `Missing image: send multipart/form-data with the image in the field "${IMAGE_FIELD}".`);
  }
  if (bytes.length === 0) {
    throw new HttpError(400, 'bad_request', 'Empty image: the uploaded file has 0 bytes.');
  }
  return bytes;
}

function payloadTooLarge(maxUploadBytes: number): HttpError {
  return new HttpError(413, 'payload_too_large', `File too large: the maximum upload size is ${maxUploadBytes} bytes.`);
}

function findCase(store: CaseStore, request: FastifyRequest) {
  const id = (request.params as { id: string }).id;
  if (!CASE_ID_PATTERN.test(id)) {
    throw new HttpError(400, 'bad_request', 'Invalid case id: expected 32 lowercase hexadecimal digits.');
  }
  const record = store.get(id);
  if (!record) throw caseNotFound(id);
  return record;
}

function caseNotFound(id: string): HttpError {
  return new HttpError(404, 'not_found', `Not found: no case with id ${id}.`);
}

function parseQueryInteger(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new HttpError(400, 'bad_request', `Invalid query parameter ${name}: expected an integer from ${min} to ${max}, received "${value.slice(0, 32)}".`);
  }
  return parsed;
}

/** Keeps patient images and results out of shared caches and off disk caches of the browser. */
function noStore(reply: FastifyReply): void {
  reply.header('Cache-Control', 'no-store');
}
