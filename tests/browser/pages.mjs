// The guest pages in a real browser: Debian's chromium driven by playwright-core, each page
// checked by axe-core (WCAG 2.1 A and AA, and axe's best practices), for reflow at 320 CSS
// pixels, for its Content-Security-Policy (and nothing it blocks), and the forms used as a
// guest would: with JavaScript off, by their labels. Run by tests/browser.sh, which starts the
// local stack and passes the links in the environment: RSVP_URL, PREFERENCES_URL,
// UNSUBSCRIBE_URL, REFUSED_URL.

import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const pages = {
  rsvp: env('RSVP_URL'),
  preferences: env('PREFERENCES_URL'),
  unsubscribe: env('UNSUBSCRIBE_URL'),
  refused: env('REFUSED_URL'),
};

const failures = [];
const fail = (what) => {
  failures.push(what);
  console.error(`FAIL ${what}`);
};
const pass = (what) => console.log(`ok   ${what}`);
const check = (ok, what) => (ok ? pass(what) : fail(what));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // No background connections: this machine's network is closed.
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

/// A page opened in a context of its own; `blocked` collects what its CSP refused.
async function open(url, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1024, height: 800 }, ...options });
  const page = await context.newPage();
  const blocked = [];
  page.on('console', (m) => {
    // A 4xx page is what some checks ask for: its status is not an error of the page.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) blocked.push(m.text());
  });
  const response = await page.goto(url);
  return { context, page, response, blocked };
}

/// axe-core on what the page shows now (injected past the page's CSP, which allows no script).
async function audit(page, name) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    }),
  );
  const found = result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
  );
  check(found.length === 0, `${name}: axe finds nothing${found.length ? `: ${found.join('; ')}` : ''}`);
}

/// No horizontal scrolling at 320 CSS pixels (WCAG 1.4.10).
async function reflows(url, name) {
  const { context, page } = await open(url, { viewport: { width: 320, height: 640 } });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 320, `${name}: reflows at 320 px (content ${width} px wide)`);
  await context.close();
}

/// A page as a guest first sees it, then after `act` (which may post its form).
async function page(name, url, { status = 200, act } = {}) {
  const { context, page, response, blocked } = await open(url, { bypassCSP: true });
  check(response.status() === status, `${name}: answers ${status} (got ${response.status()})`);
  const csp = response.headers()['content-security-policy'] || '';
  check(csp.includes("default-src 'none'") && csp.includes("frame-ancestors 'none'"), `${name}: strict CSP`);
  check((await page.locator('html').getAttribute('lang')) !== null, `${name}: html lang`);
  check((await page.locator('h1').count()) === 1, `${name}: one h1`);
  await audit(page, name);
  if (act) await act(page);
  check(blocked.length === 0, `${name}: nothing refused by the CSP or failing${blocked.length ? `: ${blocked.join('; ')}` : ''}`);
  await context.close();
  await reflows(url, name);
}

// The RSVP page: an answer given without JavaScript, by labels.
{
  const { context, page: p } = await open(pages.rsvp, { javaScriptEnabled: false });
  await p.getByRole('button', { name: 'Send my answer' }).click();
  check((await p.title()).startsWith('Error:'), 'rsvp without an answer: the title says there is an error');
  check((await p.locator('.error-summary a').count()) >= 1, 'rsvp without an answer: the error summary links to the fields');
  await p.getByLabel('Yes, I will come').check();
  await p.getByLabel('How many people, including you?').fill('2');
  await p.getByLabel('Fish').check();
  await p.getByLabel('Allergies (optional)').fill('peanuts');
  await p.getByRole('button', { name: 'Send my answer' }).click();
  check(p.url().includes('outcome=saved'), `rsvp: redirected to the saved page (${p.url()})`);
  check(await p.getByRole('status').isVisible(), 'rsvp: the saved page says so');
  await p.reload();
  check(await p.getByLabel('Yes, I will come').isChecked(), 'rsvp: the answer is shown again');
  check((await p.getByLabel('Allergies (optional)').inputValue()) === 'peanuts', 'rsvp: the text answer is shown again');
  await context.close();
}

// Focus: the error summary takes it when the page shows errors, the status message after a save.
{
  const { context, page: p } = await open(pages.rsvp);
  await p.getByLabel('Maybe').check();
  await p.getByLabel('How many people, including you?').fill('9');
  await p.getByRole('button', { name: 'Send my answer' }).click();
  const focused = await p.evaluate(() => document.activeElement?.className || '');
  check(focused.includes('error-summary'), `rsvp errors: the summary has the focus (${focused})`);
  await p.locator('.error-summary a[href="#party_size"]').click();
  const field = await p.evaluate(() => document.activeElement?.id || '');
  check(field === 'party_size', `rsvp errors: the summary's link takes the guest to the field (${field})`);
  await context.close();
}

await page('rsvp page', pages.rsvp);
await page('rsvp page with errors', pages.rsvp, {
  act: async (p) => {
    await p.getByLabel('Yes, I will come').check();
    await p.getByLabel('How many people, including you?').fill('many');
    await p.getByRole('button', { name: 'Send my answer' }).click();
    await audit(p, 'rsvp page with errors');
  },
});
await page('rsvp page after an answer', `${pages.rsvp}?outcome=saved`);
await page('rsvp page in French', `${pages.rsvp}?lang=fr`, {
  act: async (p) => check((await p.locator('html').getAttribute('lang')) === 'fr', 'rsvp in French: html lang fr'),
});
await page('preference page', pages.preferences, {
  act: async (p) => {
    await p.getByLabel('At most this many messages').fill('lots');
    await p.getByRole('button', { name: 'Save my preferences' }).click();
    await audit(p, 'preference page with errors');
  },
});
await page('unsubscribe page', pages.unsubscribe);
await page('refused link', pages.refused, { status: 403 });

await browser.close();
if (failures.length) {
  console.error(`${failures.length} browser check(s) failed`);
  process.exit(1);
}
console.log('every browser check passed');
