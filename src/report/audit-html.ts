/**
 * The audit.html page: one self-contained file with the audit counts, a contact sheet per
 * duplicate group (label conflicts first), the images flagged for burned-in annotations and the
 * unreadable files.
 */
import type { AuditSummary } from '../data/audit/audit.js';
import type { DuplicateGroup } from '../data/audit/duplicates.js';
import type { SkippedFile } from '../data/dataset.js';
import type { RgbImage } from '../data/image.js';
import { CLASS_NAMES } from '../data/sample.js';
import { escapeHtml } from './escape.js';
import { thumbnailDataUri } from './thumbnails.js';

export interface AuditHtmlInput {
  summary: AuditSummary;
  groups: DuplicateGroup[];
  unreadable: { id: string; reason: string }[];
  annotated: { id: string; label: string; colourPixels: number; markPixels: number }[];
  skipped: SkippedFile[];
  /** Decoded images (RGB uint8 HWC) of group members and flagged images, by sample id. */
  images: Map<string, RgbImage>;
  annotationThresholds: Record<string, number>;
  version: string;
}

/** Annotated images shown on the contact sheet; the rest are listed in audit.json. */
const MAX_ANNOTATED_SHOWN = 120;
const THUMBNAIL_SIZE = 128;

function countTable(title: string, counts: Record<string, number>): string {
  const rows = Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([key, count]) => `<tr><td>${escapeHtml(key)}</td><td class="n">${count}</td></tr>`)
    .join('');
  return `<table><thead><tr><th>${escapeHtml(title)}</th><th>images</th></tr></thead><tbody>${rows}</tbody></table>`;
}

async function figure(id: string, caption: string, images: Map<string, RgbImage>): Promise<string> {
  const image = images.get(id);
  const picture = image ? `<img src="${await thumbnailDataUri(image, THUMBNAIL_SIZE)}" alt="${escapeHtml(id)}">` : '<div class="missing">not readable</div>';
  return `<figure>${picture}<figcaption>${escapeHtml(id)}<br>${escapeHtml(caption)}</figcaption></figure>`;
}

async function groupSection(group: DuplicateGroup, images: Map<string, RgbImage>): Promise<string> {
  const figures: string[] = [];
  for (let i = 0; i < group.ids.length; i++) figures.push(await figure(group.ids[i], CLASS_NAMES[group.labels[i]], images));
  const kind = group.kind === 'exact' ? 'exact duplicates (same pixels)' : `near duplicates (max distance ${group.maxDistance} bits)`;
  const conflict = group.conflict ? '<span class="conflict">label conflict</span> ' : '';
  return `<section class="group${group.conflict ? ' has-conflict' : ''}"><h3>${conflict}Group ${group.group}: ${group.ids.length} images, ${kind}</h3><div class="sheet">${figures.join('')}</div></section>`;
}

/** Renders audit.html (UTF-8 text) with thumbnails embedded as data URIs. */
export async function renderAuditHtml(input: AuditHtmlInput): Promise<string> {
  const { summary } = input;
  const ordered = [...input.groups].sort((a, b) => Number(b.conflict) - Number(a.conflict) || a.group - b.group);
  const groupSections: string[] = [];
  for (const group of ordered) groupSections.push(await groupSection(group, input.images));

  const annotatedFigures: string[] = [];
  for (const item of input.annotated.slice(0, MAX_ANNOTATED_SHOWN)) {
    annotatedFigures.push(await figure(item.id, `${item.label}; colour ${item.colourPixels}, marks ${item.markPixels}`, input.images));
  }
  const moreAnnotated = input.annotated.length > MAX_ANNOTATED_SHOWN
    ? `<p>${input.annotated.length - MAX_ANNOTATED_SHOWN} more are listed in audit.json.</p>`
    : '';
  const unreadableRows = input.unreadable.map((item) => `<tr><td>${escapeHtml(item.id)}</td><td>${escapeHtml(item.reason)}</td></tr>`).join('');
  const thresholds = Object.entries(input.annotationThresholds).map(([key, value]) => `${escapeHtml(key)} = ${value}`).join(', ');

  const overview: Record<string, number> = {
    'images found': summary.images,
    readable: summary.readable,
    unreadable: summary.unreadable,
    'files skipped (masks, other files)': summary.skippedFiles,
    'exact duplicate groups': summary.exactGroups,
    'images in exact groups': summary.exactDuplicateImages,
    'near-duplicate groups': summary.nearGroups,
    'images in near groups': summary.nearDuplicateImages,
    'groups with label conflicts': summary.labelConflicts,
    'images with burned-in annotations': summary.annotatedImages,
  };
  const overviewRows = Object.entries(overview).map(([key, value]) => `<tr><td>${escapeHtml(key)}</td><td class="n">${value}</td></tr>`).join('');

  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>busight dataset audit</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:0 2em 1em 0;display:inline-table;vertical-align:top}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}td.n{text-align:right}
.sheet{display:flex;flex-wrap:wrap;gap:8px}
figure{margin:0;width:${THUMBNAIL_SIZE}px;font-size:11px;word-break:break-all}
figure img{width:${THUMBNAIL_SIZE}px;height:${THUMBNAIL_SIZE}px;object-fit:contain;background:#000}
.group{border-top:1px solid #ddd;padding:4px 0}.has-conflict h3{color:#b00}
.conflict{background:#b00;color:#fff;padding:1px 6px;border-radius:3px}
h3{font-size:14px;margin:6px 0}
</style></head><body>
<h1>Dataset audit</h1>
<p>Source: ${escapeHtml(summary.source)} (${escapeHtml(summary.format)}); busight ${escapeHtml(input.version)}.</p>
<h2>Counts</h2>
<table><tbody>${overviewRows}</tbody></table>
${countTable('class', summary.perClass)}${countTable('format', summary.formats)}${countTable('size', summary.sizes)}${countTable('stored layout', summary.layouts)}
<h2>Duplicate groups</h2>
<p>Exact duplicates share the SHA-256 of their decoded pixels. Near duplicates have 64-bit perceptual hashes (DCT pHash) at most ${summary.nearThreshold} bits apart;
groups are connected chains of such pairs. Groups whose members carry different labels are shown first. Splits keep each group in one split or fold.</p>
${groupSections.join('\n') || '<p>No duplicates found.</p>'}
<h2>Burned-in annotations</h2>
<p>Heuristic: coloured pixels, or thin bright marks much brighter than their neighbourhood (${thresholds}).</p>
<div class="sheet">${annotatedFigures.join('')}</div>${moreAnnotated}
<h2>Unreadable files</h2>
${unreadableRows ? `<table><thead><tr><th>file</th><th>reason</th></tr></thead><tbody>${unreadableRows}</tbody></table>` : '<p>None.</p>'}
</body></html>
`;
}
