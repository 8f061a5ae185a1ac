/** Returns the q-quantile (q in [0, 1]) of values by linear interpolation between order statistics. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) throw new RangeError('quantile: expected at least one value');
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
}

/** Returns the median of values. */
export function median(values: number[]): number {
  return quantile(values, 0.5);
}

/** Returns the arithmetic mean of values. */
export function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** Returns the sample standard deviation (n - 1 denominator); 0 for a single value. */
export function standardDeviation(values: number[]): number {
  if (values.length < 2) return 0;
  const average = mean(values);
  return Math.sqrt(values.reduce((sum, value) => sum + (value - average) ** 2, 0) / (values.length - 1));
}
