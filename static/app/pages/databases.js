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
	const [servers, envs] = await Promise.all([
		ui.all('/servers', {}, 200),
		api.get('/projects/' + pid + '/environments').catch(() => []),
	]);
	let d = null;
	const f = ui.form({
		submit: 'Create',
		fields: [
			{ name: 'name', label: 'Name', required: true,
				help: 'Lower-case letters, digits and dashes; applications refer to it as ${db.<name>.url}.' },
			{ name: 'type', label: 'Engine', type: 'select', required: true, options: TYPES },
			{ name: 'version', label: 'Version', placeholder: 'the default of the engine',
				help: 'Optional, e.g. 15 for PostgreSQL: one of the versions this plane offers.' },
			{ name: 'server_id', label: 'Server', type: 'select',
				options: [['', 'The project\'s default'], ...servers.map(s => [s.id, s.name + ' (' + s.status + ')'])] },
			(envs || []).length > 1 ? { name: 'environment_id', label: 'Environment', type: 'select',
				options: [['', 'The default environment'], ...envs.map(e => [e.id, e.name])] } : null,
			{ name: 'public', label: 'Reachable from outside the server (a public port)', type: 'checkbox' },
			{ name: 'pitr_enabled', label: 'Point-in-time recovery (PostgreSQL)', type: 'checkbox' },
		],
		onSubmit: async (v) => {
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
