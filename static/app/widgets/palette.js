// The command palette (core opens it on "/" or Ctrl-K): a search box over
// GET /search and a few static commands, as an ARIA combobox + listbox.
// Arrow keys move the active option (aria-activedescendant: the focus stays
// in the box), Enter opens it, Escape closes the dialog.  Typing is debounced
// and each new query aborts the one in flight, so a slow answer never
// replaces a newer one.
//
// pathFor() is the one mapping from a resource (a search hit, a
// notification's resource) to its dashboard route.
import { h, replace, uid } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api } from '../core/api.js';
import { navigate } from '../core/router.js';

const DEBOUNCE_MS = 150;	// one request per pause in typing, not per key
const LIMIT = 20;

const COMMANDS = [
	{ label: 'Go to projects', path: '/projects' },
	{ label: 'Go to servers', path: '/servers' },
	{ label: 'Go to templates', path: '/templates' },
	{ label: 'Go to settings', path: '/settings' },
	{ label: 'Go to notifications', path: '/notifications' },
	{ label: 'Go to your account', path: '/account' },
];

const GROUPS = {
	project: 'Projects', application: 'Applications', database: 'Databases',
	volume: 'Volumes', domain: 'Domains', deployment: 'Deployments',
	env_var: 'Environment variables', issue: 'Issues', user: 'Users',
};

// The route of a resource, or null when it has no page of its own (then the
// caller resolves it, see open()).  pid: the project it belongs to.
export function pathFor(type, id, pid) {
	switch (type) {
	case 'project': return '/p/' + id;
	case 'application': return pid ? '/p/' + pid + '/apps/' + id : null;
	case 'database': return pid ? '/p/' + pid + '/databases/' + id : null;
	case 'volume': return pid ? '/p/' + pid + '/volumes' : null;
	case 'deployment': return pid ? '/p/' + pid + '/deployments/' + id : null;
	case 'issue': return pid ? '/p/' + pid + '/issues/' + id : null;
	case 'bucket': return pid ? '/p/' + pid + '/buckets/' + id : null;
	case 'function': return pid ? '/p/' + pid + '/functions/' + id : null;
	case 'server': return '/servers/' + id;
	case 'user': return '/settings/users';
	default: return null;
	}
}

// Domains and env vars live on their owner's page: one GET finds it.
async function resolve(hit) {
	const direct = pathFor(hit.type, hit.id, hit.project_id);
	if (direct)
		return direct;
	const pid = hit.project_id;
	if (hit.type === 'domain') {
		const d = await api.get('/domains/' + hit.id);
		if (d.application_id)
			return '/p/' + pid + '/apps/' + d.application_id + '/domains';
		return '/p/' + pid + '/functions/' + d.function_id;
	}
	if (hit.type === 'env_var') {
		const v = await api.get('/env-vars/' + hit.id);
		if (v.scope === 'application')
			return '/p/' + pid + '/apps/' + v.scope_id + '/env';
		if (v.scope === 'function')
			return '/p/' + pid + '/functions/' + v.scope_id;
		return '/p/' + pid;
	}
	return pid ? '/p/' + pid : '/projects';
}

let current = null;	// the open palette, if any: open() twice does not stack dialogs

export function open() {
	if (current)
		return current;
	const listId = uid('palette-list');
	const input = h('input', {
		type: 'search', class: 'palette-input', role: 'combobox', autocomplete: 'off',
		'aria-label': 'Search or type a command', 'aria-expanded': 'true',
		'aria-controls': listId, 'aria-autocomplete': 'list', spellcheck: 'false',
		placeholder: 'Search projects, applications, databases…',
	});
	const list = h('div', { id: listId, role: 'listbox', class: 'palette-list', 'aria-label': 'Results' });
	const status = h('p', { class: 'palette-status', role: 'status' });
	let options = [];	// [{el, run}] in display order
	let active = -1;
	let timer = 0;
	let inflight = null;

	function setActive(i) {
		if (active >= 0 && options[active])
			options[active].el.setAttribute('aria-selected', 'false');
		active = options.length ? (i + options.length) % options.length : -1;
		if (active < 0) {
			input.removeAttribute('aria-activedescendant');
			return;
		}
		const o = options[active].el;
		o.setAttribute('aria-selected', 'true');
		input.setAttribute('aria-activedescendant', o.id);
		o.scrollIntoView({ block: 'nearest' });
	}

	function option(label, detail, run) {
		const el = h('div', { id: uid('palette-opt'), role: 'option', class: 'palette-option', 'aria-selected': 'false' },
			h('span', { class: 'palette-label' }, label),
			detail ? h('span', { class: 'palette-detail' }, detail) : null);
		const o = { el, run };
		el.addEventListener('mousedown', (e) => e.preventDefault());	// keep the focus in the box
		el.addEventListener('click', () => choose(o));
		return o;
	}

	function group(label, opts) {
		const gid = uid('palette-group');
		return h('div', { role: 'group', 'aria-labelledby': gid, class: 'palette-group' },
			h('div', { id: gid, class: 'palette-group-label', role: 'presentation' }, label),
			opts.map((o) => o.el));
	}

	function render(hits, text) {
		const q = text.trim().toLowerCase();
		const cmds = COMMANDS.filter((c) => !q || c.label.toLowerCase().includes(q))
			.map((c) => option(c.label, null, () => c.path));
		const byType = new Map();
		for (const hit of hits) {
			if (!byType.has(hit.type))
				byType.set(hit.type, []);
			byType.get(hit.type).push(option(hit.name || hit.title, hit.title !== hit.name ? hit.title : hit.snippet,
				() => resolve(hit)));
		}
		options = [];
		const groups = [];
		for (const [type, opts] of byType) {
			groups.push(group(GROUPS[type] || type, opts));
			options.push(...opts);
		}
		if (cmds.length) {
			groups.push(group('Commands', cmds));
			options.push(...cmds);
		}
		replace(list, groups);
		active = -1;
		setActive(0);
	}

	async function search(text) {
		if (inflight)
			inflight.abort();
		const q = text.trim();
		if (!q) {
			status.textContent = '';
			render([], '');
			return;
		}
		const ctl = new AbortController();
		inflight = ctl;
		status.textContent = 'Searching…';
		try {
			const hits = await api.get('/search', { q, limit: LIMIT }, { signal: ctl.signal });
			if (ctl.signal.aborted)
				return;
			render(hits, text);
			status.textContent = hits.length ? hits.length + (hits.length === 1 ? ' result' : ' results')
				: 'No results for “' + q + '”';
		} catch (err) {
			if (ctl.signal.aborted || err.name === 'AbortError')
				return;
			render([], text);
			replace(status, ui.showError(err));
		} finally {
			if (inflight === ctl)
				inflight = null;
		}
	}

	let dlg = null;
	async function choose(o) {
		try {
			const path = await o.run();
			close();
			navigate(path);
		} catch (err) {
			replace(status, ui.showError(err));
		}
	}

	function close() {
		clearTimeout(timer);
		if (inflight)
			inflight.abort();
		if (dlg)
			dlg.close();
	}

	input.addEventListener('input', () => {
		clearTimeout(timer);
		timer = setTimeout(() => search(input.value), DEBOUNCE_MS);
	});
	input.addEventListener('keydown', (e) => {
		if (e.key === 'ArrowDown') {
			setActive(active + 1);
		} else if (e.key === 'ArrowUp') {
			setActive(active - 1);
		} else if (e.key === 'Home' && options.length && e.ctrlKey) {
			setActive(0);
		} else if (e.key === 'End' && options.length && e.ctrlKey) {
			setActive(options.length - 1);
		} else if (e.key === 'Enter') {
			if (active >= 0)
				choose(options[active]);
		} else {
			return;
		}
		e.preventDefault();
	});

	render([], '');
	dlg = ui.dialog({
		title: 'Go to',
		body: h('div', { class: 'palette' }, input, status, list,
			h('p', { class: 'palette-help' }, '↑ ↓ to move, Enter to open, Esc to close')),
	});
	dlg.el.classList.add('palette-dialog');
	dlg.el.addEventListener('close', () => {
		clearTimeout(timer);
		if (inflight)
			inflight.abort();
		current = null;
	});
	current = dlg;
	input.focus();
	return dlg;
}
