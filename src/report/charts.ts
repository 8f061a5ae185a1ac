/**
 * Inline SVG charts of the run report. Each builder returns one `<svg>` element as a string, with
 * no script and no external resource, so the page works offline.
 *
 * Text appears twice, once per language, in elements of class `l-en` and `l-zh`; the page's CSS
 * hides the language that is not selected. Class and series colours come from the Okabe-Ito
 * palette, which stays distinguishable with the common forms of colour blindness. Lines of
 * different series also differ in dash pattern.
 */
import type { ConfusionMatrix, ReliabilityBin, RocCurve } from '../evaluate/metrics.js';
import { escapeHtml } from './escape.js';
import { localize, type LocalizedText } from './i18n.js';
import type { TrainingEpoch } from './report-input.js';

/** Okabe-Ito colours used by the charts and the page. */
export const PALETTE = {
  blue: '#0072B2',
  vermillion: '#D55E00',
  orange: '#E69F00',
  green: '#009E73',
  skyBlue: '#56B4E9',
  purple: '#CC79A7',
  grey: '#777777',
  ink: '#222222',
} as const;

/** Colour of the benign class in every chart. */
export const BENIGN_COLOUR = PALETTE.blue;
/** Colour of the malignant class in every chart. */
export const MALIGNANT_COLOUR = PALETTE.vermillion;

const FONT_SIZE = 14;
const SMALL_FONT_SIZE = 12;

/** Formats a number with a fixed number of decimals. */
export function formatNumber(value: number, decimals = 3): string {
  return value.toFixed(decimals);
}

// ---------------------------------------------------------------------------------------------
// Primitives

/** Renders `text` once per language, as `<text>` elements with the given attributes. */
function bilingualText(x: number, y: number, text: LocalizedText, attributes = ''): string {
  return (
    `<text class="l-en" lang="en" x="${x}" y="${y}" ${attributes}>${escapeHtml(text.en)}</text>` +
    `<text class="l-zh" lang="zh-CN" x="${x}" y="${y}" ${attributes}>${escapeHtml(text['zh-CN'])}</text>`
  );
}

/** Renders the same plain text for both languages. */
function plainText(x: number, y: number, text: string, attributes = ''): string {
  return `<text x="${x}" y="${y}" ${attributes}>${escapeHtml(text)}</text>`;
}

/** Estimated rendered width of `text` in pixels: CJK characters are about one em wide, Latin ones about 0.55 em. */
function estimateTextWidth(text: string, fontSize: number): number {
  let width = 0;
  for (const character of text) width += /[\u2e80-\u9fff\uff00-\uffef]/.test(character) ? fontSize : fontSize * 0.56;
  return width;
}

function openSvg(width: number, height: number, label: LocalizedText): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ` +
    `role="img" class="chart" font-family="system-ui, 'Noto Sans', 'Noto Sans CJK SC', sans-serif" font-size="${FONT_SIZE}">` +
    `<title class="l-en">${escapeHtml(label.en)}</title>`
  );
}

/** Maps `domain` linearly onto `range`. */
function linearScale(domain: [number, number], range: [number, number]): (value: number) => number {
  const span = domain[1] - domain[0] || 1;
  return (value) => range[0] + ((value - domain[0]) / span) * (range[1] - range[0]);
}

/** Returns about `count` round tick values covering [min, max] (steps of 1, 2 or 5 times a power of ten). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const rough = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const multiple = [1, 2, 5, 10].find((m) => m * power >= rough) ?? 10;
  const step = multiple * power;
  const ticks: number[] = [];
  for (let value = Math.ceil(min / step - 1e-9) * step; value <= max + step * 1e-9; value += step) {
    ticks.push(Number(value.toFixed(12)));
  }
  return ticks;
}

/** Number of decimals needed to tell ticks apart. */
function tickDecimals(ticks: number[]): number {
  if (ticks.length < 2) return 2;
  const step = Math.abs(ticks[1] - ticks[0]);
  return Math.max(0, Math.min(6, Math.ceil(-Math.log10(step) - 1e-9)));
}

/** Plot area of a chart in SVG units, with its scales. */
interface Frame {
  left: number;
  top: number;
  width: number;
  height: number;
  x: (value: number) => number;
  y: (value: number) => number;
}

function makeFrame(
  left: number,
  top: number,
  width: number,
  height: number,
  xDomain: [number, number],
  yDomain: [number, number],
): Frame {
  return {
    left,
    top,
    width,
    height,
    x: linearScale(xDomain, [left, left + width]),
    y: linearScale(yDomain, [top + height, top]),
  };
}

interface AxisOptions {
  xTicks: number[];
  yTicks: number[];
  xLabel: LocalizedText;
  yLabel: LocalizedText;
  formatX?: (value: number) => string;
  formatY?: (value: number) => string;
  /** Positions of the y ticks when they differ from `frame.y` (log scales). */
  yPosition?: (value: number) => number;
}

/** Draws grid lines, ticks, tick labels and axis titles around a frame. */
function drawAxes(frame: Frame, options: AxisOptions): string {
  const formatX = options.formatX ?? ((value: number) => formatNumber(value, tickDecimals(options.xTicks)));
  const formatY = options.formatY ?? ((value: number) => formatNumber(value, tickDecimals(options.yTicks)));
  const yPosition = options.yPosition ?? frame.y;
  const bottom = frame.top + frame.height;
  const right = frame.left + frame.width;
  const parts: string[] = [`<g class="axes" stroke-width="1">`];

  for (const tick of options.xTicks) {
    const x = frame.x(tick);
    parts.push(`<line x1="${x}" y1="${frame.top}" x2="${x}" y2="${bottom}" stroke="#e4e4e4"/>`);
    parts.push(`<line x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 5}" stroke="${PALETTE.ink}"/>`);
    parts.push(plainText(x, bottom + 20, formatX(tick), `text-anchor="middle" font-size="${SMALL_FONT_SIZE}" fill="${PALETTE.ink}"`));
  }
  for (const tick of options.yTicks) {
    const y = yPosition(tick);
    parts.push(`<line x1="${frame.left}" y1="${y}" x2="${right}" y2="${y}" stroke="#e4e4e4"/>`);
    parts.push(`<line x1="${frame.left - 5}" y1="${y}" x2="${frame.left}" y2="${y}" stroke="${PALETTE.ink}"/>`);
    parts.push(plainText(frame.left - 8, y + 4, formatY(tick), `text-anchor="end" font-size="${SMALL_FONT_SIZE}" fill="${PALETTE.ink}"`));
  }
  parts.push(`<rect x="${frame.left}" y="${frame.top}" width="${frame.width}" height="${frame.height}" fill="none" stroke="${PALETTE.ink}"/>`);
  parts.push(bilingualText(frame.left + frame.width / 2, bottom + 42, options.xLabel, `text-anchor="middle" fill="${PALETTE.ink}"`));
  const yTitleX = frame.left - 52;
  const yTitleY = frame.top + frame.height / 2;
  parts.push(
    bilingualText(yTitleX, yTitleY, options.yLabel, `text-anchor="middle" fill="${PALETTE.ink}" transform="rotate(-90 ${yTitleX} ${yTitleY})"`),
  );
  parts.push('</g>');
  return parts.join('');
}

/** Legend entry: a short line sample, a marker or a filled box, and its text. */
interface LegendEntry {
  text: LocalizedText;
  colour: string;
  kind: 'line' | 'dashed' | 'marker' | 'box';
}

/** Draws a legend box anchored at its top-right corner (`right`, `top`). */
function drawLegend(right: number, top: number, entries: LegendEntry[]): string {
  const rowHeight = 20;
  const sampleWidth = 26;
  const textWidth = Math.max(
    ...entries.map((entry) => Math.max(estimateTextWidth(entry.text.en, SMALL_FONT_SIZE), estimateTextWidth(entry.text['zh-CN'], SMALL_FONT_SIZE))),
  );
  const width = sampleWidth + 16 + textWidth;
  const height = entries.length * rowHeight + 8;
  const left = right - width;
  const parts = [`<g class="legend"><rect x="${left}" y="${top}" width="${width}" height="${height}" fill="#ffffff" fill-opacity="0.92" stroke="#bbbbbb"/>`];
  entries.forEach((entry, index) => {
    const y = top + 4 + rowHeight * index + rowHeight / 2;
    const x = left + 6;
    if (entry.kind === 'marker') {
      parts.push(`<circle cx="${x + sampleWidth / 2}" cy="${y}" r="5" fill="${entry.colour}" stroke="${PALETTE.ink}"/>`);
    } else if (entry.kind === 'box') {
      parts.push(`<rect x="${x + 4}" y="${y - 6}" width="${sampleWidth - 8}" height="12" fill="${entry.colour}"/>`);
    } else {
      const dash = entry.kind === 'dashed' ? ' stroke-dasharray="6 4"' : '';
      parts.push(`<line x1="${x}" y1="${y}" x2="${x + sampleWidth}" y2="${y}" stroke="${entry.colour}" stroke-width="2.5"${dash}/>`);
    }
    parts.push(bilingualText(x + sampleWidth + 6, y + 4, entry.text, `font-size="${SMALL_FONT_SIZE}" fill="${PALETTE.ink}"`));
  });
  parts.push('</g>');
  return parts.join('');
}

/** SVG path through the points, skipping non-finite values. */
function polylinePath(points: Array<[number, number]>): string {
  const finite = points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  return finite.map(([x, y], index) => `${index === 0 ? 'M' : 'L'}${x.toFixed(2)},${y.toFixed(2)}`).join(' ');
}

/** Interpolates between two hex colours, `t` in [0, 1]. */
function mixColour(from: string, to: string, t: number): string {
  const channel = (hex: string, offset: number) => parseInt(hex.slice(1 + offset, 3 + offset), 16);
  const mixed = [0, 2, 4].map((offset) => Math.round(channel(from, offset) + (channel(to, offset) - channel(from, offset)) * t));
  return `#${mixed.map((value) => value.toString(16).padStart(2, '0')).join('')}`;
}

// ---------------------------------------------------------------------------------------------
// Charts

/**
 * Draws a 2x2 confusion-matrix heatmap: rows are the true class, columns the predicted class.
 * Each cell shows its count and the percentage of its row, and is shaded by that percentage.
 */
export function confusionMatrixSvg(matrix: ConfusionMatrix): string {
  const cell = 120;
  const left = 150;
  const top = 60;
  const width = left + 2 * cell + 20;
  const height = top + 2 * cell + 30;
  const classNames = [localize('class.benign'), localize('class.malignant')];
  const parts = [openSvg(width, height, localize('section.confusion'))];

  parts.push(bilingualText(left + cell, 20, localize('chart.predictedClass'), `text-anchor="middle" font-weight="600" fill="${PALETTE.ink}"`));
  const titleX = 24;
  const titleY = top + cell;
  parts.push(
    bilingualText(titleX, titleY, localize('chart.trueClass'), `text-anchor="middle" font-weight="600" fill="${PALETTE.ink}" transform="rotate(-90 ${titleX} ${titleY})"`),
  );
  classNames.forEach((name, index) => {
    parts.push(bilingualText(left + cell * index + cell / 2, top - 10, name, `text-anchor="middle" fill="${PALETTE.ink}"`));
    parts.push(bilingualText(left - 10, top + cell * index + cell / 2 + 5, name, `text-anchor="end" fill="${PALETTE.ink}"`));
  });

  for (let row = 0; row < 2; row++) {
    const rowTotal = matrix[row][0] + matrix[row][1];
    for (let column = 0; column < 2; column++) {
      const count = matrix[row][column];
      const share = rowTotal === 0 ? 0 : count / rowTotal;
      const fill = mixColour('#f2f7fb', '#08306b', share);
      const textColour = share > 0.55 ? '#ffffff' : PALETTE.ink;
      const x = left + column * cell;
      const y = top + row * cell;
      const percent = rowTotal === 0 ? '–' : `${(share * 100).toFixed(1)}%`;
      parts.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" stroke="#ffffff" stroke-width="2"/>`);
      parts.push(plainText(x + cell / 2, y + cell / 2, String(count), `text-anchor="middle" font-size="28" font-weight="700" fill="${textColour}"`));
      parts.push(plainText(x + cell / 2, y + cell / 2 + 24, percent, `text-anchor="middle" font-size="${FONT_SIZE}" fill="${textColour}"`));
    }
  }
  parts.push('</svg>');
  return parts.join('');
}

/** Options of `rocCurveSvg`. */
export interface RocChartOptions {
  auc: number;
  aucCi95: [number, number];
  /** The chosen threshold and the rates it gives on the same data, marked on the curve. */
  operatingPoint?: { fpr: number; tpr: number; threshold: number };
}

/** Draws a ROC curve with the chance diagonal, the AUC and its CI in the legend and the operating point marked. */
export function rocCurveSvg(roc: RocCurve, options: RocChartOptions): string {
  const width = 520;
  const height = 440;
  const frame = makeFrame(72, 16, 420, 350, [0, 1], [0, 1]);
  const ticks = [0, 0.2, 0.4, 0.6, 0.8, 1];
  const parts = [openSvg(width, height, localize('section.roc'))];
  parts.push(drawAxes(frame, { xTicks: ticks, yTicks: ticks, xLabel: localize('chart.fpr'), yLabel: localize('chart.tpr'), formatX: (v) => v.toFixed(1), formatY: (v) => v.toFixed(1) }));

  parts.push(`<line x1="${frame.x(0)}" y1="${frame.y(0)}" x2="${frame.x(1)}" y2="${frame.y(1)}" stroke="${PALETTE.grey}" stroke-dasharray="6 4" stroke-width="1.5"/>`);
  const points = roc.fpr.map((fpr, index): [number, number] => [frame.x(fpr), frame.y(roc.tpr[index])]);
  parts.push(`<path d="${polylinePath(points)}" fill="none" stroke="${PALETTE.blue}" stroke-width="2.5" stroke-linejoin="round"/>`);

  const aucText = localize('chart.aucLegend', {
    auc: formatNumber(options.auc),
    lo: formatNumber(options.aucCi95[0]),
    hi: formatNumber(options.aucCi95[1]),
  });
  const entries: LegendEntry[] = [
    { text: aucText, colour: PALETTE.blue, kind: 'line' },
    { text: localize('chart.chance'), colour: PALETTE.grey, kind: 'dashed' },
  ];
  if (options.operatingPoint) {
    const point = options.operatingPoint;
    parts.push(`<circle cx="${frame.x(point.fpr)}" cy="${frame.y(point.tpr)}" r="7" fill="${PALETTE.vermillion}" stroke="${PALETTE.ink}" stroke-width="1.5"/>`);
    entries.push({ text: localize('chart.operatingPoint', { threshold: formatNumber(point.threshold) }), colour: PALETTE.vermillion, kind: 'marker' });
  }
  parts.push(drawLegend(frame.left + frame.width - 8, frame.top + frame.height - 8 - entries.length * 20 - 8, entries));
  parts.push('</svg>');
  return parts.join('');
}

/**
 * Draws the malignancy probability histogram of each true class as side-by-side bars over
 * `binCount` equal-width bins of [0, 1], with the threshold as a vertical dashed line.
 * `yTrue` contains labels in {0, 1} and `yProb` probabilities in [0, 1].
 */
export function probabilityHistogramSvg(yTrue: ArrayLike<number>, yProb: ArrayLike<number>, threshold: number, binCount = 20): string {
  const benignCounts = new Array<number>(binCount).fill(0);
  const malignantCounts = new Array<number>(binCount).fill(0);
  for (let i = 0; i < yTrue.length; i++) {
    const bin = Math.min(Math.max(Math.floor(yProb[i] * binCount), 0), binCount - 1);
    if (yTrue[i] === 1) malignantCounts[bin]++;
    else benignCounts[bin]++;
  }
  const maxCount = Math.max(1, ...benignCounts, ...malignantCounts);
  const yTicks = niceTicks(0, maxCount, 5).filter((tick) => Number.isInteger(tick));
  const yMax = Math.max(maxCount, yTicks[yTicks.length - 1]);

  const width = 520;
  const height = 440;
  const frame = makeFrame(72, 16, 420, 350, [0, 1], [0, yMax * 1.15]);
  const parts = [openSvg(width, height, localize('section.histogram'))];
  parts.push(drawAxes(frame, { xTicks: [0, 0.2, 0.4, 0.6, 0.8, 1], yTicks, xLabel: localize('chart.probability'), yLabel: localize('chart.imageCount'), formatX: (v) => v.toFixed(1), formatY: (v) => String(v) }));

  const binWidth = frame.width / binCount;
  for (let bin = 0; bin < binCount; bin++) {
    const x = frame.left + bin * binWidth;
    const bars: Array<[number, string, number]> = [
      [benignCounts[bin], BENIGN_COLOUR, x + 1],
      [malignantCounts[bin], MALIGNANT_COLOUR, x + binWidth / 2],
    ];
    for (const [count, colour, barX] of bars) {
      if (count === 0) continue;
      const barTop = frame.y(count);
      parts.push(`<rect x="${barX.toFixed(2)}" y="${barTop.toFixed(2)}" width="${(binWidth / 2 - 1).toFixed(2)}" height="${(frame.y(0) - barTop).toFixed(2)}" fill="${colour}"/>`);
    }
  }

  const thresholdX = frame.x(Math.min(Math.max(threshold, 0), 1));
  parts.push(`<line x1="${thresholdX}" y1="${frame.top}" x2="${thresholdX}" y2="${frame.top + frame.height}" stroke="${PALETTE.ink}" stroke-width="2" stroke-dasharray="6 4"/>`);
  parts.push(
    drawLegend(frame.left + frame.width - 8, frame.top + 8, [
      { text: localize('class.benign'), colour: BENIGN_COLOUR, kind: 'box' },
      { text: localize('class.malignant'), colour: MALIGNANT_COLOUR, kind: 'box' },
      { text: localize('chart.threshold', { threshold: formatNumber(threshold) }), colour: PALETTE.ink, kind: 'dashed' },
    ]),
  );
  parts.push('</svg>');
  return parts.join('');
}

/**
 * Draws a reliability diagram: observed fraction malignant against mean predicted probability per
 * bin, the diagonal of perfect calibration, and the share of images in each bin as grey bars.
 */
export function reliabilityDiagramSvg(bins: ReliabilityBin[], ece: number): string {
  const width = 520;
  const height = 440;
  const frame = makeFrame(72, 16, 420, 350, [0, 1], [0, 1]);
  const ticks = [0, 0.2, 0.4, 0.6, 0.8, 1];
  const parts = [openSvg(width, height, localize('section.reliability'))];
  parts.push(drawAxes(frame, { xTicks: ticks, yTicks: ticks, xLabel: localize('chart.meanProbability'), yLabel: localize('chart.fractionMalignant'), formatX: (v) => v.toFixed(1), formatY: (v) => v.toFixed(1) }));

  // Bars of bin shares, scaled so the fullest bin reaches a quarter of the plot height.
  const total = bins.reduce((sum, bin) => sum + bin.count, 0);
  const maxCount = Math.max(1, ...bins.map((bin) => bin.count));
  for (const bin of bins) {
    if (bin.count === 0) continue;
    const barHeight = (bin.count / maxCount) * frame.height * 0.25;
    const x = frame.x(bin.lower) + 1;
    const barWidth = frame.x(bin.upper) - frame.x(bin.lower) - 2;
    parts.push(`<rect x="${x.toFixed(2)}" y="${(frame.y(0) - barHeight).toFixed(2)}" width="${barWidth.toFixed(2)}" height="${barHeight.toFixed(2)}" fill="#cccccc"/>`);
    const share = `${Math.round((bin.count / Math.max(total, 1)) * 100)}%`;
    parts.push(plainText(x + barWidth / 2, frame.y(0) - barHeight - 4, share, `text-anchor="middle" font-size="10" fill="#555555"`));
  }

  parts.push(`<line x1="${frame.x(0)}" y1="${frame.y(0)}" x2="${frame.x(1)}" y2="${frame.y(1)}" stroke="${PALETTE.grey}" stroke-dasharray="6 4" stroke-width="1.5"/>`);
  const points = bins
    .filter((bin) => bin.count > 0)
    .map((bin): [number, number] => [frame.x(bin.meanProbability as number), frame.y(bin.fractionPositive as number)]);
  parts.push(`<path d="${polylinePath(points)}" fill="none" stroke="${PALETTE.blue}" stroke-width="2.5"/>`);
  for (const [x, y] of points) parts.push(`<circle cx="${x.toFixed(2)}" cy="${y.toFixed(2)}" r="4.5" fill="${PALETTE.blue}" stroke="#ffffff"/>`);

  parts.push(
    drawLegend(frame.left + 8 + 250, frame.top + 8, [
      { text: localize('chart.eceLegend', { ece: formatNumber(ece) }), colour: PALETTE.blue, kind: 'line' },
      { text: localize('chart.perfectCalibration'), colour: PALETTE.grey, kind: 'dashed' },
      { text: localize('chart.imagesPerBin'), colour: '#cccccc', kind: 'box' },
    ]),
  );
  parts.push('</svg>');
  return parts.join('');
}

/**
 * Returns tick positions, as log10 of the value, inside a log10 domain: 1, 2 and 5 times each power
 * of ten when that gives at most 6 ticks, otherwise the powers of ten alone.
 */
function logTicks(domain: [number, number]): number[] {
  const candidates = (multiples: number[]): number[] => {
    const ticks: number[] = [];
    for (let exponent = Math.floor(domain[0]); exponent <= Math.ceil(domain[1]); exponent++) {
      for (const multiple of multiples) {
        const tick = Math.log10(multiple) + exponent;
        if (tick >= domain[0] && tick <= domain[1]) ticks.push(tick);
      }
    }
    return ticks;
  };
  const fine = candidates([1, 2, 5]);
  if (fine.length <= 6) return fine.length > 0 ? fine : [domain[0], domain[1]];
  return candidates([1]);
}

/** One line of a training-curve panel. */
interface Series {
  values: Array<number | undefined>;
  text: LocalizedText;
  colour: string;
  dashed: boolean;
}

/** Draws one panel of the training curves against epoch, with the selected epoch as a vertical line. */
function trainingPanel(
  originX: number,
  epochs: number[],
  series: Series[],
  yLabel: LocalizedText,
  selectedEpoch: number,
  scale: 'linear' | 'log',
  xLabel: LocalizedText = localize('chart.epoch'),
): string {
  const values = series.flatMap((line) => line.values).filter((value): value is number => value !== undefined && Number.isFinite(value));
  const transform = scale === 'log' ? (value: number) => Math.log10(value) : (value: number) => value;
  const transformed = values.filter((value) => scale === 'linear' || value > 0).map(transform);
  let low = Math.min(...transformed);
  let high = Math.max(...transformed);
  if (!(high > low)) {
    low -= scale === 'log' ? 0.5 : Math.abs(low) * 0.1 + 0.05;
    high += scale === 'log' ? 0.5 : Math.abs(high) * 0.1 + 0.05;
  }
  const padding = (high - low) * 0.08;
  let yTicks: number[];
  let yDomain: [number, number];
  if (scale === 'log') {
    yDomain = [low - padding, high + padding];
    yTicks = logTicks(yDomain);
  } else {
    yTicks = niceTicks(low - padding, high + padding, 5);
    yDomain = [Math.min(low - padding, yTicks[0]), Math.max(high + padding, yTicks[yTicks.length - 1])];
  }

  const firstEpoch = epochs[0];
  const lastEpoch = epochs[epochs.length - 1];
  const xDomain: [number, number] = lastEpoch > firstEpoch ? [firstEpoch, lastEpoch] : [firstEpoch - 1, firstEpoch + 1];
  const frame = makeFrame(originX + 70, 16, 230, 240, xDomain, yDomain);
  const xTicks = niceTicks(xDomain[0], xDomain[1], 5).filter((tick) => Number.isInteger(tick));
  const formatY =
    scale === 'log'
      ? (value: number) => (10 ** value).toExponential(0).replace('e-', 'e−')
      : (value: number) => formatNumber(value, tickDecimals(yTicks));

  const parts = [drawAxes(frame, { xTicks, yTicks, xLabel, yLabel, formatX: (v) => String(v), formatY })];
  const selectedX = frame.x(selectedEpoch);
  parts.push(`<line x1="${selectedX}" y1="${frame.top}" x2="${selectedX}" y2="${frame.top + frame.height}" stroke="${PALETTE.green}" stroke-width="2" stroke-dasharray="2 3"/>`);
  for (const line of series) {
    const points = epochs.map((epoch, index): [number, number] => {
      const value = line.values[index];
      if (value === undefined || (scale === 'log' && value <= 0)) return [Number.NaN, Number.NaN];
      return [frame.x(epoch), frame.y(transform(value))];
    });
    const dash = line.dashed ? ' stroke-dasharray="7 4"' : '';
    parts.push(`<path d="${polylinePath(points)}" fill="none" stroke="${line.colour}" stroke-width="2.2"${dash}/>`);
    if (epochs.length <= 40) {
      for (const [x, y] of points) {
        if (Number.isFinite(x)) parts.push(`<circle cx="${x.toFixed(2)}" cy="${y.toFixed(2)}" r="2.5" fill="${line.colour}"/>`);
      }
    }
  }
  return parts.join('');
}

/**
 * Draws three panels against epoch: train and validation loss, AUC (validation, and training when
 * given), and the learning rate on a log scale. The selected epoch is a vertical line in each panel.
 */
export function trainingCurvesSvg(history: TrainingEpoch[], selectedEpoch: number, steps: 'epoch' | 'lbfgs-iteration' = 'epoch'): string {
  // L-BFGS records one point per iteration and a line-search step length instead of a learning rate.
  const stepLabel = localize(steps === 'epoch' ? 'chart.epoch' : 'chart.iteration');
  const rateLabel = localize(steps === 'epoch' ? 'chart.learningRate' : 'chart.stepLength');
  const width = 1000;
  const height = 360;
  const epochs = history.map((entry) => entry.epoch);
  const parts = [openSvg(width, height, localize('section.training'))];
  if (history.length === 0) {
    parts.push('</svg>');
    return parts.join('');
  }

  const lossSeries: Series[] = [
    { values: history.map((entry) => entry.trainLoss), text: localize('chart.trainLoss'), colour: PALETTE.blue, dashed: false },
    { values: history.map((entry) => entry.valLoss), text: localize('chart.valLoss'), colour: PALETTE.vermillion, dashed: true },
  ];
  const aucSeries: Series[] = [
    { values: history.map((entry) => entry.valAuc), text: localize('chart.valAuc'), colour: PALETTE.vermillion, dashed: true },
  ];
  if (history.some((entry) => entry.trainAuc !== undefined)) {
    aucSeries.unshift({ values: history.map((entry) => entry.trainAuc), text: localize('chart.trainAuc'), colour: PALETTE.blue, dashed: false });
  }
  const rateSeries: Series[] = [
    { values: history.map((entry) => entry.learningRate), text: rateLabel, colour: PALETTE.purple, dashed: false },
  ];

  parts.push(trainingPanel(0, epochs, lossSeries, localize('chart.loss'), selectedEpoch, 'linear', stepLabel));
  parts.push(trainingPanel(333, epochs, aucSeries, localize('chart.auc'), selectedEpoch, 'linear', stepLabel));
  parts.push(trainingPanel(666, epochs, rateSeries, rateLabel, selectedEpoch, 'log', stepLabel));

  // One shared legend row under the panels.
  const entries: LegendEntry[] = [
    { text: localize('chart.trainLoss'), colour: PALETTE.blue, kind: 'line' },
    { text: localize('chart.valLoss'), colour: PALETTE.vermillion, kind: 'dashed' },
    ...(aucSeries.length > 1 ? [{ text: localize('chart.trainAuc'), colour: PALETTE.blue, kind: 'line' as const }] : []),
    { text: localize('chart.valAuc'), colour: PALETTE.vermillion, kind: 'dashed' },
    { text: rateLabel, colour: PALETTE.purple, kind: 'line' },
    { text: localize(steps === 'epoch' ? 'chart.selectedEpoch' : 'chart.finalIteration', { epoch: selectedEpoch }), colour: PALETTE.green, kind: 'dashed' },
  ];
  parts.push(drawLegendRow(70, 330, entries));
  parts.push('</svg>');
  return parts.join('');
}

/** Draws legend entries in one row starting at (`left`, `y`). Entries are spaced for the longer language. */
function drawLegendRow(left: number, y: number, entries: LegendEntry[]): string {
  const parts = ['<g class="legend">'];
  let x = left;
  for (const entry of entries) {
    const dash = entry.kind === 'dashed' ? ' stroke-dasharray="6 4"' : '';
    parts.push(`<line x1="${x}" y1="${y}" x2="${x + 24}" y2="${y}" stroke="${entry.colour}" stroke-width="2.5"${dash}/>`);
    parts.push(bilingualText(x + 30, y + 4, entry.text, `font-size="${SMALL_FONT_SIZE}" fill="${PALETTE.ink}"`));
    x += 30 + Math.max(estimateTextWidth(entry.text.en, SMALL_FONT_SIZE), estimateTextWidth(entry.text['zh-CN'], SMALL_FONT_SIZE)) + 22;
  }
  parts.push('</g>');
  return parts.join('');
}
