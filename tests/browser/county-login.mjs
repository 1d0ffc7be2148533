#!/usr/bin/env node
// The "system browser" for tests and demos: headless Debian Chromium driven by
// playwright-core (never a downloaded browser). The app runs it as
// EDUCLOUD_BROWSER with the URL as its one argument, like any browser.
//
// What it does on the page comes from the JSON file named by
// EDUCLOUD_TEST_BROWSER_PLAN (re-read on every launch, so a test can change
// it between steps):
//   {"action": "login" | "cancel" | "open",
//    "username": "ntpctest", "password": "demo-password", "remember": false,
//    "wait_for": "/callback/",          // URL part that ends the visit
//    "log": "/tmp/x/browser.jsonl",     // one JSON line per visit
//    "screenshots": "/path/dir"}        // optional PNGs of each page
import { chromium } from 'playwright-core';
import { readFileSync, appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const url = process.argv[2];
const planFile = process.env.EDUCLOUD_TEST_BROWSER_PLAN;
const plan = planFile ? JSON.parse(readFileSync(planFile, 'utf8')) : { action: 'open' };
const log = (entry) => {
  if (plan.log) appendFileSync(plan.log, JSON.stringify({ at: new Date().toISOString(), ...entry }) + '\n');
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const shot = async (page, name) => {
  if (!plan.screenshots) return;
  mkdirSync(plan.screenshots, { recursive: true });
  await page.screenshot({ path: join(plan.screenshots, `${Date.now()}-${name}.png`) });
};
try {
  const page = await browser.newPage({ locale: plan.locale || 'zh-TW' });
  await page.goto(url, { timeout: 20000 });
  await shot(page, 'opened');
  const until = plan.wait_for || '/callback/';
  if (plan.action === 'login') {
    await page.fill('#username', plan.username || '');
    await page.fill('#password', plan.password || '');
    if (plan.remember) await page.check('#remember');
    await shot(page, 'filled');
    await Promise.all([
      page.waitForURL((u) => u.toString().includes(until) || u.toString().includes('login-error'), { timeout: 20000 }).catch(() => {}),
      page.click('#login'),
    ]);
  } else if (plan.action === 'cancel') {
    await Promise.all([
      page.waitForURL((u) => u.toString().includes(until), { timeout: 20000 }),
      page.click('#cancel'),
    ]);
  }
  await page.waitForLoadState('load');
  await shot(page, 'final');
  const text = (await page.textContent('body')) || '';
  log({ ok: true, url, final_url: page.url(), text: text.replace(/\s+/g, ' ').trim() });
} catch (e) {
  log({ ok: false, url, error: String(e) });
  process.exitCode = 1;
} finally {
  await browser.close();
}
