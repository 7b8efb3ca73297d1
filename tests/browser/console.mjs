// The console in a real browser: Debian's chromium driven by playwright-core. The main path as
// an organiser takes it (sign in, walk the wizard to completion with the keyboard alone,
// import guests with one bad row shown before anything is written, send a campaign and watch
// its counts reach the total, open a guest's message story, find the mail in the local
// outbox), axe-core on every page, no request refused by the CSP, the event manager's view and
// another tenant's ids. Run by tests/browser.sh, which starts the local stack and passes:
// CONSOLE_URL, TENANT_KEY, MANAGER_KEY, EVENT_ID, OTHER_EVENT_ID, FOREIGN_EVENT_ID.
// With SCREENSHOTS=dir it writes the README's screenshots there.

import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env('CONSOLE_URL');
const event = env('EVENT_ID');
const screenshots = process.env.SCREENSHOTS || '';

const failures = [];
const fail = (what) => {
  failures.push(what);
  console.error(`FAIL ${what}`);
};
const pass = (what) => console.log(`ok   ${what}`);
const check = (ok, what) => (ok ? pass(what) : fail(what));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

/// A browser context of its own (cookies), collecting what the CSP refused or failed.
/// `bypassCSP` lets axe be injected; the CSP itself is checked in a context without it.
async function session(bypassCSP = true) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  return { context, page, problems };
}

const audited = new Set();
/// axe-core on what the page shows now (WCAG 2.1 A and AA): no serious or critical violation.
async function audit(page, name) {
  audited.add(name);
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }),
  );
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const found = bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  check(found.length === 0, `${name}: no serious or critical axe violation${found.length ? `: ${found.join('; ')}` : ''}`);
  const minor = result.violations.filter((v) => !bad.includes(v)).map((v) => v.id);
  if (minor.length) console.log(`     ${name}: minor axe findings: ${minor.join(', ')}`);
}

/// Bytes each page weighs: its HTML, and the stylesheet and script it loads (BENCHMARKS.md).
const weights = {};
let assets = 0;
async function weigh(page, name, response) {
  if (!assets) {
    for (const a of ['/console/assets/console.css', '/console/assets/htmx-2.0.8.min.js']) {
      assets += (await (await page.request.get(`${base}${a}`)).body()).length;
    }
  }
  weights[name] = (await response.body()).length + assets;
}

/// Visits `path`, checks its status, weighs and audits it.
async function visit(page, path, name, status = 200) {
  const response = await page.goto(`${base}${path}`);
  check(response.status() === status, `${name}: answers ${status} (got ${response.status()})`);
  await weigh(page, name, response);
  await audit(page, name);
  return response;
}

async function shoot(page, name) {
  if (!screenshots) return;
  mkdirSync(screenshots, { recursive: true });
  writeFileSync(`${screenshots}/${name}.png`, await page.screenshot({ fullPage: false }));
}

/// Presses Tab until the focused element's text (or value) includes `text`, then Enter.
async function keyboardTo(page, text, max = 400) {
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      return el ? `${(el.textContent || '').replace(/\s+/g, ' ')} ${el.value || ''} ${el.getAttribute('aria-label') || ''}` : '';
    });
    if (focused.includes(text)) return true;
  }
  const last = await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 200));
  fail(`keyboard: reached "${text}" (focus ended on ${last})`);
  return false;
}

const { context, page, problems } = await session();

// Sign in.
await visit(page, '/console', 'sign-in page');
check(page.url().includes('/console/sign-in'), 'the console sends a stranger to the sign-in page');
await page.getByLabel('API key').fill('hrk_wrong');
await page.getByRole('button', { name: 'Sign in' }).click();
check(await page.getByText('not a Herald API key').first().isVisible() || await page.getByText('not valid').first().isVisible(), 'a wrong key is refused, saying why');
await page.getByLabel('API key').fill(env('TENANT_KEY'));
await page.getByRole('button', { name: 'Sign in' }).click();
check(page.url() === `${base}/console`, `signed in, on the overview (${page.url()})`);
await audit(page, 'overview');
await page.waitForSelector('#live table, #live p:has-text("Nothing is sending")');
check(await page.getByRole('link', { name: 'Spring Gala' }).isVisible(), 'the overview lists the event');
await shoot(page, 'overview');

// The wizard, with the keyboard alone.
await visit(page, `/console/events/${event}/wizard`, 'wizard');
await shoot(page, 'wizard');
check(await page.getByText('inherited').first().isVisible(), 'the wizard shows what is inherited');
await page.locator('body').focus();
if (await keyboardTo(page, 'Open the invitation email')) {
  await page.keyboard.press('Enter');
  await page.waitForURL(/wizard\/templates\/invitation\/email/);
  pass('keyboard: the template editor opened');
}
await audit(page, 'template editor');
// The live preview follows the typing (htmx), in a sandboxed frame.
const html = page.getByLabel('HTML body');
await html.fill('<p>Dear {{ guest.first_name }}, welcome to {{ event.name }}.</p>');
await page.waitForFunction(() => (document.querySelector('#preview iframe')?.getAttribute('srcdoc') || '').includes('Dear Ada'), null, { timeout: 10000 })
  .then(() => pass('the preview follows the draft'), () => fail('the preview follows the draft'));
check((await page.locator('#preview iframe').getAttribute('sandbox')) === '', 'the email preview is sandboxed');
await shoot(page, 'template-editor');
// A syntax error is shown at its line; the draft stays.
await html.fill('<p>Dear {{ guest.first_name }</p>');
await page.getByRole('button', { name: 'Save for this event' }).click();
check(await page.getByText(/line 1/).first().isVisible(), 'a template that does not compile: the error at its line');
check((await page.getByLabel('HTML body').inputValue()).includes('{{ guest.first_name }</p>'), 'the draft is kept');
await audit(page, 'template editor with errors');
await page.getByLabel('HTML body').fill('<p>Dear {{ guest.first_name }}, welcome to {{ event.name }}.</p>');
await page.getByLabel('HTML body').focus();
if (await keyboardTo(page, 'Save for this event')) {
  await page.keyboard.press('Enter');
  await page.waitForURL(/saved=template/);
  pass('keyboard: the template is saved, back in the wizard');
}
check(await page.getByText('Saved the template').isVisible(), 'the wizard says the template is saved');
await page.locator('body').focus();
if (await keyboardTo(page, 'Complete the setup')) {
  await page.keyboard.press('Enter');
  await page.waitForURL(/saved=complete/);
}
await page.waitForSelector('#completion-status :text("snapshot 1 is active")', { timeout: 30000 })
  .then(() => pass('keyboard: the wizard is completed (snapshot 1 active), progress shown live'), () => fail('the wizard completes'));
await audit(page, 'wizard after completion');

// Journey and RSVP pages.
await visit(page, `/console/events/${event}/journey`, 'journey');
await visit(page, `/console/events/${event}/rsvp`, 'rsvp figures');
check((await page.locator('svg[role="img"]').count()) >= 1, 'RSVP figures are drawn as SVG');

// Guests: an import previewed before anything is written, one bad row shown.
await visit(page, `/console/events/${event}/guests`, 'guests');
await page.getByText('Import guests from a CSV file').click();
await page.getByLabel('CSV file').setInputFiles({
  name: 'guests.csv', mimeType: 'text/csv',
  buffer: Buffer.from('first_name,last_name,email,tags\nGrace,Hopper,grace@example.com,vip\nNo,Address,not-an-email,\nLin,Ma,lin@example.com,\n'),
});
await page.getByRole('button', { name: 'Check the rows' }).click();
check(await page.getByText('2 of 3 rows will be imported').isVisible(), 'the preview says what will be imported');
check(await page.locator('table:has(caption:text("Rejected rows")) td:text-is("email")').isVisible(), 'the bad row is shown with its field');
await audit(page, 'guest import preview');
await shoot(page, 'guest-import');
await page.getByRole('button', { name: 'Import 2 guests' }).click();
check(await page.getByText('Imported 2 guests').isVisible(), 'the import is done');
await page.getByLabel('Search').fill('hopper');
await page.getByRole('button', { name: 'Show' }).click();
check(await page.getByRole('link', { name: 'Grace Hopper' }).isVisible(), 'search finds a guest');

// A campaign: created and sent, its counts reach the total while the page polls.
await visit(page, `/console/events/${event}/campaigns`, 'campaigns');
await page.getByLabel('Name').fill('Welcome');
await page.getByLabel('Message').selectOption('invitation');
await page.getByRole('button', { name: 'Create and send' }).click();
check(/\/console\/campaigns\/cmp_/.test(page.url()), `the campaign page opens (${page.url()})`);
await audit(page, 'campaign');
await page.waitForFunction(() => {
  const done = document.querySelector('#campaign-done')?.textContent;
  const total = document.querySelector('#campaign-total')?.textContent;
  return done && total && total !== '0' && done === total && document.body.innerText.includes('sent');
}, null, { timeout: 60000 }).then(() => pass('the live counts reach the total'), () => fail('the live counts reach the total'));
await shoot(page, 'campaign');

// A guest's message story, and the mail in the local outbox.
await visit(page, `/console/events/${event}/guests?search=grace`, 'guest search');
await page.getByRole('link', { name: 'Grace Hopper' }).click();
await audit(page, 'guest timeline');
check(await page.getByText('invitation by email').first().isVisible(), 'the timeline lists the message');
await page.getByRole('link', { name: 'message', exact: true }).first().click();
await audit(page, 'message story');
check(await page.getByRole('heading', { name: 'What happened' }).isVisible(), 'the message story is shown');
await page.waitForTimeout(500);
await visit(page, '/console/outbox', 'local outbox');
check(await page.getByText('grace@example.com').first().isVisible(), 'the outbox shows the mail to the guest');

// Grace replies by email (the local stack delivers it as SES receiving would): her
// conversation is in the inbox, and a person answers from its thread.
const mails = await (await page.request.get(`${base}/_local/outbox?to=grace@example.com`)).json();
const replyTo = mails[0]?.reply_to?.[0];
check(Boolean(replyTo), 'the invitation carries a Reply-To');
const replied = await page.request.post(`${base}/_local/inbound/email`, {
  headers: { 'content-type': 'message/rfc822' },
  data: Buffer.from(`From: Grace Hopper <grace@example.com>\r\nTo: ${replyTo}\r\nSubject: Re: Invitation\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nCan I bring a guest?\r\n--b\r\nContent-Type: text/plain; name="plus-one.txt"\r\nContent-Disposition: attachment; filename="plus-one.txt"\r\n\r\nName: Alan Turing\r\n--b--\r\n`),
});
check(replied.status() === 202, `the simulator takes the reply (${replied.status()})`);
let inboxed = false;
for (let i = 0; i < 60 && !inboxed; i += 1) {
  await page.goto(`${base}/console/inbox`);
  inboxed = await page.getByText('Can I bring a guest?').first().isVisible();
  if (!inboxed) await page.waitForTimeout(500);
}
check(inboxed, 'the reply is in the inbox');
await visit(page, '/console/inbox?q=BRING', 'inbox search');
await shoot(page, 'inbox');
// Nobody answered within the queue's 30 minutes: the local stack fires the escalation's
// schedule now, and the overview lists the conversation.
const conversationHref = await page.getByRole('link', { name: 'grace@example.com' }).first().getAttribute('href');
const conversationId = conversationHref.split('/').pop().split('?')[0];
const fired = await page.request.post(`${base}/_local/schedules/hc-${conversationId}/fire`);
check(fired.status() === 202, `the escalation schedule fires (${fired.status()})`);
let escalated = false;
for (let i = 0; i < 60 && !escalated; i += 1) {
  await page.goto(`${base}/console`);
  escalated = await page.getByRole('heading', { name: 'Escalated conversations' }).isVisible()
    && await page.getByRole('link', { name: 'grace@example.com' }).first().isVisible();
  if (!escalated) await page.waitForTimeout(500);
}
check(escalated, 'the overview lists the escalated conversation');
await audit(page, 'overview with an escalation');
await visit(page, '/console/inbox?escalated=true', 'inbox of escalated conversations');
await page.getByRole('link', { name: 'grace@example.com' }).first().click();
await audit(page, 'conversation');
const attachment = page.getByRole('link', { name: 'plus-one.txt' });
check(await attachment.isVisible(), 'the attachment is listed with a download link');
const downloaded = await page.request.get(new URL(await attachment.getAttribute('href'), base).toString());
check(downloaded.status() === 200 && (await downloaded.text()).includes('Alan Turing'), `the attachment downloads (${downloaded.status()})`);
await page.fill('#reply-text', 'Of course: a plus-one is welcome.');
await page.getByRole('button', { name: 'Send the reply' }).click();
check(await page.getByText('Of course: a plus-one is welcome.').first().isVisible(), 'the reply is in the thread');
await shoot(page, 'conversation');

// Analytics as pictures, settings, and the index pages.
await visit(page, `/console/events/${event}/analytics`, 'analytics');
check((await page.locator('svg[role="img"]').count()) >= 2, 'analytics are drawn as SVG');
await shoot(page, 'analytics');
await visit(page, `/console/events/${event}`, 'event summary');
await visit(page, '/console/settings', 'settings');
await visit(page, '/console/settings/audit', 'audit log');
await visit(page, '/console/settings/suppressions', 'suppressions');
await visit(page, '/console/settings/crm', 'crm');
await visit(page, '/api/v1', 'API index');
await visit(page, '/api/v1/reference', 'API reference');
await visit(page, '/api/v1/reference/wizard', 'API reference, a group');
await visit(page, `/console/events/${env('FOREIGN_EVENT_ID')}`, "another tenant's event", 404);
await visit(page, '/console/nothing-here', 'not found', 404);
check(problems.length === 0, `no script error in any page${problems.length ? `: ${problems.join('; ')}` : ''}`);

// The pages under their own CSP (no bypass): htmx loads, polls and swaps, nothing is refused.
{
  const { context: c, page: p, problems: refused } = await session(false);
  await p.goto(`${base}/console/sign-in`);
  await p.getByLabel('API key').fill(env('TENANT_KEY'));
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.waitForSelector('#live table, #live p:has-text("Nothing is sending")');
  for (const path of [`/console/events/${event}/wizard`, `/console/events/${event}/guests`, `/console/events/${event}/analytics`, '/api/v1/reference']) {
    const r = await p.goto(`${base}${path}`);
    const csp = r.headers()['content-security-policy'] || '';
    check(csp.includes("default-src 'self'") && !csp.includes("'unsafe-eval'") && csp.includes("script-src 'self'"), `${path}: CSP default-src 'self', no inline or eval'd script`);
  }
  await p.goto(`${base}/console/events/${event}/wizard/templates/invitation/email`);
  await p.getByLabel('Subject').fill('Under the CSP');
  await p.waitForTimeout(1500);
  check(refused.length === 0, `nothing refused by the CSP${refused.length ? `: ${refused.join('; ')}` : ''}`);
  await c.close();
}

// Signing out ends the session.
await page.goto(`${base}/console`);
await page.getByRole('button', { name: 'Sign out' }).click();
check(await page.getByText('You have signed out').isVisible(), 'signed out');
await page.goto(`${base}/console/events/${event}`);
check(page.url().includes('/console/sign-in'), 'after signing out, pages ask to sign in again');
await context.close();

// An event manager: their event only.
{
  const { context: c, page: p } = await session();
  await p.goto(`${base}/console/sign-in`);
  await p.getByLabel('API key').fill(env('MANAGER_KEY'));
  await p.getByRole('button', { name: 'Sign in' }).click();
  check(await p.getByRole('link', { name: 'Spring Gala' }).isVisible(), 'the event manager sees their event');
  check((await p.getByRole('link', { name: 'Other event' }).count()) === 0, 'the event manager does not see the other event');
  const r = await p.goto(`${base}/console/events/${env('OTHER_EVENT_ID')}`);
  check(r.status() === 404, `the other event is a 404 for the event manager (${r.status()})`);
  await c.close();
}

await browser.close();
console.log(`audited ${audited.size} pages`);
const heaviest = Object.entries(weights).sort((a, b) => b[1] - a[1]);
console.log(`BYTES ${JSON.stringify(Object.fromEntries(heaviest))}`);
for (const [name, bytes] of heaviest) {
  if (bytes > 100 * 1024) console.log(`     ${name}: ${bytes} bytes, over the 100 KB goal`);
}
if (failures.length) {
  console.error(`${failures.length} console check(s) failed`);
  process.exit(1);
}
console.log('every console check passed');
