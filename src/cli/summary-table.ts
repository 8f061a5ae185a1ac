import type { BinaryMetrics } from '../evaluate/metrics.js';

const ROWS: { key: keyof BinaryMetrics; title: string }[] = [
  { key: 'n', title: 'images' },
  { key: 'auc', title: 'ROC AUC' },
  { key: 'accuracy', title: 'accuracy' },
  { key: 'sensitivity', title: 'sensitivity' },
  { key: 'specificity', title: 'specificity' },
  { key: 'ppv', title: 'PPV' },
  { key: 'npv', title: 'NPV' },
  { key: 'f1', title: 'F1' },
  { key: 'ece', title: 'ECE' },
];

/** Formats validation and test metrics as a plain-text table for the terminal. */
export function formatMetricsTable(columns: { title: string; metrics: BinaryMetrics }[]): string {
  const cell = (metrics: BinaryMetrics, key: keyof BinaryMetrics): string => {
    const value = metrics[key];
    if (value === null) return 'n/a';
    if (key === 'n') return String(value);
    if (key === 'auc') return `${(value as number).toFixed(3)} [${metrics.aucCi95[0].toFixed(2)}-${metrics.aucCi95[1].toFixed(2)}]`;
    return (value as number).toFixed(3);
  };
  const header = ['', ...columns.map((column) => column.title)];
  const body = ROWS.map((row) => [row.title, ...columns.map((column) => cell(column.metrics, row.key))]);
  const threshold = ['threshold', ...columns.map((column) => column.metrics.threshold.toFixed(3))];
  const matrix = ['[[tn fp] [fn tp]]', ...columns.map((column) => JSON.stringify(column.metrics.confusionMatrix))];
  const table = [header, ...body, threshold, matrix];
  const widths = header.map((_, index) => Math.max(...table.map((row) => row[index].length)));
  return table.map((row) => row.map((text, index) => (index === 0 ? text.padEnd(widths[index]) : text.padStart(widths[index]))).join('  ')).join('\n');
}
