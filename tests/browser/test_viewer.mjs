// tests/browser/test_viewer.mjs - permissions as the dashboard shows them: a
// project viewer (added through the members API) sees no write control on
// the project, application and database pages (the owner, on the same
// pages, does: the check finds controls when they are there); and a write
// the dashboard did not expect to be refused (the user was demoted while
// the form was open) shows the API's own 403 message and request id.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
	launch, newPage, world, project, userIn, signIn, signInByCode, visit, go, errorsShown, endWorlds, REPO,
} from './lib.mjs';

// The visible names of write controls (the dashboard keeps them stable:
// README "The dashboard") and the create/add/edit actions of the pages.
const WRITE = /^(New|Create|Add|Deploy|Redeploy|Roll back|Delete|Remove|Start|Stop|Restart|Scale|Save|Edit|Rename|Rotate|Restore|Back up|Invite|Transfer|Cancel deployment|Cancel)\b/i;

const written = (m) => fs.existsSync(path.join(REPO, 'static', 'app', 'pages', `${m}.js`));

let browser;
let w;
let p;
const ids = {};

before(async () => {
	browser = await launch();
	w = await world('viewer');
	p = await project(w, { display_name: 'Viewed project' });
	const rnd = () => Math.random().toString(16).slice(2, 10);
	// A server record (no agent): applications and databases need one.
	await w.api.ok('POST', '/servers', { name: `srv-${rnd()}`, base_domain: 'apps.example.com' }, 201);
	ids.app = (await w.api.ok('POST', '/applications', {
		project_id: p.id, name: `web-${rnd()}`, source_type: 'docker_image',
		image_url: 'registry.example.com/launcher-test/web:v1', exposed_port: 8080 }, 201)).id;
	ids.database = (await w.api.ok('POST', '/databases', { project_id: p.id, name: `db-${rnd()}`, type: 'postgres' }, 201)).id;
});

after(async () => {
	await browser?.close();
	await endWorlds();
});

// The write controls on the page in view: buttons, and links styled or
// named as actions (e.g. "New application").
async function writeControls(page) {
	const names = await page.locator('main button, main a, main [role="button"], main input[type="submit"]')
		.evaluateAll((els) => els.filter((e) => e.offsetParent !== null || e.getClientRects().length)
			.map((e) => (e.getAttribute('aria-label') || e.textContent || e.value || '').replace(/\s+/g, ' ').trim()));
	return names.filter((n) => WRITE.test(n));
}

const pages = () => [
	['project', `/p/${p.id}`, 'project'],
	['applications', `/p/${p.id}/apps`, 'apps'],
	['application', `/p/${p.id}/apps/${ids.app}`, 'app'],
	['databases', `/p/${p.id}/databases`, 'databases'],
	['database', `/p/${p.id}/databases/${ids.database}`, 'database'],
];

test('a project viewer sees no write controls on the project, application and database pages', async (t) => {
	const viewer = await userIn(w, 'user');
	await w.api.ok('POST', `/projects/${p.id}/members`, { user_id: viewer.user.id, role: 'viewer' }, 201);
	const seen = await viewer.api.ok('GET', `/projects/${p.id}`);
	assert.equal(seen.my_role, 'viewer', JSON.stringify(seen));

	const owner = await newPage(browser);
	await signIn(owner, w, { then: null });
	const page = await newPage(browser);
	// Users an admin creates have no password: signed in by an e-mailed code.
	await signInByCode(page, w.tenant, viewer.email);
	const skipped = [];
	for (const [what, route, module] of pages()) {
		if (!written(module)) {
			skipped.push(`${what} (pages/${module}.js not written yet)`);
			continue;
		}
		await go(owner, route);
		const mine = await writeControls(owner);
		await visit(page, route, `viewer-${what}`);
		const theirs = await writeControls(page);
		assert.deepEqual(theirs, [], `${what} page (${route}): the viewer sees write controls ${JSON.stringify(theirs)} (the owner sees ${JSON.stringify(mine)})`);
		assert.deepEqual(await errorsShown(page), [], `${what} page shows an error to the viewer`);
		if (what === 'project' || what === 'application') {
			assert.ok(mine.length > 0, `${what} page: the owner sees no write control either (${route}): the check would prove nothing`);
		}
	}
	if (skipped.length) t.diagnostic(`not checked yet: ${skipped.join(', ')}`);
});

test('a write refused by the API (the user was demoted meanwhile) shows its 403 message and request id', async (t) => {
	if (!written('apps')) {
		t.skip('pages/apps.js not written yet');
		return;
	}
	const u = await userIn(w, 'user');
	const m = await w.api.ok('POST', `/projects/${p.id}/members`, { user_id: u.user.id, role: 'admin' }, 201);
	const page = await newPage(browser);
	await signInByCode(page, w.tenant, u.email);
	await go(page, `/p/${p.id}/apps/new`);
	const form = page.locator('main form').filter({ has: page.getByRole('button', { name: 'Create', exact: true }) });
	const name = `denied-${Math.random().toString(16).slice(2, 8)}`;
	await form.getByLabel('Name', { exact: true }).fill(name);
	const repo = form.getByLabel('Repository URL');
	if (await repo.count()) await repo.fill('git://127.0.0.1:9/nothing.git');
	const branch = form.getByLabel('Branch', { exact: true });
	if (await branch.count() && !(await branch.inputValue())) await branch.fill('main');
	// Demoted to viewer behind the dashboard's back.
	await w.api.ok('PUT', `/projects/${p.id}/members/${m.id}`, { role: 'viewer' });
	const refused = await u.api.post('/applications', { project_id: p.id, name, source_type: 'git',
		repository_url: 'git://127.0.0.1:9/nothing.git', branch: 'main' });
	assert.equal(refused.status, 403, refused.text);
	const [answer] = await Promise.all([
		page.waitForResponse((r) => r.request().method() === 'POST' && /\/api\/v1\/applications$/.test(r.url())),
		form.getByRole('button', { name: 'Create', exact: true }).click(),
	]);
	assert.equal(answer.status(), 403);
	const rid = answer.headers()['x-request-id'];
	assert.ok(rid, 'the 403 has no X-Request-Id');
	const alert = page.getByRole('alert').filter({ hasText: refused.error.message });
	await alert.waitFor();
	const text = (await alert.textContent()).replace(/\s+/g, ' ');
	assert.ok(text.includes(rid), `the error shown lacks the request id ${rid}: ${text}`);
	assert.match(page.url(), /\/apps\/new/);
	// Nothing was created.
	const apps = await w.api.ok('GET', `/applications?projectId=${p.id}&limit=200`);
	assert.ok(!apps.some((a) => a.name === name), 'the application was created');
});
