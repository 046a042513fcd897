// tests/browser/test_live.mjs - the live parts of the dashboard against the
// real stack, a real launcher-agent and the stack's Podman: a deployment's
// log arriving while its page is open, a network cut (reconnecting, then
// live again with the lines written meanwhile and none twice), the final
// status shown without a reload, Cancel of a running deployment, and the
// terminal running a command.
//
// The network cut is the browser's alone, so the stack other tests share
// is not touched.  Chromium runs in a network namespace of its own
// (tests/browser/run.sh): the cut kills every TCP connection in it (ss -K)
// and refuses new ones (an iptables REJECT of SYNs there) until restored.
// With LAUNCHER_BROWSER_NETNS=0 (chromium on the host's network) the
// browser reaches the stack through a TCP relay of this test instead, and
// the cut destroys the relay's connections and refuses new ones.
// (Chromium's offline emulation does not close an open WebSocket.)
import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as L from './lib.mjs';

const IMAGE = process.env.FIXTURE_REGISTRY_WEB_V1;

// The network namespace chromium runs in: run.sh's wrapper names it.
function browserNetns() {
	try {
		return /ip netns exec (\S+)/.exec(fs.readFileSync(process.env.LAUNCHER_CHROMIUM || '', 'utf8'))?.[1] || null;
	} catch {
		return null;
	}
}

// netnsCut(ns) -> {port, cut(), restore(), close()}: the cut inside chromium's namespace.
function netnsCut(ns) {
	const inNs = (...args) => execFileSync('ip', ['netns', 'exec', ns, ...args], { stdio: 'pipe' });
	const rule = ['OUTPUT', '-p', 'tcp', '--syn', '-j', 'REJECT', '--reject-with', 'tcp-reset'];
	let down = false;
	return {
		port: L.HTTPS_PORT,
		cut() {
			inNs('iptables', '-A', ...rule);
			down = true;
			inNs('ss', '-K', '-t');
		},
		restore() {
			if (down)
				inNs('iptables', '-D', ...rule);
			down = false;
		},
		close() {
			this.restore();
		},
	};
}

// relay() -> {port, cut(), restore(), close()}: 127.0.0.1:port -> the stack's nginx.
async function relay() {
	const pairs = new Set();
	let down = false;
	const srv = net.createServer((c) => {
		if (down) {
			c.destroy();
			return;
		}
		const up = net.connect(L.HTTPS_PORT, '127.0.0.1');
		const pair = [c, up];
		pairs.add(pair);
		const end = () => {
			c.destroy();
			up.destroy();
			pairs.delete(pair);
		};
		c.on('error', end).on('close', end);
		up.on('error', end).on('close', end);
		c.pipe(up);
		up.pipe(c);
	});
	srv.listen(0, '127.0.0.1');
	await new Promise((r) => srv.once('listening', r));
	return {
		port: srv.address().port,
		cut() {
			down = true;
			for (const [a, b] of pairs) {
				a.destroy();
				b.destroy();
			}
			pairs.clear();
		},
		restore() {
			down = false;
		},
		close() {
			this.cut();
			srv.close();
		},
	};
}

let browser;
let w;
let server;
let proj;
let agent = null;
let net0;

before(async () => {
	assert.ok(IMAGE, 'FIXTURE_REGISTRY_WEB_V1 missing: run through tests/run.sh (the deployment fixtures)');
	browser = await L.launch();
	w = await L.world('live');
	server = await w.api.ok('POST', '/servers', { name: `srv-${Date.now().toString(16)}`, base_domain: 'localhost' }, 201);
	proj = await L.project(w);
	const ns = browserNetns();
	net0 = ns ? netnsCut(ns) : await relay();
});

after(async () => {
	net0?.close();
	await browser?.close();
	await L.endWorlds();
});

// The agent starts on first need (the first test opens its page before).
// Not waited for "online": the deployments show when it works.
async function ensureAgent() {
	agent ??= await L.py('agent', w.tenant, w.tid, server.agent_token, server.name);
	return agent;
}

// app(body) -> an application of the fixture's image; healthcheck on a path
// that answers 404 keeps its deployment in `deploying` (the agent waits for
// health) for `timeout` seconds, then fails it.
function app(body = {}) {
	return w.api.ok('POST', '/applications', {
		name: `a${Math.random().toString(16).slice(2, 10)}`, project_id: proj.id, source_type: 'docker_image',
		image_url: IMAGE, exposed_port: 8080, healthcheck_path: '/health', healthcheck_timeout_seconds: 20, ...body,
	}, 201);
}

const deploy = (a) => w.api.ok('POST', `/applications/${a.id}/deploy`, {}, 201);
const restLines = async (id) => (await w.api.ok('GET', `/deployments/${id}/logs`)).map((l) => l.message);

// A page of the dashboard (through the relay without a namespace), signed in.
async function openPage() {
	const page = await L.newPage(browser);
	// Upper bounds only (a loaded CI machine): every wait ends as soon as its condition holds.
	page.setDefaultTimeout(60000);
	const base = `https://localhost:${net0.port}`;
	await page.goto(`${base}/#/signin`);
	await page.waitForSelector('main[data-ready="1"]');
	await L.signInForm(page, w.tenant, w.email, w.password);
	await page.waitForURL((u) => !u.hash.startsWith('#/signin'));
	await page.waitForSelector('main[data-ready="1"]');
	page.goHash = async (hash) => {
		await page.evaluate(() => { delete document.querySelector('main').dataset.ready; });
		await page.evaluate((hh) => { location.hash = hh; }, hash);
		await page.waitForSelector('main[data-ready="1"]');
	};
	return page;
}

const logPanel = (page) => page.getByRole('region', { name: 'Deployment log' });
const streamState = (page) => logPanel(page).getByRole('status');
// The lines on screen: [{cursor, message}] (markers such as "Reconnected." aside).
const shown = (page) => logPanel(page).getByRole('log').locator('li[data-cursor]')
	.evaluateAll((els) => els.map((e) => ({ cursor: e.dataset.cursor, message: e.lastElementChild.textContent })));

test('a deployment log arrives live, survives a network cut without a duplicate line, and ends with the final status', async () => {
	// Its health check never passes (404): the agent logs, then waits
	// 30 s, then fails it.  No agent runs yet: the page is open before the
	// first line exists, so every line it shows arrived live.
	const a = await app({ healthcheck_path: '/no-such-page', healthcheck_timeout_seconds: 30 });
	const d = await deploy(a);
	const page = await openPage();
	L.allowConsole(page, /WebSocket connection to .* failed|net::ERR_|Failed to load resource/);
	await page.goHash(`/p/${proj.id}/deployments/${d.id}`);
	await streamState(page).getByText('live', { exact: true }).waitFor();
	assert.deepEqual(await shown(page), []);
	await page.getByRole('heading', { name: `Deployment ${d.id.slice(0, 8)}` }).waitFor();
	await L.screenshot(page, 'live-deployment-waiting');

	await ensureAgent();
	await logPanel(page).getByText('health check: /no-such-page').first().waitFor({ timeout: 120000 });
	assert.ok((await shown(page)).length >= 2, 'lines of the agent');
	await page.getByRole('list', { name: 'Status timeline' }).getByText('Deploying (in progress)').waitFor();

	// The cut: reconnecting (the relay refuses), then live again.
	net0.cut();
	await streamState(page).getByText('reconnecting', { exact: true }).waitFor();
	const during = await shown(page);
	net0.restore();
	await streamState(page).getByText('live', { exact: true }).waitFor({ timeout: 30000 });

	// The health check fails after its timeout: the agent removes the new
	// container (a line written after the cut), the deployment fails with
	// the check's error, and the stream closes once it is over.
	await logPanel(page).getByText('removed container').first().waitFor({ timeout: 90000 });
	await streamState(page).getByText('ended', { exact: true }).waitFor({ timeout: 30000 });
	await page.getByRole('list', { name: 'Status timeline' }).getByText('Failed (ended)').waitFor();
	await page.getByRole('alert').filter({ hasText: 'health check failed' }).first().waitFor();
	const lines = await shown(page);
	assert.ok(lines.length > during.length, 'new lines after the reconnect');
	const cursors = lines.map((l) => l.cursor);
	assert.equal(new Set(cursors).size, cursors.length, `a line shown twice: ${cursors}`);
	// Exactly the deployment's log, in order: no line twice, none missing.
	assert.deepEqual(lines.map((l) => l.message), await restLines(d.id));
	await L.screenshot(page, 'live-deployment-failed');
	await L.axe(page, 'deployment page');
	assert.equal(await L.overflow(page, 360, 'live-deployment-360'), null);
	L.assertClean(page, 'deployment page');
	await page.context().close();
});

test('Cancel stops a running deployment and the page shows it cancelled without a reload', async () => {
	await ensureAgent();
	const a = await app({ healthcheck_path: '/no-such-page', healthcheck_timeout_seconds: 120 });
	const d = await deploy(a);
	await L.until('the deployment to wait for its health check', async () =>
		(await restLines(d.id)).some((m) => m.startsWith('health check: ')), 120000);
	const page = await openPage();
	await page.goHash(`/p/${proj.id}/deployments/${d.id}`);
	await logPanel(page).getByText('health check: /no-such-page').first().waitFor();
	await L.axe(page, 'deployment page');
	await page.getByRole('button', { name: 'Cancel deployment' }).click();
	const dialog = page.getByRole('dialog');
	await dialog.getByRole('button', { name: 'Cancel deployment' }).click();
	await page.getByRole('list', { name: 'Status timeline' }).getByText('Cancelled (ended)').waitFor();
	await streamState(page).getByText('ended', { exact: true }).waitFor({ timeout: 30000 });
	assert.equal(await page.getByRole('button', { name: 'Cancel deployment' }).count(), 0);
	assert.equal((await w.api.ok('GET', `/deployments/${d.id}`)).status, 'cancelled');
	L.assertClean(page, 'deployment page');
	await page.context().close();
});

test('an unknown deployment shows the API error', async () => {
	const page = await openPage();
	L.allowConsole(page, /status of 404/);
	await page.goHash(`/p/${proj.id}/deployments/00000000-0000-4000-8000-000000000000`);
	const err = page.getByRole('alert');
	await err.getByText('deployment not found').waitFor();
	await err.getByText('request id').waitFor();
	L.assertClean(page, 'unknown deployment');
	await page.context().close();
});

test('the terminal runs a command and shows its output, then its end', async (t) => {
	if ((await L.request('GET', '/app/pages/app.js')).status !== 200) {
		t.skip('the stack serves no application page (pages/app.js) to open a terminal on');
		return;
	}
	await ensureAgent();
	const a = await app();
	const d = await deploy(a);
	await L.until('the deployment to succeed', async () => {
		const s = (await w.api.ok('GET', `/deployments/${d.id}`)).status;
		assert.ok(!['failed', 'cancelled'].includes(s), `deployment ${s}`);
		return s === 'succeeded';
	}, 120000);
	const page = await openPage();
	await page.goHash(`/p/${proj.id}/apps/${a.id}/terminal`);
	const term = page.getByRole('region', { name: 'Terminal' });
	await term.getByText('Connected.').waitFor({ timeout: 60000 });
	// The keyboard goes to the terminal (it has the focus once connected).
	await page.keyboard.type('echo $((6*7))');
	await page.keyboard.press('Enter');
	await L.until('the output 42', async () => /^42\s*$/m.test(await term.innerText()), 30000);
	await L.screenshot(page, 'live-terminal');
	await L.axe(page, 'terminal');
	await page.keyboard.type('exit 3');
	await page.keyboard.press('Enter');
	await term.getByText('Session ended (exit code 3).').waitFor({ timeout: 30000 });
	await term.getByRole('button', { name: 'New session' }).waitFor();
	L.assertClean(page, 'terminal');
	await page.context().close();
});
