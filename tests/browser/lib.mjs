// tests/browser/lib.mjs - the browser tests' helpers: Debian's chromium
// (headless) driven by playwright-core against the stack under test, the
// page checks every test makes (console errors, CSP violations, axe-core,
// a screenshot, no horizontal overflow), an API client, and worlds set up
// through the API tests' own Python helpers (tests/browser/world.py).
//
// The stack comes from the environment tests/run.sh exports
// (LAUNCHER_STATE_DIR, LAUNCHER_HTTPS_PORT, the FIXTURE_* of the deployment
// fixtures).  The browser accepts the stack's self-signed certificate
// (ignoreHTTPSErrors): it is issued by the stack at start and chromium has
// no trust store of ours; the API client below verifies it (the stack's
// cert.pem as the only CA), as tests/api/lib.py does.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';
import { afterEach } from 'node:test';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');
// playwright-core and axe-core: pinned in tests/tools/package-lock.json.
const tools = createRequire(path.join(REPO, 'tests', 'tools', 'package.json'));
const { chromium } = tools('playwright-core');
const env = process.env;
if (!env.LAUNCHER_STATE_DIR || !env.LAUNCHER_HTTPS_PORT) {
	throw new Error('tests/browser: no stack in the environment (LAUNCHER_STATE_DIR, LAUNCHER_HTTPS_PORT): '
		+ 'run through tests/run.sh (bash tests/run.sh browser, or bash tests/run.sh test_x.mjs)');
}
export const STATE = env.LAUNCHER_STATE_DIR;
export const HTTPS_PORT = Number(env.LAUNCHER_HTTPS_PORT);
export const BASE = `https://localhost:${HTTPS_PORT}`;
export const PASSWORD = 's3cret-Passw0rd!'; // tests/api/lib.py PASSWORD
// Screenshots: LAUNCHER_BROWSER_ARTEFACTS, else build/test-artefacts/browser.
export const ARTEFACTS = env.LAUNCHER_BROWSER_ARTEFACTS || path.join(REPO, 'build', 'test-artefacts', 'browser');
const CA = fs.readFileSync(path.join(STATE, 'tls', 'cert.pem'));
const CHROMIUM = env.LAUNCHER_CHROMIUM || '/usr/bin/chromium';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------- the API

// request(method, path, {body, headers, raw}) -> {status, headers, json, data, error, meta}
// One request through the stack's nginx (TLS verified against its cert).
// A 429 of the strict auth zone (the API tests beside share 127.0.0.1, and
// one of them floods it on purpose) is waited out and sent again.
export async function request(method, urlPath, { body, headers = {}, raw } = {}) {
	for (let attempt = 0; ; attempt++) {
		const r = await request1(method, urlPath, body, headers, raw);
		if (r.status !== 429 || attempt >= 20) return r;
		await sleep(500);
	}
}

function request1(method, urlPath, body, headers, raw) {
	const h = { ...headers };
	let data = raw;
	if (body !== undefined) {
		data = Buffer.from(JSON.stringify(body));
		h['Content-Type'] ??= 'application/json';
	}
	if (data) h['Content-Length'] = data.length;
	return new Promise((resolve, reject) => {
		const req = https.request({ host: 'localhost', port: HTTPS_PORT, method, path: urlPath, headers: h, ca: CA,
			timeout: 30000 }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => {
				const text = Buffer.concat(chunks).toString();
				let json = null;
				try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
				resolve({ status: res.statusCode, headers: res.headers, text, json, data: json?.data,
					error: json?.error || {}, meta: json?.meta || {} });
			});
		});
		req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: no answer in 30 s`)));
		req.on('error', reject);
		if (data) req.write(data);
		req.end();
	});
}

// client(tenant, token) -> {get, post, put, patch, del, call, ok}: calls
// /{tenant}/api/v1<path> with the JWT; `ok(method, path, body, status?)`
// returns data and throws (with the answer) unless the status is the one
// wanted (default: any 2xx).
export function client(tenant, token) {
	const call = (method, p, body, headers = {}) => request(method, `/${tenant}/api/v1${p}`, {
		body, headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers } });
	const ok = async (method, p, body, want) => {
		const r = await call(method, p, body);
		if (want ? r.status !== want : r.status < 200 || r.status > 299) {
			throw new Error(`${method} ${p}: ${r.status} ${r.text.slice(0, 400)}`);
		}
		return r.data;
	};
	return {
		tenant, token, call, ok,
		get: (p) => call('GET', p), post: (p, b) => call('POST', p, b ?? {}), put: (p, b) => call('PUT', p, b),
		patch: (p, b) => call('PATCH', p, b), del: (p) => call('DELETE', p),
	};
}

// --------------------------------------------------- worlds (world.py)

// The Python bridge of this process (started on first use, ended by
// endWorlds(): its agents and git daemons end with it).
let bridge = null;

function startBridge() {
	const proc = spawn('/usr/bin/python3', [path.join(HERE, 'world.py')], {
		stdio: ['pipe', 'pipe', 'inherit'], env,
	});
	const waiting = new Map();
	let next = 1;
	readline.createInterface({ input: proc.stdout }).on('line', (line) => {
		const ans = JSON.parse(line);
		const w = waiting.get(ans.id);
		waiting.delete(ans.id);
		if (!w) return;
		if (ans.ok) w.resolve(ans.data);
		else w.reject(new Error(`${ans.error}\n${ans.trace || ''}`));
	});
	proc.on('exit', (code) => {
		for (const w of waiting.values()) w.reject(new Error(`tests/browser/world.py exited (${code})`));
		waiting.clear();
		bridge = null;
	});
	const call = (op, ...args) => new Promise((resolve, reject) => {
		const id = next++;
		waiting.set(id, { resolve, reject });
		proc.stdin.write(JSON.stringify({ id, op, args }) + '\n');
	});
	return { proc, call };
}

// py(op, ...args): one call of tests/browser/world.py (see its op_* functions).
export function py(op, ...args) {
	bridge ??= startBridge();
	return bridge.call(op, ...args);
}

// endWorlds(): the bridge's stdin closed; waits for it to end (its agents
// killed, their tenants' containers removed, its git daemons killed).
export async function endWorlds() {
	if (!bridge) return;
	const { proc } = bridge;
	proc.stdin.end();
	if (proc.exitCode === null) await once(proc, 'exit');
}

// freshTenant(prefix) -> {tenant, tid}: a new tenant with no user (first run).
export const freshTenant = (prefix = 'b') => py('tenant', prefix);

// world(prefix) -> {tenant, tid, token, email, password, user, api}: a new
// tenant with its superadmin registered through the API; api = client().
export async function world(prefix = 'b') {
	const w = await py('registered', prefix);
	w.api = client(w.tenant, w.token);
	return w;
}

// mailCode(addr, after): the 6-digit code of the newest mail to addr written
// after `after` (ms since the epoch, e.g. Date.now() before asking).
export const mailCode = (addr, after = 0) => py('mail_code', addr, after / 1000 - 1);

// userIn(w, role = 'user', {first_name}?) -> {email, user, token, api}: a
// new user of w's tenant (POST /users), signed in by an e-mailed code.
export async function userIn(w, role = 'user', extra = {}) {
	const email = `u-${Math.random().toString(16).slice(2, 10)}@example.com`;
	const user = await w.api.ok('POST', '/users', { email, role, ...extra }, 201);
	const t0 = Date.now();
	await client(w.tenant).ok('POST', '/auth/send-code', { email, method: 'email' });
	const code = await mailCode(email, t0);
	const r = await client(w.tenant).ok('POST', '/auth/verify-code', { email, code });
	return { email, user, token: r.token, api: client(w.tenant, r.token) };
}

// project(w, body?) -> the project (POST /projects).
export async function project(w, body = {}) {
	return w.api.ok('POST', '/projects', { name: `p-${Math.random().toString(16).slice(2, 10)}`, ...body }, 201);
}

// serviceKey(w, body?) -> the key object with its secret (POST /settings/service-keys).
export async function serviceKey(w, body = {}) {
	return w.api.ok('POST', '/settings/service-keys', { name: `key-${Math.random().toString(16).slice(2, 8)}`, ...body }, 201);
}

// startAgent(w, server, token?) -> {pid, log}: the real launcher-agent for
// a server (created through the API or the dashboard), with edge routing
// into the stack's nginx; `token` is its agent token (the server object of
// POST /servers has it; the dashboard shows it in the install command).
// Waits until the plane says the server is online.
export async function startAgent(w, server, token = server.agent_token) {
	const a = await py('agent', w.tenant, w.tid, token, server.name);
	await until(`server ${server.name} online`, async () =>
		(await w.api.get(`/servers/${server.id}`)).data?.status === 'online', 60000);
	return a;
}

// gitDaemon() -> {url, sha_v1, sha_v2}: the deployment fixture's
// repository served by git daemon on loopback (ends with endWorlds()).
export const gitDaemon = () => py('git_daemon');

// until(what, fn, ms): polls fn (200 ms) until it returns a truthy value.
export async function until(what, fn, ms = 20000) {
	const end = Date.now() + ms;
	for (;;) {
		const v = await fn();
		if (v) return v;
		if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
		await sleep(200);
	}
}

// ------------------------------------------------------------- browser

// launch() -> Browser: headless chromium (Debian's), no sandbox as root.
export async function launch() {
	const args = ['--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--disable-extensions'];
	if (process.getuid?.() === 0) args.push('--no-sandbox');
	return chromium.launch({ executablePath: CHROMIUM, headless: true, args, timeout: 60000 });
}

// Each page's record of what went wrong on it: console errors (allowed
// ones aside), uncaught exceptions, CSP violations (securitypolicyviolation
// events, reported by an init script), failed requests of our origin.
const records = new WeakMap();

// newPage(browser, {width, height}) -> Page in a fresh context (its own
// session: the token lives in memory only) with the checks attached.
export async function newPage(browser, { width = 1280, height = 800 } = {}) {
	const context = await browser.newContext({ baseURL: BASE, ignoreHTTPSErrors: true,
		viewport: { width, height } });
	const page = await context.newPage();
	pagesOfTest.push(page);
	const rec = { errors: [], allowed: [], csp: [], api: [] };
	records.set(page, rec);
	await page.exposeBinding('__lnchrCspViolation', (_src, v) => {
		rec.csp.push(v);
		rec.errors.push(`CSP violation: ${v.directive} blocked ${v.blocked} at ${v.source}:${v.line}`);
	});
	await page.addInitScript(() => {
		document.addEventListener('securitypolicyviolation', (e) => {
			window.__lnchrCspViolation({ directive: e.violatedDirective, blocked: e.blockedURI,
				source: e.sourceFile, line: e.lineNumber, sample: e.sample });
		});
	});
	page.on('console', (m) => {
		if (m.type() !== 'error') return;
		const url = m.location()?.url || '';
		const text = `console error: ${m.text()} (${url})`;
		// Chromium logs each refused API request ("Failed to load resource:
		// ... status of 403"); the page shows the refusal (ui.showError:
		// message and request id), which the tests check where they provoke
		// one.  Those lines are kept apart (apiRefusals), not counted as the
		// page's errors.  Any other resource (a module, a stylesheet, an
		// image) that fails to load is an error.
		if (/^Failed to load resource/.test(m.text()) && /\/api\/v1\//.test(url)) rec.api.push(text);
		else if (!rec.allowed.some((re) => re.test(m.text()))) rec.errors.push(text);
	});
	page.on('pageerror', (e) => rec.errors.push(`uncaught: ${e.message}`));
	return page;
}

// At the end of each test, its pages as they were then: ARTEFACTS/end-
// <file>-<test>[-n].png (what a failed test left on screen).
const pagesOfTest = [];
afterEach(async (t) => {
	const pages = pagesOfTest.splice(0).filter((p) => !p.isClosed());
	const file = path.basename(process.argv[1] || 'test', '.mjs');
	for (const [i, p] of pages.entries()) {
		await screenshot(p, `end-${file}-${t.name.slice(0, 60)}${pages.length > 1 ? '-' + (i + 1) : ''}`)
			.catch(() => {});
	}
});

// allowConsole(page, regexp): a console error the test provokes on purpose
// (chromium logs "Failed to load resource: ... status of 403" for a refused
// request) is not a failure.
export function allowConsole(page, re) {
	records.get(page).allowed.push(re);
}

// problems(page) -> [text]: what went wrong on the page so far;
// assertClean(page) throws with the list when there is anything.
export function problems(page) {
	return [...records.get(page).errors];
}
export function cspViolations(page) {
	return [...records.get(page).csp];
}
// apiRefusals(page) -> [text]: the API requests of the page that were
// answered with an error (chromium's "Failed to load resource" lines).
export function apiRefusals(page) {
	return [...records.get(page).api];
}
export function assertClean(page, where = '') {
	const p = problems(page);
	if (p.length) throw new Error(`${where ? where + ': ' : ''}${p.length} problem(s) on the page:\n  ${p.join('\n  ')}`);
}

// go(page, hashPath): navigates to /#<hashPath> and waits for the router's
// main[data-ready="1"] (set after the page module's first render).  A hash
// change keeps the session (same document); the first go loads the shell.
export async function go(page, hashPath, { timeout = 30000 } = {}) {
	const target = `${BASE}/#${hashPath}`;
	const same = page.url() === target;
	await page.evaluate(() => { const m = document.querySelector('main'); if (m) delete m.dataset.ready; })
		.catch(() => {}); // about:blank or a page going away
	if (same) await page.evaluate(() => window.dispatchEvent(new HashChangeEvent('hashchange')));
	else await page.goto(target);
	await page.waitForSelector('main[data-ready="1"]', { state: 'attached', timeout });
}

const AXE = fs.readFileSync(tools.resolve('axe-core/axe.min.js'), 'utf8');

// axe(page) -> [violation]: axe-core (wcag2a, wcag2aa, wcag21aa) on the
// page as it is; throws with a readable list of serious/critical ones.
export async function axe(page, where = '') {
	// Evaluated through the DevTools protocol: the page's CSP (no inline
	// script, no eval) does not apply to it, and is not loosened for it.
	if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE);
	const res = await page.evaluate(() => window.axe.run(document, {
		runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa'] }, resultTypes: ['violations'],
	}).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
		nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })) }))));
	const bad = res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
	if (bad.length) {
		const text = bad.map((v) => `${v.impact} ${v.id}: ${v.help}\n`
			+ v.nodes.slice(0, 6).map((n) => `      at ${n.target}\n        ${(n.summary || '').replace(/\n/g, '\n        ')}`).join('\n')
			+ (v.nodes.length > 6 ? `\n      ... and ${v.nodes.length - 6} more` : '')).join('\n    ');
		throw new Error(`${where ? where + ': ' : ''}axe: ${bad.length} serious/critical violation(s):\n    ${text}`);
	}
	return res;
}

let announced = false;
// screenshot(page, name): full page, to ARTEFACTS/<name>.png; its path.
export async function screenshot(page, name) {
	fs.mkdirSync(ARTEFACTS, { recursive: true });
	if (!announced) {
		announced = true;
		console.log(`# screenshots in ${ARTEFACTS}`);
	}
	const file = path.join(ARTEFACTS, `${name.replace(/[^A-Za-z0-9._-]+/g, '_')}.png`);
	await page.screenshot({ path: file, fullPage: true });
	return file;
}

// overflow(page, width, shot?) -> null, or what sticks out: the page at
// that viewport width (height kept); with `shot`, a screenshot then
// (ARTEFACTS/<shot>.png).  The viewport is restored after.
export async function overflow(page, width, shot) {
	const before = page.viewportSize();
	await page.setViewportSize({ width, height: before.height });
	try {
		// Two frames: the layout at the new width is done.
		const o = await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => {
			const doc = document.documentElement;
			if (doc.scrollWidth <= doc.clientWidth) return resolve(null);
			const wide = [...document.querySelectorAll('body *')]
				.filter((e) => e.getBoundingClientRect().right > doc.clientWidth + 1)
				.slice(0, 5).map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}`
					+ `${e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\s+/).join('.') : ''}`
					+ ` (right edge ${Math.round(e.getBoundingClientRect().right)})`);
			resolve(`scrollWidth ${doc.scrollWidth} > ${doc.clientWidth}: ${wide.join(', ')}`);
		}))));
		if (shot) await screenshot(page, shot);
		return o;
	} finally {
		await page.setViewportSize(before);
	}
}

// visit(page, hashPath, name, {widths}) -> {alerts}: go() to the page, then
// the checks every page passes: axe-core with no serious/critical violation,
// a full-page screenshot (ARTEFACTS/<name>.png), at each of `widths` no
// horizontal overflow (and a screenshot <name>-<width>.png up to 1280 px), and no console
// error or CSP violation.  Throws with everything that failed, at once;
// else returns the error displays on screen (errorsShown).
export async function visit(page, hashPath, name, { widths = [], timeout } = {}) {
	// Only what goes wrong during this visit fails it (an earlier page's
	// error is that visit's failure; assertClean() sees them all).
	const since = records.get(page).errors.length;
	await go(page, hashPath, { timeout });
	const fails = [];
	try { await axe(page); } catch (e) { fails.push(e.message); }
	await screenshot(page, name);
	for (const width of widths) {
		// A screenshot at the narrow widths (a 4K one is large and shows
		// little more than the default one).
		const o = await overflow(page, width, width <= 1280 ? `${name}-${width}` : null);
		if (o) fails.push(`horizontal overflow at ${width} px: ${o}`);
	}
	fails.push(...problems(page).slice(since));
	if (fails.length) throw new Error(`#${hashPath} (${name}):\n  ${fails.join('\n  ')}`);
	return { alerts: await errorsShown(page) };
}

// errorsShown(page) -> [text]: the error displays on screen (ui.showError,
// role=alert): message, code and request id.
export async function errorsShown(page) {
	return page.locator('main [role="alert"], main .error-box').evaluateAll((els) =>
		els.map((e) => (e.innerText || e.textContent).replace(/\s+/g, ' ').trim()).filter(Boolean));
}

// --------------------------------------------------- the dashboard's forms

// signIn(page, w, {email, password, then}): the sign-in page's password form
// (Workspace, E-mail, Password, "Sign in") filled and sent; waits for the
// page the dashboard goes to after it, then go()es to `then` (null: stay).
export async function signIn(page, w, { email = w.email, password = w.password || PASSWORD, then = '/projects' } = {}) {
	if (!page.url().startsWith(BASE)) await go(page, '/signin');
	else await page.waitForSelector('main[data-ready="1"]', { state: 'attached' });
	const r = await signInForm(page, w.tenant, email, password);
	if (r.status() !== 200) throw new Error(`sign in as ${email}: ${r.status()} ${await r.text()}`);
	await page.waitForURL((u) => !u.hash.startsWith('#/signin'));
	await page.waitForSelector('main[data-ready="1"]', { state: 'attached' });
	if (then) await go(page, then);
}

// signInByCode(page, tenant, email): the sign-in page's other way: a code
// e-mailed through the stack's SMTP server, read from its store, typed in.
// Waits for the page the dashboard goes to after it.
export async function signInByCode(page, tenant, email) {
	await go(page, '/signin');
	await page.getByLabel('Workspace').fill(tenant);
	await page.getByText('Sign in with a code by e-mail instead').click();
	const f = page.locator('form').filter({ has: page.getByRole('button', { name: 'E-mail me a code' }) });
	await f.getByLabel('E-mail').fill(email);
	const t0 = Date.now();
	await f.getByRole('button', { name: 'E-mail me a code' }).click();
	await page.getByLabel('Code from the e-mail').fill(await mailCode(email, t0));
	await page.getByRole('button', { name: 'Sign in with the code' }).click();
	await page.waitForURL((u) => !u.hash.startsWith('#/signin'));
	await page.waitForSelector('main[data-ready="1"]', { state: 'attached' });
}

// signInForm(page, tenant, email, password) -> the login Response: fills
// and sends the password form on screen.  A 429 (the API tests beside
// flood the auth zone on purpose, for about a second) is waited out and
// sent again, as a user would.
export async function signInForm(page, tenant, email, password) {
	const form = page.locator('form').filter({ has: page.getByRole('button', { name: 'Sign in', exact: true }) });
	for (let attempt = 0; ; attempt++) {
		await page.getByLabel('Workspace').fill(tenant);
		await form.getByLabel('E-mail').fill(email);
		await form.getByLabel('Password').fill(password);
		// Together: a click that cannot happen fails at once, with its cause.
		const [r] = await Promise.all([page.waitForResponse((x) => x.url().includes('/api/v1/auth/login')),
			form.getByRole('button', { name: 'Sign in', exact: true }).click()]);
		if (r.status() !== 429 || attempt >= 10) return r;
		await sleep(1000);
	}
}

// trackBearer(page) -> {token}: the JWT the page's last API request carried
// (for a test that revokes the session behind the dashboard's back).
export function trackBearer(page) {
	const seen = { token: null };
	page.on('request', (r) => {
		const a = r.headers().authorization;
		if (a?.startsWith('Bearer ')) seen.token = a.slice(7);
	});
	return seen;
}
