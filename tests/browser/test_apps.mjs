// tests/browser/test_apps.mjs - the applications pages (pages/apps.js,
// pages/app.js, widgets/envedit.js) in a real browser against the real stack:
// the create form shows the API's field errors next to their fields, the list
// pages with the API's cursors and no request per row, env values stay
// masked (secrets for everyone, all of them for members), the reference
// preview resolves `${VAR}`, domains show their DNS records, and every tab
// passes the page checks (axe, console, CSP, 360 px).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	launch, newPage, world, project, userIn, signIn, visit, endWorlds, allowConsole, assertClean, PASSWORD,
} from './lib.mjs';

let browser;
let w;
let proj;
let app;

const uniq = () => Math.random().toString(16).slice(2, 8);

before(async () => {
	browser = await launch();
	w = await world('ba');
	proj = await project(w);
	// A server without an agent: the create form needs one to pick; nothing is deployed.
	await w.api.ok('POST', '/servers', { name: `s-${uniq()}`, base_domain: 'localhost' }, 201);
	app = await w.api.ok('POST', '/applications', {
		project_id: proj.id, name: `web-${uniq()}`, source_type: 'docker_image',
		image_url: 'registry.example.com/shop:1', exposed_port: 8080,
	}, 201);
});

after(async () => {
	await browser?.close();
	await endWorlds();
});

test('the create form shows the API\'s field error next to the field', async () => {
	const page = await newPage(browser);
	await signIn(page, w, { then: `/p/${proj.id}/apps/new` });
	allowConsole(page, /status of 400/);
	await visit(page, `/p/${proj.id}/apps/new`, 'apps-new', { widths: [360] });
	await page.getByLabel('Container image').check();
	// Passes the browser's own checks (required fields filled), fails the API's pattern.
	await page.getByLabel('Name', { exact: true }).fill('Not_A-Valid-Name');
	await page.getByLabel('Image', { exact: true }).fill('registry.example.com/shop:1');
	const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/applications') && r.request().method() === 'POST');
	await page.getByRole('button', { name: 'Create', exact: true }).click();
	const r = await answer;
	assert.equal(r.status(), 400);
	const body = await r.json();
	const detail = body.error.details.find((d) => d.field === 'name');
	assert.ok(detail, JSON.stringify(body));
	const name = page.getByLabel('Name', { exact: true });
	await page.waitForFunction(() => document.querySelector('[name="name"]')?.getAttribute('aria-invalid') === 'true');
	// The message is the field's description (aria-describedby), shown beside it.
	const described = await name.evaluate((el) => el.getAttribute('aria-describedby').split(' ')
		.map((id) => document.getElementById(id)?.textContent || '').join(' '));
	assert.ok(described.includes(detail.message), `${described} / ${detail.message}`);
	// The request id of the answer is on screen.
	assert.ok(await page.getByText(r.headers()['x-request-id']).isVisible());
	assertClean(page, 'create form');
	await page.context().close();
});

test('a git application is created from the form and opens on its page', async () => {
	const page = await newPage(browser);
	await signIn(page, w, { then: `/p/${proj.id}/apps/new` });
	const name = `g-${uniq()}`;
	await page.getByLabel('Name', { exact: true }).fill(name);
	await page.getByLabel('Repository URL').fill('https://git.example.com/acme/shop.git');
	await page.getByRole('button', { name: 'Create', exact: true }).click();
	await page.waitForURL((u) => /#\/p\/[^/]+\/apps\/[0-9a-f-]{36}$/.test(u.hash));
	await page.waitForSelector('main[data-ready="1"]');
	assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), name);
	const [created] = (await w.api.get(`/applications?projectId=${proj.id}`)).data.filter((a) => a.name === name);
	assert.equal(created.source_type, 'git');
	assert.equal(created.branch, 'main');
	assertClean(page, 'create git');
	await page.context().close();
});

test('the list pages with the API\'s cursors, one request per page and none per row', async () => {
	const p2 = await project(w);
	const names = [];
	for (let i = 0; i < 105; i += 15) {
		await Promise.all(Array.from({ length: Math.min(15, 105 - i) }, async () => {
			const n = `l-${uniq()}${uniq()}`;
			names.push(n);
			await w.api.ok('POST', '/applications', { project_id: p2.id, name: n, source_type: 'docker_image',
				image_url: 'registry.example.com/x:1' }, 201);
		}));
	}
	const page = await newPage(browser);
	await signIn(page, w, { then: null });
	const calls = [];
	page.on('request', (r) => { if (r.url().includes('/api/v1/')) calls.push(r.url()); });
	await visit(page, `/p/${p2.id}/apps`, 'apps-list', { widths: [360] });
	assert.equal(await page.locator('main tbody tr').count(), 100);
	await page.getByRole('button', { name: 'Load more' }).click();
	await page.waitForFunction(() => document.querySelectorAll('main tbody tr').length === 105);
	const lists = calls.filter((u) => /\/applications\?/.test(u));
	assert.equal(lists.length, 2, lists.join('\n'));
	assert.ok(lists[1].includes('cursor='));
	// Nothing was asked per row.
	const perRow = calls.filter((u) => /\/(applications|deployments|servers)\/[0-9a-f-]{36}/.test(u));
	assert.deepEqual(perRow, []);
	assertClean(page, 'list');
	await page.context().close();
});

test('env values are masked; secrets are never revealed; the preview resolves references', async () => {
	await w.api.ok('POST', '/env-vars', { project_id: proj.id, scope: 'application', scope_id: app.id,
		key: 'GREETING', value: 'hello-plain' }, 201);
	await w.api.ok('POST', '/env-vars', { project_id: proj.id, scope: 'application', scope_id: app.id,
		key: 'API_TOKEN', value: 'very-secret-value', is_secret: true }, 201);
	const page = await newPage(browser);
	await signIn(page, w, { then: null });
	await visit(page, `/p/${proj.id}/apps/${app.id}/env`, 'app-env', { widths: [360] });
	const main = page.locator('main');
	assert.ok(!(await main.textContent()).includes('hello-plain'), 'a value shown before Reveal');
	await page.getByRole('button', { name: 'Reveal Value of GREETING' }).click();
	await page.getByText('hello-plain').waitFor();
	assert.equal(await page.getByRole('button', { name: 'Reveal Value of API_TOKEN' }).count(), 0);
	// A new variable referring to another, and the preview.
	await page.getByText('Add a variable').click();
	await page.getByLabel('Key', { exact: true }).fill('WELCOME');
	await page.getByLabel('Value', { exact: true }).fill('${GREETING}-and-more');
	await page.getByRole('button', { name: 'Add', exact: true }).click();
	await page.getByRole('cell', { name: 'WELCOME' }).waitFor();
	await page.getByRole('button', { name: 'Preview resolved values' }).click();
	// The resolved values stay hidden until revealed (a reference may carry a password).
	const reveal = page.getByRole('button', { name: 'Reveal WELCOME', exact: true });
	await reveal.waitFor();
	assert.ok(!(await main.textContent()).includes('hello-plain-and-more'), 'a resolved value shown before Reveal');
	await reveal.click();
	await page.getByText('hello-plain-and-more').waitFor();
	assert.ok(!(await main.textContent()).includes('very-secret-value'), 'the secret was shown');
	assertClean(page, 'env');
	await page.context().close();

	// A member (deploys, but reads no values): masked values, no Reveal, no edit controls.
	const m = await userIn(w, 'user');
	await m.api.ok('POST', '/auth/me/set-initial-password', { password: PASSWORD });
	await w.api.ok('POST', `/projects/${proj.id}/members`, { user_id: m.user.id, role: 'member' }, 201);
	const mp = await newPage(browser);
	await signIn(mp, { tenant: w.tenant, email: m.email, password: PASSWORD }, { then: null });
	await visit(mp, `/p/${proj.id}/apps/${app.id}/env`, 'app-env-member');
	await mp.getByRole('cell', { name: 'GREETING' }).waitFor();
	const seen = await mp.locator('main').textContent();
	assert.ok(!seen.includes('hello-plain') && !seen.includes('very-secret-value'), seen);
	for (const name of ['Reveal', 'Edit', 'Delete', 'Preview resolved values']) {
		assert.equal(await mp.getByRole('button', { name }).count(), 0, name);
	}
	assert.equal(await mp.getByText('Add a variable').count(), 0);
	// Members deploy: the actions are there; the settings' Delete is not.
	assert.ok(await mp.getByRole('button', { name: 'Deploy', exact: true }).isVisible());
	await visit(mp, `/p/${proj.id}/apps/${app.id}/settings`, 'app-settings-member');
	assert.equal(await mp.getByRole('button', { name: 'Delete' }).count(), 0);
	assertClean(mp, 'env as a member');
	await mp.context().close();
});

test('every tab of an application passes the page checks; a domain shows its DNS records', async () => {
	const page = await newPage(browser);
	await signIn(page, w, { then: null });
	for (const tab of ['', '/deployments', '/instances', '/settings']) {
		await visit(page, `/p/${proj.id}/apps/${app.id}${tab}`, `app${tab.replace('/', '-') || '-overview'}`, { widths: [360] });
	}
	for (const label of ['Deploy', 'Redeploy', 'Roll back', 'Start', 'Stop', 'Restart', 'Scale']) {
		assert.ok(await page.getByRole('button', { name: label, exact: true }).isVisible(), label);
	}
	await visit(page, `/p/${proj.id}/apps/${app.id}/domains`, 'app-domains', { widths: [360] });
	const host = `shop-${uniq()}.example.com`;
	await page.getByLabel('Hostname').fill(host);
	await page.getByRole('button', { name: 'Add domain' }).click();
	await page.getByRole('heading', { name: `DNS records for ${host}` }).waitFor();
	await page.getByRole('cell', { name: `_lnchr-verify.${host}` }).waitFor();
	await page.getByRole('button', { name: 'Verify' }).click();
	await page.getByText(`Checking ${host} now`).waitFor();
	assertClean(page, 'domains');
	await page.context().close();
});
