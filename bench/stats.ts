// Summaries of benchmark samples: median with min and max, rounded for the
// result files, the samples kept.

export interface Stats { median: number; min: number; max: number; samples: number[] }

export function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const round = (value: number) => Number(value.toFixed(3));
  return { median: round(median), min: round(sorted[0]!), max: round(sorted[sorted.length - 1]!), samples: samples.map(round) };
}
