import { BalancerError } from '../errors.js';

/**
 * How requests are routed in a simulation run.
 *
 * - `kube-proxy-random` / `kube-proxy-rr`: each client's long-lived connections are spread over pods once, at
 *   connect time (random or round robin, like kube-proxy's iptables/IPVS modes); every request follows its
 *   connection.
 * - `round-robin`, `random`, `p2c`, `p2c-ewma`, `weighted`, `zone-aware-p2c`: the package's pickers, per request,
 *   each client with its own {@link EndpointSet} (so its own, local, view of in-flight requests and latency).
 * - `jsq`: an oracle that sees every pod's queue and joins the shortest (relative to its capacity).
 *
 * @since 0.1.0
 */
export type SimRouting =
  | 'kube-proxy-random'
  | 'kube-proxy-rr'
  | 'round-robin'
  | 'random'
  | 'p2c'
  | 'p2c-ewma'
  | 'weighted'
  | 'zone-aware-p2c'
  | 'jsq';

/** Every routing a scenario may name. */
export const SIM_ROUTINGS: readonly SimRouting[] = [
  'kube-proxy-random',
  'kube-proxy-rr',
  'round-robin',
  'random',
  'p2c',
  'p2c-ewma',
  'weighted',
  'zone-aware-p2c',
  'jsq',
];

/**
 * A simulation scenario (the JSON file given to `simulate --scenario`).
 *
 * @since 0.1.0
 */
export interface Scenario {
  /** Name shown in reports. @defaultValue 'scenario' */
  name?: string | undefined;
  /** PRNG seed: the same scenario and seed give the same results. @defaultValue 1 */
  seed?: number | undefined;
  /** Zones with their share of pods and of clients, and a speed factor of their pods. @defaultValue one zone 'a' */
  zones?: readonly { name: string; podShare?: number; clientShare?: number; speed?: number }[] | undefined;
  /** Number of pods in the cluster. */
  pods: number;
  /** Requests a pod serves at once (its workers); more wait in its FIFO queue. @defaultValue 1 */
  podConcurrency?: number | undefined;
  /** Mean service time in ms at speed 1. @defaultValue 10 */
  serviceMeanMs?: number | undefined;
  /** Service-time distribution. @defaultValue 'exponential' */
  serviceDistribution?: 'exponential' | 'constant' | 'lognormal' | undefined;
  /** Utilisation target: the arrival rate is `load * total capacity` of `referencePods` pods. @defaultValue 0.7 */
  load?: number | undefined;
  /** Pods whose capacity defines the arrival rate (so that fewer pods means more load). @defaultValue pods */
  referencePods?: number | undefined;
  /** Number of clients. @defaultValue 20 */
  clients?: number | undefined;
  /** Long-lived connections per client (per-connection routing). @defaultValue 1 */
  connectionsPerClient?: number | undefined;
  /** Sigma of the log-normal spread of request rates between clients (0 = all equal). @defaultValue 1 */
  clientRateSigma?: number | undefined;
  /** Extra latency of a cross-zone request, in ms. @defaultValue 0 */
  crossZoneMs?: number | undefined;
  /** Requests simulated per run (after warm-up). @defaultValue 50000 */
  requests?: number | undefined;
  /** Requests discarded at the start of each run. @defaultValue requests / 10 */
  warmupRequests?: number | undefined;
  /** Routings to compare. @defaultValue all of {@link SIM_ROUTINGS} */
  routings?: readonly SimRouting[] | undefined;
  /** p99 latency SLO in ms for the minimum-pod search; no search when absent. */
  sloP99Ms?: number | undefined;
  /** Range of pod counts for the search. @defaultValue `[1, pods * 2]` */
  podSearch?: { min?: number; max?: number } | undefined;
}

/** A scenario with every default filled in (see {@link resolveScenario}). */
export interface ResolvedScenario {
  name: string;
  seed: number;
  zones: { name: string; podShare: number; clientShare: number; speed: number }[];
  pods: number;
  podConcurrency: number;
  serviceMeanMs: number;
  serviceDistribution: 'exponential' | 'constant' | 'lognormal';
  load: number;
  referencePods: number;
  clients: number;
  connectionsPerClient: number;
  clientRateSigma: number;
  crossZoneMs: number;
  requests: number;
  warmupRequests: number;
  routings: SimRouting[];
  sloP99Ms: number | undefined;
  podSearch: { min: number; max: number };
}

function fail(msg: string): never {
  throw new BalancerError('BALANCER_INVALID_ARGUMENT', `scenario: ${msg}`);
}

function int(v: unknown, def: number, name: string, min: number): number {
  const x = v ?? def;
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min) fail(`${name} must be an integer >= ${min}`);
  return x;
}

function pos(v: unknown, def: number, name: string, allowZero = false): number {
  const x = v ?? def;
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || (!allowZero && x === 0)) {
    fail(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} finite number`);
  }
  return x;
}

/**
 * Validates a scenario and fills in defaults.
 *
 * @param input - parsed JSON.
 * @returns the resolved scenario.
 * @throws BalancerError `BALANCER_INVALID_ARGUMENT` naming the bad field.
 * @example
 * ```ts
 * import { resolveScenario } from '@dataplane/balancer';
 *
 * const s = resolveScenario({ pods: 10 });
 * ```
 * @since 0.1.0
 */
export function resolveScenario(input: unknown): ResolvedScenario {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) fail('must be a JSON object');
  const s = input as Scenario;
  const pods = int(s.pods, Number.NaN, 'pods', 1);
  const zonesIn = s.zones ?? [{ name: 'a' }];
  if (!Array.isArray(zonesIn) || zonesIn.length === 0) fail('zones must be a non-empty array');
  const zones = zonesIn.map((z, i) => {
    if (typeof z !== 'object' || z === null || typeof z.name !== 'string') fail(`zones[${i}].name must be a string`);
    return {
      name: z.name,
      podShare: pos(z.podShare, 1, `zones[${i}].podShare`, true),
      clientShare: pos(z.clientShare, 1, `zones[${i}].clientShare`, true),
      speed: pos(z.speed, 1, `zones[${i}].speed`),
    };
  });
  const requests = int(s.requests, 50_000, 'requests', 100);
  const routings = [...(s.routings ?? SIM_ROUTINGS)];
  for (const r of routings) if (!SIM_ROUTINGS.includes(r)) fail(`unknown routing ${String(r)}`);
  const dist = s.serviceDistribution ?? 'exponential';
  if (dist !== 'exponential' && dist !== 'constant' && dist !== 'lognormal') fail('unknown serviceDistribution');
  const load = pos(s.load, 0.7, 'load');
  const sloP99Ms = s.sloP99Ms === undefined ? undefined : pos(s.sloP99Ms, 0, 'sloP99Ms');
  const min = int(s.podSearch?.min, 1, 'podSearch.min', 1);
  const max = int(s.podSearch?.max, pods * 2, 'podSearch.max', min);
  const seed = s.seed ?? 1;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) fail('seed must be a finite number');
  return {
    name: typeof s.name === 'string' ? s.name : 'scenario',
    seed,
    zones,
    pods,
    podConcurrency: int(s.podConcurrency, 1, 'podConcurrency', 1),
    serviceMeanMs: pos(s.serviceMeanMs, 10, 'serviceMeanMs'),
    serviceDistribution: dist,
    load,
    referencePods: int(s.referencePods, pods, 'referencePods', 1),
    clients: int(s.clients, 20, 'clients', 1),
    connectionsPerClient: int(s.connectionsPerClient, 1, 'connectionsPerClient', 1),
    clientRateSigma: pos(s.clientRateSigma, 1, 'clientRateSigma', true),
    crossZoneMs: pos(s.crossZoneMs, 0, 'crossZoneMs', true),
    requests,
    warmupRequests: int(s.warmupRequests, Math.floor(requests / 10), 'warmupRequests', 0),
    routings,
    sloP99Ms,
    podSearch: { min, max },
  };
}
