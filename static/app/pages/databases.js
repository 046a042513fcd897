// pages/databases.js - /p/:pid/databases (API.md §5): the project's
// databases with their status, and "Create database" (engine, version,
// server) for those who may write in the project.
import { h } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api } from '../core/api.js';
import { navigate } from '../core/router.js';

export const TYPES = [['postgres', 'PostgreSQL'], ['mysql', 'MySQL (MariaDB)'], ['redis', 'Redis'],
	['mongodb', 'MongoDB'], ['clickhouse', 'ClickHouse']];

export function typeName(t) {
	const x = TYPES.find(([k]) => k === t);
	return x ? x[1] : t;
}

// The server picker of a create form: "the project's default" when the
// project has one, else the servers, the first online one chosen (the API
// needs a server when the project has no default and the tenant several).
export function serverOptions(project, servers) {
	const opts = servers.map(s => [s.id, s.name + ' (' + s.status + ')']);
	return project.default_server_id ? [['', 'The project\'s default'], ...opts] : opts;
}

export function defaultServer(project, servers) {
	if (project.default_server_id)
		return '';
	const s = servers.find(x => x.status === 'online') || servers[0];
	return s ? s.id : '';
}

// The tenant's backup destinations, or none when the caller may not list
// them: point-in-time recovery needs one (the WAL archive goes there).
export async function destinations() {
	try {
		return await ui.all('/settings/backup-destinations', {}, 200);
	} catch {
		return [];
	}
}

export function pitrDestinationField(dests) {
	return { name: 'pitr_destination_id', label: 'Archive for point-in-time recovery', type: 'select',
		options: dests.map(d => [d.id, d.name]), help: 'The backup destination that keeps the WAL archive.' };
}

export default async function page(ctx) {
	const pid = ctx.project.id;
	ctx.title('Databases');
	const create = ui.button('Create database', () => createDialog(ctx), { kind: 'primary', cap: 'write', ctx });
	const list = ui.listView({
		path: '/databases',
		query: { projectId: pid },
		caption: 'Databases',
		columns: [
			{ label: 'Name', value: d => d.name },
			{ label: 'Engine', value: d => typeName(d.type) + ' ' + (d.version || '') },
			{ label: 'Status', value: d => ui.status(d.status) },
			{ label: 'Host', class: 'hide-narrow', value: d => h('code', {}, d.internal_host + ':' + d.port) },
			{ label: 'Created', value: d => ui.time(d.created_at) },
		],
		rowHref: d => '/p/' + pid + '/databases/' + d.id,
		empty: { text: 'No databases in this project yet.' },
	});
	ctx.main.append(ui.pageHeader('Databases', {
		crumbs: [[ctx.project.name, '/p/' + pid]],
		actions: [create],
		sub: 'PostgreSQL, MySQL, Redis, MongoDB and ClickHouse, each in its own container with its data on a volume.',
	}), list);
	await list.loaded;
}

async function createDialog(ctx) {
	const pid = ctx.project.id;
	const [servers, envs, dests] = await Promise.all([
		ui.all('/servers', {}, 200),
		api.get('/projects/' + pid + '/environments').catch(() => []),
		destinations(),
	]);
	let d = null;
	const f = ui.form({
		submit: 'Create',
		initial: { server_id: defaultServer(ctx.project, servers) },
		fields: [
			{ name: 'name', label: 'Name', required: true,
				help: 'Lower-case letters, digits and dashes; applications refer to it as ${db.<name>.url}.' },
			{ name: 'type', label: 'Engine', type: 'select', required: true, options: TYPES },
			{ name: 'version', label: 'Version', placeholder: 'the default of the engine',
				help: 'Optional, e.g. 15 for PostgreSQL: one of the versions this plane offers.' },
			{ name: 'server_id', label: 'Server', type: 'select',
				options: serverOptions(ctx.project, servers) },
			(envs || []).length > 1 ? { name: 'environment_id', label: 'Environment', type: 'select',
				options: [['', 'The default environment'], ...envs.map(e => [e.id, e.name])] } : null,
			{ name: 'public', label: 'Reachable from outside the server (a public port)', type: 'checkbox' },
			dests.length ? { name: 'pitr_enabled', label: 'Point-in-time recovery (PostgreSQL)', type: 'checkbox' } : null,
			dests.length ? pitrDestinationField(dests) : null,
		],
		onSubmit: async (v) => {
			if (!v.pitr_enabled)
				delete v.pitr_destination_id;
			const db = await api.post('/databases', { ...v, project_id: pid });
			d.close();
			ui.toast('Database ' + db.name + ' is being created', { kind: 'success' });
			navigate('/p/' + pid + '/databases/' + db.id);
		},
		cancel: () => d.close(),
	});
	d = ui.dialog({ title: 'Create database', body: h('div', {}, f) });
	const first = f.input('name');
	if (first)
		first.focus();
}
