// tests/browser/test_admin.mjs - members and invitations, service keys, the
// command palette and the live notification bell, in a real browser against
// the stack (tests/browser/lib.mjs; the page checks, axe included, are
// lib.mjs's visit() on every page).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
	BASE, assertClean, endWorlds, go, launch, newPage, project, py, request, signIn, world,
} from './lib.mjs';

const rand = () => Math.random().toString(16).slice(2, 10);
let browser;

before(async () => {
	browser = await launch();
});
after(async () => {
	await browser?.close();
	await endWorlds();
});

test('an invitation sent from the members page is accepted from its e-mail in another browser', async () => {
	const w = await world('adinv');
	const p = await project(w);
	const page = await newPage(browser);
	await signIn(page, w, { then: `/p/${p.id}/members` });
	const addr = `inv-${rand()}@example.com`;
	const t0 = Date.now();
	await page.getByLabel('E-mail', { exact: true }).fill(addr);
	await page.getByLabel('Role', { exact: true }).selectOption('member');
	await page.getByRole('button', { name: 'Invite', exact: true }).click();
	await page.getByRole('rowheader', { name: addr, exact: true }).waitFor();

	// The link of the real e-mail (the stack's SMTP server), opened by the guest.
	const text = await py('mail_text', addr, t0 / 1000 - 1);
	const link = text.match(/\S*#\/accept-invite\?\S+/);
	assert.ok(link, `no dashboard link in the invitation: ${text}`);
	const guest = await newPage(browser);
	await guest.goto(BASE + '/' + link[0].slice(link[0].indexOf('#')));
	await guest.waitForSelector('main[data-ready="1"]');
	await guest.getByLabel('First name').fill('Grace');
	await guest.getByLabel('Last name').fill('Hopper');
	await guest.getByLabel('Password', { exact: true }).fill('guest-Passw0rd');
	await guest.getByRole('button', { name: /^Accept/ }).click();
	await guest.waitForURL((u) => !u.hash.startsWith('#/accept-invite'));
	await guest.waitForSelector('main[data-ready="1"]');
	// A member (not an admin) reads the members but has no control over them.
	await go(guest, `/p/${p.id}/members`);
	await guest.getByRole('rowheader', { name: 'Grace Hopper (you)' }).waitFor();
	for (const name of ['Invite', 'Remove', 'Make owner'])
		assert.equal(await guest.getByRole('button', { name }).count(), 0, name);
	assert.equal(await guest.getByRole('combobox').count(), 0);

	// The owner's page lists the new member (and no pending invitation).
	await go(page, `/p/${p.id}/members`);
	const row = page.getByRole('row').filter({ hasText: addr });
	await row.getByRole('rowheader', { name: 'Grace Hopper' }).waitFor();
	await page.getByText('No pending invitations.').waitFor();
	assert.equal(await row.getByRole('combobox', { name: `Role of ${addr}` }).inputValue(), 'member');
	assertClean(page, 'owner');
	assertClean(guest, 'guest');
	await guest.context().close();
	await page.context().close();
});

test('a service key is shown once, works against the API, and is listed by its prefix only', async () => {
	const w = await world('adkey');
	const page = await newPage(browser);
	await signIn(page, w, { then: '/settings/service-keys' });
	const name = `ci-${rand()}`;
	await page.getByLabel('Name', { exact: true }).fill(name);
	await page.getByLabel('Scope: write').uncheck();
	await page.getByRole('button', { name: 'Create', exact: true }).click();
	const key = (await page.getByText(/^lnchr_sk_[0-9A-Za-z]{43}$/).textContent()).trim();
	assert.match(key, /^lnchr_sk_[0-9A-Za-z]{43}$/);
	const row = page.getByRole('row').filter({ hasText: name });
	await row.getByRole('cell', { name: 'read, deploy' }).waitFor();

	const r = await request('GET', `/${w.tenant}/api/v1/projects`, { headers: { 'x-lnchr-key': key } });
	assert.equal(r.status, 200, r.text);
	const denied = await request('POST', `/${w.tenant}/api/v1/projects`,
		{ body: { name: `k-${rand()}` }, headers: { 'x-lnchr-key': key } });
	assert.equal(denied.status, 403, denied.text);

	// Shown once: another visit lists the key by its prefix, never the secret.
	await go(page, '/projects');
	await go(page, '/settings/service-keys');
	await row.getByRole('cell', { name: key.slice(0, 13) + '…' }).waitFor();
	assert.equal(await page.getByText(key).count(), 0);
	assertClean(page);
	await page.context().close();
});

test('the palette finds a project by name and opens it with the keyboard', async () => {
	const w = await world('adpal');
	const p = await project(w, { name: `zebra-${rand()}` });
	await project(w, { name: `yak-${rand()}` });
	const page = await newPage(browser);
	await signIn(page, w, { then: '/projects' });
	await page.keyboard.press('Control+k');
	const box = page.getByRole('combobox', { name: 'Search or type a command' });
	await box.waitFor();
	assert.equal(await box.evaluate((el) => el === document.activeElement), true);
	await box.pressSequentially(p.name.slice(0, 9));
	const hit = page.getByRole('option', { name: new RegExp(`^${p.name}`) });
	await hit.waitFor();
	// Down to the hit (the options are grouped: projects, then commands).
	for (let i = 0; i < 10 && (await hit.getAttribute('aria-selected')) !== 'true'; i++)
		await box.press('ArrowDown');
	assert.equal(await box.getAttribute('aria-activedescendant'), await hit.getAttribute('id'));
	await box.press('Enter');
	await page.waitForURL((u) => u.hash === `#/p/${p.id}`);
	await page.waitForSelector('main[data-ready="1"]');
	assert.equal(await box.count(), 0);
	assertClean(page);
	await page.context().close();
});

test('a notification made on the server appears in the bell at once, without a reload', async () => {
	const w = await world('adbell');
	const page = await newPage(browser);
	await signIn(page, w, { then: '/projects' });
	const bell = page.getByRole('banner').getByRole('link', { name: /^Notifications/ });
	await bell.waitFor();
	// The stream is open: what follows arrives through it.
	await page.waitForFunction(() => document.querySelector('[data-live]')?.dataset.live === 'open');
	assert.equal(await bell.getAttribute('aria-label'), 'Notifications');

	// A failed deployment, reported the way an agent does (API.md §19).
	const server = await w.api.ok('POST', '/servers', { name: `srv-${rand()}` }, 201);
	const p = await project(w);
	const app = await w.api.ok('POST', '/applications', { name: `a-${rand()}`, project_id: p.id,
		source_type: 'docker_image', image_url: 'registry.test/web:v1', exposed_port: 8080 }, 201);
	await w.api.ok('POST', `/applications/${app.id}/deploy`, {});
	const agent = { 'x-lnchr-agent-token': server.agent_token };
	const claim = await request('POST', `/${w.tenant}/api/v1/agent/jobs/claim`, { body: {}, headers: agent });
	assert.equal(claim.status, 200, claim.text);
	const done = await request('POST', `/${w.tenant}/api/v1/agent/jobs/${claim.data.job.id}/complete`,
		{ body: { status: 'failed', result: {}, error: 'boom' }, headers: agent });
	assert.equal(done.status, 200, done.text);

	await page.getByRole('banner').getByRole('link', { name: 'Notifications, 1 unread' }).waitFor();
	await page.getByText(new RegExp(`^New notification: .*${app.name}`)).waitFor({ state: 'attached' });
	// The bell leads to the list, where it is marked read.
	await bell.click();
	await page.waitForSelector('main[data-ready="1"]');
	const row = page.getByRole('row').filter({ hasText: app.name });
	await row.getByRole('button', { name: 'Mark read' }).click();
	await page.getByRole('banner').getByRole('link', { name: 'Notifications', exact: true }).waitFor();
	assertClean(page);
	await page.context().close();
});
