// pages/servers.js - the tenant's servers (API.md §3): /servers (the list
// with status badges) and /servers/new (add a server, then its agent
// install command and token, shown once).  Also the labels field and the
// "shown once" panel that pages/server.js reuses (settings, token rotation).
import { h, replace } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api, ApiError } from '../core/api.js';
import { link } from '../core/router.js';

// Labels as the user types them: "zone=a, tier=edge" (commas or new lines).
export function parseLabels(text) {
	const out = {};
	for (const part of String(text || '').split(/[,\n]/)) {
		const p = part.trim();
		if (!p)
			continue;
		const eq = p.indexOf('=');
		if (eq <= 0) {
			throw new ApiError(400, {
				code: 'BAD_REQUEST', message: 'Check the labels.',
				details: [{ field: 'labels', message: 'write each label as name=value, separated by commas' }],
			});
		}
		out[p.slice(0, eq).trim()] = p.slice(eq + 1).trim();
	}
	return out;
}

export function labelsText(labels) {
	return Object.entries(labels || {}).map(([k, v]) => k + '=' + v).join(', ');
}

export function labelsField() {
	return { name: 'labels', label: 'Labels', placeholder: 'zone=a, tier=edge', keepEmpty: true,
		help: 'Optional: name=value pairs separated by commas.' };
}

// The agent token and install command of a create or rotate answer: shown
// this once (the API never shows them again, not even to a replay).
export function shownOnce(s) {
	if (!s.install_command) {
		return ui.showError(new ApiError(200, { code: 'REPLAYED',
			message: 'This answer was a replay and carries no token: rotate the agent token in Settings to get one.' }));
	}
	return h('div', { class: 'shown-once', role: 'region', 'aria-label': 'Agent install command' },
		h('p', { class: 'notice notice-warn' }, h('strong', {}, 'Shown once. '),
			'Copy the install command now: the token in it is not shown again. ' +
			'If it is lost, rotate the agent token in the server\'s settings.'),
		h('p', {}, 'Run this on the machine, as root: it writes the agent\'s token to a file of mode 0600, ' +
			'downloads the agent from this plane, checks its checksum, installs it and starts it:'),
		h('pre', { class: 'install-command' }, h('code', {}, s.install_command)),
		h('div', { class: 'actions-row' }, ui.copy(s.install_command, 'Copy install command')),
		ui.dl([['Agent token', ui.secret(s.agent_token, { label: 'agent token' })]]));
}

export default async function page(ctx) {
	if (ctx.path === '/servers/new')
		return addServer(ctx);
	ctx.title('Servers');
	const add = ctx.can('tenant_admin') ? link('/servers/new', 'Add server', { class: 'btn btn-primary' }) : null;
	const list = ui.listView({
		path: '/servers',
		caption: 'Servers',
		columns: [
			{ label: 'Name', value: s => s.name },
			{ label: 'Status', value: s => ui.status(s.status) },
			{ label: 'Host', value: s => s.host },
			{ label: 'Engine', value: s => (s.engine ? s.engine + ' ' + (s.engine_version || '') : null) },
			{ label: 'Resources', class: 'hide-narrow', value: s => (s.cpus ? s.cpus + ' CPU · ' + ui.bytes(s.memory_bytes) : null) },
			{ label: 'Last seen', value: s => ui.time(s.last_seen_at) },
		],
		rowHref: s => '/servers/' + s.id,
		empty: { text: 'No servers yet. Add one and run its install command on the machine.', action: add ? link('/servers/new', 'Add server', { class: 'btn btn-primary' }) : null },
	});
	ctx.main.append(ui.pageHeader('Servers', {
		actions: [add],
		sub: 'Machines whose agent runs your applications, databases and volumes.',
	}), list);
	await list.loaded;
}

async function addServer(ctx) {
	ctx.title('Add server');
	const out = h('div');
	const header = ui.pageHeader('Add server', { crumbs: [['Servers', '/servers']] });
	if (!ctx.can('tenant_admin')) {
		ctx.main.append(header, ui.showError(new ApiError(403, { code: 'FORBIDDEN',
			message: 'Adding a server needs the tenant admin role.' })));
		return;
	}
	const f = ui.form({
		submit: 'Create',
		fields: [
			{ name: 'name', label: 'Name', required: true, autocomplete: 'off',
				help: 'Lower-case letters, digits and dashes, e.g. edge-1.' },
			{ name: 'host', label: 'Host', help: 'Host name or IP address of the machine (optional).' },
			{ name: 'base_domain', label: 'Base domain', help: 'Applications placed here get names under it (optional).' },
			labelsField(),
			{ name: 'description', label: 'Description' },
		],
		onSubmit: async (v) => {
			const body = { ...v, labels: parseLabels(v.labels) };
			const s = await api.post('/servers', body);
			replace(out,
				ui.section('Server ' + s.name + ' added',
					h('p', {}, 'It stays ', ui.status(s.status), ' until its agent sends the first heartbeat.'),
					shownOnce(s),
					h('p', {}, link('/servers/' + s.id, 'Go to ' + s.name))));
			const heading = out.querySelector('h2');
			if (heading) {
				heading.tabIndex = -1;
				heading.focus();
			}
		},
	});
	replace(out, ui.section('New server', f));
	ctx.main.append(header, out);
}
