// The console in a real browser: Debian's Chromium, driven by playwright-core, walking the
// flows as a user does (typing, clicking, the keyboard) and asserting what the page shows.
// Usage: node console.mjs BASE_URL SCREENSHOT_DIR
// The Rust test `browser_flows` starts the server with its users and runs this.

import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [, , base, shots] = process.argv;
if (!base || !shots) {
  console.error('usage: node console.mjs BASE_URL SCREENSHOT_DIR');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const PASSWORD = 'a long enough passphrase';
const problems = [];

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  // A blocked script or style (the content security policy) or a script error fails the run.
  // (A refused sign-in is a 401 page, a refused screen a 403 and a taken name a 409, on purpose.)
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[139]/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

  // Nobody is signed in: the console asks who you are.
  await page.goto(`${base}/`);
  expect(page.url().endsWith('/console/sign-in'), `expected the sign-in page, got ${page.url()}`);

  // A wrong password: refused, without saying which part was wrong.
  await page.getByLabel('Workspace').fill('acme');
  await page.getByLabel('Email').fill('ada@acme.test');
  await page.getByLabel('Password').fill('not the passphrase');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  expect((await alert.textContent()).includes('The email or the password is wrong'), 'the refusal is shown');
  expect(await page.getByLabel('Email').inputValue() === 'ada@acme.test', 'the email is kept, the password is not');
  expect(await page.getByLabel('Password').inputValue() === '', 'the password field is empty again');
  await page.screenshot({ path: `${shots}/sign-in-refused.png` });

  // The right one, submitted with the keyboard.
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('Password').press('Enter');
  await page.waitForURL('**/console/acme/users');
  expect(await page.getByRole('heading', { name: 'Users' }).isVisible(), 'the users page');
  const rows = page.locator('#users tbody tr');
  expect(await rows.count() === 50, `a page of 50 users, got ${await rows.count()}`);
  expect((await page.getByRole('navigation', { name: 'Main' }).textContent()).includes('acme'), 'the workspace is named');
  await page.screenshot({ path: `${shots}/users.png`, fullPage: false });

  // Search as you type: the list changes in place (htmx), the page does not reload.
  const search = page.getByLabel('Search by name or email');
  await search.focus();
  await page.keyboard.type('u0');
  await page.waitForFunction(() => document.querySelectorAll('#users tbody tr').length === 10);
  expect(page.url().endsWith('/console/acme/users'), 'no navigation while searching');
  const emails = await page.locator('#users tbody tr td:nth-child(2)').allTextContents();
  expect(emails.every((e) => e.startsWith('u0')), `only u0x users: ${emails}`);
  await page.screenshot({ path: `${shots}/users-search.png` });
  await search.fill('zzz-nobody');
  await page.waitForFunction(() => document.querySelector('#users .empty') !== null);
  expect((await page.locator('#users .empty').textContent()).includes('zzz-nobody'), 'says nothing matched');

  // Paging.
  await search.fill('');
  await page.waitForFunction(() => document.querySelectorAll('#users tbody tr').length === 50);
  await page.getByRole('link', { name: 'Next page' }).click();
  await page.waitForURL('**/console/acme/users?*');
  expect(await rows.count() === 13, `the second page holds the other 13, got ${await rows.count()}`);

  // Groups: + Add group, with the keyboard-reachable form; the new group is listed with its
  // creator as its one member; the same name again is refused, and said.
  await page.getByRole('link', { name: 'Groups' }).click();
  await page.waitForURL('**/console/acme/groups');
  await page.getByText('+ Add group').click();
  await page.getByLabel('Name', { exact: true }).fill('Marketing');
  await page.getByLabel('Description').fill('The marketing team. EMEA and US.');
  await page.getByLabel('Tags (separated by commas)').fill('team, emea');
  await page.getByLabel('Icon (an emoji or an image URL)').fill('📣');
  await page.getByRole('button', { name: 'Add group' }).click();
  await page.waitForURL('**/console/acme/groups');
  const group = page.locator('#groups tbody tr', { hasText: 'Marketing' });
  expect(await group.count() === 1, 'the new group is listed');
  expect((await group.locator('td').nth(1).textContent()).trim() === '1', 'its creator is its one member');
  await page.screenshot({ path: `${shots}/groups.png` });
  await page.getByText('+ Add group').click();
  await page.getByLabel('Name', { exact: true }).fill('marketing');
  await page.getByRole('button', { name: 'Add group' }).click();
  expect((await page.getByRole('alert').textContent()).includes('already used'), 'a taken name is refused and said');
  await page.screenshot({ path: `${shots}/groups-refused.png` });

  // + Add user into the new group; then delete them after the confirmation says what goes.
  await page.getByRole('link', { name: 'Users' }).click();
  await page.getByText('+ Add user').click();
  await page.getByLabel('Name', { exact: true }).fill('Nina New');
  await page.getByLabel('Email', { exact: true }).fill('nina@acme.test');
  await page.getByLabel('Workspace role').selectOption('creator');
  await page.getByRole('checkbox', { name: 'Marketing' }).check();
  await page.screenshot({ path: `${shots}/users-add.png` });
  await page.getByRole('button', { name: 'Add user' }).click();
  await page.waitForURL('**/console/acme/users');
  await page.getByLabel('Search by name or email').fill('nina');
  await page.waitForFunction(() => document.querySelectorAll('#users tbody tr').length === 1);
  expect((await page.locator('#users tbody tr td').nth(2).textContent()) === 'creator', 'her workspace role');
  await page.getByRole('link', { name: 'Delete Nina New' }).click();
  expect((await page.getByRole('heading', { level: 1 }).textContent()) === 'Delete Nina New?', 'a confirmation first');
  expect((await page.locator('main').textContent()).includes('(1 group)'), 'it says what she loses');
  await page.screenshot({ path: `${shots}/users-delete.png` });
  await page.getByRole('button', { name: 'Delete Nina New' }).click();
  await page.waitForURL('**/console/acme/users');
  await page.getByLabel('Search by name or email').fill('nina');
  await page.waitForFunction(() => document.querySelector('#users .empty') !== null);

  // Sign out; the users page is closed again.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL('**/console/sign-in');
  await page.goto(`${base}/console/acme/users`);
  expect(page.url().endsWith('/console/sign-in'), 'signed out for good');

  // A member signs in: told why the users page is not theirs.
  await page.getByLabel('Workspace').fill('acme');
  await page.getByLabel('Email').fill('sam@acme.test');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/console/acme/users');
  expect((await page.getByRole('alert').textContent()).includes('Only workspace admins manage users'), 'the refusal is said');
  await page.screenshot({ path: `${shots}/users-refused.png` });

  expect(problems.length === 0, `the browser reported problems:\n${problems.join('\n')}`);
  console.log('console flows: ok');
} catch (e) {
  console.error(`console flows failed: ${e.stack || e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
