import { InvalidArgumentError } from 'commander';

import { BACKBONE_NAMES } from '../model/backbone.js';
import type { BackboneName } from '../model/backbone.js';
import { LANGUAGES } from '../report/i18n.js';
import type { Language } from '../report/i18n.js';

/** Parses a non-negative integer option value. */
export function parseInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new InvalidArgumentError(`expected a non-negative integer, received ${JSON.stringify(value)}`);
  return number;
}

/** Parses a folder path option value, rejecting an empty one, which would mean the current folder. */
export function parseFolder(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('expected a folder path, received an empty value');
  return value;
}

/** Parses a positive integer option value. */
export function parsePositiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError(`expected a positive integer, received ${JSON.stringify(value)}`);
  return number;
}

/** Parses a cross-validation fold count, an integer of at least 3: one fold tests, one validates and the rest train. */
export function parseFoldCount(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 3) {
    throw new InvalidArgumentError(`expected an integer of at least 3 (one fold tests, one validates, the rest train), received ${JSON.stringify(value)}`);
  }
  return number;
}

/** Parses a perceptual-hash distance in bits, 0 to 64. */
export function parseHashDistance(value: string): number {
  const number = parseInteger(value);
  if (number > 64) throw new InvalidArgumentError(`expected a number of bits from 0 to 64, received ${JSON.stringify(value)}`);
  return number;
}

/** Parses a fraction in (0, 1]. */
export function parseFraction(value: string): number {
  const number = Number(value);
  if (!(number > 0 && number <= 1)) throw new InvalidArgumentError(`expected a number in (0, 1], received ${JSON.stringify(value)}`);
  return number;
}

/** Parses a backbone name. */
export function parseBackbone(value: string): BackboneName {
  if (!(BACKBONE_NAMES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${BACKBONE_NAMES.join(', ')}, received ${JSON.stringify(value)}`);
  }
  return value as BackboneName;
}

/** Parses a report language. */
export function parseLanguage(value: string): Language {
  if (!(LANGUAGES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${LANGUAGES.join(', ')}, received ${JSON.stringify(value)}`);
  }
  return value as Language;
}

/** Parses a comma-separated list of positive integers, or an empty string for none. */
export function parseUnitList(value: string): number[] {
  if (value.trim() === '') return [];
  return value.split(',').map((part) => parsePositiveInteger(part.trim()));
}
