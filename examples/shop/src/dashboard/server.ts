import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { page } from './page.js';

/** What the dashboard shows; the shop wires it to the TSDB, the outbox and the assistant. */
export interface DashboardSource {
  traffic(): Promise<{
    totalRequests: number;
    replicas: { id: string; zone: string; requests: number; share: number }[];
    series: { id: string; points: [number, number][] }[];
  }>;
  lag(): Promise<{ rows: { name: string; value: string }[] }>;
  ask(question: string): Promise<{ sentences: { text: string; citations: number[] }[]; sources: { title: string }[] }>;
}

/** Serves the dashboard page and its JSON API on 127.0.0.1. */
export async function startDashboard(source: DashboardSource, port = 0): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const json = (body: unknown, status = 200) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      if (url.pathname === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(page);
      } else if (url.pathname === '/api/traffic') json(await source.traffic());
      else if (url.pathname === '/api/lag') json(await source.lag());
      else if (url.pathname === '/api/ask') {
        const q = url.searchParams.get('q') ?? '';
        if (q.trim().length === 0 || q.length > 500) json({ error: 'q must be 1..500 characters' }, 400);
        else json(await source.ask(q));
      } else json({ error: 'not found' }, 404);
    } catch (err) {
      json({ error: String((err as Error)?.message ?? err) }, 500);
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/`,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
