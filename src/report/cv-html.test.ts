import { test } from 'node:test';
import assert from 'node:assert/strict';

import { binaryMetrics, rocCurve } from '../evaluate/metrics.js';
import { renderCrossValidationReport, type CrossValidationReportInput } from './cv-html.js';
import { MESSAGES } from './i18n.js';

const POLICY = '3-fold cross-validation, stratified, image by image, seed 42';

/** Builds a three-fold summary from 12 fixed predictions. Every fold reuses the same metrics. */
function crossValidationInput(): CrossValidationReportInput {
  const yTrue = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
  const yProb = [0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.4, 0.55, 0.7, 0.8, 0.9, 0.95];
  const metrics = binaryMetrics(yTrue, yProb, 0.5, { seed: 1, bootstrapIterations: 50 });
  const summary = { auc: metrics.auc, sensitivity: metrics.sensitivity, specificity: metrics.specificity, ece: metrics.ece };
  return {
    version: '0.1.0',
    created: '2024-01-02T03:04:05.000Z',
    splitPolicy: POLICY,
    folds: [1, 2, 3].map((fold) => ({ fold, test: metrics, threshold: 0.5 })),
    mean: summary,
    sd: { auc: 0, sensitivity: 0, specificity: 0, ece: 0 },
    pooled: { ...metrics, targetSensitivity: 0.95, rocSpecificityAtTarget: 0.6667 },
    pooledRoc: rocCurve(yTrue, yProb),
  };
}

test('cv report translates title', () => {
  const html = renderCrossValidationReport(crossValidationInput());
  assert.ok(html.includes(`<title>${MESSAGES.en['cv.title']}</title>`));
  assert.ok(html.includes(`<span class="l-en" lang="en">${MESSAGES.en['cv.title']}</span>`), 'English heading');
  assert.ok(html.includes(`<span class="l-zh" lang="zh-CN">${MESSAGES['zh-CN']['cv.title']}</span>`), 'Chinese heading');
  assert.ok(html.includes(`var titles = ${JSON.stringify({ en: MESSAGES.en['cv.title'], 'zh-CN': MESSAGES['zh-CN']['cv.title'] })};`), 'titles for the language switch');

  const chinese = renderCrossValidationReport({ ...crossValidationInput(), defaultLanguage: 'zh-CN' });
  assert.ok(chinese.includes(`<title>${MESSAGES['zh-CN']['cv.title']}</title>`));
});

test('cv report labels split policy', () => {
  const html = renderCrossValidationReport(crossValidationInput());
  const label = `<span class="l-en" lang="en">${MESSAGES.en['settings.splitPolicy']}</span><span class="l-zh" lang="zh-CN">${MESSAGES['zh-CN']['settings.splitPolicy']}</span>`;
  assert.ok(html.includes(`<tr><th>${label}</th><td lang="en">${POLICY}</td></tr>`));
  assert.ok(!html.includes(`<p>${POLICY}</p>`), 'the policy is no longer an unlabelled paragraph');
});

test('cv report uses 灵敏度', () => {
  const html = renderCrossValidationReport(crossValidationInput());
  assert.ok(!html.includes('敏感度'));
  assert.ok(html.includes(`<span class="l-zh" lang="zh-CN">${MESSAGES['zh-CN']['metric.sensitivity']}</span>`));
  assert.match(MESSAGES['zh-CN']['cv.pooledNote'], /灵敏度和特异度/);
});

test('cv report shows fold thresholds and the pooled operating point', () => {
  const html = renderCrossValidationReport(crossValidationInput());
  assert.match(html, /<section id="pooled">/);
  assert.equal((html.match(/<td class="num">0\.500<\/td>/g) ?? []).length, 3, 'one threshold cell per fold');
  assert.ok(html.includes(MESSAGES.en['cv.perFold']), 'the pooled row names its thresholds');
  assert.ok(html.includes('0.667'), 'the ROC specificity at the target');
  assert.ok(html.includes(MESSAGES['zh-CN']['section.pooledAtThresholds']));
});
