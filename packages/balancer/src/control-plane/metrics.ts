import type { K8sWatcherStats } from '../k8s/watcher.js';
import type { Topology } from '../xds/topology.js';
import type { XdsServerStats } from '../xds/server.js';

/** Renders the control plane's counters in the Prometheus text exposition format (version 0.0.4). */
export function renderMetrics(xds: XdsServerStats, k8s: K8sWatcherStats, topology: Topology): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: [string, number][]): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) lines.push(`${name}${labels} ${v}`);
  };
  metric('dataplane_xds_streams', 'gauge', 'Open ADS streams.', [['', xds.streams]]);
  metric('dataplane_xds_version', 'gauge', 'Current topology version served.', [['', xds.version]]);
  metric('dataplane_xds_requests_total', 'counter', 'DiscoveryRequests received.', [['', xds.requests]]);
  metric('dataplane_xds_responses_total', 'counter', 'DiscoveryResponses sent.', [['', xds.responses]]);
  metric('dataplane_xds_acks_total', 'counter', 'ACKs received.', [['', xds.acks]]);
  metric('dataplane_xds_nacks_total', 'counter', 'NACKs received.', [['', xds.nacks]]);
  metric('dataplane_xds_invalid_resources_total', 'counter', 'Resources withheld for failing validation.', [['', xds.invalidResources]]);
  metric('dataplane_k8s_synced', 'gauge', '1 once Services and EndpointSlices were listed.', [['', k8s.synced ? 1 : 0]]);
  const per = (pick: (s: K8sWatcherStats['sliceWatch']) => number): [string, number][] => [
    ['{collection="services"}', pick(k8s.serviceWatch)],
    ['{collection="endpointslices"}', pick(k8s.sliceWatch)],
  ];
  metric('dataplane_k8s_lists_total', 'counter', 'Full lists (initial and after 410 Gone).', per((s) => s.lists));
  metric('dataplane_k8s_events_total', 'counter', 'Watch events applied.', per((s) => s.events));
  metric('dataplane_k8s_bookmarks_total', 'counter', 'Watch bookmarks received.', per((s) => s.bookmarks));
  metric('dataplane_k8s_gone_total', 'counter', '410 Gone answers.', per((s) => s.gone));
  metric('dataplane_k8s_reconnects_total', 'counter', 'Watch reconnects after an error.', per((s) => s.reconnects));
  metric('dataplane_k8s_watchdog_restarts_total', 'counter', 'Silent watches restarted by the watchdog.', per((s) => s.watchdogRestarts));
  metric('dataplane_topology_services', 'gauge', 'Services in the topology.', [['', topology.services.length]]);
  metric('dataplane_topology_endpoints', 'gauge', 'Endpoints in the topology.', [
    ['', topology.services.reduce((n, s) => n + s.endpoints.length, 0)],
  ]);
  return lines.join('\n') + '\n';
}
