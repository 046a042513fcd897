// The applications of a project: `/p/:pid/apps` (the list) and `/p/:pid/apps/new`
// (create from git, an image or a compose file).
//
// The list is ui.listView over GET /applications?projectId= (cursor pages; each page is
// rendered in one batch and nothing is requested per row, so 500 applications list without
// jank). The create form is ui.form; its fields follow the chosen source, and the API's
// 400 `details` land next to their fields through ui.form.
import { h, replace } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api } from '../core/api.js';
import { navigate } from '../core/router.js';

const SOURCES = [
	['git', 'Git repository'],
	['docker_image', 'Container image'],
	['docker_compose', 'Compose file'],
];

export default async function page(ctx) {
	if (ctx.path && ctx.path.endsWith('/apps/new')) return createPage(ctx);
	return listPage(ctx);
}

function listPage(ctx) {
	const pid = ctx.params.pid;
	ctx.title('Applications');
	const create = ui.button('New application', () => navigate(`/p/${pid}/apps/new`),
		{ kind: 'primary', cap: 'write', ctx });
	ctx.main.append(
		ui.pageHeader('Applications', {
			crumbs: [['Projects', '/projects'], [projectLabel(ctx), `/p/${pid}`]],
			actions: [create].filter(Boolean),
		}),
		ui.listView({
			path: '/applications',
			query: { projectId: pid },
			limit: 100,
			columns: [
				{ label: 'Name', value: (a) => a.name },
				{ label: 'Status', value: (a) => ui.status(a.pending_action ? `${a.status} (${a.pending_action}…)` : a.status) },
				{ label: 'Source', value: (a) => sourceText(a) },
				{ label: 'Environment', value: (a) => envName(ctx, a.environment_id) },
				{ label: 'URL', value: (a) => a.default_url || '—' },
				{ label: 'Updated', value: (a) => ui.time(a.updated_at) },
			],
			rowHref: (a) => `/p/${pid}/apps/${a.id}`,
			empty: {
				text: 'No applications in this project yet.',
				action: ctx.can('write') ? ui.button('Create an application', () => navigate(`/p/${pid}/apps/new`), { kind: 'primary' }) : null,
			},
		}),
	);
}

export function projectLabel(ctx) {
	return (ctx.project && (ctx.project.display_name || ctx.project.name)) || 'Project';
}

export function envName(ctx, envId) {
	const envs = (ctx.project && ctx.project.environments) || [];
	const e = envs.find((x) => x.id === envId);
	return e ? e.name : '';
}

export function sourceText(a) {
	if (a.source_type === 'git') return `${a.repository_url || 'git'}${a.branch ? ` @ ${a.branch}` : ''}`;
	if (a.source_type === 'docker_image') return a.image_url || 'image';
	return 'compose file';
}

// A tenant-wide list for a picker (servers, git providers, registries); one the caller may
// not read yields [] and its picker is left out.
async function pickerItems(path) {
	try {
		return await ui.all(path);
	} catch (e) {
		if (e && (e.status === 403 || e.status === 404)) return [];
		throw e;
	}
}

async function createPage(ctx) {
	const pid = ctx.params.pid;
	ctx.title('New application');
	const header = ui.pageHeader('New application', {
		crumbs: [['Projects', '/projects'], [projectLabel(ctx), `/p/${pid}`], ['Applications', `/p/${pid}/apps`]],
	});
	ctx.main.append(header);
	if (!ctx.can('write')) {
		ctx.main.append(ui.empty('Creating applications needs the admin role in this project.'));
		return;
	}
	const slot = h('div', { class: 'apps-create' }, ui.loading('Loading servers…'));
	ctx.main.append(slot);
	let servers, providers, registries;
	try {
		[servers, providers, registries] = await Promise.all([
			pickerItems('/servers'),
			pickerItems('/git-providers'),
			pickerItems('/registries'),
		]);
	} catch (e) {
		replace(slot, ui.showError(e));
		return;
	}
	const pickers = { servers, providers, registries };
	let source = ctx.query.get('source') || 'git';
	if (!SOURCES.some(([v]) => v === source)) source = 'git';
	let values = {};

	const sourcePicker = h('fieldset', { class: 'apps-source' },
		h('legend', {}, 'Source'),
		...SOURCES.map(([v, label]) => h('label', { class: 'apps-source-opt' },
			h('input', {
				type: 'radio', name: 'apps-source', value: v, checked: v === source,
				on: { change: () => { values = { ...values, ...currentValues(formSlot) }; source = v; render(); } },
			}),
			' ', label)));
	const nameHint = h('p', { class: 'apps-name-hint', role: 'status', 'aria-live': 'polite' });
	const formSlot = h('div', {});
	replace(slot, sourcePicker, formSlot, nameHint);

	function render() {
		const f = ui.form({
			fields: createFields(ctx, source, pickers),
			submit: 'Create',
			initial: { ...createDefaults(ctx, source, pickers), ...values },
			cancel: () => navigate(`/p/${pid}/apps`),
			onSubmit: async (v) => {
				const body = createBody(pid, source, v);
				const app = await api.post('/applications', body);
				if (app.webhook_secret) await showWebhookSecret(app);
				navigate(`/p/${pid}/apps/${app.id}`);
			},
		});
		replace(formSlot, f);
		watchName(ctx, f, nameHint);
	}
	render();
}

// The values typed so far, kept when the source changes (the fields are rebuilt).
function currentValues(root) {
	const form = root.querySelector('form');
	return form && form.values ? form.values() : {};
}

// GET /applications/check-name as the name is typed (debounced): a hint below the form;
// the create call itself still answers 409 if the name is taken by then.
function watchName(ctx, formEl, hint) {
	const input = formEl.querySelector('[name="name"]');
	if (!input) return;
	let timer = 0;
	let seq = 0;
	const check = async () => {
		const name = input.value.trim();
		const env = formEl.querySelector('[name="environment_id"]');
		const mine = ++seq;
		if (!name) { hint.textContent = ''; return; }
		try {
			const q = { projectId: ctx.params.pid, name };
			if (env && env.value) q.environmentId = env.value;
			const r = await api.get('/applications/check-name', q);
			if (mine !== seq) return;
			hint.textContent = r.available ? `The name ${name} is available.` : `The name ${name} is already taken in this environment.`;
			hint.dataset.available = r.available ? '1' : '0';
		} catch (e) {
			if (mine === seq) hint.textContent = '';
		}
	};
	input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(check, 300); });
	ctx.cleanup(() => clearTimeout(timer));
}

function options(items, label, none) {
	const opts = items.map((x) => [x.id, label(x)]);
	return none ? [['', none], ...opts] : opts;
}

function createFields(ctx, source, { servers, providers, registries }) {
	const envs = (ctx.project && ctx.project.environments) || [];
	const fields = [
		{ name: 'name', label: 'Name', type: 'text', required: true, autocomplete: 'off',
			help: 'Lower-case letters, digits and -; unique in the environment.' },
		{ name: 'app_type', label: 'Type', type: 'select',
			options: [['web', 'Web (gets a URL)'], ['api', 'API (gets a URL)'], ['worker', 'Worker (no URL)']] },
	];
	if (envs.length) {
		fields.push({ name: 'environment_id', label: 'Environment', type: 'select',
			options: envs.map((e) => [e.id, e.is_default ? `${e.name} (default)` : e.name]) });
	}
	if (servers.length) {
		fields.push({ name: 'server_id', label: 'Server', type: 'select',
			options: options(servers, (s) => `${s.name} (${s.status})`) });
	}
	if (source === 'git') {
		if (providers.length) {
			fields.push({ name: 'git_provider_id', label: 'Git provider', type: 'select',
				options: options(providers, (p) => `${p.name} (${p.type})`, 'None (public repository or credentials in the URL)'),
				help: 'Its token clones a private repository.' });
		}
		fields.push(
			{ name: 'repository_url', label: 'Repository URL', type: 'text', required: true,
				placeholder: 'https://github.com/acme/shop.git', autocomplete: 'off' },
			{ name: 'branch', label: 'Branch', type: 'text', required: true },
			{ name: 'dockerfile_path', label: 'Dockerfile path', type: 'text' },
			{ name: 'build_context', label: 'Build context', type: 'text' },
			{ name: 'autodeploy', label: 'Deploy on every push (autodeploy)', type: 'checkbox' },
		);
	} else if (source === 'docker_image') {
		fields.push({ name: 'image_url', label: 'Image', type: 'text', required: true,
			placeholder: 'registry.example.com/shop:1.4', autocomplete: 'off' });
		if (registries.length) {
			fields.push({ name: 'registry_id', label: 'Registry', type: 'select',
				options: options(registries, (r) => `${r.name} (${r.type})`, 'None (public image)') });
		}
	} else {
		fields.push({ name: 'compose', label: 'Compose file', type: 'textarea', required: true, rows: 14,
			help: 'YAML: services with an image each; the service with ports is the web one.' });
	}
	fields.push({ name: 'exposed_port', label: 'Port the container listens on', type: 'number', min: 1, max: 65535 });
	if (source !== 'docker_compose') {
		fields.push(
			{ name: 'replicas', label: 'Replicas', type: 'number', min: 0, max: 50 },
			{ name: 'healthcheck_path', label: 'Health check path', type: 'text', placeholder: '/health' },
			{ name: 'start_command', label: 'Start command', type: 'text', help: 'Overrides the image\'s command.' },
		);
	}
	return fields;
}

function createDefaults(ctx, source, { servers }) {
	const envs = (ctx.project && ctx.project.environments) || [];
	const def = envs.find((e) => e.is_default) || envs[0];
	const proj = ctx.project || {};
	const server = servers.find((s) => s.id === proj.default_server_id) || servers[0];
	const d = { app_type: 'web', replicas: 1 };
	if (def) d.environment_id = def.id;
	if (server) d.server_id = server.id;
	if (source === 'git') Object.assign(d, { branch: 'main', dockerfile_path: 'Dockerfile', build_context: '.', autodeploy: false });
	if (source !== 'docker_compose') d.exposed_port = 8080;
	return d;
}

const NUMBERS = new Set(['exposed_port', 'replicas']);

// The form's values as the create body: empty optional fields are left out (the API's
// defaults apply), numbers as numbers, checkboxes as booleans.
export function createBody(pid, source, v) {
	const body = { project_id: pid, source_type: source };
	for (const [k, raw] of Object.entries(v)) {
		if (raw === undefined || raw === null) continue;
		if (typeof raw === 'boolean') { body[k] = raw; continue; }
		const s = typeof raw === 'string' ? raw.trim() : raw;
		if (s === '') continue;
		body[k] = NUMBERS.has(k) && typeof s === 'string' && /^-?\d+$/.test(s) ? Number(s) : s;
	}
	if (source === 'docker_compose') body.compose = v.compose;
	return body;
}

function showWebhookSecret(app) {
	return new Promise((resolve) => {
		const d = ui.dialog({
			title: 'Push webhook',
			body: h('div', {},
				h('p', {}, 'Give your git host this URL and secret. The secret is shown only now.'),
				ui.dl([['Webhook URL', app.webhook_url || ''], ['Secret', ui.secret(app.webhook_secret, { label: 'Webhook secret' })]])),
			actions: [ui.button('Done', () => { d.close(); resolve(); }, { kind: 'primary' })],
		});
		d.el.addEventListener('close', () => resolve(), { once: true });
	});
}
