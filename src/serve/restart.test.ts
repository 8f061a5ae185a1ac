import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { memoryLogger } from '../util/log.js';
import { busiImages, trainedTestBundle } from './bundle-fixture.js';
import { startServer } from './start.js';
import { ultrasoundLikePng } from './upload-fixtures.js';

async function upload(url: string, bytes: Uint8Array): Promise<{ id: string; caseNumber: number; probability: number }> {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(bytes)]), 'scan.png');
  const response = await fetch(new URL('api/v1/predictions', url), { method: 'POST', body: form });
  assert.equal(response.status, 201, await response.clone().text());
  return response.json();
}

test('case list survives restart', async () => {
  const modelDir = await trainedTestBundle();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'busight-restart-'));
  const files = await busiImages('benign', 2);
  const images = files.length === 2 ? await Promise.all(files.map((file) => fs.readFile(file))) : [await ultrasoundLikePng(200, 160, 1), await ultrasoundLikePng(200, 160, 2)];

  // First run: store two cases, then stop.
  const firstLogger = memoryLogger();
  const first = await startServer({ modelDir, port: 0, dataDir, logger: firstLogger });
  const stored = [await upload(first.url, images[0]), await upload(first.url, images[1])];
  const firstImage = Buffer.from(await (await fetch(new URL(`api/v1/predictions/${stored[0].id}/image.png`, first.url))).arrayBuffer());
  await first.close();
  assert.match(firstLogger.lines.join('\n'), /listening on http:\/\/127\.0\.0\.1:\d+\//);
  assert.match(firstLogger.lines.at(-1) ?? '', /stopped/);
  await assert.rejects(fetch(new URL('api/v1/health', first.url)), 'the first server no longer listens');

  // Second run on the same data folder.
  const second = await startServer({ modelDir, port: 0, dataDir, logger: memoryLogger() });
  try {
    const list = await (await fetch(new URL('api/v1/predictions', second.url))).json();
    assert.equal(list.total, 2);
    assert.deepEqual(
      list.items.map((item: { id: string }) => item.id),
      [stored[1].id, stored[0].id],
    );
    const again = await (await fetch(new URL(`api/v1/predictions/${stored[0].id}`, second.url))).json();
    assert.equal(again.probability, stored[0].probability);
    const image = Buffer.from(await (await fetch(new URL(`api/v1/predictions/${stored[0].id}/image.png`, second.url))).arrayBuffer());
    assert.deepEqual(image, firstImage);
    const heatmap = await fetch(new URL(`api/v1/predictions/${stored[0].id}/heatmap.png`, second.url));
    assert.equal(heatmap.status, 200);

    const third = await upload(second.url, images[0]);
    assert.equal(third.caseNumber, 3, 'case numbers continue after the restart');
  } finally {
    await second.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
});
