// tests/bench/dashboard_bench.mjs - the figures of make bench-dashboard
// (tests/bench/dashboard_bench.sh starts the stack; README "The dashboard").
//
//   1. First load, cold (a new browser context each time: no cache, no
//      session): the sign-in page at "/", then the projects page after
//      signing in. Bytes: every JS and CSS response's body as transferred
//      (encodedBodySize: compressed by nginx's gzip_static/brotli_static),
//      by file. Time: from navigation start to the router's
//      main[data-ready="1"] (CONTRACT: set once the page has rendered its
//      data), and from the "Sign in" click to the projects page's ready.
//      Median of BENCH_LOADS loads.
//   2. A project of BENCH_APPS applications (created through the API): from
//      the hash change to the list's first page ready, then "Load more"
//      until every row is shown; the longest main-thread task (Long Tasks
//      API) over both, and how many tasks were over 50 ms.
// Prints a table; asserts nothing (a measurement, not a test).
import fs from 'node:fs';
import os from 'node:os';
import https from 'node:https';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { chromium } = createRequire(path.join(REPO, 'tests', 'tools', 'package.json'))('playwright-core');
const env = process.env;
const BASE = `https://localhost:${env.LAUNCHER_HTTPS_PORT}`;
const CA = fs.readFileSync(path.join(env.LAUNCHER_STATE_DIR, 'tls', 'cert.pem'));
const LOADS = Number(env.BENCH_LOADS || 5);
const APPS = Number(env.BENCH_APPS || 500);
const TENANT = 'default';
const EMAIL = 'bench@example.com';
const PASSWORD = 'bench-Passw0rd!';

function api(method, p, body, token) {
	return new Promise((resolve, reject) => {
		const data = body === undefined ? null : Buffer.from(JSON.stringify(body));
		const req = https.request(`${BASE}/${TENANT}/api/v1${p}`, {
			method, ca: CA, headers: {
				...(data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}),
				...(token ? { Authorization: `Bearer ${token}` } : {}),
			},
		}, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => {
				const json = JSON.parse(Buffer.concat(chunks).toString() || 'null');
				if (res.statusCode >= 300) reject(new Error(`${method} ${p}: ${res.statusCode} ${JSON.stringify(json)}`));
				else resolve(json.data);
			});
		});
		req.on('error', reject);
		req.end(data);
	});
}

// Installed before the page's own scripts: when main gets data-ready="1"
// (with the hash at that moment) and every long task.
const PROBE = () => {
	window.__bench = { ready: [], tasks: [] };
	new PerformanceObserver((l) => {
		for (const e of l.getEntries()) window.__bench.tasks.push({ start: e.startTime, dur: e.duration });
	}).observe({ type: 'longtask', buffered: true });
	new MutationObserver((list) => {
		for (const m of list) {
			if (m.target.tagName === 'MAIN' && m.target.dataset.ready === '1')
				window.__bench.ready.push({ t: performance.now(), hash: location.hash });
		}
	}).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-ready'] });
};

async function readyAfter(page, t0, prefix, timeout = 60000) {
	const h = await page.waitForFunction(([t, pre]) => window.__bench.ready.find((r) => r.t >= t && r.hash.startsWith(pre)),
		[t0, prefix], { timeout, polling: 20 });
	return (await h.jsonValue()).t;
}

// JS and CSS bodies of this document's loads, as transferred.
const resources = (page) => page.evaluate(() => performance.getEntriesByType('resource')
	.concat(performance.getEntriesByType('navigation'))
	.map((e) => ({ url: new URL(e.name).pathname, enc: e.encodedBodySize, dec: e.decodedBodySize })));

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const kb = (n) => (n / 1024).toFixed(1);

async function signIn(page) {
	const form = page.locator('form').filter({ has: page.getByRole('button', { name: 'Sign in', exact: true }) });
	await page.getByLabel('Workspace').fill(TENANT);
	await form.getByLabel('E-mail').fill(EMAIL);
	await form.getByLabel('Password').fill(PASSWORD);
	const t0 = await page.evaluate(() => performance.now());
	await form.getByRole('button', { name: 'Sign in', exact: true }).click();
	return t0;
}

async function main() {
	// The times depend on what else the machine runs: say how busy it was.
	const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');
	console.log(`(${os.cpus().length} CPUs, load average ${load()} at start)`);
	const reg = await api('POST', '/auth/register', { email: EMAIL, password: PASSWORD, first_name: 'Bench', last_name: 'Mark' });
	const token = reg.token;
	const project = await api('POST', '/projects', { name: 'bench' }, token);
	// An application needs a server to go to; this one never runs an agent
	// (nothing is deployed: the list is what is measured).
	await api('POST', '/servers', { name: 'bench' }, token);
	const browser = await chromium.launch({ executablePath: env.LAUNCHER_CHROMIUM || '/usr/bin/chromium' });
	try {
		const signinMs = [], projectsMs = [];
		let files = new Map();
		for (let i = 0; i < LOADS; i++) {
			const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
			await ctx.addInitScript(PROBE);
			const page = await ctx.newPage();
			await page.goto(`${BASE}/#/projects`);
			signinMs.push(await readyAfter(page, 0, '#/signin'));
			const t0 = await signIn(page);
			projectsMs.push(await readyAfter(page, t0, '#/projects') - t0);
			if (i === 0) for (const r of await resources(page)) if (/\.(js|mjs|css)$/.test(r.url)) files.set(r.url, r);
			await ctx.close();
		}
		const total = [...files.values()].reduce((s, r) => s + r.enc, 0);
		const raw = [...files.values()].reduce((s, r) => s + r.dec, 0);
		console.log(`First load (sign-in page, then the projects page after signing in): ${files.size} JS/CSS files, `
			+ `${kb(total)} KB transferred (${kb(raw)} KB uncompressed)`);
		for (const r of [...files.values()].sort((a, b) => b.enc - a.enc))
			console.log(`  ${r.url.padEnd(40)} ${kb(r.enc).padStart(7)} KB  (${kb(r.dec)} KB)`);
		console.log(`Sign-in page ready (cold, navigation start -> ready): median ${median(signinMs).toFixed(0)} ms `
			+ `of ${LOADS} [${signinMs.map((x) => x.toFixed(0)).join(', ')}]`);
		console.log(`Projects page after "Sign in" (click -> ready): median ${median(projectsMs).toFixed(0)} ms `
			+ `of ${LOADS} [${projectsMs.map((x) => x.toFixed(0)).join(', ')}]`);

		// 2. The applications of a large project.
		const t = Date.now();
		let made = 0;
		const worker = async () => {
			while (made < APPS) {
				const n = made++;
				await api('POST', '/applications', { project_id: project.id, name: `app-${String(n).padStart(4, '0')}`,
					source_type: 'docker_image', image_url: 'docker.io/library/nginx:alpine' }, token);
			}
		};
		await Promise.all([worker(), worker(), worker(), worker()]);
		console.log(`(${APPS} applications created through the API in ${((Date.now() - t) / 1000).toFixed(1)} s)`);
		const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
		await ctx.addInitScript(PROBE);
		const page = await ctx.newPage();
		await page.goto(`${BASE}/#/projects`);
		await readyAfter(page, 0, '#/signin');
		const ts = await signIn(page);
		await readyAfter(page, ts, '#/projects');
		const hash = `#/p/${project.id}/apps`;
		const t1 = await page.evaluate((h) => { const now = performance.now(); location.hash = h; return now; }, hash);
		const first = await readyAfter(page, t1, hash) - t1;
		const rows = () => page.locator('main tbody tr').count();
		const firstRows = await rows();
		const more = page.locator('main').getByRole('button', { name: 'Load more' });
		while (await more.isVisible()) {
			const before = await rows();
			await more.click();
			await page.waitForFunction((n) => document.querySelectorAll('main tbody tr').length > n, before, { timeout: 30000 });
		}
		const all = await page.evaluate((t) => performance.now() - t, t1);
		const total500 = await rows();
		const tasks = (await page.evaluate(() => window.__bench.tasks)).filter((x) => x.start >= t1);
		const longest = tasks.reduce((m, x) => Math.max(m, x.dur), 0);
		console.log(`Applications list of a project with ${APPS}: first page (${firstRows} rows) ready in ${first.toFixed(0)} ms; `
			+ `all ${total500} rows ("Load more") in ${all.toFixed(0)} ms; longest task ${longest.toFixed(0)} ms `
			+ `(${tasks.length} task(s) over 50 ms)`);
		await ctx.close();
		console.log(`(load average ${load()} at the end)`);
	} finally {
		await browser.close();
	}
}

main().catch((e) => { console.error(e); process.exit(1); });
