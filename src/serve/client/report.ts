/**
 * Script of the printable report page `/report/<id>`: fills the A4 layout from the API.
 * `?opacity=` (0 to 1) sets the heat map opacity, as chosen on the main page. Runs in the browser only.
 */
import {
  errorText,
  formatCaseNumber,
  formatDateTime,
  formatProbabilityAndThreshold,
  onLanguageChange,
  setUpLanguageSwitch,
  t,
  verdictClass,
  verdictText,
  type PredictionView,
} from './common.js';

const DEFAULT_HEATMAP_OPACITY = 0.5;

let prediction: PredictionView | undefined;
let busightVersion = '';
let failure: { code?: string; message?: string } | undefined;

setUpLanguageSwitch();
onLanguageChange(render);
document.getElementById('print-button')?.addEventListener('click', () => window.print());
void load();

async function load(): Promise<void> {
  const id = decodeURIComponent(window.location.pathname.split('/').pop() ?? '');
  try {
    const [caseResponse, healthResponse] = await Promise.all([
      fetch(`/api/v1/predictions/${encodeURIComponent(id)}`),
      fetch('/api/v1/health'),
    ]);
    const body = (await caseResponse.json()) as PredictionView & { error?: { code: string; message: string } };
    if (!caseResponse.ok) {
      failure = body.error ?? { message: `HTTP ${caseResponse.status}` };
    } else {
      prediction = body;
    }
    if (healthResponse.ok) busightVersion = ((await healthResponse.json()) as { busightVersion: string }).busightVersion;
  } catch {
    failure = { code: 'network' };
  }
  render();
}

function render(): void {
  const report = document.getElementById('report')!;
  const errorLine = document.getElementById('report-error')!;
  if (failure) {
    errorLine.hidden = false;
    errorLine.textContent = failure.code === 'not_found' ? t('report.notFound') : errorText(failure.code, failure.message);
    return;
  }
  if (!prediction) return;

  const caseNumber = formatCaseNumber(prediction.caseNumber);
  setText('report-case-number', caseNumber);
  setText('report-date', formatDateTime(prediction.createdAt));
  const shown = formatProbabilityAndThreshold(prediction.probability, prediction.threshold);
  setText('report-probability', shown.probability);
  setText('report-threshold', shown.threshold);
  setText('report-model', prediction.modelName);
  setText('report-model-version', prediction.modelVersion);
  setText('report-footer', `${t('report.generated', { version: busightVersion })} · ${prediction.id}`);
  document.title = `${t('report.title')} ${caseNumber}`;

  const verdict = document.getElementById('report-verdict')!;
  verdict.className = `verdict ${verdictClass(prediction.label)}`;
  verdict.textContent = t('result.verdictWithProbability', { verdict: verdictText(prediction.label), probability: shown.probability });

  const image = document.getElementById('report-image') as HTMLImageElement;
  const imageUnder = document.getElementById('report-image-under') as HTMLImageElement;
  const heatmap = document.getElementById('report-heatmap') as HTMLImageElement;
  const heatmapEmpty = document.getElementById('report-heatmap-empty')!;
  const legend = document.getElementById('report-legend')!;
  if (!image.src) image.src = prediction.imageUrl;
  if (!imageUnder.src) imageUnder.src = prediction.imageUrl;
  image.alt = t('result.imageAlt', { caseNumber });
  imageUnder.alt = t('result.imageAlt', { caseNumber });
  // An all-zero map renders fully transparent, so the report shows a message in place of the legend.
  const showEmptyMessage = prediction.heatmapUrl !== null && prediction.heatmapEmpty;
  if (prediction.heatmapUrl && !showEmptyMessage) {
    if (!heatmap.src) heatmap.src = prediction.heatmapUrl;
    heatmap.alt = t('result.heatmapAlt', { caseNumber });
    heatmap.style.opacity = String(readOpacity());
  } else {
    heatmap.hidden = true;
  }
  heatmapEmpty.hidden = !showEmptyMessage;
  document.getElementById('report-atypical')!.hidden = prediction.atypical !== true;
  legend.hidden = showEmptyMessage;
  report.hidden = false;
}

/** Returns `?opacity=` when it is a number in [0, 1], else the default. */
function readOpacity(): number {
  const text = new URLSearchParams(window.location.search).get('opacity');
  if (text === null || text.trim() === '') return DEFAULT_HEATMAP_OPACITY;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 1) return DEFAULT_HEATMAP_OPACITY;
  return value;
}

function setText(id: string, text: string): void {
  const target = document.getElementById(id);
  if (target) target.textContent = text;
}
