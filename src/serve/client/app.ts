/**
 * Script of the main page: uploads the chosen or dropped images one after another, shows each
 * result with its heat map overlay, and lists earlier cases. Runs in the browser only.
 */
import {
  activeWebLanguage,
  element,
  errorText,
  formatCaseNumber,
  formatDateTime,
  formatPercent,
  formatProbabilityAndThreshold,
  onLanguageChange,
  setUpLanguageSwitch,
  t,
  verdictClass,
  verdictText,
  type PredictionView,
} from './common.js';

interface HealthView {
  model: { name: string; version: string; threshold: number };
  limits: { maxUploadBytes: number; maxPixels: number; acceptedTypes: string[] };
}

type UploadState =
  | { kind: 'waiting' }
  | { kind: 'uploading'; percent: number }
  | { kind: 'analysing' }
  | { kind: 'done'; prediction: PredictionView }
  | { kind: 'failed'; code?: string; message?: string };

interface UploadCard {
  fileName: string;
  state: UploadState;
  /** Heat map opacity in [0, 1]. */
  opacity: number;
  root: HTMLElement;
}

const CASES_PAGE_SIZE = 20;
const DEFAULT_HEATMAP_OPACITY = 0.5;

const cards: UploadCard[] = [];
/**
 * Uploads run one after another, so a large selection waits in the browser instead of filling
 * the server's queue.
 */
let uploadChain: Promise<void> = Promise.resolve();
let health: HealthView | undefined;
let healthFailed = false;
let caseItems: PredictionView[] = [];
let caseTotal = 0;

// Start

setUpLanguageSwitch();
// A report opens in a new tab, which may not see a language given by ?lang= on this page, so every
// report link carries the active language when it is followed.
for (const type of ['click', 'auxclick'] as const) document.addEventListener(type, addLanguageToReportLink, true);
onLanguageChange(() => {
  renderHeader();
  for (const card of cards) renderCard(card);
  renderCases();
});
setUpUpload();
document.getElementById('cases-more')?.addEventListener('click', () => void loadCases(caseItems.length));
void loadHealth();
void loadCases(0);

// Header and limits

async function loadHealth(): Promise<void> {
  try {
    const response = await fetch('/api/v1/health');
    if (!response.ok) throw new Error(`health check returned HTTP ${response.status}`);
    health = (await response.json()) as HealthView;
    healthFailed = false;
  } catch {
    healthFailed = true;
  }
  renderHeader();
}

function renderHeader(): void {
  const modelInfo = document.getElementById('model-info');
  const accepted = document.getElementById('accepted-types');
  if (!modelInfo || !accepted) return;
  if (healthFailed) {
    modelInfo.textContent = t('app.modelUnavailable');
    modelInfo.classList.add('error');
    return;
  }
  if (!health) return;
  modelInfo.classList.remove('error');
  modelInfo.textContent = t('app.modelInfo', {
    name: health.model.name,
    version: health.model.version,
    threshold: health.model.threshold.toFixed(3),
  });
  accepted.textContent = t('upload.accepted', {
    types: health.limits.acceptedTypes.join(', '),
    maxMb: Math.floor(health.limits.maxUploadBytes / (1024 * 1024)),
    maxMegapixels: Math.floor(health.limits.maxPixels / 1_000_000),
  });
}

// Upload

function setUpUpload(): void {
  const dropZone = document.getElementById('drop-zone')!;
  const input = document.getElementById('file-input') as HTMLInputElement;

  input.addEventListener('change', () => {
    if (input.files) enqueueFiles(Array.from(input.files));
    input.value = '';
  });
  // Drops are taken anywhere on the page, because a file dropped beside the zone would otherwise
  // make the browser leave the page to display it.
  document.addEventListener('dragover', (event) => {
    event.preventDefault();
    dropZone.classList.add('dragging');
  });
  document.addEventListener('dragleave', (event) => {
    if (event.relatedTarget === null) dropZone.classList.remove('dragging');
  });
  document.addEventListener('drop', (event) => {
    event.preventDefault();
    dropZone.classList.remove('dragging');
    if (event.dataTransfer?.files) enqueueFiles(Array.from(event.dataTransfer.files));
  });
}

function enqueueFiles(files: File[]): void {
  const results = document.getElementById('results')!;
  for (const file of files) {
    const card: UploadCard = { fileName: file.name, state: { kind: 'waiting' }, opacity: DEFAULT_HEATMAP_OPACITY, root: element('article', 'result-card') };
    results.prepend(card.root);
    cards.push(card);
    renderCard(card);
    uploadChain = uploadChain.then(() => uploadAndRender(file, card));
  }
}

/** Uploads one file and shows its result; called through `uploadChain`, so files go one at a time. */
async function uploadAndRender(file: File, card: UploadCard): Promise<void> {
  card.state = await uploadFile(file, (state) => {
    card.state = state;
    renderCard(card);
  });
  renderCard(card);
  if (card.state.kind === 'done') void loadCases(0);
}

/** Sends one file as multipart/form-data with upload progress; resolves with the final state. */
function uploadFile(file: File, onProgress: (state: UploadState) => void): Promise<UploadState> {
  return new Promise((resolve) => {
    const request = new XMLHttpRequest();
    request.open('POST', '/api/v1/predictions');
    request.responseType = 'json';
    request.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress({ kind: 'uploading', percent: Math.round((100 * event.loaded) / event.total) });
    });
    request.upload.addEventListener('load', () => onProgress({ kind: 'analysing' }));
    request.addEventListener('load', () => {
      const body = request.response as (PredictionView & { error?: { code: string; message: string } }) | null;
      if (request.status === 201 && body) {
        resolve({ kind: 'done', prediction: body });
      } else {
        resolve({ kind: 'failed', code: body?.error?.code, message: body?.error?.message ?? `HTTP ${request.status}` });
      }
    });
    request.addEventListener('error', () => resolve({ kind: 'failed', code: 'network' }));
    const form = new FormData();
    form.append('image', file);
    onProgress({ kind: 'uploading', percent: 0 });
    request.send(form);
  });
}

// Result cards

function renderCard(card: UploadCard): void {
  const root = card.root;
  root.replaceChildren();
  root.append(element('p', 'file-name', card.fileName));
  const state = card.state;

  if (state.kind === 'waiting' || state.kind === 'uploading' || state.kind === 'analysing') {
    const status = state.kind === 'uploading' ? t('upload.uploading', { percent: state.percent }) : state.kind === 'analysing' ? t('upload.analysing') : '…';
    root.append(element('p', 'hint status', status));
    const bar = element('div', state.kind === 'analysing' ? 'progress indeterminate' : 'progress');
    bar.setAttribute('role', 'progressbar');
    const fill = element('span');
    if (state.kind === 'uploading') {
      fill.style.width = `${state.percent}%`;
      bar.setAttribute('aria-valuenow', String(state.percent));
    }
    bar.append(fill);
    root.append(bar);
    return;
  }
  if (state.kind === 'failed') {
    const message = element('p', 'error status', t('upload.failed', { message: errorText(state.code, state.message) }));
    if (state.message) message.title = state.message;
    root.append(message);
    return;
  }
  if (state.prediction.atypical) {
    // Above the result, in the warning style, so it is read before the probability.
    const warning = element('p', 'notice atypical', t('result.atypical'));
    warning.setAttribute('role', 'alert');
    root.append(warning);
  }
  root.append(renderPrediction(card, state.prediction));
}

function renderPrediction(card: UploadCard, prediction: PredictionView): HTMLElement {
  const body = element('div', 'result-body');
  const caseNumber = formatCaseNumber(prediction.caseNumber);

  // Image with heat map overlay and opacity slider
  const imageColumn = element('div');
  const figure = element('div', 'overlay-figure');
  const image = element('img', 'case-image');
  image.src = prediction.imageUrl;
  image.alt = t('result.imageAlt', { caseNumber });
  figure.append(image);
  imageColumn.append(figure);
  if ((prediction.sourceFrames ?? 1) > 1) {
    imageColumn.append(element('p', 'hint first-frame', t('result.firstFrameOnly', { frames: prediction.sourceFrames! })));
  }
  if (prediction.contentBox) {
    imageColumn.append(element('p', 'hint padding-cut', t('result.paddingCut')));
  }
  if (prediction.heatmapUrl && prediction.heatmapEmpty) {
    // An all-zero map renders fully transparent, so a message replaces the empty overlay.
    imageColumn.append(element('p', 'hint heatmap-empty', t('result.heatmapEmpty')));
  } else if (prediction.heatmapUrl) {
    const heatmap = element('img', 'heatmap');
    heatmap.src = prediction.heatmapUrl;
    heatmap.alt = t('result.heatmapAlt', { caseNumber });
    heatmap.style.opacity = String(card.opacity);
    figure.append(heatmap);

    const control = element('label', 'opacity-control');
    control.append(element('span', undefined, t('result.heatmapOpacity')));
    const slider = element('input', 'opacity-slider');
    slider.type = 'range';
    slider.min = '0';
    slider.max = '100';
    slider.value = String(Math.round(card.opacity * 100));
    const value = element('output', undefined, `${slider.value}%`);
    slider.addEventListener('input', () => {
      card.opacity = Number(slider.value) / 100;
      heatmap.style.opacity = String(card.opacity);
      value.textContent = `${slider.value}%`;
      reportLink.href = reportHref(prediction, card.opacity);
    });
    control.append(slider, value);
    imageColumn.append(control);
    const legend = element('p', 'legend');
    legend.append(element('span', 'legend-bar'), element('span', undefined, t('result.heatmapLegend')));
    imageColumn.append(legend);
  } else {
    imageColumn.append(element('p', 'hint', t('result.heatmapMissing')));
  }

  // Verdict, probability and facts
  const facts = element('div');
  facts.append(element('p', `verdict ${verdictClass(prediction.label)}`, verdictText(prediction.label)));
  facts.append(element('p', 'hint probability-label', t('result.probability')));
  const shown = formatProbabilityAndThreshold(prediction.probability, prediction.threshold);
  facts.append(element('p', 'probability-value', shown.probability));
  facts.append(element('p', 'hint', t('result.thresholdRule', { threshold: shown.threshold })));
  const list = element('dl', 'facts');
  const addFact = (label: string, value: string) => list.append(element('dt', undefined, label), element('dd', undefined, value));
  addFact(t('result.caseNumber'), caseNumber);
  addFact(t('result.date'), formatDateTime(prediction.createdAt));
  addFact(t('result.model'), prediction.modelName);
  addFact(t('result.modelVersion'), prediction.modelVersion);
  facts.append(list);
  const reportLink = element('a', 'button report-link', t('result.openReport'));
  reportLink.href = reportHref(prediction, card.opacity);
  reportLink.target = '_blank';
  reportLink.rel = 'noopener';
  facts.append(reportLink);

  body.append(imageColumn, facts);
  return body;
}

function addLanguageToReportLink(event: MouseEvent): void {
  const link = event.target instanceof Element ? event.target.closest<HTMLAnchorElement>('a.report-link') : null;
  if (!link) return;
  const url = new URL(link.href);
  url.searchParams.set('lang', activeWebLanguage());
  link.href = url.toString();
}

function reportHref(prediction: PredictionView, opacity: number): string {
  return `${prediction.reportUrl}?opacity=${opacity.toFixed(2)}`;
}

// Case list

async function loadCases(offset: number): Promise<void> {
  try {
    const response = await fetch(`/api/v1/predictions?limit=${CASES_PAGE_SIZE}&offset=${offset}`);
    if (!response.ok) return;
    const page = (await response.json()) as { total: number; items: PredictionView[] };
    caseItems = offset === 0 ? page.items : [...caseItems, ...page.items];
    caseTotal = page.total;
  } catch {
    // The header already reports an unreachable server.
    return;
  }
  renderCases();
}

function renderCases(): void {
  const body = document.querySelector('#cases-table tbody');
  const table = document.getElementById('cases-table')!;
  if (!body) return;
  body.replaceChildren();
  for (const item of caseItems) {
    const row = element('tr');
    row.append(element('td', 'number', formatCaseNumber(item.caseNumber)));
    row.append(element('td', undefined, formatDateTime(item.createdAt)));
    row.append(element('td', 'number', formatPercent(item.probability)));
    row.append(element('td', `tag ${verdictClass(item.label)}`, verdictText(item.label)));
    row.append(element('td', 'number', item.modelVersion));
    const reportCell = element('td');
    const link = element('a', undefined, t('cases.open'));
    link.href = item.reportUrl;
    link.classList.add('report-link');
    link.target = '_blank';
    link.rel = 'noopener';
    reportCell.append(link);
    row.append(reportCell);
    body.append(row);
  }
  table.hidden = caseItems.length === 0;
  document.getElementById('cases-empty')!.hidden = caseItems.length > 0;
  document.getElementById('cases-more')!.hidden = caseItems.length >= caseTotal;
  document.getElementById('cases-count')!.textContent = caseTotal > 0 ? t('cases.count', { shown: caseItems.length, total: caseTotal }) : '';
}
