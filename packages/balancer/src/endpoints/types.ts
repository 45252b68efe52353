/**
 * One upstream endpoint as the balancer sees it.
 *
 * @since 0.1.0
 */
export interface Endpoint {
  /** Stable identifier (for example the pod name or `host:port`). */
  readonly id: string;
  /** `host:port` to connect to. */
  readonly address: string;
  /** Zone (topology.kubernetes.io/zone) the endpoint runs in, if known. */
  readonly zone?: string | undefined;
  /** Relative weight, a positive finite number. @defaultValue 1 */
  readonly weight: number;
  /** Whether the endpoint passed its readiness check. @defaultValue true */
  readonly ready: boolean;
  /** Whether the endpoint serves (may be true while terminating). @defaultValue true */
  readonly serving: boolean;
  /** Whether the endpoint is shutting down. @defaultValue false */
  readonly terminating: boolean;
  /** Free-form labels (shard, version...). @defaultValue `{}` */
  readonly labels: Readonly<Record<string, string>>;
  /** When the endpoint was first seen, in milliseconds of the set's clock (drives slow start). */
  readonly addedAt: number;
}

/**
 * What callers pass to {@link EndpointSet.upsert}: `id` and `address` are required, the rest take defaults.
 *
 * @since 0.1.0
 */
export type EndpointInput = Partial<Omit<Endpoint, 'id' | 'address'>> & { id: string; address: string };

/**
 * A change notification from {@link EndpointSet.subscribe}.
 *
 * @since 0.1.0
 */
export type EndpointChange =
  | { readonly type: 'added'; readonly endpoint: Endpoint; readonly version: number }
  | { readonly type: 'updated'; readonly endpoint: Endpoint; readonly previous: Endpoint; readonly version: number }
  | { readonly type: 'removed'; readonly endpoint: Endpoint; readonly version: number };

/**
 * A plain snapshot of the caller-fed statistics of one endpoint.
 *
 * @since 0.1.0
 */
export interface EndpointStats {
  /** Requests started and not yet ended. */
  readonly inFlight: number;
  /** Peak-EWMA latency in milliseconds (0 until the first sample). */
  readonly ewmaLatencyMs: number;
  /** EWMA of the success ratio in [0, 1] (1 until the first sample). */
  readonly successEwma: number;
  /** Requests ended, in total. */
  readonly total: number;
  /** Requests ended with `ok === false`, in total. */
  readonly failures: number;
  /** Failures since the last success. */
  readonly consecutiveFailures: number;
}

/**
 * A live set of endpoints with change subscriptions and per-endpoint statistics fed back by callers.
 *
 * @since 0.1.0
 */
export interface EndpointSet {
  /** Adds or updates an endpoint. @throws BalancerError `BALANCER_INVALID_ARGUMENT` on a malformed input. */
  upsert(ep: EndpointInput): void;
  /** Removes an endpoint; unknown ids are ignored. */
  remove(id: string): void;
  /** Replaces the whole set atomically (one version bump). @throws BalancerError `BALANCER_INVALID_ARGUMENT`. */
  replaceAll(eps: readonly EndpointInput[]): void;
  /** The endpoint with this id, if any. */
  get(id: string): Endpoint | undefined;
  /** All endpoints, in insertion order (a cached array: do not mutate). */
  list(): readonly Endpoint[];
  /** Increments on every membership or attribute change. */
  readonly version: number;
  /** Calls `listener` on every change; returns the unsubscribe function. */
  subscribe(listener: (change: EndpointChange) => void): () => void;
  /** A request to `id` started. */
  onStart(id: string): void;
  /** A request to `id` ended after `latencyMs`, successfully or not. */
  onEnd(id: string, latencyMs: number, ok: boolean): void;
  /** A snapshot of the statistics of `id` (zeros for an unknown id). */
  statsOf(id: string): EndpointStats;
}
