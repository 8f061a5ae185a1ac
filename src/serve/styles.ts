import { JET_CSS_GRADIENT } from './heatmap-image.js';

/**
 * Style sheet of both pages. The print rules lay the report out on one A4 page.
 * `print-color-adjust: exact` keeps the colours of the verdict and the heat map legend in print.
 */
export const STYLE_CSS = `
:root {
  --ink: #1d2a33;
  --muted: #5b6b76;
  --line: #d5dde3;
  --panel: #ffffff;
  --page: #f1f4f6;
  --accent: #0f6c8c;
  --benign: #1d7a46;
  --benign-bg: #e3f3ea;
  --suspicious: #b3261e;
  --suspicious-bg: #fbe6e4;
  font-family: system-ui, "Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif;
  color: var(--ink);
  background: var(--page);
}
* { box-sizing: border-box; }
body { margin: 0; line-height: 1.5; }
h1 { font-size: 1.4rem; margin: 0; }
h2 { font-size: 1.15rem; margin: 0 0 0.75rem; }
[hidden] { display: none !important; }

.app-header {
  display: flex; justify-content: space-between; align-items: flex-start; gap: 1rem;
  padding: 1rem 1.5rem; background: var(--panel); border-bottom: 1px solid var(--line);
}
.subtitle, .hint, .model-info { color: var(--muted); margin: 0.25rem 0 0; font-size: 0.9rem; }
.header-side { text-align: right; }
main { max-width: 1100px; margin: 0 auto; padding: 1rem; display: grid; gap: 1rem; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.25rem; }
.panel-title { display: flex; justify-content: space-between; align-items: center; gap: 1rem; }

.button, .choose-button, .language-switch {
  display: inline-block; border: 1px solid var(--accent); border-radius: 6px; padding: 0.35rem 0.9rem;
  font: inherit; font-size: 0.95rem; cursor: pointer; text-decoration: none;
  background: var(--accent); color: #fff;
}
.button.secondary, .language-switch { background: #fff; color: var(--accent); }
.button:focus-visible, .choose-button:focus-within, .language-switch:focus-visible { outline: 3px solid #8cc9de; outline-offset: 1px; }
.choose-button input { position: absolute; width: 1px; height: 1px; opacity: 0; }

.drop-zone {
  border: 2px dashed var(--line); border-radius: 8px; padding: 1.25rem; text-align: center;
  transition: border-color 0.15s, background 0.15s;
}
.drop-zone.dragging { border-color: var(--accent); background: #eaf5f9; }
.drop-zone p { margin: 0.25rem 0; }

.notice {
  border-left: 4px solid #c98a00; background: #fff7e0; padding: 0.5rem 0.75rem; margin: 0.75rem 0; font-size: 0.9rem;
}
.error { color: var(--suspicious); }

.results { display: grid; gap: 1rem; }
.result-card { border: 1px solid var(--line); border-radius: 8px; padding: 0.75rem; }
.result-card .file-name { font-weight: 600; overflow-wrap: anywhere; }
.progress { height: 6px; background: #e4eaee; border-radius: 3px; overflow: hidden; margin: 0.4rem 0; }
.progress > span { display: block; height: 100%; width: 0; background: var(--accent); transition: width 0.2s; }
.progress.indeterminate > span { width: 30%; animation: slide 1.2s infinite ease-in-out; }
@keyframes slide { from { margin-left: -30%; } to { margin-left: 100%; } }
.result-body { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1rem; align-items: start; }
@media (max-width: 760px) { .result-body { grid-template-columns: 1fr; } }

.overlay-figure { position: relative; display: inline-block; max-width: 100%; line-height: 0; background: #000; }
.overlay-figure img { display: block; max-width: 100%; max-height: 480px; }
/* Small exports such as 256 x 256 are enlarged for reading; the heat map follows the image's box. */
.result-card .overlay-figure img.case-image { width: 480px; max-width: 100%; height: auto; max-height: none; }
.overlay-figure img.heatmap { position: absolute; inset: 0; width: 100%; height: 100%; max-height: none; pointer-events: none; }
.legend { display: flex; align-items: center; gap: 0.5rem; font-size: 0.8rem; color: var(--muted); margin: 0.3rem 0; }
.legend-bar {
  display: inline-block; width: 120px; height: 10px; border-radius: 2px; background: ${JET_CSS_GRADIENT};
  -webkit-print-color-adjust: exact; print-color-adjust: exact;
}
.opacity-control { display: flex; align-items: center; gap: 0.5rem; font-size: 0.9rem; }
.opacity-control input { flex: 1; max-width: 220px; }

.verdict {
  display: inline-block; font-size: 1.3rem; font-weight: 700; padding: 0.3rem 0.8rem; border-radius: 6px; margin: 0 0 0.5rem;
  -webkit-print-color-adjust: exact; print-color-adjust: exact;
}
.verdict.benign { color: var(--benign); background: var(--benign-bg); }
.verdict.suspicious { color: var(--suspicious); background: var(--suspicious-bg); }
.probability-label { margin: 0.25rem 0 0; }
.probability-value { font-size: 2rem; font-weight: 700; margin: 0 0 0.25rem; line-height: 1.2; }
.facts { display: grid; grid-template-columns: auto 1fr; gap: 0.2rem 0.75rem; margin: 0.5rem 0; font-size: 0.9rem; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; overflow-wrap: anywhere; }

table.cases { width: 100%; border-collapse: collapse; font-size: 0.9rem; }
table.cases th, table.cases td { text-align: left; padding: 0.35rem 0.5rem; border-bottom: 1px solid var(--line); }
table.cases td.number { font-variant-numeric: tabular-nums; }
.tag { font-weight: 600; }
.tag.benign { color: var(--benign); }
.tag.suspicious { color: var(--suspicious); }

/* Report page */
.report-page { background: var(--page); }
.report-toolbar { max-width: 210mm; margin: 1rem auto 0; display: flex; gap: 0.5rem; justify-content: flex-end; }
.report {
  width: 210mm; min-height: 297mm; margin: 1rem auto; padding: 14mm; background: #fff; border: 1px solid var(--line);
}
.report-header { display: flex; justify-content: space-between; align-items: flex-start; gap: 6mm; border-bottom: 2px solid var(--ink); padding-bottom: 4mm; }
.report-header h1 { font-size: 16pt; flex: 1; }
.report-meta dd { white-space: nowrap; }
.report-meta, .report-facts { margin: 0; display: grid; gap: 1mm 4mm; }
.report-meta div { display: flex; gap: 3mm; }
.report-facts div { display: grid; grid-template-columns: 50mm 1fr; gap: 3mm; }
.report-meta dt, .report-facts dt { color: var(--muted); min-width: 22mm; }
.report .verdict { font-size: 14pt; }
.report-meta dd, .report-facts dd { margin: 0; font-weight: 600; }
.report-images { display: grid; grid-template-columns: 1fr 1fr; gap: 6mm; margin: 6mm 0 2mm; }
.report-images figure { margin: 0; text-align: center; }
.report-images img { width: 100%; height: auto; max-height: 95mm; object-fit: contain; }
.report-images .overlay-figure { width: 100%; }
.report-images .overlay-figure img { max-height: 95mm; }
.report-images figcaption { font-size: 9pt; color: var(--muted); margin-top: 1mm; line-height: 1.3; }
.report-result { margin: 4mm 0; }
.report-facts { grid-template-columns: 1fr; }
.signature { margin-top: 14mm; font-size: 10pt; }
.signature::after { content: ""; display: inline-block; width: 60mm; margin-left: 2mm; border-bottom: 1px solid var(--ink); }
.report-footer { margin-top: 8mm; font-size: 8pt; color: var(--muted); }

@page { size: A4; margin: 0; }
@media print {
  :root, body.report-page { background: #fff; }
  .no-print { display: none !important; }
  .report { margin: 0; border: none; width: 210mm; min-height: auto; }
  .report-images, .report-result, .notice { break-inside: avoid; }
}
`;
