import type { BinaryMetrics, RocCurve } from '../evaluate/metrics.js';
import { confusionMatrixSvg, formatNumber, rocCurveSvg } from './charts.js';
import { renderPage, splitPolicyRow, t } from './html.js';
import { localize, type Language } from './i18n.js';

/** Input of `renderCrossValidationReport`. */
export interface CrossValidationReportInput {
  version: string;
  created: string;
  defaultLanguage?: Language;
  /** Plain-words split policy with the audit counts. */
  splitPolicy: string;
  folds: { fold: number; test: BinaryMetrics; threshold: number }[];
  mean: { auc: number; sensitivity: number; specificity: number; ece: number };
  sd: { auc: number; sensitivity: number; specificity: number; ece: number };
  /**
   * Out-of-fold metrics, each image called at its own fold's threshold, with the sensitivity the
   * thresholds were chosen for and the pooled ROC curve's specificity there.
   */
  pooled: Omit<BinaryMetrics, 'threshold'> & { targetSensitivity: number; rocSpecificityAtTarget: number };
  pooledRoc: RocCurve;
}

/** Renders the summary page of a k-fold run: one row per fold, mean and SD, pooled figures and the pooled ROC curve. */
export function renderCrossValidationReport(input: CrossValidationReportInput): string {
  const row = (label: string, auc: string, ci: string, threshold: string, sensitivity: string, specificity: string, ece: string, n: string) =>
    `<tr><th>${label}</th><td class="num">${n}</td><td class="num">${auc}</td><td class="num">${ci}</td><td class="num">${threshold}</td><td class="num">${sensitivity}</td><td class="num">${specificity}</td><td class="num">${ece}</td></tr>`;
  const rows = input.folds.map((fold) =>
    row(
      `${t('cv.fold')} ${fold.fold}`,
      formatNumber(fold.test.auc),
      `${formatNumber(fold.test.aucCi95[0])}–${formatNumber(fold.test.aucCi95[1])}`,
      formatNumber(fold.threshold),
      formatNumber(fold.test.sensitivity),
      formatNumber(fold.test.specificity),
      formatNumber(fold.test.ece),
      String(fold.test.n),
    ),
  );
  rows.push(
    row(
      `${t('cv.mean')} ± ${t('cv.sd')}`,
      `${formatNumber(input.mean.auc)} ± ${formatNumber(input.sd.auc)}`,
      '',
      '',
      `${formatNumber(input.mean.sensitivity)} ± ${formatNumber(input.sd.sensitivity)}`,
      `${formatNumber(input.mean.specificity)} ± ${formatNumber(input.sd.specificity)}`,
      `${formatNumber(input.mean.ece)} ± ${formatNumber(input.sd.ece)}`,
      '',
    ),
    row(
      t('cv.pooled'),
      formatNumber(input.pooled.auc),
      `${formatNumber(input.pooled.aucCi95[0])}–${formatNumber(input.pooled.aucCi95[1])}`,
      t('cv.perFold'),
      formatNumber(input.pooled.sensitivity),
      formatNumber(input.pooled.specificity),
      formatNumber(input.pooled.ece),
      String(input.pooled.n),
    ),
  );

  const table = `<section id="cross-validation"><h2>${t('section.crossValidation')}</h2>
<table class="key-value">${splitPolicyRow(input.splitPolicy)}</table>
<table class="metrics"><thead><tr><th></th><th class="num">${t('metric.n')}</th><th class="num">${t('metric.auc')}</th><th class="num">${t('metric.aucCi95')}</th><th class="num">${t('metric.threshold')}</th><th class="num">${t('metric.sensitivity')}</th><th class="num">${t('metric.specificity')}</th><th class="num">${t('metric.ece')}</th></tr></thead>
<tbody>${rows.join('')}</tbody></table>
<p class="meta">${t('cv.pooledNote')}</p></section>`;
  const { pooled } = input;
  const nullable = (value: number | null) => (value === null ? '—' : formatNumber(value));
  const pooledRows = [
    [t('metric.accuracy'), formatNumber(pooled.accuracy)],
    [t('metric.ppv'), nullable(pooled.ppv)],
    [t('metric.npv'), nullable(pooled.npv)],
    [t('metric.f1'), formatNumber(pooled.f1)],
    [t('cv.rocSpecificity', { target: formatNumber(pooled.targetSensitivity, 2) }), formatNumber(pooled.rocSpecificityAtTarget)],
  ];
  const pooledSection = `<section id="pooled"><h2>${t('section.pooledAtThresholds')}</h2><div class="two-columns">
<table class="key-value">${pooledRows.map(([label, value]) => `<tr><th>${label}</th><td class="num">${value}</td></tr>`).join('')}</table>
<div>${confusionMatrixSvg(pooled.confusionMatrix)}</div></div></section>`;
  const roc = `<section id="pooled-roc"><h2>${t('section.pooledRoc')}</h2><div style="max-width: 560px">${rocCurveSvg(input.pooledRoc, { auc: input.pooled.auc, aucCi95: input.pooled.aucCi95 })}</div></section>`;

  return renderPage({
    title: localize('cv.title'),
    version: input.version,
    created: input.created,
    language: input.defaultLanguage ?? 'en',
    sections: [table, pooledSection, roc],
  });
}
