import { DEFAULT_WEB_LANGUAGE, translate, type MessageKey } from './i18n.js';
import { ACCEPTED_UPLOAD_TYPES } from './options.js';

const ACCEPT_ATTRIBUTE = ACCEPTED_UPLOAD_TYPES.flatMap((type) => [...type.extensions, type.mediaType]).join(',');

/**
 * HTML shells of the two pages. Text nodes carry `data-i18n` keys and start in the default
 * language; the page's script replaces them when the stored language is another one.
 * No inline script or style, so the Content-Security-Policy can forbid both.
 */

function text(key: MessageKey): string {
  return `data-i18n="${key}">${escapeHtml(translate(DEFAULT_WEB_LANGUAGE, key))}`;
}

function head(titleKey: MessageKey, script: string): string {
  return `<!doctype html>
<html lang="${DEFAULT_WEB_LANGUAGE}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title ${text(titleKey)}</title>
<link rel="stylesheet" href="/assets/style.css">
<script type="module" src="/assets/client/${script}"></script>
</head>`;
}

const LANGUAGE_BUTTON = `<button type="button" id="language-switch" class="language-switch" data-i18n-aria-label="app.switchLanguageLabel" aria-label="${escapeHtml(translate(DEFAULT_WEB_LANGUAGE, 'app.switchLanguageLabel'))}" ${text('app.switchLanguage')}</button>`;

/** The main page: upload, results and the case list. */
export const INDEX_HTML = `${head('app.title', 'app.js')}
<body>
<header class="app-header">
  <div>
    <h1 ${text('app.title')}</h1>
    <p class="subtitle" ${text('app.subtitle')}</p>
  </div>
  <div class="header-side">
    ${LANGUAGE_BUTTON}
    <p id="model-info" class="model-info"></p>
  </div>
</header>
<main>
  <section class="panel" aria-labelledby="upload-heading">
    <h2 id="upload-heading" ${text('upload.heading')}</h2>
    <div id="drop-zone" class="drop-zone">
      <p><span ${text('upload.drop')}</span>
        <label class="choose-button"><span ${text('upload.choose')}</span>
          <input id="file-input" type="file" multiple accept="${ACCEPT_ATTRIBUTE}">
        </label>
      </p>
      <p id="accepted-types" class="hint"></p>
      <p class="hint" ${text('upload.privacy')}</p>
    </div>
    <p class="notice" ${text('notice.decisionSupport')}</p>
    <div id="results" class="results" aria-live="polite"></div>
  </section>
  <section class="panel" aria-labelledby="cases-heading">
    <div class="panel-title">
      <h2 id="cases-heading" ${text('cases.heading')}</h2>
      <a id="export-csv" class="button secondary" href="/api/v1/predictions.csv" download ${text('cases.exportCsv')}</a>
    </div>
    <p id="cases-count" class="hint"></p>
    <table id="cases-table" class="cases">
      <thead><tr>
        <th ${text('result.caseNumber')}</th>
        <th ${text('result.date')}</th>
        <th ${text('result.probability')}</th>
        <th ${text('cases.result')}</th>
        <th ${text('result.modelVersion')}</th>
        <th ${text('cases.report')}</th>
      </tr></thead>
      <tbody></tbody>
    </table>
    <p id="cases-empty" class="hint" hidden ${text('cases.empty')}</p>
    <button type="button" id="cases-more" class="button secondary" hidden ${text('cases.loadMore')}</button>
  </section>
</main>
</body>
</html>
`;

/** The printable report of one case; the script fills it from the API. */
export const REPORT_HTML = `${head('report.title', 'report.js')}
<body class="report-page">
<nav class="report-toolbar no-print">
  <a href="/" class="button secondary" ${text('report.back')}</a>
  <button type="button" id="print-button" class="button" ${text('report.print')}</button>
  ${LANGUAGE_BUTTON}
</nav>
<article id="report" class="report" hidden>
  <header class="report-header">
    <h1 ${text('report.title')}</h1>
    <dl class="report-meta">
      <div><dt ${text('result.caseNumber')}</dt><dd id="report-case-number"></dd></div>
      <div><dt ${text('result.date')}</dt><dd id="report-date"></dd></div>
    </dl>
  </header>
  <section class="report-images">
    <figure>
      <img id="report-image" alt="">
      <figcaption ${text('report.imageWithout')}</figcaption>
    </figure>
    <figure>
      <div class="overlay-figure">
        <img id="report-image-under" alt="">
        <img id="report-heatmap" class="heatmap" alt="">
      </div>
      <figcaption ${text('report.imageWith')}</figcaption>
    </figure>
  </section>
  <p id="report-legend" class="legend"><span class="legend-bar"></span><span ${text('result.heatmapLegend')}</span></p>
  <p id="report-heatmap-empty" class="hint" hidden ${text('result.heatmapEmpty')}</p>
  <p id="report-atypical" class="notice" hidden ${text('result.atypical')}</p>
  <section class="report-result">
    <p id="report-verdict" class="verdict"></p>
    <dl class="report-facts">
      <div><dt ${text('result.probability')}</dt><dd id="report-probability"></dd></div>
      <div><dt ${text('result.threshold')}</dt><dd id="report-threshold"></dd></div>
      <div><dt ${text('result.model')}</dt><dd id="report-model"></dd></div>
      <div><dt ${text('result.modelVersion')}</dt><dd id="report-model-version"></dd></div>
    </dl>
  </section>
  <p class="notice" ${text('notice.decisionSupport')}</p>
  <p class="signature" ${text('report.signature')}</p>
  <footer id="report-footer" class="report-footer"></footer>
</article>
<p id="report-error" class="error" hidden></p>
</body>
</html>
`;

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
