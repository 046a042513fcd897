// tests/browser/test_journey.mjs - the acceptance journey of the dashboard
// (issue 22), in a real browser against the real stack: a newcomer registers
// in a fresh workspace, creates a project, adds a server and starts a real
// agent with the token of the install command shown, deploys a git
// application from the local git server (the deployment fixture's
// repository), watches its build log live, opens it through the edge,
// changes an env var and redeploys (the new value is served), rolls back
// (the value is gone again), opens a terminal and runs a command (its output
// appears), adds a domain and sees the DNS records to create, and signs out.
// Every main page on the way passes visit()'s checks (axe, console, CSP) and
// leaves a screenshot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	launch, newPage, freshTenant, client, startAgent, gitDaemon, until, visit, go, endWorlds,
	assertClean, trackBearer, PASSWORD, BASE,
} from './lib.mjs';

const HTTP_PORT = Number(process.env.LAUNCHER_HTTP_PORT);
const DEPLOY_MS = 180000; // a git build on the shared 2-core machine

let browser;
before(async () => { browser = await launch(); });
after(async () => {
	await browser?.close();
	await endWorlds();
});

// What the application serves at path, opened in the browser through the stack's
// nginx (the edge) by its hostname (*.localhost is the loopback for chromium), in a
// tab of its own.
async function edge(page, host, path) {
	const tab = await page.context().newPage();
	try {
		const r = await tab.goto(`http://${host}:${HTTP_PORT}${path}`);
		return { status: r.status(), text: (await r.text()).trim() };
	} finally {
		await tab.close();
	}
}

// The build tab of the deployment the last action started (not one of `before`),
// until it succeeded; its id.
async function deployed(page, what, before = []) {
	await page.waitForURL((u) => {
		const m = u.hash.match(/\/build\?deployment=([0-9a-f-]{36})/);
		return m && !before.includes(m[1]);
	}, { timeout: 30000 });
	await page.waitForSelector('main[data-ready="1"]');
	const log = page.getByRole('region', { name: 'Build log' });
	// Lines arrive while it builds (the stream's backlog, then live ones).
	await log.locator('li').first().waitFor({ timeout: DEPLOY_MS });
	const status = page.getByRole('status', { name: 'Deployment status' });
	await until(`${what}: deployment succeeded`, async () => {
		const t = await status.textContent();
		assert.ok(!/failed|cancelled/.test(t), `${what}: ${t}\n${await log.textContent()}`);
		return t.includes('succeeded');
	}, DEPLOY_MS);
	return page.url().split('deployment=')[1];
}

// One journey in steps (each step has the runner's per-test time; a git build
// on the shared machine takes a while): each step goes on from where the last
// one left the page, and none runs after a step that failed.
const J = {};
let broken = null;
function step(name, fn) {
	test(name, async (t) => {
		if (broken) {
			t.skip(`an earlier step failed: ${broken}`);
			return;
		}
		try {
			await fn();
		} catch (e) {
			broken = name;
			throw e;
		}
	});
}

step('a newcomer registers, creates a project, adds a server and starts its agent', async () => {
	const { tenant, tid } = await freshTenant('jr');
	const page = await newPage(browser);
	const bearer = trackBearer(page);
	const email = `newcomer-${tid.slice(0, 8)}@example.com`;
	Object.assign(J, { tenant, tid, page, bearer });

	// Register (the first user of the workspace).
	await page.goto(`${BASE}/#/register`);
	await page.waitForSelector('main[data-ready="1"]');
	await visit(page, '/register', 'journey-01-register');
	await page.getByLabel('Workspace').fill(tenant);
	await page.getByLabel('First name').fill('Nora');
	await page.getByLabel('Last name').fill('Newcomer');
	await page.getByLabel('E-mail').fill(email);
	await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
	await page.getByRole('button', { name: 'Register', exact: true }).click();
	await page.waitForURL((u) => !u.hash.startsWith('#/register'));
	await page.waitForSelector('main[data-ready="1"]');
	J.w = { tenant, tid, get api() { return client(tenant, bearer.token); } };

	// A project.
	await visit(page, '/projects', 'journey-02-projects');
	await page.getByRole('button', { name: 'New project' }).click();
	await page.getByLabel('Name', { exact: true }).fill(`shop${tid.slice(0, 6)}`);
	await page.getByRole('button', { name: 'Create', exact: true }).click();
	await page.waitForURL((u) => /^#\/p\/[0-9a-f-]{36}/.test(u.hash));
	await page.waitForSelector('main[data-ready="1"]');
	J.pid = page.url().match(/#\/p\/([0-9a-f-]{36})/)[1];

	// A server, and its agent started with the token of the install command shown.
	await visit(page, '/servers/new', 'journey-03-server-new');
	await page.getByLabel('Name', { exact: true }).fill('local');
	await page.getByLabel('Base domain').fill('localhost');
	await page.getByRole('button', { name: 'Create', exact: true }).click();
	const install = page.getByRole('region', { name: 'Agent install command' });
	await install.waitFor();
	const token = (await install.textContent()).match(/lnchr_at_[A-Za-z0-9]+/)[0];
	const server = (await J.w.api.ok('GET', '/servers')).find((s) => s.name === 'local');
	await startAgent(J.w, server, token);
	await visit(page, `/servers/${server.id}`, 'journey-04-server');
});

step('it deploys a git application, watching its build log live, and opens it through the edge', async () => {
	const { page, pid, w } = J;
	const git = await gitDaemon();
	await visit(page, `/p/${pid}/apps`, 'journey-05-apps-empty');
	await page.getByRole('button', { name: 'New application' }).click();
	await page.waitForSelector('main[data-ready="1"]');
	await visit(page, `/p/${pid}/apps/new`, 'journey-06-app-new');
	await page.getByLabel('Name', { exact: true }).fill('web');
	await page.getByLabel('Repository URL').fill(git.url);
	await page.getByLabel('Health check path').fill('/health');
	await page.getByRole('button', { name: 'Create', exact: true }).click();
	await page.waitForURL((u) => /\/apps\/[0-9a-f-]{36}$/.test(u.hash));
	await page.waitForSelector('main[data-ready="1"]');
	const appId = page.url().match(/\/apps\/([0-9a-f-]{36})$/)[1];
	J.base = `/p/${pid}/apps/${appId}`;
	await visit(page, J.base, 'journey-07-app');

	await page.getByRole('button', { name: 'Deploy', exact: true }).click();
	J.first = await deployed(page, 'deploy');
	await visit(page, `${J.base}/build?deployment=${J.first}`, 'journey-08-build-log');
	J.app = await w.api.ok('GET', `/applications/${appId}`);
	assert.ok(J.app.hostname, JSON.stringify(J.app));
	await until('the app through the edge', async () => (await edge(page, J.app.hostname, '/')).text === 'v2', 60000);
	// Its URL is on the overview.
	await visit(page, J.base, 'journey-09-app-running');
	await page.getByRole('link', { name: J.app.default_url }).waitFor();
});

step('it changes an env var and redeploys: the new value is served', async () => {
	const { page, base, app } = J;
	await visit(page, `${base}/env`, 'journey-10-env');
	await page.getByText('Add a variable').click();
	await page.getByLabel('Key', { exact: true }).fill('APP_MESSAGE');
	await page.getByLabel('Value', { exact: true }).fill('hello-from-the-dashboard');
	await page.getByRole('button', { name: 'Add', exact: true }).click();
	await page.getByRole('cell', { name: 'APP_MESSAGE' }).waitFor();
	await page.getByRole('button', { name: 'Redeploy', exact: true }).click();
	J.second = await deployed(page, 'redeploy', [J.first]);
	await until('the new value through the edge', async () =>
		(await edge(page, app.hostname, '/cgi-bin/message')).text === 'hello-from-the-dashboard', 60000);
});

step('it rolls back to the first release: the value is gone again', async () => {
	const { page, base, app, first, second } = J;
	await page.getByRole('button', { name: 'Roll back', exact: true }).click();
	const dlg = page.getByRole('dialog', { name: 'Roll back' });
	await dlg.getByLabel('Deployment to restore').selectOption(first);
	await dlg.getByRole('button', { name: 'Roll back', exact: true }).click();
	await deployed(page, 'rollback', [first, second]);
	await until('the old release through the edge', async () => {
		const r = await edge(page, app.hostname, '/cgi-bin/message');
		return r.status === 200 && r.text === '';
	}, 60000);
	await visit(page, `${base}/deployments`, 'journey-11-deployments');
	assert.equal(await page.locator('main tbody tr').count(), 3);
});

step('it runs a command in a terminal, adds a domain, sees its DNS records and signs out', async () => {
	const { page, base, tid, tenant, bearer } = J;
	await go(page, `${base}/terminal`);
	await page.getByText('Connected.').waitFor({ timeout: 60000 });
	await page.getByLabel('Terminal input').pressSequentially('echo "$((6*7))-from-the-shell"\n');
	await page.locator('.xterm-rows').getByText('42-from-the-shell').waitFor({ timeout: 30000 });
	assertClean(page, 'terminal');

	await visit(page, `${base}/domains`, 'journey-12-domains');
	const host = `shop-${tid.slice(0, 8)}.example.com`;
	await page.getByLabel('Hostname').fill(host);
	await page.getByRole('button', { name: 'Add domain' }).click();
	await page.getByRole('heading', { name: `DNS records for ${host}` }).waitFor();
	await page.getByRole('cell', { name: `_lnchr-verify.${host}` }).waitFor();
	await page.getByRole('cell', { name: 'TXT', exact: true }).waitFor();
	await visit(page, `${base}/domains`, 'journey-13-domain-added');

	// Sign out: back to the sign-in form, and the token is revoked.
	const was = bearer.token;
	await page.getByRole('button', { name: 'Sign out' }).click();
	await page.waitForURL((u) => u.hash.startsWith('#/signin'));
	await page.waitForSelector('main[data-ready="1"]');
	assert.ok(await page.getByRole('button', { name: 'Sign in', exact: true }).isVisible());
	assert.equal((await client(tenant, was).get('/auth/me')).status, 401);
	assertClean(page, 'journey');
	await page.context().close();
});
