// One application: `/p/:pid/apps/:id` and `/p/:pid/apps/:id/:tab`.
//
// A header with the status and the actions (Deploy, Redeploy, Roll back, Start, Stop,
// Restart, Scale: capability `deploy`, hidden otherwise), then one tab: overview,
// deployments, env, logs, build, instances, domains, terminal, settings. The live tabs use
// the shared widgets (widgets/logview.js, widgets/terminal.js).
import { h, replace } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api } from '../core/api.js';
import { navigate, link } from '../core/router.js';
import { projectLabel, envName, sourceText } from './apps.js';
import { envEditor } from '../widgets/envedit.js';
import { logView } from '../widgets/logview.js';
import { terminal as terminalView } from '../widgets/terminal.js';

const TABS = [
	['overview', 'Overview', 'read'],
	['deployments', 'Deployments', 'read'],
	['env', 'Environment', 'read'],
	['logs', 'Logs', 'deploy'],
	['build', 'Build', 'deploy'],
	['instances', 'Instances', 'read'],
	['domains', 'Domains', 'read'],
	['terminal', 'Terminal', 'write'],
	['settings', 'Settings', 'read'],
];
const RENDER = {
	overview, deployments, env: envTab, logs, build, instances, domains, terminal, settings,
};
const STATUS_POLL_MS = 4000; // the header's status while the page is open
const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'superseded']);

export default async function page(ctx) {
	const { pid, id } = ctx.params;
	const tab = ctx.params.tab || 'overview';
	const base = `/p/${pid}/apps/${id}`;
	const crumbs = [['Projects', '/projects'], [projectLabel(ctx), `/p/${pid}`], ['Applications', `/p/${pid}/apps`]];
	let app;
	try {
		app = await api.get(`/applications/${id}`);
	} catch (e) {
		ctx.title('Application');
		ctx.main.append(ui.pageHeader('Application', { crumbs }), ui.showError(e));
		return;
	}
	ctx.title(app.name);
	const st = { app, ctx, base, pid, id };
	const statusSlot = h('span', { class: 'app-status', role: 'status', 'aria-live': 'polite' });
	st.showStatus = () => {
		const a = st.app;
		replace(statusSlot, ui.status(a.status),
			a.pending_action ? h('span', { class: 'muted' }, ` ${a.pending_action} pending…`) : null,
			a.pending_deploy ? h('span', { class: 'muted' }, ' · changes wait for the next deploy') : null);
	};
	st.refresh = async () => {
		try { st.app = await api.get(`/applications/${id}`); st.showStatus(); } catch { /* the next poll retries */ }
	};
	st.showStatus();
	// The header's status while the page is open (stops with the page).
	ui.poll(st.refresh, () => false, { interval: STATUS_POLL_MS }).catch(() => {});

	const known = TABS.find(([t]) => t === tab);
	const items = TABS.filter(([, , cap]) => ctx.can(cap))
		.map(([t, label]) => ({ label, path: t === 'overview' ? base : `${base}/${t}` }));
	const body = h('div', { class: 'app-tab' });
	ctx.main.append(
		ui.pageHeader(app.name, { crumbs, sub: sourceText(app), actions: actions(st) }),
		h('p', { class: 'app-statusline' }, 'Status: ', statusSlot),
		ui.tabs(items, tab === 'overview' ? base : `${base}/${tab}`),
		body,
	);
	if (!known) {
		body.append(ui.empty(`There is no tab "${tab}".`, link(base, 'Back to the overview')));
		return;
	}
	if (!ctx.can(known[2])) {
		body.append(ui.empty(`The ${known[1]} tab needs a higher role in this project.`));
		return;
	}
	await RENDER[tab](st, body);
}

// ---- header actions ------------------------------------------------------------------

function actions(st) {
	const { ctx, id, base } = st;
	const opt = (busy, kind = 'plain') => ({ kind, cap: 'deploy', ctx, busy });
	const toBuild = (d) => navigate(`${base}/build?deployment=${d.id}`);
	const act = (verb, label) => ui.button(label, async () => {
		st.app = await api.post(`/applications/${id}/${verb}`);
		st.showStatus();
		ui.toast(`${label} queued`, { kind: 'success' });
	}, opt(`${label}…`));
	return [
		ui.button('Deploy', async () => {
			const d = await api.post(`/applications/${id}/deploy`, {});
			ui.toast('Deployment queued', { kind: 'success' });
			toBuild(d);
		}, opt('Deploying…', 'primary')),
		ui.button('Redeploy', async () => {
			// The release running now, built again with the current settings and env.
			const body = {};
			const cur = st.app.current_deployment_id ? await api.get(`/deployments/${st.app.current_deployment_id}`) : null;
			if (cur && cur.commit_sha && st.app.source_type === 'git') body.commit_sha = cur.commit_sha;
			const d = await api.post(`/applications/${id}/deploy`, body);
			ui.toast('Redeployment queued', { kind: 'success' });
			toBuild(d);
		}, opt('Redeploying…')),
		ui.button('Roll back', () => rollbackDialog(st, toBuild), opt('Rolling back…')),
		act('start', 'Start'),
		act('stop', 'Stop'),
		act('restart', 'Restart'),
		ui.button('Scale', () => scaleDialog(st), opt('Scaling…')),
	].filter(Boolean);
}

async function rollbackDialog(st, toBuild) {
	const { id } = st;
	const done = (await ui.all('/deployments', { applicationId: id, status: 'succeeded' }, 5000))
		.filter((d) => d.id !== st.app.current_deployment_id)
		.reverse();
	if (!done.length) {
		ui.toast('There is no earlier successful deployment to roll back to.', { kind: 'error' });
		return;
	}
	const d = ui.dialog({
		title: 'Roll back',
		body: ui.form({
			fields: [{ name: 'deployment_id', label: 'Deployment to restore', type: 'select', required: true,
				options: done.map((x) => [x.id, deploymentLabel(x)]) }],
			initial: { deployment_id: done[0].id },
			submit: 'Roll back',
			cancel: () => d.close(),
			onSubmit: async (v) => {
				const dep = await api.post(`/applications/${id}/rollback`, { deployment_id: v.deployment_id });
				d.close();
				ui.toast('Rollback queued', { kind: 'success' });
				toBuild(dep);
			},
		}),
	});
}

function scaleDialog(st) {
	const d = ui.dialog({
		title: 'Scale',
		body: ui.form({
			fields: [{ name: 'replicas', label: 'Replicas', type: 'number', min: 0, max: 50, required: true }],
			initial: { replicas: st.app.replicas },
			submit: 'Scale',
			cancel: () => d.close(),
			onSubmit: async (v) => {
				st.app = await api.post(`/applications/${st.id}/scale`, { replicas: Number(v.replicas) });
				st.showStatus();
				d.close();
				ui.toast(`Scaled to ${st.app.replicas}`, { kind: 'success' });
			},
		}),
	});
}

function deploymentLabel(d) {
	const what = d.commit_sha ? d.commit_sha.slice(0, 10) : (d.image || '');
	const msg = d.commit_message ? ` ${d.commit_message.split('\n')[0].slice(0, 60)}` : '';
	return `${d.created_at} · ${d.trigger} · ${what}${msg}`;
}

// Lists are oldest first: the latest deployment is the end of the list.
async function latestDeployment(appId) {
	const all = await ui.all('/deployments', { applicationId: appId }, 5000);
	return all.length ? all[all.length - 1] : null;
}


// ---- tabs ----------------------------------------------------------------------------

async function overview(st, body) {
	const { app, ctx, pid } = st;
	let current = null;
	let err = null;
	try {
		current = app.current_deployment_id ? await api.get(`/deployments/${app.current_deployment_id}`) : null;
	} catch (e) { err = e; }
	const url = app.default_url
		? h('a', { href: app.default_url, target: '_blank', rel: 'noopener noreferrer' }, app.default_url) : '—';
	const rows = [
		['Status', ui.status(app.status)],
		['Type', app.app_type],
		['Source', sourceText(app)],
		['URL', url],
		['Custom domains', (app.domains || []).length
			? h('ul', { class: 'app-domains' }, app.domains.map((d) => h('li', {}, d.hostname + (d.path_prefix !== '/' ? d.path_prefix : ''), ' ', ui.status(d.status))))
			: 'none'],
		['Environment', envName(ctx, app.environment_id)],
		['Replicas', String(app.replicas)],
		['Port', app.exposed_port ? String(app.exposed_port) : '—'],
		['Current deployment', current
			? h('span', {}, link(`/p/${pid}/deployments/${current.id}`, deploymentLabel(current)), ' ', ui.status(current.status))
			: (err ? ui.showError(err) : 'never deployed')],
		['Created', ui.time(app.created_at)],
	];
	if (app.webhook_url) rows.push(['Push webhook', app.webhook_url]);
	body.append(ui.dl(rows));
}

async function deployments(st, body) {
	body.append(ui.listView({
		path: '/deployments',
		query: { applicationId: st.id },
		columns: [
			{ label: 'Created', value: (d) => ui.time(d.created_at) },
			{ label: 'Status', value: (d) => ui.status(d.status) },
			{ label: 'Trigger', value: (d) => d.trigger },
			{ label: 'Commit or image', value: (d) => (d.commit_sha ? d.commit_sha.slice(0, 10) : (d.image || '')) + (d.commit_message ? ` ${d.commit_message.split('\n')[0]}` : '') },
			{ label: 'Duration', value: (d) => (d.duration_ms != null ? `${Math.round(d.duration_ms / 1000)} s` : '') },
		],
		rowHref: (d) => `/p/${st.pid}/deployments/${d.id}`,
		empty: { text: 'No deployments yet.' },
	}));
}

async function envTab(st, body) {
	const { app, ctx } = st;
	body.append(
		h('p', { class: 'muted' }, 'Variables of this application (they override the project\'s and the environment\'s). Changes apply on the next deploy.'),
		envEditor({ projectId: app.project_id, scope: 'application', scopeId: app.id, environmentId: app.environment_id, ctx,
			onChange: st.refresh }),
	);
}

async function logs(st, body) {
	body.append(logView({
		endpoint: `applications/${st.id}/logs`, query: { tail: 100 }, ctx: st.ctx, label: 'Runtime log',
		backlog: () => api.get(`/applications/${st.id}/runtime-logs`, { limit: 100 }),
	}));
}

async function build(st, body) {
	const { ctx, id, pid } = st;
	let dep;
	try {
		const want = ctx.query.get('deployment');
		dep = want ? await api.get(`/deployments/${want}`) : await latestDeployment(id);
	} catch (e) {
		body.append(ui.showError(e));
		return;
	}
	if (!dep) {
		body.append(ui.empty('Nothing built yet: deploy to see the build log.'));
		return;
	}
	const depStatus = h('span', { role: 'status', 'aria-live': 'polite', 'aria-label': 'Deployment status' });
	const showDep = (d) => {
		replace(depStatus, ui.status(d.status), d.error ? h('span', { class: 'app-error' }, ` ${d.error}`) : null);
	};
	showDep(dep);
	body.append(h('p', { class: 'app-build-head' }, 'Deployment ',
		link(`/p/${pid}/deployments/${dep.id}`, deploymentLabel(dep)), ' ', depStatus));
	if (!FINAL.has(dep.status)) {
		// The deployment's status until it ends (the log stream closes then too).
		let last = dep;
		ui.poll(() => api.get(`/deployments/${dep.id}`).catch(() => last), (d) => FINAL.has(d.status), {
			interval: 2000,
			onEach: (d) => {
				last = d;
				showDep(d);
			},
		}).then(() => st.refresh()).catch(() => {});
	}
	body.append(logView({
		endpoint: `deployments/${dep.id}/logs`, ctx, label: 'Build log',
		backlog: () => api.get(`/applications/${id}/build-logs`, { deploymentId: dep.id }),
	}));
}

async function instances(st, body) {
	const slot = h('div', {});
	const load = async () => {
		try {
			const list = await api.get(`/applications/${st.id}/instances`);
			if (!list.length) { replace(slot, ui.empty('No instances: the application is not running.')); return; }
			replace(slot, h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
				h('thead', {}, h('tr', {}, ['Container', 'Status', 'Health', 'Host port', 'Started', 'Restarts', 'CPU', 'Memory']
					.map((c) => h('th', { scope: 'col' }, c)))),
				h('tbody', {}, list.map((i) => h('tr', {},
					h('td', {}, h('code', {}, i.name || i.container_id.slice(0, 12))),
					h('td', {}, ui.status(i.status)),
					h('td', {}, i.health),
					h('td', {}, i.host_port != null ? String(i.host_port) : '—'),
					h('td', {}, i.started_at ? ui.time(i.started_at) : '—'),
					h('td', {}, String(i.restart_count)),
					h('td', {}, i.cpu_percent != null ? `${i.cpu_percent.toFixed(1)} %` : '—'),
					h('td', {}, i.memory_bytes != null ? ui.bytes(i.memory_bytes) : '—')))))));
		} catch (e) {
			replace(slot, ui.showError(e));
		}
	};
	body.append(h('div', { class: 'app-toolbar' }, ui.button('Refresh', load, { kind: 'plain' })), slot);
	await load();
}

async function domains(st, body) {
	const { ctx, id, app } = st;
	const dns = h('section', { class: 'app-dns', 'aria-label': 'DNS records', tabindex: '-1' });
	const listSlot = h('div', {});
	const showDns = async (d) => {
		replace(dns, ui.loading('Loading the DNS records…'));
		try {
			const r = await api.get(`/domains/${d.id}/dns-records`);
			replace(dns, 
				h('h3', {}, `DNS records for ${d.hostname}`),
				h('p', {}, 'Create these records at your DNS host, then press Verify. The TXT record proves the name is yours; the other routes its traffic here.'),
				h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
					h('thead', {}, h('tr', {}, ['Type', 'Name', 'Value', 'TTL', 'Copy'].map((c) => h('th', { scope: 'col' }, c)))),
					h('tbody', {}, r.records.map((x) => h('tr', {},
						h('td', {}, x.type), h('td', {}, h('code', {}, x.name)), h('td', {}, h('code', {}, x.value)),
						h('td', {}, String(x.ttl)), h('td', {}, ui.copy(x.value))))))),
				h('p', {}, 'As zone-file lines: ', ui.copy(r.zone)),
				h('pre', { class: 'app-zone' }, r.zone),
				d.check_error ? h('p', { class: 'app-error' }, `Last check: ${d.check_error}`) : null);
			dns.focus();
		} catch (e) {
			replace(dns, ui.showError(e));
		}
	};
	const renderList = () => replace(listSlot, ui.listView({
		path: '/domains',
		query: { applicationId: id },
		columns: [
			{ label: 'Hostname', value: (d) => d.hostname + (d.path_prefix !== '/' ? d.path_prefix : '') },
			{ label: 'Status', value: (d) => ui.status(d.status.replace('_', ' ')) },
			{ label: 'Certificate', value: (d) => (d.tls ? d.tls.status : '') + (d.tls && d.tls.error ? ` (${d.tls.error})` : '') },
			{ label: 'Last check', value: (d) => (d.last_checked_at ? ui.time(d.last_checked_at) : 'not yet') },
			{ label: 'Actions', value: (d) => h('span', { class: 'app-row-actions' },
				ui.button('DNS records', () => showDns(d), { kind: 'plain' }),
				ui.button('Verify', async () => {
					const v = await api.post(`/domains/${d.id}/verify`);
					ui.toast(`Checking ${v.hostname} now`, { kind: 'info' });
					renderList();
				}, { kind: 'plain', cap: 'write', ctx }),
				ui.button('Delete', async () => {
					if (!await ui.confirm({ title: `Remove ${d.hostname}?`, body: 'Its route and certificate go with it.', confirm: 'Delete', danger: true })) return;
					await api.del(`/domains/${d.id}`);
					replace(dns);
					renderList();
				}, { kind: 'danger', cap: 'write', ctx })) },
		],
		empty: { text: 'No custom domains yet.' },
	}));
	const worker = app.app_type === 'worker';
	const add = ctx.can('write') && !worker ? h('div', { class: 'app-add-domain' },
		h('h3', {}, 'Add a domain'),
		ui.form({
			fields: [
				{ name: 'hostname', label: 'Hostname', type: 'text', required: true, placeholder: 'shop.example.com', autocomplete: 'off' },
				{ name: 'path_prefix', label: 'Path prefix', type: 'text', help: 'Route only this path (default /).' },
			],
			initial: { path_prefix: '/' },
			submit: 'Add domain',
			onSubmit: async (v) => {
				const d = await api.post('/domains', { application_id: id, hostname: v.hostname, path_prefix: v.path_prefix || '/' });
				ui.toast(`${d.hostname} added: create its DNS records`, { kind: 'success' });
				renderList();
				await showDns(d);
			},
		})) : null;
	body.append(...[
		worker ? h('p', { class: 'muted' }, 'Workers serve no HTTP: they have no domains.') : null,
		h('p', {}, 'Default URL: ', app.default_url || '—'),
		listSlot, dns, add,
	].filter(Boolean));
	renderList();
}

async function terminal(st, body) {
	body.append(
		h('p', { class: 'muted' }, 'A shell in the first running instance. What you type runs in the container.'),
		terminalView({ open: async () => (await api.post(`/applications/${st.id}/terminal`)).sessionId, ctx: st.ctx }));
}

const EDITABLE = {
	git: ['repository_url', 'branch', 'dockerfile_path', 'build_context', 'autodeploy', 'watch_paths'],
	docker_image: ['image_url'],
	docker_compose: ['compose'],
};

async function settings(st, body) {
	const { app, ctx, pid, id } = st;
	if (!ctx.can('write')) {
		body.append(h('p', { class: 'muted' }, 'Changing the settings needs the admin role in this project.'),
			ui.dl([['Name', app.name], ['Type', app.app_type], ['Source', sourceText(app)], ['Port', String(app.exposed_port || '—')],
				['Health check', app.healthcheck_path || '—'], ['Restart policy', app.restart_policy]]));
		return;
	}
	const src = EDITABLE[app.source_type] || [];
	const all = [
		{ name: 'name', label: 'Name', type: 'text', required: true },
		{ name: 'app_type', label: 'Type', type: 'select', options: [['web', 'Web'], ['api', 'API'], ['worker', 'Worker']] },
		{ name: 'repository_url', label: 'Repository URL', type: 'text' },
		{ name: 'branch', label: 'Branch', type: 'text' },
		{ name: 'dockerfile_path', label: 'Dockerfile path', type: 'text' },
		{ name: 'build_context', label: 'Build context', type: 'text' },
		{ name: 'autodeploy', label: 'Deploy on every push (autodeploy)', type: 'checkbox' },
		{ name: 'watch_paths', label: 'Watch paths (one glob a line)', type: 'textarea', rows: 3 },
		{ name: 'image_url', label: 'Image', type: 'text' },
		{ name: 'compose', label: 'Compose file', type: 'textarea', rows: 14 },
		{ name: 'exposed_port', label: 'Port the container listens on', type: 'number', min: 1, max: 65535 },
		{ name: 'healthcheck_path', label: 'Health check path', type: 'text' },
		{ name: 'healthcheck_timeout_seconds', label: 'Health check timeout (seconds)', type: 'number', min: 1, max: 900 },
		{ name: 'restart_policy', label: 'Restart policy', type: 'select',
			options: [['always', 'always'], ['on-failure', 'on failure'], ['unless-stopped', 'unless stopped'], ['no', 'no']] },
		{ name: 'start_command', label: 'Start command', type: 'text' },
	];
	const common = new Set(['name', 'app_type', 'exposed_port', 'healthcheck_path', 'healthcheck_timeout_seconds', 'restart_policy', 'start_command']);
	const fields = all.filter((f) => common.has(f.name) || src.includes(f.name)).map((f) => ({ ...f, keepEmpty: true }));
	const initial = {};
	for (const f of fields) {
		const v = app[f.name];
		initial[f.name] = f.name === 'watch_paths' ? (v || []).join('\n') : (v == null ? '' : v);
	}
	body.append(
		h('h2', {}, 'Settings'),
		ui.form({
			fields,
			initial,
			submit: 'Save',
			onSubmit: async (v) => {
				const patch = {};
				for (const f of fields) {
					let val = v[f.name];
					if (f.type === 'checkbox') val = Boolean(val);
					else if (f.name === 'watch_paths') val = String(val || '').split('\n').map((s) => s.trim()).filter(Boolean);
					else if (f.type === 'number') val = val === undefined ? null : val;
					else if (val === '' && f.name !== 'name') val = null;
					const before = f.name === 'watch_paths' ? (app[f.name] || []) : app[f.name];
					if (JSON.stringify(val) !== JSON.stringify(before == null && f.type !== 'checkbox' ? null : before)) patch[f.name] = val;
				}
				if (!Object.keys(patch).length) { ui.toast('Nothing changed', { kind: 'info' }); return; }
				st.app = await api.put(`/applications/${id}`, patch);
				ui.toast('Saved; the next deployment uses it', { kind: 'success' });
				replace(body);
				await settings(st, body);
			},
		}),
		h('section', { class: 'app-danger', 'aria-label': 'Danger zone' },
			h('h2', {}, 'Delete the application'),
			h('p', {}, 'Stops and removes its containers and routes; its volumes are kept.'),
			ui.button('Delete', async () => {
				const ok = await ui.confirm({ title: `Delete ${app.name}?`, body: 'This cannot be undone.', confirm: 'Delete', danger: true, typeToConfirm: app.name });
				if (!ok) return;
				await api.del(`/applications/${id}`);
				ui.toast(`${app.name} is being deleted`, { kind: 'success' });
				navigate(`/p/${pid}/apps`);
			}, { kind: 'danger', cap: 'write', ctx })),
	);
}
