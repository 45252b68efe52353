import type { Topology, TopologyEndpoint, TopologyService } from '../xds/topology.js';
import type { K8sEndpointSlice, K8sService } from './types.js';

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** Labels of a slice carried to endpoints: everything except the Kubernetes-managed `*kubernetes.io/*` keys. */
function carriedLabels(labels: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) if (!k.includes('kubernetes.io/')) out[k] = v;
  return out;
}

const sliceCache = new WeakMap<K8sEndpointSlice, Map<string, TopologyEndpoint[]>>();

/** The endpoints of one slice on one port, converted once per slice object (slices are replaced, not mutated). */
function sliceEndpoints(slice: K8sEndpointSlice, portName: string, number: number): TopologyEndpoint[] {
  let perPort = sliceCache.get(slice);
  if (!perPort) sliceCache.set(slice, (perPort = new Map()));
  const cacheKey = `${portName}:${number}`;
  const cached = perPort.get(cacheKey);
  if (cached) return cached;
  const labels = carriedLabels(slice.metadata?.labels);
  const out: TopologyEndpoint[] = [];
  for (const e of slice.endpoints ?? []) {
    const ip = e.addresses?.[0];
    if (!ip) continue;
    const ready = e.conditions?.ready ?? true;
    out.push({
      id: e.targetRef?.name ?? ip,
      ip,
      port: number,
      zone: e.zone || undefined,
      nodeName: e.nodeName || undefined,
      ready: ready !== false,
      serving: (e.conditions?.serving ?? ready) !== false,
      terminating: e.conditions?.terminating === true,
      hintsForZones: (e.hints?.forZones ?? []).map((z) => z.name ?? '').filter((z) => z !== ''),
      labels,
      weight: 1,
    });
  }
  perPort.set(cacheKey, out);
  return out;
}

/** Key of an object: `namespace/name`. */
export function keyOf(obj: { metadata?: { name?: string | undefined; namespace?: string | undefined } | undefined }): string | undefined {
  const name = obj.metadata?.name;
  if (!name) return undefined;
  return `${obj.metadata?.namespace ?? ''}/${name}`;
}

/**
 * The xDS name of a Service port: `<name>.<namespace>` for a single-port Service, else
 * `<name>.<namespace>:<port name or number>`.
 */
export function xdsNameOf(svc: K8sService, port: { name?: string | undefined; port?: number | undefined }): string {
  const base = `${svc.metadata?.name ?? ''}.${svc.metadata?.namespace ?? ''}`;
  if ((svc.spec?.ports?.length ?? 0) <= 1) return base;
  return `${base}:${port.name || String(port.port ?? '')}`;
}

/**
 * Merges Services and their EndpointSlices into a topology: one TopologyService per Service port; endpoints
 * from every slice labelled with the Service's name, on the slice port of the same name; the same endpoint in
 * two slices (as during a slice rebalancing) kept once, preferring the ready copy; conditions per the
 * EndpointSlice API (ready unset means ready, serving unset means ready, terminating unset means false).
 */
export function buildTopology(services: Iterable<K8sService>, slices: Iterable<K8sEndpointSlice>): Topology {
  const slicesByService = new Map<string, K8sEndpointSlice[]>();
  for (const slice of slices) {
    const svcName = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!svcName) continue;
    const key = `${slice.metadata?.namespace ?? ''}/${svcName}`;
    let list = slicesByService.get(key);
    if (!list) slicesByService.set(key, (list = []));
    list.push(slice);
  }
  const out: TopologyService[] = [];
  for (const svc of services) {
    const key = keyOf(svc);
    if (!key || svc.spec?.type === 'ExternalName') continue;
    const svcSlices = slicesByService.get(key) ?? [];
    for (const port of svc.spec?.ports ?? []) {
      const portName = port.name ?? '';
      const byId = new Map<string, TopologyEndpoint>();
      for (const slice of svcSlices) {
        const slicePort = (slice.ports ?? []).find((p) => (p.name ?? '') === portName);
        const number = slicePort?.port;
        if (typeof number !== 'number' || !Number.isInteger(number) || number < 1 || number > 65535) continue;
        if (slice.addressType === 'FQDN') continue;
        for (const ep of sliceEndpoints(slice, portName, number)) {
          const id = `${ep.id}|${ep.ip}:${number}`;
          const prev = byId.get(id);
          if (!prev || (!prev.ready && ep.ready)) byId.set(id, ep);
        }
      }
      out.push({ name: xdsNameOf(svc, port), endpoints: [...byId.values()] });
    }
  }
  out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { services: out };
}
