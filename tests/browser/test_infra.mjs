// tests/browser/test_infra.mjs - servers, monitoring, databases and volumes
// in a real browser: a server added through the dashboard shows its agent
// install command once, and with the real agent started from that command's
// token its heartbeats show and its charts get points (history, then live);
// a database's pages load and an admin reveals its connection; bad input on
// the create forms shows the API's message next to the field.  Every page
// visited is scanned by axe and logs no console error (lib.visit).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newPage, world, project, signIn, go, visit, allowConsole, assertClean, py,
	until, endWorlds } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => {
	await browser?.close();
	await endWorlds();
});

// What describes an input (its help and its error: aria-describedby).
const described = (input) => input.evaluate((el) => (el.getAttribute('aria-describedby') || '').split(' ')
	.map((id) => document.getElementById(id)?.textContent || '').join(' '));

// The latest value a chart shows as text (its table under the canvas).
const latest = (page, chart, series) => page.getByRole('figure', { name: chart })
	.getByRole('row', { name: new RegExp('^' + series) }).getByRole('cell');

test('add a server, see its install command once; its real agent brings it up with live charts', async () => {
	const w = await world('infra');
	const page = await newPage(browser);
	await signIn(page, w);
	await visit(page, '/servers', 'servers-empty');
	await page.getByRole('link', { name: 'Add server' }).first().click();
	await page.waitForSelector('main[data-ready="1"]', { state: 'attached' });

	// Bad input: the API's message next to the field, nothing created.
	allowConsole(page, /status of 400/);
	await page.getByLabel('Name').fill('Not A Name');
	await page.getByRole('button', { name: 'Create' }).click();
	const name = page.getByLabel('Name');
	await page.locator('[aria-invalid="true"]').first().waitFor();
	assert.equal(await name.getAttribute('aria-invalid'), 'true');
	assert.match(await described(name), /a-z, 0-9/);
	assert.equal((await w.api.ok('GET', '/servers')).length, 0);

	await name.fill('edge-1');
	await page.getByLabel('Labels').fill('zone=a, tier=edge');
	await page.getByRole('button', { name: 'Create' }).click();
	const cmd = page.getByRole('region', { name: 'Agent install command' });
	await cmd.waitFor();
	const text = await cmd.locator('pre').textContent();
	// The one-line install: the token into a file by shell builtins, then
	// the plane's own install script (README "Agents on more servers").
	assert.match(text, /> \/etc\/launcher\/agent\.token\).*\/agent\/install\.sh \| sh -s -- --plane \S+ --tenant /);
	const token = /'(lnchr_at_[A-Za-z0-9]+)'/.exec(text)[1];
	assert.match(await cmd.textContent(), /Shown once/);
	const [server] = await w.api.ok('GET', '/servers');
	assert.deepEqual([server.name, server.status, server.labels], ['edge-1', 'pending', { zone: 'a', tier: 'edge' }]);
	assertClean(page, 'add server');

	// The real agent with the token the page showed: its heartbeats make
	// the server online (or degraded: Podman 4.3 answers GET /version only
	// after running dpkg -S for each of its binaries, which on a loaded
	// machine can outlast the agent's engine probe, 30 s included; the
	// engine's state is the agent's, the page shows it as the API does).
	await py('agent', w.tenant, w.tid, token, server.name);
	const live = await until('a heartbeat of edge-1', async () => {
		const s = (await w.api.get('/servers/' + server.id)).data;
		return s.last_seen_at && s;
	}, 60000);
	await visit(page, '/servers/' + server.id, 'server-status');
	assert.match(live.status, /^(online|degraded)$/);
	await page.getByRole('main').getByText(/^(online|degraded)$/).first().waitFor();
	const st = (await w.api.get('/servers/' + server.id + '/status')).data;
	await page.getByRole('main').getByText(st.resources.hostname, { exact: true }).waitFor();
	await visit(page, '/servers/' + server.id + '/metrics', 'server-metrics', { widths: [360] });
	// The live stream (or a reload's history) brings the first point.
	const cpu = latest(page, 'CPU', 'CPU busy');
	await until('a CPU point on the chart', async () => /%$/.test((await cpu.textContent()).trim()), 60000);
	assert.match(await latest(page, 'Memory', 'Total').textContent(), /iB$/);
	// Reloaded, the chart starts from the history (GET /monitoring/...).
	await go(page, '/servers/' + server.id + '/metrics');
	assert.match((await latest(page, 'CPU', 'CPU busy').textContent()).trim(), /%$/);

	// Diagnostics: run, then the checks as the agent reports them.
	await visit(page, '/servers/' + server.id + '/diagnostics', 'server-diagnostics');
	await page.getByRole('button', { name: 'Run diagnostics' }).click();
	const runId = await page.getByRole('main').locator('code').filter({ hasText: /^[0-9a-f-]{36}$/ }).textContent();
	// The agent's checks take their time on a loaded machine (the run's
	// deadline is 120 s): the page follows the run until it ends.
	const run = await until('the diagnostics run to end', async () => {
		const r = (await w.api.get(`/servers/${server.id}/diagnostics/${runId}`)).data;
		return r.finished_at && r;
	}, 150000);
	if (run.checks) {
		await page.getByRole('table', { name: 'Checks' })
			.getByRole('rowheader', { name: run.checks[0].name.replace(/_/g, ' ') }).waitFor();
	} else {
		await page.getByText(run.error).waitFor();
	}
	await visit(page, '/servers/' + server.id + '/settings', 'server-settings');
	await visit(page, '/monitoring', 'monitoring', { widths: [360] });
	await until('monitoring CPU point', async () =>
		/%$/.test((await latest(page, 'CPU', 'CPU busy').textContent()).trim()), 30000);
	assertClean(page, 'server pages');
});

test('database pages load, an admin reveals the connection; create forms show field errors', async () => {
	const w = await world('infradb');
	const p = await project(w);
	await w.api.ok('POST', '/servers', { name: 'db-host' });
	const page = await newPage(browser);
	allowConsole(page, /status of 400/);
	await signIn(page, w);
	await visit(page, `/p/${p.id}/databases`, 'databases-empty');

	await page.getByRole('button', { name: 'Create database' }).click();
	const dlg = page.getByRole('dialog', { name: 'Create database' });
	await dlg.getByLabel('Name').fill('main');
	await dlg.getByLabel('Version').fill('99');
	await dlg.getByRole('button', { name: 'Create' }).click();
	const version = dlg.getByLabel('Version');
	await dlg.locator('[aria-invalid="true"]').first().waitFor();
	assert.equal(await version.getAttribute('aria-invalid'), 'true');
	assert.match(await described(version), /99/);
	await version.fill('');
	await dlg.getByRole('button', { name: 'Create' }).click();
	await page.waitForURL(/#\/p\/[^/]+\/databases\/[0-9a-f-]{36}$/);
	await page.waitForSelector('main[data-ready="1"]', { state: 'attached' });
	const [db] = await w.api.ok('GET', `/databases?projectId=${p.id}`);
	const base = `/p/${p.id}/databases/${db.id}`;

	await visit(page, base, 'database-overview', { widths: [360] });
	await visit(page, base + '/connection', 'database-connection');
	assert.equal(await page.getByText(/^postgres:\/\//).count(), 0);
	await page.getByRole('button', { name: 'Reveal connection details' }).click();
	const url = page.getByText(/^postgres:\/\//);
	await url.waitFor();
	const conn = await w.api.ok('GET', `/databases/${db.id}/connection`);
	assert.equal(await url.textContent(), conn.url);
	await visit(page, base + '/logs', 'database-logs');
	await page.getByRole('log').waitFor();
	for (const tab of ['backups', 'pitr', 'settings'])
		await visit(page, `${base}/${tab}`, 'database-' + tab);

	// Volumes: a bad name is refused next to the field; a good one is listed.
	await visit(page, `/p/${p.id}/volumes`, 'volumes-empty');
	await page.getByRole('button', { name: 'Create volume' }).click();
	const vd = page.getByRole('dialog', { name: 'Create volume' });
	await vd.getByLabel('Name').fill('Bad_Name');
	await vd.getByRole('button', { name: 'Create' }).click();
	await vd.locator('[aria-invalid="true"]').first().waitFor();
	assert.equal(await vd.getByLabel('Name').getAttribute('aria-invalid'), 'true');
	await vd.getByLabel('Name').fill('uploads');
	await vd.getByRole('button', { name: 'Create' }).click();
	await page.getByRole('rowheader', { name: 'uploads' }).waitFor();
	await visit(page, `/p/${p.id}/volumes`, 'volumes', { widths: [360] });
	assertClean(page, 'database pages');
});
