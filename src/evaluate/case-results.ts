import { compareIds } from '../data/dataset.js';
import type { Label, Sample } from '../data/sample.js';

/** The model's output for one labelled image. */
export interface CaseResult {
  sample: Sample;
  label: Label;
  /** Calibrated malignancy probability in [0, 1]. */
  probability: number;
  /** 1 when probability >= threshold. */
  predicted: Label;
}

/** Kind of outcome at the threshold, in the order the report lists cases. */
export type CaseOutcome = 'missed malignant' | 'false alarm' | 'true malignant' | 'true benign';

export function caseOutcome(result: CaseResult): CaseOutcome {
  if (result.label === 1) return result.predicted === 1 ? 'true malignant' : 'missed malignant';
  return result.predicted === 1 ? 'false alarm' : 'true benign';
}

const OUTCOME_ORDER: CaseOutcome[] = ['missed malignant', 'false alarm', 'true malignant', 'true benign'];

/**
 * Orders cases for review: missed malignant cases first (most confident misses first), then
 * false alarms (most confident first), then correct cases by id.
 */
export function orderForReview(results: CaseResult[]): CaseResult[] {
  return [...results].sort((a, b) => {
    const byOutcome = OUTCOME_ORDER.indexOf(caseOutcome(a)) - OUTCOME_ORDER.indexOf(caseOutcome(b));
    if (byOutcome !== 0) return byOutcome;
    const outcome = caseOutcome(a);
    if (outcome === 'missed malignant') return a.probability - b.probability;
    if (outcome === 'false alarm') return b.probability - a.probability;
    return compareIds(a.sample.id, b.sample.id);
  });
}

/** Builds case results from parallel arrays of samples and probabilities at a threshold. */
export function toCaseResults(samples: Sample[], probabilities: number[], threshold: number): CaseResult[] {
  return samples.map((sample, index) => ({
    sample,
    label: sample.label,
    probability: probabilities[index],
    predicted: probabilities[index] >= threshold ? 1 : 0,
  }));
}
