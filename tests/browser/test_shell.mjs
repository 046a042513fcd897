// tests/browser/test_shell.mjs - the dashboard's shell in a real browser:
// first-run registration in a fresh workspace, signing out and in (password,
// and a code e-mailed through the stack's real SMTP server), the
// Content-Security-Policy on the shell and its scripts, a session revoked
// behind the dashboard's back (a 401 mid-session: sign in again, back to the
// same page), and the sign-in form by keyboard with a visible focus ring.
// Every page visited logs no console error and no CSP violation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
	launch, newPage, freshTenant, world, project, client, go, visit, signIn, signInForm, signInByCode,
	assertClean, allowConsole, cspViolations, trackBearer, request, endWorlds, sleep, PASSWORD,
} from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => {
	await browser?.close();
	await endWorlds();
});

const heading = (page) => page.locator('main h1').first();

test('first-run registration in a fresh workspace, sign out, sign in with the password', async () => {
	const { tenant } = await freshTenant('shell');
	const email = `first-${tenant}@example.com`;
	const page = await newPage(browser);
	await visit(page, '/register', 'register');
	await page.getByLabel('Workspace').fill(tenant);
	await page.getByLabel('First name').fill('Grace');
	await page.getByLabel('Last name').fill('Hopper');
	await page.getByLabel('E-mail').fill(email);
	await page.getByLabel('Password').fill(PASSWORD);
	await page.getByRole('button', { name: 'Register', exact: true }).click();
	await page.waitForURL((u) => u.hash.startsWith('#/projects'));
	await page.waitForSelector('main[data-ready="1"]', { state: 'attached' });
	assert.equal(await heading(page).textContent(), 'Projects');
	// Signed in as the new superadmin: the header names them.
	await page.getByRole('link', { name: /Grace/ }).waitFor();
	const me = await client(tenant).post('/auth/login', { email, password: PASSWORD });
	assert.equal(me.status, 200, me.text);
	assert.equal(me.data.user.role, 'superadmin');
	// The token is kept in memory only: not in any storage, cookie or URL.
	const kept = await page.evaluate(() => ({
		local: Object.keys(localStorage).map((k) => localStorage.getItem(k)).join('\n'),
		session: Object.keys(sessionStorage).map((k) => sessionStorage.getItem(k)).join('\n'),
		cookie: document.cookie,
		url: location.href,
	}));
	for (const [where, text] of Object.entries(kept))
		assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{10,}\./, `a JWT in ${where}`);
	assert.equal((await page.context().cookies()).length, 0, 'no cookie at all');
	await visit(page, '/projects', 'projects-empty', { widths: [360] });

	// Sign out: back to the sign-in page, and the token is gone (the
	// projects page asks to sign in again).
	await page.getByRole('button', { name: 'Sign out', exact: true }).click();
	await page.waitForURL((u) => u.hash.startsWith('#/signin'));
	await page.waitForSelector('main[data-ready="1"]', { state: 'attached' });
	await page.evaluate(() => { location.hash = '#/projects'; });
	await page.waitForURL((u) => u.hash.startsWith('#/signin?next='));
	await page.waitForSelector('main[data-ready="1"]', { state: 'attached' });

	// A wrong password: the API's message, and still on the sign-in page.
	allowConsole(page, /status of 401/);
	const bad = await signInForm(page, tenant, email, 'not-the-password');
	assert.equal(bad.status(), 401);
	const apiMsg = (await bad.json()).error.message;
	await page.getByRole('alert').filter({ hasText: apiMsg }).waitFor();
	assert.match(page.url(), /#\/signin/);
	// The right one: back to the page that asked (the projects).
	const good = await signInForm(page, tenant, email, PASSWORD);
	assert.equal(good.status(), 200);
	await page.waitForURL((u) => u.hash === '#/projects');
	await page.waitForSelector('main[data-ready="1"]', { state: 'attached' });
	assert.equal(await heading(page).textContent(), 'Projects');
	assertClean(page);
});

test('sign in with a code e-mailed through the stack\'s SMTP server', async () => {
	const w = await world('shell');
	const page = await newPage(browser);
	await visit(page, '/signin', 'signin', { widths: [360] });
	await signInByCode(page, w.tenant, w.email);
	assert.match(page.url(), /#\/projects/);
	assert.equal(await heading(page).textContent(), 'Projects');
	await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
	assertClean(page);
});

test('the Content-Security-Policy is on the shell and its scripts, and nothing violates it', async () => {
	for (const p of ['/', '/app/main.js', '/app/core/api.js', '/app/routes.js']) {
		const r = await request('GET', p);
		assert.equal(r.status, 200, `${p}: ${r.status}`);
		const csp = r.headers['content-security-policy'];
		assert.ok(csp, `${p}: no Content-Security-Policy header`);
		const dir = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0])
			.map(([k, ...v]) => [k, v]));
		const scripts = dir['script-src'] || dir['default-src'];
		assert.ok(scripts, `${p}: no script-src: ${csp}`);
		for (const bad of ["'unsafe-inline'", "'unsafe-eval'", '*', 'data:', 'https:', 'http:']) {
			assert.ok(!scripts.includes(bad), `${p}: script-src allows ${bad}: ${csp}`);
		}
		assert.deepEqual(dir['frame-ancestors'], ["'none'"], `${p}: ${csp}`);
		assert.deepEqual(dir['object-src'], ["'none'"], `${p}: ${csp}`);
	}
	// The policy is enforced: an inline script injected into the page is
	// refused (a CSP violation, which the page's record holds).
	const page = await newPage(browser);
	await go(page, '/signin');
	allowConsole(page, /Content Security Policy/);
	await page.evaluate(() => {
		const s = document.createElement('script');
		s.textContent = 'window.__inlineRan = true';
		document.body.append(s);
	});
	for (let i = 0; i < 50 && !cspViolations(page).length; i++) await sleep(100);
	assert.equal(await page.evaluate(() => window.__inlineRan === true), false, 'an inline script ran');
	const v = cspViolations(page);
	assert.ok(v.length >= 1 && /script-src/.test(v[0].directive), JSON.stringify(v));
});

test('a session revoked mid-way (401) asks to sign in again, then returns to the same page', async () => {
	const w = await world('shell');
	const p = await project(w, { display_name: 'Revoked session' });
	const page = await newPage(browser);
	const seen = trackBearer(page);
	await signIn(page, w, { then: `/p/${p.id}` });
	assert.ok(seen.token, 'the dashboard sent no bearer token');
	// Revoked behind the dashboard's back (POST /auth/logout with its token).
	const out = await client(w.tenant, seen.token).post('/auth/logout');
	assert.equal(out.status, 204, out.text);
	allowConsole(page, /status of 401/);
	await page.getByRole('link', { name: 'Projects', exact: true }).first().click();
	await page.waitForURL((u) => u.hash.startsWith('#/signin?'));
	await page.waitForSelector('main[data-ready="1"]', { state: 'attached' });
	await page.getByText('Your session ended').waitFor();
	const r = await signInForm(page, w.tenant, w.email, w.password);
	assert.equal(r.status(), 200);
	await page.waitForURL((u) => u.hash === '#/projects');
	await page.waitForSelector('main[data-ready="1"]', { state: 'attached' });
	assert.equal(await heading(page).textContent(), 'Projects');
	// And a reload (the token lives in memory only) asks again, then comes back.
	await go(page, `/p/${p.id}`);
	await page.reload();
	await page.waitForURL((u) => u.hash.startsWith('#/signin?next='));
	await page.waitForSelector('main[data-ready="1"]', { state: 'attached' });
	await signInForm(page, w.tenant, w.email, w.password);
	await page.waitForURL((u) => u.hash === `#/p/${p.id}`);
	await page.waitForSelector('main[data-ready="1"]', { state: 'attached' });
	assertClean(page);
});

test('the keyboard: Tab reaches the sign-in controls, each with a visible focus ring', async () => {
	const page = await newPage(browser);
	await go(page, '/signin');
	const wanted = ['Workspace', 'E-mail', 'Password', 'Sign in'];
	const reached = new Map();
	for (let i = 0; i < 25 && reached.size < wanted.length; i++) {
		await page.keyboard.press('Tab');
		const f = await page.evaluate(() => {
			const el = document.activeElement;
			if (!el || el === document.body) return null;
			const label = el.labels && el.labels[0] ? el.labels[0].textContent.trim() : (el.textContent || '').trim();
			const cs = getComputedStyle(el);
			const ring = (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) || (cs.boxShadow && cs.boxShadow !== 'none');
			return { label, tag: el.tagName, focusVisible: el.matches(':focus-visible'), ring,
				outline: `${cs.outlineStyle} ${cs.outlineWidth} ${cs.outlineColor}`, shadow: cs.boxShadow };
		});
		if (f && wanted.includes(f.label) && !reached.has(f.label)) reached.set(f.label, f);
	}
	assert.deepEqual([...reached.keys()].sort(), [...wanted].sort(), `Tab reached ${JSON.stringify([...reached.keys()])}`);
	for (const [label, f] of reached) {
		assert.ok(f.focusVisible && f.ring, `${label}: no visible focus ring (${JSON.stringify(f)})`);
	}
	assertClean(page);
});
