/**
 * Browser tests of the web app with Playwright driving Debian's Chromium (`apt-get install chromium`).
 * Screenshots go to runs/screens/ for a person to look at.
 */
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';

import { chromium, type Browser, type Page } from 'playwright-core';

import { LABELLED_PHOTOS } from '../model/backbone-fixtures.js';
import { memoryLogger } from '../util/log.js';
import { busiImages, REPO_ROOT, trainedTestBundle } from './bundle-fixture.js';
import { startServer, type RunningServer } from './start.js';
import { translate } from './i18n.js';
import { blankPng, ultrasoundLikePng, withPngTextChunk, PATIENT_MARKER } from './upload-fixtures.js';

const CHROMIUM_PATH = '/usr/bin/chromium';
const SCREENS_DIR = path.join(REPO_ROOT, 'runs', 'screens');
const skip = existsSync(CHROMIUM_PATH) ? false : `${CHROMIUM_PATH} is missing; install it with apt-get install chromium`;

describe('web app in Chromium', { skip }, () => {
  let server: RunningServer;
  let browser: Browser;
  let uploadFiles: string[];
  const scratchDirs: string[] = [];

  before(async () => {
    const modelDir = await trainedTestBundle();
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'busight-browser-'));
    scratchDirs.push(dataDir);
    server = await startServer({ modelDir, port: 0, dataDir, logger: memoryLogger() });
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    });
    await fs.mkdir(SCREENS_DIR, { recursive: true });

    // Two uploads: a real BUSI malignant and benign image when present, else generated ones.
    const uploadDir = await fs.mkdtemp(path.join(os.tmpdir(), 'busight-browser-upload-'));
    scratchDirs.push(uploadDir);
    const sources = [...(await busiImages('malignant', 1)), ...(await busiImages('benign', 1))];
    uploadFiles = [];
    for (let i = 0; i < 2; i++) {
      const png = sources[i] ? await fs.readFile(sources[i]) : await ultrasoundLikePng(320, 240, i + 1);
      const file = path.join(uploadDir, `patient-${i + 1}.png`);
      await fs.writeFile(file, withPngTextChunk(png, 'Comment', PATIENT_MARKER));
      uploadFiles.push(file);
    }
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    for (const dir of scratchDirs) await fs.rm(dir, { recursive: true, force: true });
  });

  /** Script errors of every page, checked after each test. */
  const pageErrors: string[] = [];

  afterEach(() => {
    assert.deepEqual(pageErrors.splice(0), [], 'no script errors in the pages');
  });

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
    context.on('weberror', (webError) => pageErrors.push(webError.error().message));
    return context.newPage();
  }

  test('upload shows probability and heat map', async () => {
    const page = await newPage();
    await page.goto(server.url);
    assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
    assert.match(await page.locator('h1').innerText(), /乳腺超声/);
    await page.locator('#model-info').filter({ hasText: '模型' }).waitFor();

    await page.locator('#file-input').setInputFiles(uploadFiles);
    const cards = page.locator('.result-card');
    await cards.locator('.probability-value').nth(1).waitFor({ timeout: 60_000 });
    assert.equal(await cards.count(), 2);

    for (let i = 0; i < 2; i++) {
      const card = cards.nth(i);
      assert.match(await card.locator('.probability-value').innerText(), /^\d{1,3}\.\d{1,4}%$/);
      assert.match(await card.locator('.verdict').innerText(), /^(倾向良性|可疑恶性)$/);
      const heatmapSize = await card.locator('img.heatmap').evaluate(async (img: HTMLImageElement) => {
        await img.decode();
        return { natural: img.naturalWidth, shown: img.getBoundingClientRect().width };
      });
      assert.ok(heatmapSize.natural > 0, 'the heat map image loads');
      const baseWidth = await card.locator('img.case-image').evaluate((img: HTMLImageElement) => img.getBoundingClientRect().width);
      assert.ok(Math.abs(heatmapSize.shown - baseWidth) < 1, 'the heat map covers the image');
    }
    assert.equal(await page.locator('body').innerText().then((text) => text.includes(PATIENT_MARKER)), false);

    // The opacity slider changes the overlay.
    const first = cards.first();
    await first.locator('input.opacity-slider').fill('80');
    assert.equal(await first.locator('img.heatmap').evaluate((img: HTMLImageElement) => img.style.opacity), '0.8');
    await page.locator('#cases-table tbody tr').nth(1).waitFor();
    await page.screenshot({ path: path.join(SCREENS_DIR, 'app-zh-CN.png'), fullPage: true });
    await page.context().close();
  });

  test('language switch is remembered', async () => {
    const page = await newPage();
    await page.goto(server.url);
    await page.locator('#cases-table tbody tr').first().waitFor();
    await page.locator('#language-switch').click();
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    assert.match(await page.locator('h1').innerText(), /breast ultrasound/);
    assert.match(await page.locator('#cases-table tbody tr').first().innerText(), /Likely benign|Suspicious for malignancy/);

    await page.reload();
    await page.locator('#cases-table tbody tr').first().waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'en', 'the choice survives a reload');
    assert.match(await page.locator('#model-info').innerText(), /^Model /);

    // Drop a file on the drop zone, as a doctor dragging it from the file manager would.
    const bytes = [...(await fs.readFile(uploadFiles[0]))];
    const dataTransfer = await page.evaluateHandle((content: number[]) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(content)], 'dropped.png', { type: 'image/png' }));
      return transfer;
    }, bytes);
    await page.dispatchEvent('#drop-zone', 'drop', { dataTransfer });
    await page.locator('.result-card .probability-value').waitFor({ timeout: 60_000 });
    assert.match(await page.locator('.result-card .verdict').innerText(), /^(Likely benign|Suspicious for malignancy)$/);
    await page.screenshot({ path: path.join(SCREENS_DIR, 'app-en.png'), fullPage: true });

    await page.locator('#language-switch').click();
    assert.match(await page.locator('.result-card .verdict').innerText(), /^(倾向良性|可疑恶性)$/, 'results re-render in Chinese');
    await page.context().close();
  });

  test('rejected file shows error', async () => {
    const page = await newPage();
    await page.goto(server.url);
    await page.locator('#file-input').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image') });
    const status = page.locator('.result-card .error');
    await status.waitFor();
    assert.equal(await status.innerText(), '失败：不支持此文件类型。');
    await page.context().close();
  });

  test('a photo gets the atypical warning above its result', async () => {
    const page = await newPage();
    await page.goto(server.url);
    await page.locator('#file-input').setInputFiles(LABELLED_PHOTOS[0].file);
    const card = page.locator('.result-card');
    await card.locator('.probability-value').waitFor({ timeout: 60_000 });
    const warning = card.locator('.notice.atypical');
    assert.equal(await warning.innerText(), translate('zh-CN', 'result.atypical'));
    // The warning comes before the result in the card.
    const order = await card.evaluate((root) => Array.from(root.children, (child) => child.className));
    assert.ok(order.indexOf('notice atypical') < order.indexOf('result-body'), `card order ${order.join(', ')}`);
    await page.locator('#language-switch').click();
    assert.equal(await warning.innerText(), translate('en', 'result.atypical'));
    // The flag is stored with the case, so its printable report carries the warning too.
    await page.locator('#cases-table tbody tr').first().waitFor();
    const [report] = await Promise.all([page.context().waitForEvent('page'), page.locator('#cases-table tbody tr a').first().click()]);
    await report.locator('#report').waitFor({ state: 'visible' });
    assert.equal(await report.locator('#report-atypical').isVisible(), true);
    await page.context().close();
  });

  test('blank image shows its reason', async () => {
    const page = await newPage();
    await page.goto(server.url);
    await page.locator('#file-input').setInputFiles({ name: 'blank.png', mimeType: 'image/png', buffer: await blankPng(300, 200) });
    const status = page.locator('.result-card .error');
    await status.waitFor({ timeout: 60_000 });
    const statusText = await status.innerText();
    assert.equal(statusText, translate('zh-CN', 'upload.failed', { message: translate('zh-CN', 'error.blank_image') }));
    assert.match(statusText, /空白/);
    assert.equal(statusText.includes(translate('zh-CN', 'error.invalid_image')), false, 'not the generic decode failure');

    await page.locator('#language-switch').click();
    assert.equal(await status.innerText(), translate('en', 'upload.failed', { message: translate('en', 'error.blank_image') }));
    await page.context().close();
  });

  test('report opens and prints on one A4 page', async () => {
    const page = await newPage();
    await page.goto(server.url);
    await page.locator('#cases-table tbody tr').first().waitFor();
    const [report] = await Promise.all([page.context().waitForEvent('page'), page.locator('#cases-table tbody tr a').first().click()]);
    await report.locator('#report').waitFor({ state: 'visible' });
    await report.locator('#report-heatmap').evaluate((img: HTMLImageElement) => img.decode());

    const text = await report.locator('#report').innerText();
    assert.match(text, /乳腺超声辅助判读报告/);
    assert.match(text, /病例编号\s*\d{6}/);
    assert.match(text, /恶性概率/);
    assert.match(text, /活检和病理/, 'the decision-support notice is on the report');
    assert.match(text, new RegExp(await report.locator('#report-model-version').innerText()));
    assert.match(await report.locator('#report-verdict').innerText(), /^(倾向良性|可疑恶性)/);
    await report.screenshot({ path: path.join(SCREENS_DIR, 'report-zh-CN.png'), fullPage: true });

    await report.emulateMedia({ media: 'print' });
    await report.screenshot({ path: path.join(SCREENS_DIR, 'report-print.png'), fullPage: true });
    const pdf = await report.pdf({ format: 'A4', printBackground: true, preferCSSPageSize: true });
    await fs.writeFile(path.join(SCREENS_DIR, 'report.pdf'), pdf);
    const pages = pdf.toString('latin1').match(/\/Type\s*\/Page\b(?!s)/g) ?? [];
    assert.equal(pages.length, 1, 'the report fits one A4 page');

    await report.emulateMedia({ media: 'screen' });
    await report.locator('#language-switch').click();
    assert.match(await report.locator('#report').innerText(), /diagnosis rests on biopsy and pathology/);
    await report.screenshot({ path: path.join(SCREENS_DIR, 'report-en.png'), fullPage: true });
    await page.context().close();
  });

  test('empty heat map shows a message', async () => {
    // A stored case, returned with its heat map marked empty, as the API marks a map whose values
    // are all 0. The page's upload gets it as the response, because forwarding that multipart
    // upload with route.fetch got HTTP 400 (playwright-core 1.65).
    const form = new FormData();
    form.append('image', new Blob([await fs.readFile(uploadFiles[0])], { type: 'image/png' }), 'upload.png');
    const stored = (await (await fetch(new URL('api/v1/predictions', server.url), { method: 'POST', body: form })).json()) as { id: string };
    const page = await newPage();
    await page.context().route(/\/api\/v1\/predictions$/, async (route) => {
      if (route.request().method() !== 'POST') return route.fallback();
      await route.fulfill({ status: 201, json: { ...stored, heatmapEmpty: true } });
    });
    await page.context().route(/\/api\/v1\/predictions\/[0-9a-f]{32}$/, async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, json: { ...(await response.json()), heatmapEmpty: true } });
    });
    await page.goto(server.url);
    await page.locator('#file-input').setInputFiles(uploadFiles[0]);
    const card = page.locator('.result-card');
    await card.locator('.probability-value').waitFor({ timeout: 60_000 });
    assert.equal(await card.locator('.heatmap-empty').innerText(), translate('zh-CN', 'result.heatmapEmpty'));
    assert.equal(await card.locator('img.heatmap').count(), 0, 'no empty overlay');
    assert.equal(await card.locator('.legend').count(), 0, 'no legend for an empty map');

    await page.locator('#language-switch').click();
    assert.equal(await card.locator('.heatmap-empty').innerText(), translate('en', 'result.heatmapEmpty'));
    await page.screenshot({ path: path.join(SCREENS_DIR, 'app-empty-heatmap-en.png'), fullPage: true });

    const [report] = await Promise.all([page.context().waitForEvent('page'), card.locator('a.report-link').click()]);
    await report.locator('#report').waitFor({ state: 'visible' });
    assert.equal(await report.locator('#report-heatmap-empty').innerText(), translate('en', 'result.heatmapEmpty'));
    assert.equal(await report.locator('#report-heatmap').isVisible(), false, 'no empty overlay on the report');
    assert.equal(await report.locator('#report-legend').isVisible(), false, 'no legend on the report');
    await page.context().close();
  });
});
