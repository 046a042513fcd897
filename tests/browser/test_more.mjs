// tests/browser/test_more.mjs - the pages of buckets, functions, templates,
// issues and alerts, driven in chromium against the real stack: a template
// deploy from the gallery creates its resources; a function created and
// invoked from its page shows the API's answer; an issue reported through
// the Sentry ingest shows its stack trace; a bad alert channel field is
// shown next to that field.  (Accessibility of every page: test_pages.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	launch, newPage, world, project, signIn, go, until, request, assertClean, allowConsole, endWorlds, userIn, py, PASSWORD,
} from './lib.mjs';

let browser;
let w;
let p;
let page;

before(async () => {
	w = await world('more');
	// A server to place things on (a record: no agent needed to create).
	await w.api.ok('POST', '/servers', { name: 'only' }, 201);
	p = await project(w);
	browser = await launch();
	page = await newPage(browser);
	await signIn(page, w);
});

after(async () => {
	await browser?.close();
	await endWorlds();
});

const rnd = () => Math.random().toString(16).slice(2, 8);

test('a template deployed from the gallery creates its resources and links to them', async () => {
	const slug = `more-tpl-${rnd()}`;
	const yaml = `version: "1.0"
metadata:
  name: ${slug}
  display_name: More Test Stack
  description: A volume and a web application greeting with a variable.
  tags: [test]
variables:
  GREETING:
    type: string
    description: What the application says
volumes:
  files: {}
applications:
  web:
    app_type: web
    source_type: docker_image
    image_url: registry.test/web:1
    exposed_ports: [8080]
    volumes:
      - name: files
        mount_path: /files
    env:
      GREETING: \${GREETING}
`;
	await w.api.ok('POST', '/templates', { yaml }, 201);

	await go(page, '/templates');
	await page.getByLabel('Search').fill('More Test');
	await page.getByRole('button', { name: 'Filter' }).click();
	const cards = page.getByRole('list', { name: 'Templates' }).getByRole('listitem');
	await until('only the matching template shown', async () => (await cards.count()) === 1
		&& (await cards.first().innerText()).includes('More Test Stack'));
	await cards.getByRole('link', { name: 'More Test Stack' }).click();
	await page.waitForSelector('main[data-ready="1"]');

	// The declared variable is a required field of the deploy form.
	const greeting = page.getByLabel('GREETING');
	assert.equal(await greeting.getAttribute('required'), '');
	await page.getByRole('combobox', { name: /^Project/ }).selectOption(p.id);
	await greeting.fill('hello from the gallery');
	await page.getByRole('button', { name: 'Deploy', exact: true }).click();

	// The deploy is followed: what it created is listed, with links.
	const created = page.getByRole('list', { name: 'Created resources' });
	await created.getByRole('link', { name: 'web' }).waitFor();
	await created.getByRole('link', { name: 'files' }).waitFor();
	const apps = (await w.api.ok('GET', `/applications?projectId=${p.id}`)).map((a) => a.name);
	assert.deepEqual(apps, ['web']);
	const vols = (await w.api.ok('GET', `/volumes?projectId=${p.id}`)).map((v) => v.name);
	assert.deepEqual(vols, ['files']);
	const href = await created.getByRole('link', { name: 'web' }).getAttribute('href');
	assert.match(href, new RegExp(`^#/p/${p.id}/apps/[0-9a-f-]{36}$`));
	assertClean(page, 'template deploy');
});

test('a function created and invoked from its page shows the API answer', async () => {
	// No agent deploys it here (on this shared machine the engine answers
	// too slowly for an agent to come online in a test): the function stays
	// a record and the invoke is the API's refusal (409), which the page
	// must show with its message and request id.  Real invocations:
	// tests/api/test_functions_e2e.py.
	await go(page, `/p/${p.id}/functions`);
	await page.getByRole('button', { name: 'Create function' }).click();
	const dlg = page.getByRole('dialog', { name: 'Create function' });
	await dlg.getByLabel('Name', { exact: true }).fill('hello');
	await dlg.getByLabel('Runtime').selectOption('python3');
	// The sample code follows the runtime until it is edited.
	assert.match(await dlg.getByLabel('Code', { exact: true }).inputValue(), /def handler/);
	await dlg.getByLabel('Cron schedule').fill('*/5 * * * *');
	await dlg.getByRole('button', { name: 'Create' }).click();
	await page.waitForURL(/#\/p\/[^/]+\/functions\/[0-9a-f-]{36}$/);
	const fn = await until('the function', async () => (await w.api.ok('GET', `/functions?projectId=${p.id}`))[0]);
	assert.equal(fn.runtime, 'python3');
	assert.deepEqual(fn.triggers.map((t) => t.type), ['http', 'cron']);
	await page.getByText('cron */5 * * * *').waitFor();

	await page.getByRole('link', { name: 'Invoke' }).click();
	await page.getByLabel('Payload (JSON)').waitFor();
	allowConsole(page, /status of 409/);
	await page.getByLabel('Payload (JSON)').fill('{"name": "x"}');
	await page.getByRole('button', { name: 'Invoke', exact: true }).click();
	const alert = page.getByRole('alert').filter({ hasText: 'request id' });
	await alert.waitFor();
	const direct = await w.api.call('POST', `/functions/${fn.id}/invoke`, { payload: {} });
	assert.equal(direct.status, 409);
	assert.ok((await alert.innerText()).includes(direct.error.message), await alert.innerText());

	// A payload that is not JSON is refused next to the field, without a request.
	await page.getByLabel('Payload (JSON)').fill('{nope');
	await page.getByRole('button', { name: 'Invoke', exact: true }).click();
	await until('payload marked invalid', async () =>
		(await page.getByLabel('Payload (JSON)').getAttribute('aria-invalid')) === 'true');
	assertClean(page, 'function invoke');
});

test('an issue reported through the ingest API shows its stack trace', async () => {
	const et = await w.api.ok('GET', `/projects/${p.id}/error-tracking`);
	const event = {
		event_id: rnd().repeat(5).slice(0, 32).padEnd(32, '0'),
		platform: 'python',
		level: 'error',
		timestamp: new Date().toISOString(),
		exception: { values: [{
			type: 'ValueError', value: 'bad input <b>not html</b>', module: 'shop.checkout',
			stacktrace: { frames: [
				{ filename: 'lib/framework.py', function: 'dispatch', lineno: 10, in_app: false },
				{ filename: 'shop/checkout.py', function: 'pay', lineno: 42, in_app: true, context_line: '    raise ValueError(msg)' },
			] },
		}] },
	};
	const r = await request('POST', `/${w.tenant}/api/${et.dsn_id}/store/`, {
		body: event,
		headers: { 'X-Sentry-Auth': `Sentry sentry_key=${et.public_key}, sentry_version=7, sentry_client=test/1` },
	});
	assert.equal(r.status, 200, r.text);
	const issue = await until('the issue is grouped', async () =>
		(await w.api.ok('GET', `/issues?projectId=${p.id}`))[0]);

	await go(page, `/p/${p.id}/issues`);
	await page.getByRole('link', { name: /ValueError/ }).click();
	await page.waitForSelector('main[data-ready="1"]');
	assert.ok(page.url().endsWith(`/issues/${issue.id}`));
	const ev = page.getByRole('article');
	await ev.getByText('bad input <b>not html</b>').first().waitFor(); // text, never markup
	const inApp = ev.locator('li', { hasText: 'in app' });
	assert.match(await inApp.innerText(), /shop\/checkout\.py:42 in pay/);
	assert.match(await inApp.innerText(), /raise ValueError\(msg\)/);
	// The library frame is there too (folded or not), as text.
	assert.match(await ev.innerText(), /lib\/framework\.py:10 in dispatch/);
	// The owner may triage it.
	await page.getByRole('button', { name: 'Resolve' }).click();
	await page.getByRole('button', { name: 'Reopen' }).waitFor();
	assert.equal((await w.api.ok('GET', `/issues/${issue.id}`)).status, 'resolved');
	assertClean(page, 'issue');
});

test('an alert channel with a bad field shows the error next to it', async () => {
	await go(page, '/alerts/channels');
	await page.getByRole('button', { name: 'Create channel' }).click();
	const dlg = page.getByRole('dialog', { name: 'Create channel' });
	await dlg.getByLabel('Type').selectOption('email');
	await dlg.getByLabel('Name').fill('ops');
	await dlg.getByLabel('Recipients').fill('ops@example.com, not-an-address');
	allowConsole(page, /status of 400/);
	await dlg.getByRole('button', { name: 'Create' }).click();
	const field = dlg.getByLabel('Recipients');
	await until('Recipients marked invalid', async () => (await field.getAttribute('aria-invalid')) === 'true');
	const errId = (await field.getAttribute('aria-describedby')).split(' ').pop();
	const msg = await dlg.locator(`[id="${errId}"]`).innerText();
	assert.ok(msg.length > 0, 'an error message next to Recipients');
	assert.equal((await w.api.ok('GET', '/alerts/channels')).length, 0);

	// Fixed, it is created and listed.
	await field.fill('ops@example.com');
	await dlg.getByRole('button', { name: 'Create' }).click();
	await page.getByRole('cell', { name: 'ops@example.com' }).waitFor();
	// Test sends one delivery and reports its first attempt, whatever it was
	// (this tenant has no SMTP settings of its own).
	allowConsole(page, /status of 4\d\d/);
	await page.getByRole('button', { name: 'Test', exact: true }).click();
	await page.getByText(/^Test (delivered to|to) ops/).waitFor({ timeout: 60000 });
	const [d] = await w.api.ok('GET', '/alerts/history');
	assert.equal(d.event, 'alert.test');
	assert.ok(d.attempts.length >= 1 || d.status === 'succeeded', JSON.stringify(d));
	assertClean(page, 'alert channel');
});

test('a viewer of the project sees these pages without their write controls', async () => {
	const v = await userIn(w, 'user');
	await v.api.ok('POST', '/auth/me/set-initial-password', { password: PASSWORD });
	await w.api.ok('POST', `/projects/${p.id}/members`, { user_id: v.user.id, role: 'viewer' }, 201);
	const b = await w.api.ok('POST', '/buckets', { project_id: p.id, name: `v-${rnd()}` }, 201);
	const fn = await w.api.ok('POST', '/functions', { project_id: p.id, name: `v-${rnd()}`, runtime: 'node20',
		source: { code: 'exports.handler = async () => ({ status: 200 });' }, triggers: [{ type: 'http' }] }, 201);
	const issue = await py('issue', w.tid, p.id);
	const vp = await newPage(browser);
	await signIn(vp, w, { email: v.email, password: PASSWORD });
	const none = async (path, names) => {
		await go(vp, path);
		for (const name of names)
			assert.equal(await vp.getByRole('button', { name, exact: true }).count(), 0, `${name} on ${path}`);
	};
	await none(`/p/${p.id}/buckets`, ['Create bucket']);
	await none(`/p/${p.id}/buckets/${b.id}`, ['Reveal credentials', 'Rotate credentials', 'Make public', 'Delete']);
	await none(`/p/${p.id}/functions`, ['Create function']);
	await none(`/p/${p.id}/functions/${fn.id}`, ['Deploy']);
	await none(`/p/${p.id}/functions/${fn.id}/invoke`, ['Invoke']);
	await none(`/p/${p.id}/functions/${fn.id}/settings`, ['Save', 'Delete']);
	await none(`/p/${p.id}/issues/${issue}`, ['Resolve', 'Ignore', 'Delete']);
	await vp.getByRole('article').first().waitFor(); // but the events are shown
	await none('/templates/redis', ['Deploy']);
	await none('/alerts', ['Create rule']);
	assertClean(vp, 'viewer');
	await vp.context().close();
});
