/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core (scripts/install-chromium.sh installs
 * it). The page must show real data read from the TSDB and a cited answer; a screenshot is saved to
 * artifacts/dashboard.png at the repository root.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard } from '../src/dashboard/server.js';
import { startShop, type Shop } from '../src/shop.js';
import { runTraffic } from '../src/traffic.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
let shop: Shop;
let dashboard: Awaited<ReturnType<typeof startDashboard>>;
let browser: Browser;

beforeAll(async () => {
  shop = await startShop({ mode: 'embedded', repoRoot, runbooks: fileURLToPath(new URL('../runbooks/', import.meta.url)) });
  dashboard = await startDashboard(shop.dashboard);
  await runTraffic(shop, 2, 40);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
  await shop?.close();
});

describe('dashboard in headless Chromium', () => {
  it('shows per-replica traffic and lag from the TSDB, and a cited answer', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(dashboard.url);
    await page.waitForSelector('#share tbody tr');
    const expected = await shop.dashboard.traffic();
    const rows = await page.$$eval('#share tbody tr', (trs) => trs.map((tr) => ({ id: tr.getAttribute('data-replica'), count: Number(tr.querySelector('.count')?.textContent) })));
    expect(rows.length).toBe(expected.replicas.length);
    const total = rows.reduce((n, r) => n + r.count, 0);
    expect(total).toBe(expected.totalRequests);
    expect(total).toBeGreaterThan(0);
    await page.waitForSelector('#lag tbody tr');
    expect(await page.textContent('#lag')).toContain('customer replica rows');
    await page.waitForSelector('#chart polyline');
    await page.fill('#q', 'what should I do when the outbox lag is growing?');
    await page.click('#ask button');
    await page.waitForSelector('#answer .sentence');
    const sentences = await page.$$eval('#answer .sentence', (ps) => ps.map((p) => p.textContent ?? ''));
    expect(sentences.length).toBeGreaterThan(0);
    expect(sentences.every((s) => /\[\d+\]/.test(s))).toBe(true);
    expect(await page.$$eval('#sources .source', (li) => li.length)).toBeGreaterThan(0);
    const out = fileURLToPath(new URL('../../../artifacts/', import.meta.url));
    mkdirSync(out, { recursive: true });
    await page.screenshot({ path: `${out}dashboard.png`, fullPage: true });
  }, 120_000);
});
