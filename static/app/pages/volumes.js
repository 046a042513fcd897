// pages/volumes.js - /p/:pid/volumes (API.md §8, §12): the project's
// volumes (size, use, mounts), create and delete, and each volume's backups
// (back up now, restore, schedules) in a dialog.
import { h } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api } from '../core/api.js';
import { schedules, refreshWhenDone } from './database.js';
import { serverOptions, defaultServer } from './databases.js';

const MIB = 1048576;

export default async function page(ctx) {
	const pid = ctx.project.id;
	ctx.title('Volumes');
	let list = null;
	const create = ui.button('Create volume', () => createDialog(ctx, () => list.reload()),
		{ kind: 'primary', cap: 'write', ctx });
	list = ui.listView({
		path: '/volumes',
		query: { projectId: pid },
		caption: 'Volumes',
		columns: [
			{ label: 'Name', value: v => v.name },
			{ label: 'Status', value: v => [ui.status(v.status),
				v.warning ? h('p', { class: 'muted small' }, v.warning) : null] },
			{ label: 'Used', value: v => (v.used_at ? ui.bytes(v.used_bytes) + ' used' : 'not measured yet') },
			{ label: 'Limit', value: v => (v.size_limit === null ? 'no limit' : 'limit ' + ui.bytes(v.size_limit)) },
			{ label: 'Mounted at', class: 'hide-narrow', value: v => (v.mounts.length
				? h('ul', { class: 'plain' }, v.mounts.map(m => h('li', {}, h('code', {}, m.mount_path))))
				: 'not mounted') },
			{ label: 'Actions', value: v => h('div', { class: 'actions-row' },
				h('button', { type: 'button', class: 'btn btn-small', 'aria-label': 'Backups of ' + v.name,
					on: { click: () => backupsDialog(ctx, v) } }, 'Backups'),
				ui.button('Delete', async () => {
					if (!await ui.confirm({ title: 'Delete volume ' + v.name + '?', confirm: 'Delete', typeToConfirm: v.name,
						body: 'Its data is removed from the server. A mounted volume cannot be deleted.' }))
						return;
					await api.del('/volumes/' + v.id);
					ui.toast('Volume deleted', { kind: 'success' });
					await list.reload();
				}, { kind: 'danger', cap: 'write', ctx, busy: 'Deleting…' })) },
		],
		empty: { text: 'No volumes in this project yet.' },
	});
	ctx.main.append(ui.pageHeader('Volumes', {
		crumbs: [[ctx.project.name, '/p/' + pid]],
		actions: [create],
		sub: 'Persistent storage for applications, kept on one server.',
	}), list);
	await list.loaded;
}

async function createDialog(ctx, done) {
	const servers = await ui.all('/servers', {}, 200);
	let d = null;
	const f = ui.form({
		submit: 'Create',
		initial: { server_id: defaultServer(ctx.project, servers) },
		fields: [
			{ name: 'name', label: 'Name', required: true, help: 'Lower-case letters, digits and dashes; unique in the project.' },
			{ name: 'server_id', label: 'Server', type: 'select',
				options: serverOptions(ctx.project, servers) },
			{ name: 'size_limit', label: 'Size limit (MiB)', type: 'number', min: 1, parse: v => v * MIB,
				help: 'Optional; enforced where the engine\'s volume driver can.' },
		],
		onSubmit: async (v) => {
			const vol = await api.post('/volumes', { ...v, project_id: ctx.project.id });
			d.close();
			ui.toast('Volume ' + vol.name + ' created', { kind: 'success' });
			await done();
		},
		cancel: () => d.close(),
	});
	d = ui.dialog({ title: 'Create volume', body: h('div', {}, f) });
	const first = f.input('name');
	if (first)
		first.focus();
}

async function backupsDialog(ctx, vol) {
	const list = ui.listView({
		path: '/volumes/' + vol.id + '/backups',
		caption: 'Backups of ' + vol.name,
		columns: [
			{ label: 'Taken', value: b => ui.time(b.started_at || b.created_at) },
			{ label: 'Status', value: b => ui.status(b.status) },
			{ label: 'Size', value: b => (b.size_bytes === null ? null : ui.bytes(b.size_bytes)) },
			{ label: 'Actions', value: b => (b.status === 'succeeded' ? ui.button('Restore', async () => {
				if (!await ui.confirm({ title: 'Restore ' + vol.name + ' from this backup?', confirm: 'Restore',
					body: 'The volume\'s files are replaced; a safety backup is taken first. Stop the applications that mount it.' }))
					return;
				await api.post('/backups/volume/' + b.id + '/restore', {});
				ui.toast('Restore queued', { kind: 'success' });
			}, { cap: 'write', ctx, busy: 'Restoring…' }) : null) },
		],
		empty: { text: 'No backups of this volume yet.' },
	});
	const now = ui.button('Back up now', async () => {
		const r = await api.post('/volumes/' + vol.id + '/backups', {});
		ui.toast('Backup queued', { kind: 'success' });
		await list.reload();
		refreshWhenDone(r.job, ctx, list);
	}, { kind: 'primary', cap: 'deploy', ctx, busy: 'Queuing…' });
	const sched = await schedules(ctx, 'volume', vol.id);
	ui.dialog({ title: 'Backups of ' + vol.name, body: h('div', { class: 'volume-backups' },
		h('div', { class: 'actions-row' }, now), list, sched) });
}
