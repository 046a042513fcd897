// tests/browser/test_pages.mjs - every route of static/app/routes.js, with
// real ids, in a real browser: a project seeded through the API with one of
// everything the API creates without an agent (application, deployment
// record, env vars, database record, volume, bucket, function, domain,
// alert channel and rule, template, server, an error-tracking issue), then
// each page visited (tests/browser/lib.mjs visit()): no serious axe
// violation, no console error or CSP violation, a screenshot, and no
// horizontal overflow at 360 px nor at 3840 px.  Pages with tabs: every tab
// their tab bar links to, likewise.
//
// A route whose page module is missing (static/app/pages/<x>.js) fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
	launch, newPage, world, project, py, signIn, visit, go, endWorlds, REPO,
} from './lib.mjs';

const WIDTHS = [360, 3840];

// The route table, read from its source (an ES module for the browser):
// [{path, module}] in its order.
const ROUTES = [...fs.readFileSync(path.join(REPO, 'static', 'app', 'routes.js'), 'utf8')
	.matchAll(/\{\s*path:\s*'([^']+)',\s*page:\s*p\('([^']+)'\)([^}]*)\}/g)]
	.map(([, p, module, rest]) => ({ path: p, module, public: /public:\s*true/.test(rest) }));
const written = (r) => fs.existsSync(path.join(REPO, 'static', 'app', 'pages', `${r.module}.js`));

let browser;
let page;
let w;
const ids = {};
const seedNotes = [];

// one(what, fn): a seeded object, or null with the reason noted (the
// routes that need it are then skipped with that reason).
async function one(what, fn) {
	try {
		ids[what] = await fn();
	} catch (e) {
		ids[what] = null;
		seedNotes.push(`${what}: ${e.message.split('\n')[0]}`);
	}
}

before(async () => {
	browser = await launch();
	w = await world('pages');
	const api = w.api;
	const p = await project(w, { display_name: 'Every page' });
	ids.pid = p.id;
	const rnd = () => Math.random().toString(16).slice(2, 10);
	await one('server', async () => (await api.ok('POST', '/servers', { name: `srv-${rnd()}`, base_domain: 'apps.example.com' }, 201)).id);
	await one('app', async () => (await api.ok('POST', '/applications', {
		project_id: p.id, name: `web-${rnd()}`, source_type: 'docker_image',
		image_url: process.env.FIXTURE_REGISTRY_WEB_V1 || 'registry.example.com/launcher-test/web:v1',
		exposed_port: 8080, healthcheck_path: '/health', env: { APP_MESSAGE: 'hello', API_TOKEN: 'not-shown' },
	}, 201)).id);
	// A deployment record (queued: no agent claims it).
	await one('deployment', async () => (await api.ok('POST', `/applications/${ids.app}/deploy`, {}, 201)).id);
	await one('envvar', async () => (await api.ok('POST', '/env-vars', {
		project_id: p.id, key: 'LOG_LEVEL', value: 'debug', description: 'seeded' }, 201)).id);
	await one('secret', async () => (await api.ok('POST', '/env-vars', {
		project_id: p.id, key: 'STRIPE_KEY', value: 'sk_test_not_shown', is_secret: true }, 201)).id);
	await one('database', async () => (await api.ok('POST', '/databases', { project_id: p.id, name: `db-${rnd()}`, type: 'postgres' }, 201)).id);
	await one('volume', async () => (await api.ok('POST', '/volumes', { project_id: p.id, name: `vol-${rnd()}` }, 201)).id);
	await one('bucket', async () => (await api.ok('POST', '/buckets', { project_id: p.id, name: `b${rnd()}` }, 201)).id);
	await one('function', async () => (await api.ok('POST', '/functions', {
		project_id: p.id, name: `fn-${rnd()}`, runtime: 'node20',
		source: { code: "exports.handler = async () => ({ status: 200, body: 'hi' });\n" } }, 201)).id);
	await one('domain', async () => (await api.ok('POST', '/domains', {
		application_id: ids.app, hostname: `shop.d${rnd()}.example.com` }, 201)).id);
	await one('channel', async () => (await api.ok('POST', '/alerts/channels', {
		name: `ops-${rnd()}`, type: 'email', config: { to: ['ops@example.com'] } }, 201)).id);
	await one('rule', async () => (await api.ok('POST', '/alerts/rules', {
		name: `failed-${rnd()}`, event: 'deployment.failed', channel_ids: [ids.channel], project_id: p.id }, 201)).id);
	await one('template', async () => (await api.ok('POST', '/templates', { yaml: `version: "1.0"
metadata:
  name: team-cache-${rnd()}
  display_name: Team cache
  description: A cache for the team.
  tags: [cache, team]
databases:
  cache:
    type: redis
` }, 201)));
	await one('issue', () => py('issue', w.tid, p.id, ids.app));
	if (seedNotes.length) console.log(`# not seeded: ${seedNotes.join('; ')}`);
	page = await newPage(browser);
	await signIn(page, w, { then: null });
});

after(async () => {
	await browser?.close();
	await endWorlds();
});

// The path of a route with the seeded ids; null (and why) when one is missing.
function concrete(route) {
	const byPrefix = {
		apps: 'app', deployments: 'deployment', databases: 'database', buckets: 'bucket',
		functions: 'function', issues: 'issue', servers: 'server',
	};
	let missing = null;
	const segs = route.path.split('/').map((seg, i, all) => {
		if (seg === ':pid') return ids.pid;
		if (seg === ':ref') {
			if (!ids.template) missing = 'template';
			return ids.template ? ids.template.slug || ids.template.id : seg;
		}
		if (seg === ':id') {
			const kind = byPrefix[all[i - 1]];
			if (!kind || !ids[kind]) missing = kind || `an id after ${all[i - 1]}`;
			return ids[kind] || seg;
		}
		return seg;
	});
	return missing ? { missing } : { path: segs.join('/') };
}

// Screenshot names: the path with the project id as P and other ids as ID.
const shotName = (p) => p.replace(ids.pid, 'P').replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, 'ID')
	.replace(/^\//, '').replace(/[^A-Za-z0-9]+/g, '_') || 'root';

for (const route of ROUTES) {
	const name = `#${route.path}`;
	test(name, async (t) => {
		assert.ok(written(route), `pages/${route.module}.js is missing`);
		const c = concrete(route);
		if (c.missing) {
			if (route.path.endsWith('/:tab')) {
				t.skip(`needs ${c.missing} (not seeded: see the note above)`);
				return;
			}
			assert.fail(`needs a seeded ${c.missing}: ${seedNotes.join('; ')}`);
		}
		if (route.path.endsWith('/:tab')) {
			// The tabs the page's own tab bar links to (route without :tab).
			const base = c.path.replace(/\/:tab$/, '');
			await go(page, base);
			const tabs = await page.locator('main nav[aria-label="Sections"] a').evaluateAll((as) =>
				as.map((a) => a.getAttribute('href').replace(/^#/, '')));
			const own = tabs.filter((h) => h.startsWith(base + '/'));
			if (!own.length) {
				t.skip(`${base} shows no tab bar (nav "Sections") with links under it`);
				return;
			}
			const fails = [];
			for (const tab of own) {
				try {
					const { alerts } = await visit(page, tab, `page-${shotName(tab)}`, { widths: WIDTHS });
					if (alerts.length) t.diagnostic(`${tab} shows: ${alerts.join(' | ')}`);
				} catch (e) {
					fails.push(e.message);
				}
			}
			assert.equal(fails.length, 0, fails.join('\n'));
			return;
		}
		if (route.public) {
			// Signed-out pages in a page of their own (the signed-in one would
			// be sent on from /signin).
			const out = await newPage(browser);
			await visit(out, c.path, `page-${shotName(c.path)}`, { widths: WIDTHS });
			return;
		}
		// An error display on a seeded page is not a failure here (an
		// application with no agent has no instance to open a terminal in),
		// but it is named in the output.
		const { alerts } = await visit(page, c.path, `page-${shotName(c.path)}`, { widths: WIDTHS });
		if (alerts.length) t.diagnostic(`${c.path} shows: ${alerts.join(' | ')}`);
	});
}

test('the route table was read', () => {
	assert.ok(ROUTES.length >= 30 && ROUTES.some((r) => r.path === '/p/:pid/apps/:id'),
		`routes.js parsed into ${ROUTES.length} routes`);
});
