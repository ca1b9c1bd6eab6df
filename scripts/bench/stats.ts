/** Percentiles and summaries for the benchmark (nearest-rank, on a sorted copy). */

export interface Summary {
	n: number;
	min: number;
	p50: number;
	p90: number;
	p99: number;
	max: number;
	mean: number;
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
	if (sorted.length === 0) return Number.NaN;
	const rank = Math.ceil((p / 100) * sorted.length);
	return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export function median(values: readonly number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	if (sorted.length === 0) return Number.NaN;
	const mid = Math.floor(sorted.length / 2);
	return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function summarize(values: readonly number[]): Summary {
	const sorted = [...values].sort((a, b) => a - b);
	const sum = sorted.reduce((s, v) => s + v, 0);
	return {
		n: sorted.length,
		min: sorted[0] ?? Number.NaN,
		p50: percentile(sorted, 50),
		p90: percentile(sorted, 90),
		p99: percentile(sorted, 99),
		max: sorted[sorted.length - 1] ?? Number.NaN,
		mean: sorted.length ? sum / sorted.length : Number.NaN,
	};
}
