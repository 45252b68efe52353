/**
 * The shop demo: `npm start` (embedded: no servers) or `npm start -- --mode real` (PostgreSQL at PGURL with
 * wal_level=logical, Redis at REDIS_URL). Drives traffic for a bounded time, serves the live dashboard meanwhile,
 * prints a summary.
 */
import { fileURLToPath } from 'node:url';
import { shopArgs } from './args.js';
import { startDashboard } from './dashboard/server.js';
import { startShop } from './shop.js';
import { runTraffic } from './traffic.js';

const args = shopArgs(process.argv.slice(2));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const runbooks = fileURLToPath(new URL('../runbooks/', import.meta.url));

console.log(`dataplane shop (${args.mode} mode): starting customer, order and payment services…`);
const shop = await startShop({
  mode: args.mode,
  repoRoot,
  runbooks,
  pgUrl: process.env.PGURL ?? 'postgres://postgres@127.0.0.1:5432/test',
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
});
const dashboard = await startDashboard(shop.dashboard, args.port);
console.log(`dashboard: ${dashboard.url}`);
console.log(`assistant indexed ${shop.assistant.documents} sections of the docs and runbooks`);

const t = await runTraffic(shop, args.duration, args.rate);
await new Promise((r) => setTimeout(r, 500)); // let relays and consumers catch up
console.log('\nsummary');
console.log(`  orders attempted: ${t.orders}, order call latency p50 ${t.p50.toFixed(1)} ms, p99 ${t.p99.toFixed(1)} ms`);
for (const [k, v] of Object.entries(await shop.summary())) console.log(`  ${k}: ${v}`);
const q = 'What do I do when the relay stops with OUTBOX_SLOT_LOST?';
const a = await shop.assistant.ask(q);
console.log(`\nassistant: ${q}`);
for (const s of a.sentences) console.log(`  ${s.text} ${s.citations.map((c) => `[${c}]`).join('')}`);
a.sources.forEach((s, i) => console.log(`  [${i + 1}] ${s.title}`));

if (args.keep) {
  console.log(`\nserving the dashboard at ${dashboard.url} — Ctrl-C to stop`);
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
}
await dashboard.close();
await shop.close();
