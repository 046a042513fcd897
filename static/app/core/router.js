// The hash router: '#/p/<pid>/apps/<id>' -> the page module of routes.js.
// Hash routes need no server fallback, and page paths never collide with the
// tenant's API paths.  Each navigation aborts the previous page's signal and
// runs its cleanups (WebSockets, timers, charts).
import { routes } from '../routes.js';
import { h, clear, replace } from './dom.js';
import { api, session } from './api.js';
import { can } from './perm.js';

export function href(path) {
	return '#' + path;
}

export function navigate(path, { replace: rep = false } = {}) {
	if (rep)
		location.replace(href(path));
	else
		location.hash = path;
}

export function link(path, text, props = {}) {
	return h('a', { ...props, href: href(path) }, text);
}

export function currentPath() {
	const hsh = location.hash.slice(1);
	return hsh.startsWith('/') ? hsh : '/projects';
}

const compiled = routes.map((r) => {
	const keys = [];
	const re = new RegExp('^' + r.path.replace(/:([a-z]+)/g, (_, k) => {
		keys.push(k);
		return '([^/]+)';
	}) + '$');
	return { ...r, re, keys };
});

function match(path) {
	for (const r of compiled) {
		const m = r.re.exec(path);
		if (m) {
			const params = {};
			r.keys.forEach((k, i) => { params[k] = decodeURIComponent(m[i + 1]); });
			return { route: r, params };
		}
	}
	return null;
}

let current = null;
let seq = 0;
let hooks = { main: null, onRoute: () => {} };

async function render() {
	const full = currentPath();
	const [path, qs = ''] = full.split('?');
	const token = ++seq;
	if (current) {
		current.ctrl.abort();
		for (const fn of current.cleanups.splice(0)) {
			try {
				fn();
			} catch (e) {
				console.warn('cleanup', e);
			}
		}
	}
	const m = match(path);
	if (m && !m.route.public && !session.signedIn()) {
		navigate('/signin?next=' + encodeURIComponent(full), { replace: true });
		return;
	}
	const main = hooks.main;
	const ctrl = new AbortController();
	current = { ctrl, cleanups: [] };
	delete main.dataset.ready;
	main.setAttribute('aria-busy', 'true');
	// A dialog of the page left behind would act on it: closed.
	for (const d of document.querySelectorAll('dialog[open]'))
		d.close();
	const { loading, showError, settle, routeStarted } = await import('./ui.js');
	routeStarted(ctrl.signal);
	// Each render writes into a container of its own: what an old page
	// writes after an await (its data arriving late) lands in a detached
	// node, never in the page now shown.
	const view = h('div', { class: 'view' }, loading());
	replace(main, view);
	const ctx = {
		params: m ? m.params : {},
		query: new URLSearchParams(qs),
		path,
		main: view,
		signal: ctrl.signal,
		project: null,
		cleanup(fn) {
			if (ctrl.signal.aborted)
				fn();
			else
				current.cleanups.push(fn);
		},
		title(t) {
			document.title = t ? t + ' · Launcher' : 'Launcher';
		},
		can(cap) {
			return can(this.project, cap);
		},
	};
	hooks.onRoute(ctx, m && m.route);
	try {
		if (!m) {
			const err = new Error('There is no page at ' + path + '.');
			throw Object.assign(err, { status: 404 });
		}
		ctx.title(m.route.title || '');
		if (ctx.params.pid)
			ctx.project = await api.get('/projects/' + encodeURIComponent(ctx.params.pid));
		if (token !== seq)
			return;
		hooks.onRoute(ctx, m.route);
		const mod = await m.route.page();
		if (token !== seq)
			return;
		clear(view);
		await mod.default(ctx);
		await settle();
	} catch (e) {
		if (token !== seq || (e && e.name === 'AbortError'))
			return;
		if (e && e.status === 401 && !session.signedIn())
			return; // the session listener sends the user to sign in
		replace(view, h('div', { class: 'page-header' }, h('h1', { tabindex: '-1', class: 'page-title' },
			e && e.status === 404 ? 'Not found' : 'This page could not be shown')), showError(e));
	}
	if (token !== seq)
		return;
	main.removeAttribute('aria-busy');
	main.dataset.ready = '1';
	// Move focus to the new page's heading, so a screen reader announces it
	// and Tab continues from the page (not from the link that was clicked).
	if (hooks.focus) {
		const h1 = main.querySelector('h1');
		if (h1) {
			if (!h1.hasAttribute('tabindex'))
				h1.setAttribute('tabindex', '-1');
			h1.focus({ preventScroll: true });
		}
	}
	hooks.focus = true;
	window.scrollTo(0, 0);
}

export function start({ main, onRoute }) {
	hooks = { main, onRoute: onRoute || (() => {}), focus: false };
	window.addEventListener('hashchange', () => {
		if (location.hash.startsWith('#/') || location.hash === '')
			render();
	});
	render();
}

export function reload() {
	return render();
}
