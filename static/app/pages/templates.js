// The template gallery (API.md §13): cards of the built-ins and the
// tenant's own templates, filtered by text (the API's `q`) and category;
// one template's page with its README, what it creates, its variables as a
// form and Deploy into a chosen project, environment and server; then the
// deploy followed (GET /template-deploys/:id) until it settles, with links
// to what it created.  Icons are not loaded: the registry's icon_url points
// at a CDN, and the dashboard loads nothing from outside its own origin.
import { h, replace } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api } from '../core/api.js';
import { navigate, link } from '../core/router.js';
import { can } from '../core/perm.js';

export default async function page(ctx) {
	if (ctx.params.ref)
		return detail(ctx);
	return gallery(ctx);
}

// ---------------------------------------------------------------- gallery

function card(t) {
	const name = t.display_name || t.slug;
	return h('li', { class: 'more-card' },
		h('span', { class: 'more-card-icon', 'aria-hidden': 'true' }, name.slice(0, 1).toUpperCase()),
		h('div', { class: 'more-card-body' },
			h('h2', { class: 'more-card-title' }, link('/templates/' + encodeURIComponent(t.id), name)),
			h('p', null, t.description || ''),
			h('p', { class: 'muted' }, [t.category || (t.builtin ? 'Built-in' : 'Yours'),
				...(t.tags || []).slice(0, 4).map((g) => ' · ' + g)])));
}

async function gallery(ctx) {
	ctx.title('Templates');
	const q = ctx.query.get('q') || '';
	const cat = ctx.query.get('category') || '';
	let items = [];
	let next = null;
	const grid = h('ul', { class: 'more-cards', 'aria-label': 'Templates' });
	const more = h('div');
	const catSel = h('select', { id: 'more-tpl-cat', name: 'category' }, h('option', { value: '' }, 'All categories'));
	const text = h('input', { id: 'more-tpl-q', type: 'search', name: 'q', value: q, placeholder: 'wordpress' });

	const render = () => {
		const shown = items.filter((t) => !catSel.value || (t.category || (t.builtin ? 'Built-in' : 'Yours')) === catSel.value);
		replace(grid, shown.map(card));
		if (!shown.length)
			replace(grid, h('li', null, ui.empty(q || catSel.value ? 'No template matches.' : 'No templates.')));
		replace(more, next ? ui.button('Load more', loadMore, { busy: 'Loading…' }) : null);
	};
	const cats = () => {
		const have = new Set(items.map((t) => t.category || (t.builtin ? 'Built-in' : 'Yours')));
		const cur = catSel.value || cat;
		replace(catSel, h('option', { value: '' }, 'All categories'),
			[...have].sort().map((c) => h('option', { value: c, selected: c === cur }, c)));
	};
	async function loadMore() {
		const r = await api.page('/templates', { q: q || undefined, limit: 100, cursor: next || undefined });
		items = items.concat(r.items);
		next = r.next;
		cats();
		render();
	}
	const filter = h('form', {
		class: 'more-filter', role: 'search',
		on: {
			submit: (e) => {
				e.preventDefault();
				const p = new URLSearchParams();
				if (text.value)
					p.set('q', text.value);
				if (catSel.value)
					p.set('category', catSel.value);
				navigate('/templates' + (p.toString() ? '?' + p : ''));
			},
		},
	},
	h('label', { for: 'more-tpl-q' }, 'Search'), text,
	h('label', { for: 'more-tpl-cat' }, 'Category'), catSel,
	h('button', { type: 'submit', class: 'btn' }, 'Filter'));
	catSel.addEventListener('change', render);

	ctx.main.append(ui.pageHeader('Templates', { sub: 'Deploy a ready-made stack into a project' }), filter);
	const holder = h('div', null, ui.loading('Loading templates…'));
	ctx.main.append(holder);
	try {
		await loadMore();
		replace(holder, grid, more);
	} catch (err) {
		replace(holder, ui.showError(err));
	}
}

// ---------------------------------------------------------------- detail

const HREF = {
	application: (pid, id) => '/p/' + pid + '/apps/' + id,
	database: (pid, id) => '/p/' + pid + '/databases/' + id,
	bucket: (pid, id) => '/p/' + pid + '/buckets/' + id,
	volume: (pid) => '/p/' + pid + '/volumes',
};

// The deploy's state, polled until it settles; the first answer is awaited
// (part of the page's first render), the rest follows while the page stays.
async function followView(ctx, ref, id) {
	const box = h('section', { class: 'more-follow', 'aria-labelledby': 'more-td-h', 'aria-live': 'polite' });
	const render = (td) => replace(box,
		h('h2', { id: 'more-td-h' }, 'Deploy of ' + (td.template_name || ref)),
		ui.dl([
			['Status', ui.status(td.status)],
			['Started', ui.time(td.created_at)],
			td.finished_at ? ['Finished', ui.time(td.finished_at)] : null,
			td.error ? ['Error', td.error] : null,
		]),
		h('h3', null, 'Created'),
		td.resources && td.resources.length
			? h('ul', { class: 'more-plain', 'aria-label': 'Created resources' }, td.resources.map((r) => h('li', null,
				r.kind + ' ',
				r.status !== 'removed' && HREF[r.kind] ? link(HREF[r.kind](td.project_id, r.id), r.name) : r.name,
				' ', ui.status(r.status))))
			: h('p', null, 'Nothing yet.'),
		td.status === 'deploying' ? ui.loading('Deploying…') : link('/p/' + td.project_id, 'Open the project'));
	const fail = (err) => replace(box, h('h2', { id: 'more-td-h' }, 'Deploy'), ui.showError(err));
	const load = () => api.get('/template-deploys/' + encodeURIComponent(id), undefined, { signal: ctx.signal });
	try {
		const td = await load();
		render(td);
		if (td.status === 'deploying') {
			ui.poll(load, (x) => x.status !== 'deploying', { signal: ctx.signal, interval: 2000, onEach: render })
				.catch((err) => { if (err.name !== 'AbortError') fail(err); });
		}
	} catch (err) {
		fail(err);
	}
	return box;
}

async function projectsAndServers() {
	const [projects, servers] = await Promise.all([ui.all('/projects'), ui.all('/servers').catch(() => [])]);
	return { projects, servers };
}

async function detail(ctx) {
	const ref = ctx.params.ref;
	let t;
	let plan;
	let choices;
	try {
		t = await api.get('/templates/' + encodeURIComponent(ref));
		[plan, choices] = await Promise.all([
			api.post('/templates/validate', { yaml: t.yaml }).then((r) => r.plan),
			projectsAndServers(),
		]);
	} catch (err) {
		ctx.title('Template');
		ctx.main.append(ui.pageHeader('Template', { crumbs: [['Templates', '/templates']] }), ui.showError(err));
		return;
	}
	const name = t.display_name || t.slug;
	ctx.title(name);
	ctx.main.append(ui.pageHeader(name, { crumbs: [['Templates', '/templates']], sub: t.description || '' }));

	const deployId = ctx.query.get('deploy');
	if (deployId) {
		ctx.main.append(await followView(ctx, ref, deployId));
	}

	ctx.main.append(ui.section('What it creates',
		h('ul', { class: 'more-plain' }, (plan.resources || []).map((r) => h('li', null, r.kind + ' ' + r.name)))));

	// Deploy needs write in the chosen project: offer the projects where
	// the user has it (tenant admins: all of them).
	const writable = choices.projects.filter((p) => can(p, 'write'));
	if (!writable.length) {
		ctx.main.append(ui.empty('Deploying a template needs the admin role in a project.'));
	} else {
		ctx.main.append(deployForm(ctx, ref, plan, writable, choices.servers));
	}
	if (t.readme)
		ctx.main.append(ui.section('README',
			h('pre', { class: 'more-readme', tabindex: '0' }, t.readme)));
}

function deployForm(ctx, ref, plan, projects, servers) {
	const vars = plan.variables || [];
	const initial = { project_id: ctx.query.get('project') || projects[0].id, environment_id: '', server_id: '' };
	const fields = [
		{ name: 'project_id', label: 'Project', type: 'select', required: true, options: projects.map((p) => [p.id, p.name]) },
		{ name: 'environment_id', label: 'Environment', type: 'select', options: [['', 'Default environment']] },
		{ name: 'server_id', label: 'Server', type: 'select', options: [['', 'Project default'], ...servers.map((s) => [s.id, s.name])] },
	];
	for (const v of vars) {
		fields.push({
			name: 'variables.' + v.name, label: v.name,
			type: v.type === 'secret' ? 'password' : 'text',
			required: !!v.required,
			autocomplete: v.type === 'secret' ? 'new-password' : 'off',
			help: [v.description, v.generate ? 'empty: generated at deploy' : null].filter(Boolean).join(' · ') || undefined,
		});
		if (v.default !== null && v.default !== undefined && !v.generate)
			initial['variables.' + v.name] = v.default;
	}
	const frm = ui.form({
		fields, initial, submit: 'Deploy',
		onSubmit: async (val) => {
			const variables = {};
			for (const v of vars) {
				const x = val['variables.' + v.name];
				if (x !== undefined && x !== '')
					variables[v.name] = x;
			}
			const r = await api.post('/templates/' + encodeURIComponent(ref) + '/deploy', {
				project_id: val.project_id, environment_id: val.environment_id || null,
				server_id: val.server_id || null, variables,
			});
			ui.toast('Deploying ' + (r.template_deploy.template_name || ref), { kind: 'success' });
			navigate('/templates/' + encodeURIComponent(ref) + '?deploy=' + r.template_deploy.id);
		},
	});
	// The environment list follows the chosen project.
	const psel = frm.input('project_id');
	const esel = frm.input('environment_id');
	const envs = async () => {
		try {
			const list = await ui.all('/projects/' + psel.value + '/environments');
			replace(esel, h('option', { value: '' }, 'Default environment'), list.map((e) => h('option', { value: e.id }, e.name)));
		} catch {
			replace(esel, h('option', { value: '' }, 'Default environment'));
		}
	};
	psel.addEventListener('change', envs);
	ui.track(envs());
	return ui.section('Deploy', frm);
}
