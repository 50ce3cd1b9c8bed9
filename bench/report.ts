/**
 * Pure helpers of the benchmarks: statistics over samples, ratios against a baseline, and the
 * Markdown table `npm run bench` prints (and README.md quotes).
 */

/** The p-th percentile (0 < p <= 100) by nearest rank: a value that occurred. */
export function percentile(values: readonly number[], p: number): number {
    if (!values.length) throw new Error("percentile of no samples");
    if (!(p > 0 && p <= 100)) throw new Error(`percentile must be in (0, 100], got ${p}`);
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.ceil((p / 100) * sorted.length) - 1];
}

/** The middle value; the mean of the two middle ones for an even count. */
export function median(values: readonly number[]): number {
    if (!values.length) throw new Error("median of no samples");
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export interface LatencySummary {
    samples: number;
    p50: number;
    p99: number;
}

export function summarize(values: readonly number[]): LatencySummary {
    return { samples: values.length, p50: percentile(values, 50), p99: percentile(values, 99) };
}

/** `value / baseline`: how many times the baseline a figure is. */
export function ratio(value: number, baseline: number): number {
    if (!(baseline > 0) || !Number.isFinite(value)) throw new Error(`ratio of ${value} to a baseline of ${baseline}`);
    return value / baseline;
}

/** A number with a fixed count of decimals, or "—" when there is none. */
export function fixed(value: number | undefined, decimals = 0): string {
    return value === undefined || !Number.isFinite(value) ? "—" : value.toFixed(decimals);
}

/** A ratio as printed: "1.23×". */
export function times(value: number | undefined): string {
    return value === undefined || !Number.isFinite(value) ? "—" : `${value.toFixed(2)}×`;
}

/** A Markdown table, columns padded so it also reads well in a terminal. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
    for (const row of rows) if (row.length !== header.length) throw new Error(`table row has ${row.length} cells, the header ${header.length}: ${row.join(" | ")}`);
    const cell = (text: string) => text.replace(/\|/g, "\\|");
    const widths = header.map((h, i) => Math.max(cell(h).length, ...rows.map((r) => cell(r[i]).length)));
    const line = (cells: readonly string[]) => `| ${cells.map((c, i) => cell(c).padEnd(widths[i])).join(" | ")} |`;
    return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

/**
 * The exponent k of `y ∝ x^k` that fits the points best (least squares on log y against log x):
 * 1 is linear growth, 2 quadratic.
 */
export function growthExponent(points: readonly (readonly [number, number])[]): number {
    if (points.length < 2) throw new Error(`a growth exponent needs two points or more, got ${points.length}`);
    if (points.some(([x, y]) => !(x > 0 && y > 0))) throw new Error(`a growth exponent needs positive figures: ${JSON.stringify(points)}`);
    const logs = points.map(([x, y]) => [Math.log(x), Math.log(y)]);
    const mx = logs.reduce((s, [x]) => s + x, 0) / logs.length;
    const my = logs.reduce((s, [, y]) => s + y, 0) / logs.length;
    const sxx = logs.reduce((s, [x]) => s + (x - mx) ** 2, 0);
    if (sxx === 0) throw new Error("a growth exponent needs two different sizes");
    return logs.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
}
