/**
 * Escapes text for HTML and SVG element content and double- or single-quoted attribute values:
 * `&`, `<`, `>`, `"` and `'` become character references.
 */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
