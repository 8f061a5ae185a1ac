/**
 * Browser helpers shared by the main page and the report page: language choice (stored in
 * localStorage, so it survives visits), translation of `data-i18n` elements and number formats.
 * Runs in the browser only.
 */
import {
  DEFAULT_WEB_LANGUAGE,
  isKnownErrorCode,
  isWebLanguage,
  translate,
  type MessageKey,
  type WebLanguage,
} from '../i18n.js';

/** Subset of the API's prediction JSON that the pages read. */
export interface PredictionView {
  id: string;
  caseNumber: number;
  createdAt: string;
  probability: number;
  label: 'benign' | 'malignant';
  threshold: number;
  modelName: string;
  modelVersion: string;
  imageUrl: string;
  heatmapUrl: string | null;
  heatmapEmpty: boolean;
  reportUrl: string;
  /** Frames of the uploaded file, present only in the response to an upload. */
  sourceFrames?: number;
  /** Present only in the response to an upload: the analysed part when black bands were cut off, else null. */
  contentBox?: { left: number; top: number; width: number; height: number } | null;
  /** Whether the image looked unlike the model's training images; null when the model could not tell. */
  atypical: boolean | null;
}

const LANGUAGE_STORAGE_KEY = 'busight.language';

const languageListeners: Array<(language: WebLanguage) => void> = [];

/** Returns the language from `?lang=`, else the stored choice, else Simplified Chinese. */
export function currentLanguage(): WebLanguage {
  const fromQuery = new URLSearchParams(window.location.search).get('lang');
  if (isWebLanguage(fromQuery)) return fromQuery;
  try {
    const stored = window.localStorage.getItem(LANGUAGE_STORAGE_KEY);
    if (isWebLanguage(stored)) return stored;
  } catch {
    // Storage can be disabled by browser policy; the default language applies then.
  }
  return DEFAULT_WEB_LANGUAGE;
}

let activeLanguage: WebLanguage = DEFAULT_WEB_LANGUAGE;

/** Translates a key in the active language. */
export function t(key: MessageKey, params?: Record<string, string | number>): string {
  return translate(activeLanguage, key, params);
}

export function activeWebLanguage(): WebLanguage {
  return activeLanguage;
}

/** Registers a function that re-renders dynamic text after a language change. */
export function onLanguageChange(listener: (language: WebLanguage) => void): void {
  languageListeners.push(listener);
}

/** Sets the active language, stores it, translates static text and calls the listeners. */
export function applyLanguage(language: WebLanguage, remember: boolean): void {
  activeLanguage = language;
  if (remember) {
    try {
      window.localStorage.setItem(LANGUAGE_STORAGE_KEY, language);
    } catch {
      // Without storage the choice lasts until the page is left.
    }
  }
  document.documentElement.lang = language;
  // NodeList.forEach, because the project's TypeScript lib setting has no DOM.Iterable.
  document.querySelectorAll<HTMLElement>('[data-i18n]').forEach((node) => {
    node.textContent = t(node.dataset.i18n as MessageKey);
  });
  document.querySelectorAll<HTMLElement>('[data-i18n-aria-label]').forEach((node) => {
    node.setAttribute('aria-label', t(node.dataset.i18nAriaLabel as MessageKey));
  });
  for (const listener of languageListeners) listener(language);
}

/** Wires the language button (it switches between Chinese and English) and applies the current language. */
export function setUpLanguageSwitch(): void {
  const button = document.getElementById('language-switch');
  button?.addEventListener('click', () => {
    applyLanguage(activeLanguage === 'zh-CN' ? 'en' : 'zh-CN', true);
  });
  applyLanguage(currentLanguage(), false);
}

/** Formats a probability in [0, 1] as a percentage with `decimals` digits after the point, for example "37.2%". */
export function formatPercent(probability: number, decimals = 1): string {
  return `${(probability * 100).toFixed(decimals)}%`;
}

/**
 * Formats a probability and the threshold it was compared with, adding decimals (up to 4) while
 * both print the same. Values less than 0.00005 percentage points apart still print alike.
 */
export function formatProbabilityAndThreshold(probability: number, threshold: number): { probability: string; threshold: string } {
  let decimals = 1;
  while (decimals < 4 && probability !== threshold && formatPercent(probability, decimals) === formatPercent(threshold, decimals)) decimals += 1;
  return { probability: formatPercent(probability, decimals), threshold: formatPercent(threshold, decimals) };
}

/** Formats an ISO 8601 time as a local date and time in the active language. */
export function formatDateTime(iso: string): string {
  const locale = activeLanguage === 'zh-CN' ? 'zh-CN' : 'en-GB';
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

/** Formats a case number with leading zeros, for example 000017. */
export function formatCaseNumber(caseNumber: number): string {
  return String(caseNumber).padStart(6, '0');
}

/** Returns the verdict text of a prediction: likely benign or suspicious for malignancy. */
export function verdictText(label: PredictionView['label']): string {
  return t(label === 'malignant' ? 'result.suspiciousMalignant' : 'result.likelyBenign');
}

/** Returns the CSS class of a verdict. */
export function verdictClass(label: PredictionView['label']): string {
  return label === 'malignant' ? 'suspicious' : 'benign';
}

/** Returns a translated message for an API error, falling back to the server's English message. */
export function errorText(code: string | undefined, serverMessage: string | undefined): string {
  if (code && isKnownErrorCode(code)) return t(`error.${code}`);
  return serverMessage ?? t('error.internal');
}

/** Creates an element with a class and optional text. */
export function element<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const created = document.createElement(tag);
  if (className) created.className = className;
  if (text !== undefined) created.textContent = text;
  return created;
}
