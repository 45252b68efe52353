import type { Shop } from './shop.js';
import { CUSTOMERS } from './services/customers.js';
import { progress } from './progress.js';

/** Drives the shop for `seconds` at about `rate` orders/s (bounded concurrency), with a progress display. */
export async function runTraffic(shop: Shop, seconds: number, rate: number, random: () => number = Math.random): Promise<{ orders: number; p50: number; p99: number }> {
  const bar = progress('traffic');
  const total = Math.round(seconds * rate);
  const start = performance.now();
  const latencies: number[] = [];
  let next = 0;
  let done = 0;
  const sampler = setInterval(() => void shop.sample().catch(() => {}), 500);
  const worker = async () => {
    while (true) {
      const i = next++;
      if (i >= total) return;
      const due = start + (i / rate) * 1000;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      if (i % 25 === 0) {
        const id = 1 + Math.floor(random() * CUSTOMERS);
        await shop.changeCustomer(id, 200 + Math.floor(random() * 2000), random() < 0.3 ? 'gold' : 'standard');
      }
      const r = await shop.placeOrder(1 + Math.floor(random() * CUSTOMERS), 1 + Math.floor(random() * 500));
      if (r.status !== 'failed') latencies.push(r.latencyMs);
      done++;
      bar.update(done, total, `${done}/${total} orders`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  clearInterval(sampler);
  await shop.sample();
  bar.done();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil((p / 100) * latencies.length) - 1))] ?? 0;
  return { orders: done, p50: pct(50), p99: pct(99) };
}
