import { test } from 'node:test';
import assert from 'node:assert/strict';

import { DataError } from '../errors.js';
import type { RgbImage } from '../data/image.js';
import { binaryMetrics, rocCurve } from '../evaluate/metrics.js';
import { Rng } from '../util/rng.js';
import { orderCases, renderRunReport } from './html.js';
import { LANGUAGES, MESSAGES, isMessageKey, localize, type MessageKey } from './i18n.js';
import type { ReportCase, RunReportInput } from './report-input.js';
import { heatmapOverlay, thumbnailJpeg } from './thumbnails.js';

const NASTY_ID = `benign/a<b>&"c'.png`;

/** Draws a 48x48 textured image with a dark ellipse, sized by `index`, like a lesion in ultrasound. */
function syntheticImage(index: number): RgbImage {
  const size = 48;
  const data = new Uint8Array(size * size * 3);
  const radius = 6 + (index % 5) * 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const inside = ((x - 24) / radius) ** 2 + ((y - 24) / (radius * 0.7)) ** 2 < 1;
      const value = inside ? 40 : 90 + ((x * 7 + y * 13 + index) % 60);
      data.fill(value, (y * size + x) * 3, (y * size + x) * 3 + 3);
    }
  }
  return { data, width: size, height: size };
}

/** Builds a report input from 24 synthetic cases with seeded probabilities; errors get heat maps when asked. */
async function syntheticInput(options: { withHeatmaps: boolean }): Promise<RunReportInput> {
  const rng = new Rng(11);
  const cases: ReportCase[] = [];
  const threshold = 0.5;
  for (let index = 0; index < 24; index++) {
    const label: 0 | 1 = index % 3 === 0 ? 1 : 0;
    const probability = Math.min(1, Math.max(0, (label === 1 ? 0.7 : 0.3) + rng.normal() * 0.2));
    const predicted: 0 | 1 = probability >= threshold ? 1 : 0;
    const image = syntheticImage(index);
    const item: ReportCase = {
      id: index === 0 ? NASTY_ID : `${label === 1 ? 'malignant' : 'benign'}/case ${index}.png`,
      label,
      probability,
      predicted,
      thumbnail: await thumbnailJpeg(image, 160),
    };
    if (options.withHeatmaps) {
      const heat = new Float32Array(7 * 7).map((_, cell) => Math.exp(-(((cell % 7) - 3) ** 2 + (Math.floor(cell / 7) - 3) ** 2) / 4));
      item.heatmap = await thumbnailJpeg(await heatmapOverlay(image, heat, 7, 7, 0.45), 160);
    }
    cases.push(item);
  }
  const yTrue = cases.map((item) => item.label);
  const yProb = cases.map((item) => item.probability);
  const metrics = binaryMetrics(yTrue, yProb, threshold, { seed: 1, bootstrapIterations: 200 });
  return {
    title: 'busight run <synthetic> & "test"',
    version: '0.1.0',
    created: '2024-01-02T03:04:05.000Z',
    settings: {
      backbone: 'mobilenet_v2',
      seed: 42,
      targetSensitivity: 0.95,
      splitPolicy: 'stratified 7:2:1, seed 42',
      splitCounts: { train: { benign: 112, malignant: 56 }, validation: { benign: 32, malignant: 16 }, test: { benign: 16, malignant: 8 } },
    },
    metrics: { validation: metrics, test: metrics },
    testRoc: rocCurve(yTrue, yProb),
    history: {
      epochs: Array.from({ length: 12 }, (_, i) => ({
        epoch: i + 1,
        trainLoss: 0.7 * Math.exp(-i / 4) + 0.1,
        valLoss: 0.65 * Math.exp(-i / 5) + 0.2 + (i > 8 ? 0.02 * (i - 8) : 0),
        valAuc: 0.95 - 0.3 * Math.exp(-i / 3),
        learningRate: i < 7 ? 1e-3 : 5e-4,
      })),
      selectedEpoch: 9,
    },
    timings: { totalSeconds: 42.5, featureSeconds: 30.25, trainSeconds: 8, customStepSeconds: 1 },
    cases,
  };
}

test('report contains every section', async () => {
  const html = renderRunReport(await syntheticInput({ withHeatmaps: true }));
  for (const id of ['settings', 'headline', 'confusion', 'roc', 'histogram', 'reliability', 'training', 'per-class', 'cases', 'heatmaps', 'timings', 'notice']) {
    assert.match(html, new RegExp(`id="${id}"`), `section ${id} is missing`);
  }
  assert.ok(html.includes(MESSAGES.en['notice.decisionSupport']));
  assert.ok(html.includes(MESSAGES['zh-CN']['notice.decisionSupport']));
  assert.equal((html.match(/<svg /g) ?? []).length, 5);
  assert.equal((html.match(/class="case /g) ?? []).length, 24);
  assert.match(html, /<html lang="en">/);
  // The unknown timing key is shown as given; known ones are translated.
  assert.ok(html.includes('customStepSeconds'));
  assert.ok(html.includes(MESSAGES['zh-CN']['timing.featureSeconds']));
});

test('report is self-contained', async () => {
  const html = renderRunReport(await syntheticInput({ withHeatmaps: true }));
  assert.doesNotMatch(html, /<link\b/i);
  assert.doesNotMatch(html, /<script[^>]+src=/i);
  assert.doesNotMatch(html, /\b(?:src|href)="(?!data:)/i);
  assert.doesNotMatch(html, /url\(/i);
  // The only absolute URL is the SVG namespace, which browsers never fetch.
  const urls = (html.match(/https?:\/\/[^\s"')]+/g) ?? []).filter((url) => url !== 'http://www.w3.org/2000/svg');
  assert.deepEqual(urls, []);
});

test('report escapes ids and title', async () => {
  const html = renderRunReport(await syntheticInput({ withHeatmaps: false }));
  assert.ok(!html.includes(NASTY_ID), 'the raw id must not appear');
  assert.ok(html.includes('benign/a&lt;b&gt;&amp;&quot;c&#39;.png'));
  assert.ok(!html.includes('<synthetic>'));
  assert.ok(html.includes('busight run &lt;synthetic&gt; &amp; &quot;test&quot;'));
});

test('report without optional parts', async () => {
  const full = await syntheticInput({ withHeatmaps: false });
  const input: RunReportInput = {
    title: full.title,
    version: full.version,
    created: full.created,
    settings: { backbone: 'mobilenet_v2', splitPolicy: 'all images of the folder', splitCounts: { test: { benign: 16, malignant: 8 } } },
    metrics: { test: full.metrics.test },
    testRoc: full.testRoc,
    cases: full.cases,
  };
  const html = renderRunReport(input);
  for (const id of ['training', 'heatmaps', 'timings']) {
    assert.doesNotMatch(html, new RegExp(`id="${id}"`), `section ${id} should be absent`);
  }
  for (const id of ['headline', 'confusion', 'roc', 'per-class', 'cases']) {
    assert.match(html, new RegExp(`id="${id}"`), `section ${id} is missing`);
  }
  assert.doesNotMatch(html, new RegExp(MESSAGES.en['settings.seed']));
  // Only the test column in the headline table.
  assert.doesNotMatch(html, new RegExp(`<th class="num"><span class="l-en" lang="en">${MESSAGES.en['split.validation']}`));

  const noCases = renderRunReport({ ...input, cases: [] });
  assert.doesNotMatch(noCases, /id="cases"/);
  assert.doesNotMatch(noCases, /id="histogram"/);
  assert.match(noCases, /id="roc"/);
});

test('report default language zh-CN', async () => {
  const input = await syntheticInput({ withHeatmaps: false });
  const html = renderRunReport({ ...input, defaultLanguage: 'zh-CN' });
  assert.match(html, /<html lang="zh-CN">/);
  assert.match(html, /data-set-language="zh-CN" lang="zh-CN" aria-pressed="true"/);
  assert.match(html, /localStorage\.setItem\("busight\.language"/);
});

test('report rejects invalid embedded image', async () => {
  const input = await syntheticInput({ withHeatmaps: false });
  const badMime = { ...input.cases[1], thumbnail: { mime: 'text/html' as 'image/png', base64: 'AAAA' } };
  assert.throws(() => renderRunReport({ ...input, cases: [badMime] }), (error: unknown) => {
    assert.ok(error instanceof DataError);
    assert.match(error.message, /case 1\.png/);
    return true;
  });
  const badBase64 = { ...input.cases[1], thumbnail: { mime: 'image/png' as const, base64: 'AA"><script>' } };
  assert.throws(() => renderRunReport({ ...input, cases: [badBase64] }), DataError);
  const badProbability = { ...input.cases[1], probability: 1.2 };
  assert.throws(() => renderRunReport({ ...input, cases: [badProbability] }), /probability in \[0, 1\], received 1.2/);
});

test('heatmap section without errors', async () => {
  const input = await syntheticInput({ withHeatmaps: true });
  const correctOnly = input.cases.filter((item) => item.label === item.predicted);
  const html = renderRunReport({ ...input, cases: correctOnly });
  assert.match(html, /id="heatmaps"/);
  assert.ok(html.includes(MESSAGES.en['heatmap.none']));
});

test('orderCases puts errors first', () => {
  const thumbnail = { mime: 'image/png' as const, base64: 'AAAA' };
  const item = (id: string, label: 0 | 1, probability: number): ReportCase => ({
    id,
    label,
    probability,
    predicted: probability >= 0.5 ? 1 : 0,
    thumbnail,
  });
  const ordered = orderCases([
    item('correct-benign', 0, 0.1),
    item('false-alarm-low', 0, 0.6),
    item('missed-high', 1, 0.4),
    item('correct-malignant', 1, 0.9),
    item('false-alarm-high', 0, 0.95),
    item('missed-low', 1, 0.05),
  ]);
  assert.deepEqual(
    ordered.map((entry) => entry.id),
    ['missed-low', 'missed-high', 'false-alarm-high', 'false-alarm-low', 'correct-malignant', 'correct-benign'],
  );
});

test('i18n has every key in every language', () => {
  const keys = Object.keys(MESSAGES.en) as MessageKey[];
  for (const language of LANGUAGES) {
    assert.deepEqual(Object.keys(MESSAGES[language]).sort(), [...keys].sort(), `${language} keys differ`);
    for (const key of keys) assert.ok(MESSAGES[language][key].length > 0, `${language} ${key} is empty`);
  }
});

/** Minimal stand-in for the browser objects the page scripts use. `search` is the URL query, such as `?lang=en`. */
function fakeBrowser(initialLanguage: string, stored: string | null, search = '') {
  const storage = new Map<string, string>();
  if (stored !== null) storage.set('busight.language', stored);
  const buttons = ['en', 'zh-CN'].map((language) => {
    const attributes = new Map<string, string>([['data-set-language', language]]);
    const listeners: Array<(event: { currentTarget: unknown }) => void> = [];
    const button = {
      attributes,
      getAttribute: (name: string) => attributes.get(name) ?? null,
      setAttribute: (name: string, value: string) => void attributes.set(name, value),
      addEventListener: (_type: string, listener: (event: { currentTarget: unknown }) => void) => void listeners.push(listener),
      click: () => listeners.forEach((listener) => listener({ currentTarget: button })),
    };
    return button;
  });
  const document = { title: '', documentElement: { lang: initialLanguage }, querySelectorAll: () => buttons };
  const localStorage = {
    getItem: (key: string) => storage.get(key) ?? null,
    setItem: (key: string, value: string) => void storage.set(key, value),
  };
  return { document, localStorage, location: { search }, buttons, storage };
}

function runPageScripts(html: string, browser: ReturnType<typeof fakeBrowser>): void {
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((match) => match[1]);
  assert.equal(scripts.length, 2);
  for (const script of scripts) {
    new Function('document', 'localStorage', 'location', script)(browser.document, browser.localStorage, browser.location);
  }
}

test('language switch stores choice', async () => {
  const html = renderRunReport(await syntheticInput({ withHeatmaps: false }));
  const browser = fakeBrowser('en', null);
  runPageScripts(html, browser);
  assert.equal(browser.document.documentElement.lang, 'en');
  assert.equal(browser.buttons[0].getAttribute('aria-pressed'), 'true');

  browser.buttons[1].click();
  assert.equal(browser.document.documentElement.lang, 'zh-CN');
  assert.equal(browser.storage.get('busight.language'), 'zh-CN');
  assert.equal(browser.buttons[1].getAttribute('aria-pressed'), 'true');
  assert.equal(browser.buttons[0].getAttribute('aria-pressed'), 'false');
});

test('language switch restores stored choice', async () => {
  const html = renderRunReport(await syntheticInput({ withHeatmaps: false }));
  const remembered = fakeBrowser('en', 'zh-CN');
  runPageScripts(html, remembered);
  assert.equal(remembered.document.documentElement.lang, 'zh-CN');
  // An unknown stored value is ignored.
  const invalid = fakeBrowser('en', 'fr');
  runPageScripts(html, invalid);
  assert.equal(invalid.document.documentElement.lang, 'en');
});

test('language query overrides stored choice', async () => {
  const html = renderRunReport(await syntheticInput({ withHeatmaps: false }));

  const chinese = fakeBrowser('en', 'en', '?lang=zh-CN');
  runPageScripts(html, chinese);
  assert.equal(chinese.document.documentElement.lang, 'zh-CN');
  assert.equal(chinese.buttons[1].getAttribute('aria-pressed'), 'true');
  assert.equal(chinese.storage.get('busight.language'), 'en', 'a language from the URL is not stored');

  const english = fakeBrowser('en', 'zh-CN', '?opacity=0.5&lang=en');
  runPageScripts(html, english);
  assert.equal(english.document.documentElement.lang, 'en');

  const zhDefault = renderRunReport({ ...(await syntheticInput({ withHeatmaps: false })), defaultLanguage: 'zh-CN' });
  const englishOverDefault = fakeBrowser('zh-CN', null, '?lang=en');
  runPageScripts(zhDefault, englishOverDefault);
  assert.equal(englishOverDefault.document.documentElement.lang, 'en');
});

test('invalid language query is ignored', async () => {
  const html = renderRunReport(await syntheticInput({ withHeatmaps: false }));
  for (const search of ['?lang=fr', '?lang=zh', '?lang=ZH-CN', '?lang=']) {
    const withStored = fakeBrowser('en', 'zh-CN', search);
    runPageScripts(html, withStored);
    assert.equal(withStored.document.documentElement.lang, 'zh-CN', `${search} should fall back to the stored choice`);

    const withoutStored = fakeBrowser('en', null, search);
    runPageScripts(html, withoutStored);
    assert.equal(withoutStored.document.documentElement.lang, 'en', `${search} should fall back to the default language`);
  }
});

test('run report translates known titles', async () => {
  const input = await syntheticInput({ withHeatmaps: false });
  for (const key of ['report.titleTraining', 'report.titleEvaluation'] as const) {
    const html = renderRunReport({ ...input, title: localize(key) });
    assert.ok(html.includes(`<title>${MESSAGES.en[key]}</title>`), `${key}: English <title>`);
    assert.ok(html.includes(`<span class="l-zh" lang="zh-CN">${MESSAGES['zh-CN'][key]}</span>`), `${key}: Chinese heading`);

    const browser = fakeBrowser('en', null);
    runPageScripts(html, browser);
    assert.equal(browser.document.title, MESSAGES.en[key]);
    browser.buttons[1].click();
    assert.equal(browser.document.title, MESSAGES['zh-CN'][key], `${key}: document title after switching`);
  }

  const chineseDefault = renderRunReport({ ...input, title: localize('report.titleTraining'), defaultLanguage: 'zh-CN' });
  assert.ok(chineseDefault.includes(`<title>${MESSAGES['zh-CN']['report.titleTraining']}</title>`));
});

test('unknown title stays as given', async () => {
  const input = await syntheticInput({ withHeatmaps: false });
  const html = renderRunReport({ ...input, title: 'run </script><b>' });
  assert.ok(!html.includes('run </script>'), 'the title must not end a script element');
  assert.ok(html.includes('<title>run &lt;/script&gt;&lt;b&gt;</title>'));

  const browser = fakeBrowser('en', null);
  runPageScripts(html, browser);
  browser.buttons[1].click();
  assert.equal(browser.document.title, 'run </script><b>');
});

test('split policy has translated label', async () => {
  const input = await syntheticInput({ withHeatmaps: false });
  const html = renderRunReport(input);
  assert.ok(html.includes(`<span class="l-zh" lang="zh-CN">${MESSAGES['zh-CN']['settings.splitPolicy']}</span></th><td lang="en">stratified 7:2:1, seed 42</td>`));
});

test('timings label every pipeline key', async () => {
  // Keys written by train (split, feature, train, bundle, total) and by the report writer (report).
  const pipelineKeys = ['splitSeconds', 'featureSeconds', 'trainSeconds', 'bundleSeconds', 'totalSeconds', 'reportSeconds'];
  const input = await syntheticInput({ withHeatmaps: false });
  const timings = Object.fromEntries(pipelineKeys.map((key, index) => [key, index + 1]));
  const html = renderRunReport({ ...input, timings: { ...timings, unknownStepSeconds: 2.5 } });
  const timingsSection = html.slice(html.indexOf('<section id="timings">'));

  for (const key of pipelineKeys) {
    assert.ok(isMessageKey(`timing.${key}`), `timing.${key} has no message`);
    assert.ok(!timingsSection.includes(key), `${key} is shown raw`);
    for (const language of LANGUAGES) {
      assert.ok(timingsSection.includes(MESSAGES[language][`timing.${key}` as MessageKey]), `${key} has no ${language} label`);
    }
  }
  assert.ok(timingsSection.includes('<th>unknownStepSeconds</th>'), 'an unknown key falls back to the raw key');
});

test('Chinese uses 灵敏度 and 特异度', () => {
  const english = MESSAGES.en;
  const chinese = MESSAGES['zh-CN'];
  for (const key of Object.keys(english) as MessageKey[]) {
    assert.ok(!chinese[key].includes('敏感度'), `${key} uses 敏感度`);
    if (/sensitivity/i.test(english[key])) assert.ok(chinese[key].includes('灵敏度'), `${key} does not use 灵敏度`);
    if (/specificity/i.test(english[key])) assert.ok(chinese[key].includes('特异度'), `${key} does not use 特异度`);
  }
});
