/**
 * The self-contained run report: one HTML page with inline CSS, inline SVG charts, images as
 * `data:` URIs and a small inline script for the language switch, so it opens offline and can be
 * mailed as one file.
 */
import { DataError } from '../errors.js';
import { perClassReport, reliabilityBins, type BinaryMetrics, type ClassScores } from '../evaluate/metrics.js';
import {
  BENIGN_COLOUR,
  MALIGNANT_COLOUR,
  PALETTE,
  confusionMatrixSvg,
  formatNumber,
  probabilityHistogramSvg,
  reliabilityDiagramSvg,
  rocCurveSvg,
  trainingCurvesSvg,
} from './charts.js';
import { escapeHtml } from './escape.js';
import {
  LANGUAGES,
  LANGUAGE_STORAGE_KEY,
  MESSAGES,
  isMessageKey,
  translate,
  type Language,
  type LocalizedText,
  type MessageKey,
} from './i18n.js';
import { EMBEDDED_IMAGE_TYPES, type EmbeddedImage, type ReportCase, type RunReportInput } from './report-input.js';

/** Renders one bilingual string as two spans; CSS shows the one matching `<html lang>`. */
export function t(key: MessageKey, params: Record<string, string | number> = {}): string {
  return localizedSpans({ en: translate('en', key, params), 'zh-CN': translate('zh-CN', key, params) });
}

/** Renders plain text in every language as two spans, like `t`. */
function localizedSpans(text: LocalizedText): string {
  return `<span class="l-en" lang="en">${escapeHtml(text.en)}</span><span class="l-zh" lang="zh-CN">${escapeHtml(text['zh-CN'])}</span>`;
}

/** Returns a report title in every language: a plain string is shown as given in each of them. */
function titleInEveryLanguage(title: string | LocalizedText): LocalizedText {
  return typeof title === 'string' ? { en: title, 'zh-CN': title } : title;
}

function className(label: 0 | 1): string {
  return t(label === 1 ? 'class.malignant' : 'class.benign');
}

function formatRate(value: number | null, decimals = 3): string {
  return value === null ? t('metric.notDefined') : formatNumber(value, decimals);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Returns a `data:` URI for an embedded image after checking its MIME type and base64 text. */
function dataUri(image: EmbeddedImage, caseId: string): string {
  if (!(EMBEDDED_IMAGE_TYPES as readonly string[]).includes(image.mime)) {
    throw new DataError(`report case ${JSON.stringify(caseId)}: expected an image type in ${EMBEDDED_IMAGE_TYPES.join(', ')}, received ${JSON.stringify(image.mime)}`);
  }
  if (image.base64.length === 0 || image.base64.length % 4 !== 0 || !BASE64.test(image.base64)) {
    throw new DataError(`report case ${JSON.stringify(caseId)}: the embedded image is not valid padded base64`);
  }
  return `data:${image.mime};base64,${image.base64}`;
}

function validateCase(item: ReportCase): void {
  if (item.label !== 0 && item.label !== 1) {
    throw new DataError(`report case ${JSON.stringify(item.id)}: expected label 0 or 1, received ${String(item.label)}`);
  }
  if (item.predicted !== 0 && item.predicted !== 1) {
    throw new DataError(`report case ${JSON.stringify(item.id)}: expected predicted label 0 or 1, received ${String(item.predicted)}`);
  }
  if (!(item.probability >= 0 && item.probability <= 1)) {
    throw new DataError(`report case ${JSON.stringify(item.id)}: expected a probability in [0, 1], received ${item.probability}`);
  }
}

type Outcome = 'missed' | 'falseAlarm' | 'correct';

function outcomeOf(item: ReportCase): Outcome {
  if (item.label === 1 && item.predicted === 0) return 'missed';
  if (item.label === 0 && item.predicted === 1) return 'falseAlarm';
  return 'correct';
}

/**
 * Orders cases for the grid: missed malignant cases by rising probability (the most confident
 * misses first), then false alarms by falling probability, then correct results by falling probability.
 */
export function orderCases(cases: readonly ReportCase[]): ReportCase[] {
  const rank: Record<Outcome, number> = { missed: 0, falseAlarm: 1, correct: 2 };
  return [...cases].sort((a, b) => {
    const outcomeA = outcomeOf(a);
    const outcomeB = outcomeOf(b);
    if (outcomeA !== outcomeB) return rank[outcomeA] - rank[outcomeB];
    const byProbability = outcomeA === 'missed' ? a.probability - b.probability : b.probability - a.probability;
    if (byProbability !== 0) return byProbability;
    // Ties are ordered by id, so the grid is the same on every run.
    if (a.id === b.id) return 0;
    return a.id < b.id ? -1 : 1;
  });
}

// ---------------------------------------------------------------------------------------------
// Sections

function settingsSection(input: RunReportInput): string {
  const { settings } = input;
  const rows: string[] = [
    `<tr><th>${t('settings.backbone')}</th><td>${escapeHtml(settings.backbone)}</td></tr>`,
  ];
  if (settings.seed !== undefined) rows.push(`<tr><th>${t('settings.seed')}</th><td>${escapeHtml(String(settings.seed))}</td></tr>`);
  if (settings.targetSensitivity !== undefined) {
    rows.push(`<tr><th>${t('settings.targetSensitivity')}</th><td>${formatNumber(settings.targetSensitivity, 2)}</td></tr>`);
  }
  rows.push(splitPolicyRow(settings.splitPolicy));
  rows.push(`<tr><th>${t('settings.version')}</th><td>${escapeHtml(input.version)}</td></tr>`);
  rows.push(`<tr><th>${t('settings.created')}</th><td>${escapeHtml(input.created)}</td></tr>`);

  const splitRows = Object.entries(settings.splitCounts).map(([split, counts]) => {
    const key = `split.${split}`;
    const name = isMessageKey(key) ? t(key) : escapeHtml(split);
    return `<tr><th>${name}</th><td class="num">${counts.benign}</td><td class="num">${counts.malignant}</td><td class="num">${counts.benign + counts.malignant}</td></tr>`;
  });
  return `<section id="settings"><h2>${t('section.settings')}</h2>
<div class="two-columns"><table class="key-value">${rows.join('')}</table>
<table class="counts"><caption>${t('settings.splitCounts')}</caption>
<thead><tr><th></th><th>${t('class.benign')}</th><th>${t('class.malignant')}</th><th>${t('split.total')}</th></tr></thead>
<tbody>${splitRows.join('')}</tbody></table></div></section>`;
}

/**
 * Renders the split policy under a translated label. The policy arrives as one English sentence
 * without structured parts, so it stays English in every language and is marked `lang="en"`.
 */
export function splitPolicyRow(policy: string): string {
  return `<tr><th>${t('settings.splitPolicy')}</th><td lang="en">${escapeHtml(policy)}</td></tr>`;
}

function headlineSection(input: RunReportInput): string {
  const columns: Array<[MessageKey, BinaryMetrics]> = [];
  if (input.metrics.validation) columns.push(['split.validation', input.metrics.validation]);
  columns.push(['split.test', input.metrics.test]);

  const row = (key: MessageKey, cell: (metrics: BinaryMetrics) => string, strong = false): string =>
    `<tr${strong ? ' class="strong"' : ''}><th>${t(key)}</th>${columns.map(([, metrics]) => `<td class="num">${cell(metrics)}</td>`).join('')}</tr>`;

  const rows = [
    row('metric.n', (m) => String(m.n)),
    row('metric.positivesNegatives', (m) => `${m.positives} / ${m.negatives}`),
    row('metric.auc', (m) => formatNumber(m.auc), true),
    row('metric.aucCi95', (m) => `${formatNumber(m.aucCi95[0])}–${formatNumber(m.aucCi95[1])}`),
    row('metric.sensitivity', (m) => formatNumber(m.sensitivity), true),
    row('metric.specificity', (m) => formatNumber(m.specificity), true),
    row('metric.accuracy', (m) => formatNumber(m.accuracy)),
    row('metric.ppv', (m) => formatRate(m.ppv)),
    row('metric.npv', (m) => formatRate(m.npv)),
    row('metric.f1', (m) => formatNumber(m.f1)),
    row('metric.threshold', (m) => formatNumber(m.threshold, 4)),
    row('metric.ece', (m) => formatNumber(m.ece)),
    row('metric.brier', (m) => formatNumber(m.brier)),
  ];
  return `<section id="headline"><h2>${t('section.headline')}</h2>
<table class="metrics"><thead><tr><th>${t('metric.column')}</th>${columns.map(([key]) => `<th class="num">${t(key)}</th>`).join('')}</tr></thead>
<tbody>${rows.join('')}</tbody></table></section>`;
}

function figure(id: string, title: MessageKey, svg: string): string {
  return `<figure id="${id}"><figcaption>${t(title)}</figcaption>${svg}</figure>`;
}

function chartsSection(input: RunReportInput): string {
  const test = input.metrics.test;
  const figures = [
    figure('confusion', 'section.confusion', confusionMatrixSvg(test.confusionMatrix)),
    figure(
      'roc',
      'section.roc',
      rocCurveSvg(input.testRoc, {
        auc: test.auc,
        aucCi95: test.aucCi95,
        operatingPoint: { fpr: 1 - test.specificity, tpr: test.sensitivity, threshold: test.threshold },
      }),
    ),
  ];
  if (input.cases.length > 0) {
    const yTrue = input.cases.map((item) => item.label);
    const yProb = input.cases.map((item) => item.probability);
    figures.push(figure('histogram', 'section.histogram', probabilityHistogramSvg(yTrue, yProb, test.threshold)));
    figures.push(figure('reliability', 'section.reliability', reliabilityDiagramSvg(reliabilityBins(yTrue, yProb, 10), test.ece)));
  }
  return `<section id="charts" class="chart-grid">${figures.join('')}</section>`;
}

function trainingSection(input: RunReportInput): string {
  if (!input.history || input.history.epochs.length === 0) return '';
  return `<section id="training"><h2>${t('section.training')}</h2>${trainingCurvesSvg(input.history.epochs, input.history.selectedEpoch, input.history.steps)}</section>`;
}

function perClassSection(input: RunReportInput): string {
  if (input.cases.length === 0) return '';
  const report = perClassReport(
    input.cases.map((item) => item.label),
    input.cases.map((item) => item.probability),
    input.metrics.test.threshold,
  );
  const row = (name: string, scores: ClassScores): string =>
    `<tr><th>${name}</th><td class="num">${formatRate(scores.precision)}</td><td class="num">${formatRate(scores.recall)}</td>` +
    `<td class="num">${formatRate(scores.f1)}</td><td class="num">${scores.support}</td></tr>`;
  return `<section id="per-class"><h2>${t('section.perClass')}</h2>
<table class="metrics"><thead><tr><th>${t('perClass.class')}</th><th class="num">${t('perClass.precision')}</th><th class="num">${t('perClass.recall')}</th><th class="num">${t('perClass.f1')}</th><th class="num">${t('perClass.support')}</th></tr></thead>
<tbody>${row(t('class.benign'), report.benign)}${row(t('class.malignant'), report.malignant)}
<tr class="separator"><th>${t('perClass.accuracy')}</th><td></td><td></td><td class="num">${formatNumber(report.accuracy)}</td><td class="num">${report.macroAvg.support}</td></tr>
${row(t('perClass.macroAvg'), report.macroAvg)}${row(t('perClass.weightedAvg'), report.weightedAvg)}</tbody></table></section>`;
}

const OUTCOME_KEYS: Record<Outcome, MessageKey> = {
  missed: 'case.missedMalignant',
  falseAlarm: 'case.falseAlarm',
  correct: 'case.correct',
};

function caseCard(item: ReportCase): string {
  const outcome = outcomeOf(item);
  const id = escapeHtml(item.id);
  return `<figure class="case ${outcome}" data-outcome="${outcome}">
<img src="${dataUri(item.thumbnail, item.id)}" alt="${id}" loading="lazy">
<figcaption><span class="badge">${t(OUTCOME_KEYS[outcome])}</span>
<span class="case-id">${id}</span>
<span class="field"><span>${t('case.true')}</span><b>${className(item.label)}</b></span>
<span class="field"><span>${t('case.predicted')}</span><b>${className(item.predicted)}</b></span>
<span class="field"><span>${t('case.probabilityShort')}</span><b>${formatNumber(item.probability)}</b></span></figcaption></figure>`;
}

function casesSection(ordered: ReportCase[]): string {
  if (ordered.length === 0) return '';
  return `<section id="cases"><h2>${t('section.cases')} <small>(${t('case.count', { count: ordered.length })})</small></h2>
<p class="hint">${t('case.order')}</p>
<div class="case-grid">${ordered.map(caseCard).join('\n')}</div></section>`;
}

function heatmapSection(ordered: ReportCase[]): string {
  if (!ordered.some((item) => item.heatmap !== undefined)) return '';
  const errors = ordered.filter((item) => outcomeOf(item) !== 'correct' && item.heatmap !== undefined);
  const cards = errors.map((item) => {
    const outcome = outcomeOf(item);
    const id = escapeHtml(item.id);
    return `<figure class="heatmap-pair ${outcome}">
<div class="pair"><div><img src="${dataUri(item.thumbnail, item.id)}" alt="${id}"><span>${t('heatmap.image')}</span></div>
<div><img src="${dataUri(item.heatmap as EmbeddedImage, item.id)}" alt="${id}"><span>${t('heatmap.overlay')}</span></div></div>
<figcaption><span class="badge">${t(OUTCOME_KEYS[outcome])}</span> <span class="case-id">${id}</span>
<span>${t('case.true')}: <b>${className(item.label)}</b> · ${t('case.predicted')}: <b>${className(item.predicted)}</b> · ${t('case.probability')}: <b>${formatNumber(item.probability)}</b></span></figcaption></figure>`;
  });
  const body = cards.length > 0 ? `<div class="heatmap-grid">${cards.join('\n')}</div>` : `<p>${t('heatmap.none')}</p>`;
  return `<section id="heatmaps"><h2>${t('section.heatmaps')}</h2>${body}</section>`;
}

function timingsSection(input: RunReportInput): string {
  if (!input.timings || Object.keys(input.timings).length === 0) return '';
  // Show the total last, whatever the key order of the input.
  const entries = Object.entries(input.timings).sort(([a], [b]) => Number(a === 'totalSeconds') - Number(b === 'totalSeconds'));
  const rows = entries.map(([key, seconds]) => {
    const messageKey = `timing.${key}`;
    const name = isMessageKey(messageKey) ? t(messageKey) : escapeHtml(key);
    const strong = key === 'totalSeconds' ? ' class="strong"' : '';
    return `<tr${strong}><th>${name}</th><td class="num">${Number.isFinite(seconds) ? seconds.toFixed(1) : '–'}</td></tr>`;
  });
  return `<section id="timings"><h2>${t('section.timings')}</h2>
<table class="metrics narrow"><thead><tr><th>${t('timing.stage')}</th><th class="num">${t('timing.seconds')}</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

// ---------------------------------------------------------------------------------------------
// Page

const STYLE = `
:root { --ink: ${PALETTE.ink}; --muted: #5b5b5b; --line: #d9d9d9; --benign: ${BENIGN_COLOUR}; --malignant: ${MALIGNANT_COLOUR}; }
* { box-sizing: border-box; }
html[lang="en"] .l-zh, html[lang="zh-CN"] .l-en { display: none !important; }
body { margin: 0 auto; max-width: 1120px; padding: 24px; color: var(--ink); background: #ffffff;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; }
header { display: flex; justify-content: space-between; align-items: flex-start; gap: 16px; border-bottom: 2px solid var(--ink); padding-bottom: 8px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 28px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h2 small { font-weight: normal; color: var(--muted); font-size: 14px; }
.meta { color: var(--muted); margin: 0; }
.language-switch { display: flex; gap: 4px; align-items: center; white-space: nowrap; }
.language-switch button { font: inherit; padding: 4px 12px; border: 1px solid var(--ink); background: #ffffff; color: var(--ink); border-radius: 4px; cursor: pointer; }
.language-switch button[aria-pressed="true"] { background: var(--ink); color: #ffffff; }
.notice { border-left: 5px solid ${PALETTE.orange}; background: #fff6e5; padding: 10px 14px; margin: 16px 0; font-weight: 600; }
table { border-collapse: collapse; }
th, td { padding: 5px 12px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid var(--ink); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.strong td, tr.strong th { font-weight: 700; }
tr.separator th, tr.separator td { border-top: 2px solid var(--line); }
table.metrics { min-width: 420px; }
table.narrow { min-width: 280px; }
caption { text-align: left; font-weight: 600; padding-bottom: 4px; }
#cross-validation table.key-value { margin-bottom: 16px; }
.two-columns { display: flex; flex-wrap: wrap; gap: 32px; align-items: flex-start; }
.chart-grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 24px; margin-top: 24px; }
figure { margin: 0; }
figcaption { font-weight: 600; margin-bottom: 6px; }
svg.chart { width: 100%; height: auto; display: block; }
.chart-grid svg.chart { max-width: 520px; }
#confusion svg.chart { max-width: 420px; }
.hint { color: var(--muted); }
.case-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(172px, 1fr)); gap: 12px; }
.case { border: 3px solid var(--benign); border-radius: 6px; padding: 6px; break-inside: avoid; page-break-inside: avoid; }
.case.missed, .case.falseAlarm, .heatmap-pair.missed, .heatmap-pair.falseAlarm { border: 4px dashed var(--malignant); }
.case img { width: 100%; height: auto; display: block; border-radius: 3px; background: #000000; }
.case figcaption, .heatmap-pair figcaption { font-weight: normal; font-size: 12.5px; display: flex; flex-direction: column; margin: 6px 0 0; }
.case-id { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 11.5px; color: var(--muted); overflow-wrap: anywhere; }
.badge { font-weight: 700; }
.field { display: flex; justify-content: space-between; gap: 6px; }
.case.missed .badge, .case.falseAlarm .badge, .heatmap-pair .badge { color: #a33f00; }
.case.correct .badge { color: var(--benign); }
.heatmap-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 14px; }
.heatmap-pair { border-radius: 6px; padding: 8px; break-inside: avoid; page-break-inside: avoid; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 6px; }
.pair img { width: 100%; height: auto; display: block; }
.pair span { font-size: 12px; color: var(--muted); }
footer { margin-top: 32px; border-top: 2px solid var(--ink); }
@page { size: A4; margin: 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .language-switch { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; margin-top: 16px; }
  figure, table, svg { break-inside: avoid; page-break-inside: avoid; }
  .two-columns { flex-wrap: nowrap; gap: 16px; }
  .chart-grid { gap: 10px; margin-top: 12px; }
  .chart-grid svg.chart { max-width: 330px; }
  #training svg.chart { max-width: 640px; }
  .case-grid { grid-template-columns: repeat(5, 1fr); gap: 6px; }
  .case { padding: 3px; }
  .case figcaption { font-size: 8pt; }
  .heatmap-grid { grid-template-columns: repeat(2, 1fr); }
}
`;

/**
 * Runs in the page head before the body renders, so the chosen language shows without a flash.
 * A valid `?lang=` (en or zh-CN) wins over the stored choice and, as in the web app, is not stored.
 */
const HEAD_SCRIPT = `(function () {
  var languages = ${JSON.stringify(LANGUAGES)};
  var requested = new URLSearchParams(location.search).get('lang');
  if (languages.indexOf(requested) >= 0) {
    document.documentElement.lang = requested;
    return;
  }
  try {
    var stored = localStorage.getItem(${JSON.stringify(LANGUAGE_STORAGE_KEY)});
    if (languages.indexOf(stored) >= 0) document.documentElement.lang = stored;
  } catch (error) { /* localStorage is blocked for some file:// pages; keep the default language. */ }
})();`;

/** Returns the script that wires the language buttons and sets the document title in the shown language. */
function switchScript(title: LocalizedText): string {
  // Escaping `<` keeps a title containing `</script>` from ending the script element.
  const titles = JSON.stringify(title).replace(/</g, '\\u003c');
  return `(function () {
  var titles = ${titles};
  var buttons = document.querySelectorAll('[data-set-language]');
  function show(language) {
    document.documentElement.lang = language;
    document.title = titles[language];
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute('aria-pressed', String(buttons[i].getAttribute('data-set-language') === language));
    }
  }
  for (var i = 0; i < buttons.length; i++) {
    buttons[i].addEventListener('click', function (event) {
      var language = event.currentTarget.getAttribute('data-set-language');
      show(language);
      try { localStorage.setItem(${JSON.stringify(LANGUAGE_STORAGE_KEY)}, language); } catch (error) { /* not remembered when storage is blocked */ }
    });
  }
  show(document.documentElement.lang);
})();`;
}

/**
 * Renders the run report as one self-contained HTML page (inline CSS, inline SVG, images as
 * `data:` URIs, no network access). Every string from the input is HTML-escaped.
 * Throws DataError naming the case when a case has an invalid label, probability or embedded image.
 */
export function renderRunReport(input: RunReportInput): string {
  input.cases.forEach(validateCase);
  const ordered = orderCases(input.cases);
  return renderPage({
    title: titleInEveryLanguage(input.title),
    version: input.version,
    created: input.created,
    language: input.defaultLanguage ?? 'en',
    sections: [
      settingsSection(input),
      headlineSection(input),
      chartsSection(input),
      trainingSection(input),
      perClassSection(input),
      casesSection(ordered),
      heatmapSection(ordered),
      timingsSection(input),
    ],
  });
}

/**
 * Wraps rendered sections in the report's page: header with the language switch, the
 * decision-support notice above and below, inline style and scripts. Shared by all HTML reports.
 */
export function renderPage(page: { title: LocalizedText; version: string; created: string; language: Language; sections: string[] }): string {
  const switchButtons = LANGUAGES.map(
    (code) => `<button type="button" data-set-language="${code}" lang="${code}" aria-pressed="${code === page.language}">${escapeHtml(MESSAGES[code]['language.name'])}</button>`,
  ).join('');

  return `<!DOCTYPE html>
<html lang="${page.language}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="busight ${escapeHtml(page.version)}">
<title>${escapeHtml(page.title[page.language])}</title>
<script>${HEAD_SCRIPT}</script>
<style>${STYLE}</style>
</head>
<body>
<header><div><h1>${localizedSpans(page.title)}</h1>
<p class="meta">${t('report.generatedBy', { version: page.version, created: page.created })}</p></div>
<div class="language-switch" role="group" aria-label="${escapeHtml(MESSAGES.en['language.switch'])} / ${escapeHtml(MESSAGES['zh-CN']['language.switch'])}">${switchButtons}</div></header>
<p class="notice" id="notice">${t('notice.decisionSupport')}</p>
<main>
${page.sections.join('\n')}
</main>
<footer><p class="notice">${t('notice.decisionSupport')}</p></footer>
<script>${switchScript(page.title)}</script>
</body>
</html>
`;
}
