import { simulateRun } from './engine.js';
import type { SimRunResult } from './engine.js';
import type { ResolvedScenario, SimRouting } from './scenario.js';

/**
 * The full result of a scenario: one run per routing at the scenario's pod count, and the smallest pod count
 * meeting the p99 SLO per routing.
 *
 * @since 0.1.0
 */
export interface SimReport {
  readonly scenario: ResolvedScenario;
  readonly runs: readonly SimRunResult[];
  /** Smallest pod count with p99 <= SLO per routing (`null`: not met within the search range). */
  readonly minPods: Readonly<Partial<Record<SimRouting, number | null>>>;
}

/** Progress callback: `done` of `total` runs. */
export type SimProgress = (done: number, total: number, label: string) => void;

/**
 * Smallest pod count in the scenario's search range whose p99 meets the SLO (binary search: p99 falls as pods
 * are added).
 *
 * @param s - resolved scenario with `sloP99Ms`.
 * @param routing - the routing.
 * @param onRun - called after each run.
 * @returns the pod count, or `null` when even the maximum misses the SLO.
 * @example
 * ```ts
 * import { minPodsForSlo, resolveScenario } from '@dataplane/balancer';
 *
 * minPodsForSlo(resolveScenario({ pods: 10, sloP99Ms: 50, requests: 5_000 }), 'p2c');
 * ```
 * @since 0.1.0
 */
export function minPodsForSlo(s: ResolvedScenario, routing: SimRouting, onRun?: () => void): number | null {
  const slo = s.sloP99Ms;
  if (slo === undefined) return null;
  const meets = (pods: number): boolean => {
    const r = simulateRun(s, routing, pods);
    onRun?.();
    return r.p99Ms <= slo;
  };
  let lo = s.podSearch.min;
  let hi = s.podSearch.max;
  if (!meets(hi)) return null;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (meets(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Runs every routing of a scenario and, with an SLO, the minimum-pod search.
 *
 * @param s - resolved scenario.
 * @param onProgress - progress callback.
 * @returns the report.
 * @example
 * ```ts
 * import { resolveScenario, simulateScenario } from '@dataplane/balancer';
 *
 * const report = simulateScenario(resolveScenario({ pods: 10, requests: 5_000, routings: ['p2c', 'kube-proxy-random'] }));
 * ```
 * @since 0.1.0
 */
export function simulateScenario(s: ResolvedScenario, onProgress?: SimProgress): SimReport {
  const searchRuns = s.sloP99Ms === undefined ? 0 : Math.ceil(Math.log2(s.podSearch.max - s.podSearch.min + 1)) + 1;
  const total = s.routings.length * (1 + searchRuns);
  let done = 0;
  const runs: SimRunResult[] = [];
  const minPods: Partial<Record<SimRouting, number | null>> = {};
  for (const routing of s.routings) {
    runs.push(simulateRun(s, routing));
    onProgress?.(++done, total, routing);
    if (s.sloP99Ms !== undefined) {
      minPods[routing] = minPodsForSlo(s, routing, () => onProgress?.(Math.min(total - 1, ++done), total, routing));
    }
  }
  onProgress?.(total, total, 'done');
  return { scenario: s, runs, minPods };
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Renders a report as a self-contained SVG bar chart: p50/p90/p99 per routing, and the minimum pods per routing.
 *
 * @param report - a report from {@link simulateScenario}.
 * @returns SVG text.
 * @example
 * ```ts
 * import { renderSvg, resolveScenario, simulateScenario } from '@dataplane/balancer';
 *
 * const svg = renderSvg(simulateScenario(resolveScenario({ pods: 10, requests: 5_000, routings: ['p2c'] })));
 * ```
 * @since 0.1.0
 */
export function renderSvg(report: SimReport): string {
  const rows = report.runs;
  const rowH = 34;
  const left = 150;
  const width = 820;
  const chartW = 420;
  const height = 70 + rows.length * rowH;
  const maxMs = Math.max(1e-9, ...rows.map((r) => r.p99Ms));
  const colors = ['#4e79a7', '#f28e2b', '#e15759'];
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${esc(report.scenario.name)}: latency by routing (${report.scenario.pods} pods)</text>`,
    `<text x="${left}" y="40" fill="${colors[0]}">p50</text><text x="${left + 40}" y="40" fill="${colors[1]}">p90</text><text x="${left + 80}" y="40" fill="${colors[2]}">p99 (ms)</text>`,
    `<text x="${left + chartW + 90}" y="40">skew · min pods for p99 ≤ ${report.scenario.sloP99Ms ?? '-'} ms</text>`,
  ];
  rows.forEach((r, i) => {
    const y = 55 + i * rowH;
    out.push(`<text x="10" y="${y + 18}">${esc(r.routing)}</text>`);
    [r.p50Ms, r.p90Ms, r.p99Ms].forEach((v, k) => {
      const w = Math.max(1, (v / maxMs) * chartW);
      out.push(`<rect x="${left}" y="${y + k * 9}" width="${w.toFixed(1)}" height="8" fill="${colors[k]}"/>`);
    });
    out.push(`<text x="${left + chartW + 8}" y="${y + 25}">${r.p99Ms.toFixed(1)}</text>`);
    const mp = report.minPods[r.routing];
    out.push(
      `<text x="${left + chartW + 90}" y="${y + 18}">${r.skew.toFixed(2)} · ${mp === undefined ? '-' : mp === null ? 'not met' : mp}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}
