// The console in a real browser: Debian's Chromium, driven by playwright-core, walking the
// flows as a user does (typing, clicking, the keyboard) and asserting what the page shows.
// Usage: node console.mjs BASE_URL SCREENSHOT_DIR
// The Rust test `browser_flows` starts the server with its users and runs this.

import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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
  await page.waitForURL('**/console/acme/groups/marketing-*?tab=members&done=created');
  expect((await page.getByRole('status').textContent()).includes('Group created'), 'on to the new group');
  await page.getByRole('link', { name: 'Groups', exact: true }).first().click();
  await page.waitForURL('**/console/acme/groups');
  const group = page.locator('#groups tbody tr', { hasText: 'Marketing' });
  expect(await group.count() === 1, 'the new group is listed');
  expect((await group.locator('td').nth(2).textContent()).trim() === '1', 'its creator is its one member');
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
  await page.waitForURL('**/console/acme/users?done=added');
  await page.getByLabel('Search by name or email').fill('nina');
  await page.waitForFunction(() => document.querySelectorAll('#users tbody tr').length === 1);
  expect((await page.locator('#users tbody tr td').nth(2).textContent()) === 'creator', 'her workspace role');
  await page.getByRole('link', { name: 'Delete Nina New' }).click();
  expect((await page.getByRole('heading', { level: 1 }).textContent()) === 'Delete Nina New?', 'a confirmation first');
  expect((await page.locator('main').textContent()).includes('(1 group)'), 'it says what she loses');
  await page.screenshot({ path: `${shots}/users-delete.png` });
  await page.getByRole('button', { name: 'Delete Nina New' }).click();
  await page.waitForURL('**/console/acme/users?done=deleted');
  await page.getByLabel('Search by name or email').fill('nina');
  await page.waitForFunction(() => document.querySelector('#users .empty') !== null);

  // Edit a user from the list: the role changes, the page says so.
  await page.getByRole('link', { name: 'Users', exact: true }).click();
  await page.getByRole('link', { name: 'Edit U05 Example' }).click();
  expect((await page.getByRole('heading', { level: 1 }).textContent()) === 'Edit U05 Example', 'the edit page');
  await page.getByLabel('Workspace role').selectOption('creator');
  await page.getByRole('button', { name: 'Save user' }).click();
  await page.waitForURL('**/console/acme/users?done=saved');
  expect((await page.getByRole('status').textContent()).includes('User saved.'), 'saved is said');

  // The group page: Select users (search, tick, role), change a role, remove with ×.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Groups' }).click();
  await page.getByRole('link', { name: 'Marketing' }).click();
  await page.waitForURL('**/console/acme/groups/marketing-*');
  expect(await page.getByRole('navigation', { name: 'Group sections' }).isVisible(), 'the tabs');
  await page.getByText('Select users').click();
  await page.getByLabel('Find users by name or email').fill('u0');
  await page.waitForFunction(() => document.querySelectorAll('#candidates input[type=checkbox]').length === 10);
  await page.getByRole('checkbox', { name: /U01 Example/ }).check();
  await page.getByRole('checkbox', { name: /U02 Example/ }).check();
  await page.getByLabel('Role of the users added').selectOption('editor');
  await page.screenshot({ path: `${shots}/group-select-users.png` });
  await page.getByRole('button', { name: 'Add selected users' }).click();
  await page.waitForURL('**done=members-added');
  expect(await page.locator('#members tbody tr').count() === 3, 'the creator and two new members');
  await page.getByLabel('Role of U01 Example').selectOption('owner');
  await page.getByRole('button', { name: 'Save role of U01 Example' }).click();
  await page.waitForURL('**done=role-changed');
  expect(await page.getByLabel('Role of U01 Example').inputValue() === 'owner', 'U01 is an owner now');
  await page.getByRole('button', { name: 'Remove U02 Example from Marketing' }).click();
  await page.waitForURL('**done=member-removed');
  expect(await page.locator('#members tbody tr').count() === 2, 'U02 is gone');
  await page.screenshot({ path: `${shots}/group-members.png` });

  // Permission sets: a custom set with Edit, and an assignee by email.
  await page.getByRole('link', { name: 'Permission sets' }).click();
  await page.getByText('+ Add permission set').click();
  await page.getByLabel('Name of the set').fill('Team leads');
  await page.locator('#new-set-edit').check();
  await page.getByRole('button', { name: 'Create permission set' }).click();
  await page.waitForURL('**done=set-saved');
  await page.getByLabel('Add assignee to Team leads (an email or a group name)').fill('u07@acme.test');
  await page.getByRole('button', { name: 'Add assignee' }).click();
  await page.waitForURL('**done=assignee-added');
  expect(await page.getByRole('button', { name: 'Remove U07 Example from Team leads' }).isVisible(), 'the assignee with its ×');
  await page.screenshot({ path: `${shots}/group-permission-sets.png`, fullPage: true });

  // Privileges: the CRM as admin; then turning privileges off says first whose access changes.
  await page.getByRole('link', { name: 'Privileges' }).click();
  await page.getByLabel('Resource', { exact: true }).selectOption({ label: 'CRM (app)' });
  await page.getByLabel('Role', { exact: true }).selectOption('admin');
  await page.getByRole('button', { name: 'Save privilege' }).click();
  await page.waitForURL('**done=privilege-saved');
  expect((await page.locator('#privileges').textContent()).includes('CRM'), 'the privilege is listed');
  await page.screenshot({ path: `${shots}/group-privileges.png` });
  await page.getByRole('link', { name: 'Turn privileges off…' }).click();
  expect((await page.locator('.impact').textContent()).includes("1 person's access changes"), 'the preview: U01 only (Ada is an admin)');
  expect((await page.locator('main').textContent()).includes('CRM (app) admin → runner'), 'U01 falls back to runner');
  await page.screenshot({ path: `${shots}/group-privileges-off.png` });
  await page.getByRole('button', { name: 'Turn privileges off' }).click();
  await page.waitForURL('**done=privileges-off');
  expect((await page.locator('main').textContent()).includes('privileges not applied'), 'said in the header');

  // Data scopes, policies, notifications, details.
  await page.getByRole('link', { name: 'Data scopes' }).click();
  await page.getByLabel('Allowed values (separated by commas)').fill('France, Spain');
  await page.getByRole('button', { name: 'Save scope on sales' }).click();
  await page.waitForURL('**done=scope-saved');
  expect((await page.locator('dd').first().textContent()) === 'France, Spain', 'the scope');
  await page.getByRole('link', { name: 'Policies' }).click();
  await page.getByLabel('+ Add permission policy').selectOption({ label: 'No new apps' });
  await page.getByRole('button', { name: 'Attach' }).click();
  await page.waitForURL('**done=policy-attached');
  expect((await page.locator('#policies').textContent()).includes('create_app: deny'), 'the policy and its rule');
  await page.getByRole('link', { name: 'Notifications' }).click();
  await page.getByLabel('On every change').check();
  await page.getByRole('button', { name: 'Save notification setting' }).click();
  await page.waitForURL('**done=notify-saved');
  await page.getByRole('link', { name: 'Details' }).click();
  await page.getByLabel('Name', { exact: true }).fill('Sales');
  await page.getByRole('button', { name: 'Save details' }).click();
  expect((await page.getByRole('alert').textContent()).includes('already used'), 'a taken name is refused on the tab');
  await page.getByLabel('Name', { exact: true }).fill('Marketing EMEA');
  await page.getByRole('button', { name: 'Save details' }).click();
  await page.waitForURL('**done=details-saved');
  expect((await page.getByRole('heading', { level: 1 }).textContent()).includes('Marketing EMEA'), 'renamed');

  // Delete: the confirmation says whose access changes (privileges are off: nobody's).
  await page.getByRole('link', { name: 'Delete group' }).click();
  expect((await page.getByRole('heading', { level: 1 }).textContent()) === 'Delete Marketing EMEA?', 'a confirmation');
  expect((await page.locator('.impact').textContent()).includes("Nobody's access changes"), 'the preview');
  await page.getByRole('button', { name: 'Delete Marketing EMEA' }).click();
  await page.waitForURL('**/console/acme/groups?done=deleted');
  expect(await page.locator('#groups tbody tr', { hasText: 'Marketing' }).count() === 0, 'gone');

  // Several groups selected: add two users to Sales and Board at once.
  await page.getByRole('checkbox', { name: 'Select Sales' }).check();
  await page.getByRole('checkbox', { name: 'Select Board' }).check();
  await page.getByLabel('Action').selectOption('add_members');
  await page.getByLabel('Users (emails, separated by commas)').fill('u08@acme.test, u09@acme.test');
  await page.screenshot({ path: `${shots}/groups-bulk.png` });
  await page.getByRole('button', { name: 'Apply to selected groups' }).click();
  await page.waitForURL('**done=added');
  expect((await page.getByRole('status').textContent()).includes('added to the selected groups'), 'said');
  const board = page.locator('#groups tbody tr', { hasText: 'Board' });
  expect((await board.locator('td').nth(2).textContent()).trim() === '2', 'Board has both');

  // A resource's Permissions page: filter in place, sort, add a rule, change it, remove it.
  await page.getByRole('link', { name: 'Resources' }).click();
  await page.getByRole('link', { name: 'Permissions of CRM' }).click();
  await page.waitForURL('**/resources/app/crm/permissions');
  const ruleRows = page.locator('#rules tbody tr');
  expect(await ruleRows.count() === 3, `three users' rules, got ${await ruleRows.count()}`);
  await page.getByRole('checkbox', { name: 'runner' }).uncheck();
  await page.waitForFunction(() => document.querySelectorAll('#rules tbody tr').length === 1);
  expect(page.url().endsWith('/permissions'), 'filtered in place');
  await page.getByRole('checkbox', { name: 'runner' }).check();
  await page.waitForFunction(() => document.querySelectorAll('#rules tbody tr').length === 3);
  await page.getByLabel('Sort by').selectOption('recent_activity');
  await page.waitForFunction(() => document.querySelector('#rules tbody tr td')?.textContent === 'U03 Example');
  await page.screenshot({ path: `${shots}/permissions.png` });
  await page.getByLabel("User's email").fill('u04@acme.test');
  await page.getByLabel('Role', { exact: true }).selectOption('runner');
  await page.getByRole('button', { name: 'Add new rule' }).click();
  await page.waitForURL('**done=added');
  await page.getByLabel("User's email").fill('u04@acme.test');
  await page.getByLabel('Role', { exact: true }).selectOption('admin');
  await page.getByRole('button', { name: 'Add new rule' }).click();
  expect((await page.getByRole('alert').textContent()).includes('already holds runner'), 'asked first');
  await page.screenshot({ path: `${shots}/permissions-change-or-keep.png` });
  await page.getByRole('button', { name: 'Change to admin' }).click();
  await page.waitForURL('**done=changed');
  const remove = page.getByRole('link', { name: 'Remove rule of U04 Example' });
  // With the keyboard: Enter on the link opens the modal with the focus in it; Escape closes it.
  await remove.focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  expect(await page.evaluate(() => document.activeElement?.closest('dialog') !== null), 'the focus is in the dialog');
  expect((await dialog.textContent()).includes('loses the admin rule'), 'the modal says what goes');
  await page.screenshot({ path: `${shots}/permissions-remove.png` });
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  await remove.click();
  await dialog.waitFor();
  await dialog.getByRole('link', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await remove.click();
  await page.getByRole('dialog').getByRole('button', { name: 'Remove rule' }).click();
  await page.waitForURL('**done=removed');
  expect(await page.getByRole('link', { name: 'Remove rule of U04 Example' }).count() === 0, 'the rule is gone');
  await page.getByRole('link', { name: 'Groups', exact: true }).last().click();
  expect((await page.locator('#rules').textContent()).includes('Sales'), 'the Groups tab');

  // The access explorer: Sam holds the CRM through Sales; what if he left it?
  await page.getByRole('link', { name: 'Access explorer' }).click();
  await page.getByLabel("User's email").fill('sam@acme.test');
  // The resource picker narrows as you type (htmx), and says when nothing matches.
  await page.getByLabel('Find a resource by name').fill('zzz');
  await page.getByText('No resource you may see has that name.').waitFor();
  await page.getByLabel('Find a resource by name').fill('cr');
  await page.waitForFunction(() => document.querySelectorAll('#explore-resource option').length === 1);
  await page.getByLabel('Resource', { exact: true }).selectOption({ label: 'CRM (app)' });
  await page.getByRole('button', { name: 'Explain' }).click();
  expect((await page.getByRole('heading', { name: /Effective role/ }).textContent()).includes('runner'), 'runner');
  expect((await page.locator('.paths').textContent()).includes('is a member of Sales'), 'through Sales');
  await page.getByRole('link', { name: 'What if they left Sales?' }).click();
  expect((await page.getByRole('alert').textContent()).includes('must keep at least one owner'), 'the last owner cannot leave');
  await page.screenshot({ path: `${shots}/access-explorer.png`, fullPage: true });

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

  // Every main screen checked by axe-core against WCAG 2 A and AA (labels, names, roles,
  // contrast, landmarks). axe is injected, so this context lets scripts past the content
  // security policy; the flows above ran under it.
  const axe = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  const audit = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 800 } });
  const checked = await audit.newPage();
  const screens = [
    '/console/sign-in',
  ];
  const signedIn = [
    '/console/acme/users',
    '/console/acme/users/sam',
    '/console/acme/users/sam/delete',
    '/console/acme/groups',
    '/console/acme/groups/sales?tab=members&q=u0',
    '/console/acme/groups/sales?tab=permission-sets',
    '/console/acme/groups/sales?tab=privileges',
    '/console/acme/groups/sales?tab=data-scopes',
    '/console/acme/groups/sales?tab=policies',
    '/console/acme/groups/sales?tab=notifications',
    '/console/acme/groups/sales?tab=details',
    '/console/acme/groups/sales/apply-privileges',
    '/console/acme/groups/sales/delete',
    '/console/acme/resources',
    '/console/acme/resources/app/crm/permissions',
    '/console/acme/resources/app/crm/permissions/remove?user=u01',
    '/console/acme/access?user=sam%40acme.test&resource=app%2Fcrm&leave=sales',
  ];
  const violations = [];
  async function check(path) {
    await checked.goto(`${base}${path}`);
    await checked.addScriptTag({ content: axe });
    const found = await checked.evaluate(async () => {
      const result = await window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] });
      return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
    });
    violations.push(...found.map((v) => `${path}: ${v}`));
  }
  for (const path of screens) await check(path);
  await checked.goto(`${base}/console/sign-in`);
  await checked.getByLabel('Workspace').fill('acme');
  await checked.getByLabel('Email').fill('ada@acme.test');
  await checked.getByLabel('Password').fill(PASSWORD);
  await checked.getByRole('button', { name: 'Sign in' }).click();
  await checked.waitForURL('**/console/acme/users');
  for (const path of signedIn) await check(path);
  await audit.close();
  expect(violations.length === 0, `accessibility violations:\n${violations.join('\n')}`);

  expect(problems.length === 0, `the browser reported problems:\n${problems.join('\n')}`);
  console.log('console flows: ok');
} catch (e) {
  console.error(`console flows failed: ${e.stack || e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
