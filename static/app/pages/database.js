// pages/database.js - one database (API.md §5, §12): /p/:pid/databases/:id/:tab
// with the tabs overview (start/stop/restart), connection (revealed on
// demand), logs, terminal, backups (now, restore, schedules), PITR (the
// recovery window and a restore or clone to a point inside it) and settings.
import { h, replace } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api, ApiError } from '../core/api.js';
import { navigate, reload, link } from '../core/router.js';
import { typeName, destinations, pitrDestinationField } from './databases.js';

const TABS = [
	['overview', 'Overview', 'read'], ['connection', 'Connection', 'read'], ['logs', 'Logs', 'deploy'],
	['terminal', 'Terminal', 'write'], ['backups', 'Backups', 'read'], ['pitr', 'Point-in-time recovery', 'read'],
	['settings', 'Settings', 'write'],
];

const iso = d => d.toISOString().replace(/\.\d+Z$/, 'Z');

export default async function page(ctx) {
	const pid = ctx.project.id;
	const id = ctx.params.id;
	const tab = ctx.params.tab || 'overview';
	const base = '/p/' + pid + '/databases/' + id;
	const crumbs = [[ctx.project.name, '/p/' + pid], ['Databases', '/p/' + pid + '/databases']];
	let db;
	try {
		db = await api.get('/databases/' + id, null, { signal: ctx.signal });
	} catch (e) {
		ctx.main.append(ui.pageHeader('Database', { crumbs }), ui.showError(e));
		return;
	}
	ctx.title(db.name);
	const tabs = TABS.filter(([t, , cap]) => ctx.can(cap) && (t !== 'pitr' || db.type === 'postgres'));
	const body = h('div', { class: 'tab-body' });
	ctx.main.append(
		ui.pageHeader(db.name, {
			crumbs,
			actions: [ui.status(db.status)],
			sub: typeName(db.type) + ' ' + db.version + (db.status_reason ? ' · ' + db.status_reason : ''),
		}),
		ui.tabs(tabs.map(([t, label]) => ({ label, path: t === 'overview' ? base : base + '/' + t })),
			tab === 'overview' ? base : base + '/' + tab),
		body);
	const show = { overview, connection, logs, terminal, backups, pitr, settings }[tab];
	if (!show || !tabs.some(([t]) => t === tab)) {
		body.append(ui.showError(new ApiError(404, { code: 'NOT_FOUND', message: 'There is no such tab here.' })));
		return;
	}
	await show(ctx, db, body, base);
}

// -------------------------------------------------------------- overview
async function overview(ctx, db, body) {
	const act = (label, path, busy) => ui.button(label, async () => {
		await api.post('/databases/' + db.id + '/' + path);
		ui.toast(label + ' queued for ' + db.name, { kind: 'success' });
		reload();
	}, { cap: 'deploy', ctx, busy });
	const s = db.stats || {};
	body.append(
		h('div', { class: 'actions-row' },
			db.status === 'stopped' ? act('Start', 'start', 'Starting…') : null,
			db.status !== 'stopped' ? act('Stop', 'stop', 'Stopping…') : null,
			act('Restart', 'restart', 'Restarting…')),
		ui.section('Database', ui.dl([
			['Engine', typeName(db.type) + ' ' + db.version],
			['Status', [ui.status(db.status), db.status_reason ? ' ' + db.status_reason : '']],
			db.pending_action ? ['Pending', db.pending_action] : null,
			['Internal address', h('code', {}, db.internal_host + ':' + db.port)],
			['Public port', db.public ? String(db.public_port ?? 'being assigned') : 'not public'],
			['Server', db.server_id ? link('/servers/' + db.server_id, 'Open server') : null],
			['CPU limit', db.cpu_limit === null ? 'none' : db.cpu_limit + ' CPU'],
			['Memory limit', db.memory_limit === null ? 'none' : ui.bytes(db.memory_limit)],
			['Point-in-time recovery', db.pitr_enabled ? 'on' : 'off'],
			['Created', ui.time(db.created_at)],
		])),
		ui.section('Usage', s.at ? ui.dl([
			['CPU', s.cpu_percent === null ? null : s.cpu_percent.toFixed(1) + ' %'],
			['Memory', ui.bytes(s.memory_bytes)],
			['Restarts', String(s.restart_count ?? 0)],
			['Measured', ui.time(s.at)],
		]) : ui.empty('No measurement yet.')),
		ui.section('Use it from an application',
			h('p', {}, 'Set an environment variable of an application of this environment to a reference; ' +
				'it resolves at each deployment:'),
			h('ul', { class: 'refs' }, ['url', 'host', 'port', 'user', 'password', 'name'].map((k) => {
				const ref = '${db.' + db.name + '.' + k + '}';
				return h('li', {}, h('code', {}, ref), ' ', ui.copy(ref, 'Copy'));
			}))));
}

// ------------------------------------------------------------ connection
async function connection(ctx, db, body) {
	const out = h('div', { 'aria-live': 'polite' });
	const hide = () => replace(out, reveal);
	const reveal = ui.button('Reveal connection details', async () => {
		const c = await api.get('/databases/' + db.id + '/connection');
		const val = v => [h('code', {}, String(v)), ' ', ui.copy(String(v), 'Copy')];
		replace(out,
			ui.dl([['URL', val(c.url)], ['Host', val(c.host)], ['Port', val(c.port)], ['User', val(c.user)],
				['Password', val(c.password)], ['Database', val(c.name)]]),
			h('button', { type: 'button', class: 'btn btn-plain', on: { click: hide } }, 'Hide'));
	}, { kind: 'primary', cap: 'write', ctx, busy: 'Revealing…' });
	if (reveal)
		out.append(reveal);
	body.append(
		ui.section('Address', ui.dl([
			['Inside the project\'s network', h('code', {}, db.internal_host + ':' + db.port)],
			['From outside', db.public ? (db.public_port ? 'port ' + db.public_port + ' of the server' : 'being assigned') : 'not public'],
		])),
		ui.section('Credentials',
			reveal ? h('p', {}, 'Each reveal is recorded in the audit log.')
				: h('p', { class: 'muted' }, 'Revealing the credentials needs the admin role in this project.'),
			out));
}

// ------------------------------------------------- logs, terminal (widgets)
async function widget(name, body, make) {
	let mod;
	try {
		mod = await import('../widgets/' + name + '.js');
	} catch {
		body.append(ui.empty('This view is not available in this build.'));
		return;
	}
	const w = make(mod);
	body.append(w && w.el ? w.el : w);
}

async function logs(ctx, db, body) {
	await widget('logview', body, m => m.logView({
		endpoint: 'databases/' + db.id + '/logs', query: { tail: 200 }, ctx, label: 'Logs of ' + db.name,
		backlog: async () => api.get('/databases/' + db.id + '/logs', { limit: 200 }),
	}));
}

async function terminal(ctx, db, body) {
	if (db.status !== 'running') {
		body.append(ui.empty('The terminal opens the engine\'s client in the container: start the database first.'));
		return;
	}
	body.append(h('p', { class: 'muted' }, 'The engine\'s own client (psql, mariadb, redis-cli, mongosh) in the database\'s container.'));
	await widget('terminal', body, m => m.terminal({
		open: async () => (await api.post('/databases/' + db.id + '/terminal')).sessionId, ctx,
		label: 'Terminal of ' + db.name,
	}));
}

// --------------------------------------------------------------- backups
async function backups(ctx, db, body) {
	const path = '/databases/' + db.id + '/backups';
	const list = ui.listView({
		path,
		caption: 'Backups',
		columns: [
			{ label: 'Taken', value: b => ui.time(b.started_at || b.created_at) },
			{ label: 'Trigger', value: b => b.trigger },
			{ label: 'Status', value: b => [ui.status(b.status), b.error ? h('span', { class: 'muted' }, ' ' + b.error) : null] },
			{ label: 'Size', value: b => (b.size_bytes === null ? null : ui.bytes(b.size_bytes)) },
			{ label: 'Verified', class: 'hide-narrow', value: b => ui.time(b.verified_at) },
			{ label: 'Actions', value: b => (b.status === 'succeeded' ? ui.button('Restore', async () => {
				const ok = await ui.confirm({
					title: 'Restore ' + db.name + ' from this backup?', confirm: 'Restore', typeToConfirm: db.name,
					body: 'The database is replaced by the backup of ' + new Date(b.started_at || b.created_at).toUTCString() +
						'. A safety backup is taken first.',
				});
				if (!ok)
					return;
				await api.post('/databases/' + db.id + '/restore', { backup_id: b.id });
				ui.toast('Restore queued', { kind: 'success' });
			}, { cap: 'write', ctx, busy: 'Restoring…' }) : null) },
		],
		empty: { text: 'No backups yet.' },
	});
	const now = ui.button('Back up now', async () => {
		const r = await api.post(path, {});
		ui.toast('Backup queued', { kind: 'success' });
		await list.reload();
		refreshWhenDone(r.job, ctx, list);
	}, { kind: 'primary', cap: 'deploy', ctx, busy: 'Queuing…' });
	const refresh = h('button', { type: 'button', class: 'btn btn-plain', on: { click: () => list.reload() } }, 'Refresh');
	body.append(ui.section('Backups', h('div', { class: 'actions-row' }, now, refresh), list));
	body.append(await schedules(ctx, 'database', db.id));
	await list.loaded;
}

// refreshWhenDone(job, ctx, list): reloads a list of backups once the job
// that changes it has ended (not after the page is left).
export function refreshWhenDone(job, ctx, list) {
	if (!job)
		return;
	ui.waitJob(job, { signal: ctx.signal }).then(() => list.reload(), () => {});
}

// schedules(ctx, type, id): the backup schedules of one database or volume,
// with a form to add one (write permission).
export async function schedules(ctx, type, id) {
	const list = ui.listView({
		path: '/backup-schedules',
		query: { resourceId: id },
		caption: 'Backup schedules',
		columns: [
			{ label: 'Schedule', value: s => h('code', {}, s.cron) },
			{ label: 'Time zone', value: s => s.timezone },
			{ label: 'Keeps', value: s => keeps(s.retention) },
			{ label: 'Enabled', value: s => (s.enabled ? 'yes' : 'no') },
			{ label: 'Next run', value: s => ui.time(s.next_run_at) },
			{ label: 'Last run', value: s => (s.last_status ? ui.status(s.last_status) : null) },
			{ label: 'Actions', value: s => ui.button('Delete', async () => {
				if (!await ui.confirm({ title: 'Delete this schedule?', confirm: 'Delete', body: 'Its backups are kept.' }))
					return;
				await api.del('/backup-schedules/' + s.id);
				await list.reload();
			}, { kind: 'danger', cap: 'write', ctx }) },
		],
		empty: { text: 'No schedule: backups are taken only when asked.' },
	});
	let add = null;
	if (ctx.can('write')) {
		try {
			const dests = await ui.all('/settings/backup-destinations', {}, 200);
			add = dests.length ? ui.form({
				submit: 'Add schedule',
				initial: { cron: '0 3 * * *', timezone: 'UTC', enabled: true, keep_last: 7 },
				fields: [
					{ name: 'destination_id', label: 'Destination', type: 'select', required: true, options: dests.map(d => [d.id, d.name]) },
					{ name: 'cron', label: 'When (cron)', required: true, help: 'Minute hour day month weekday, e.g. 0 3 * * * for 03:00 daily.' },
					{ name: 'timezone', label: 'Time zone', help: 'An IANA name, e.g. Europe/Berlin.' },
					{ name: 'keep_last', label: 'Keep the last', type: 'number', min: 1 },
					{ name: 'keep_days', label: 'Keep days', type: 'number', min: 1 },
					{ name: 'enabled', label: 'Enabled', type: 'checkbox' },
				],
				onSubmit: async (v, form) => {
					const { keep_last: kl, keep_days: kd, ...rest } = v;
					await api.post('/backup-schedules', {
						...rest, resource_type: type, resource_id: id,
						retention: { keep_last: kl ?? null, keep_days: kd ?? null },
					});
					ui.toast('Schedule added', { kind: 'success' });
					form.reset();
					await list.reload();
				},
			}) : ui.empty('No backup destination yet: a tenant admin adds one in Settings.');
		} catch (e) {
			add = ui.showError(e, { title: 'The backup destinations could not be listed' });
		}
	}
	const sec = ui.section('Schedules', list, add ? h('details', { class: 'add-schedule' },
		h('summary', {}, 'Add a schedule'), add) : null);
	await list.loaded;
	return sec;
}

function keeps(r) {
	if (!r || (r.keep_last == null && r.keep_days == null))
		return 'all';
	return [r.keep_last != null ? 'last ' + r.keep_last : null, r.keep_days != null ? r.keep_days + ' days' : null]
		.filter(Boolean).join(', ');
}

// ------------------------------------------------------------------ PITR
// A datetime-local value (the user's time zone, seconds) of an instant.
function local(ts) {
	const d = new Date(ts);
	const p = n => String(n).padStart(2, '0');
	return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' +
		p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
}

function span(a, b) {
	const m = Math.round((Date.parse(b) - Date.parse(a)) / 60000);
	if (m < 60)
		return m + ' min';
	if (m < 2880)
		return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
	return Math.round(m / 1440) + ' days';
}

async function pitr(ctx, db, body, base) {
	if (!db.pitr_enabled) {
		body.append(ui.empty('Point-in-time recovery is off for this database.',
			ctx.can('write') ? link(base + '/settings', 'Turn it on in Settings') : null));
		return;
	}
	let w;
	try {
		w = await api.get('/databases/' + db.id + '/recovery-window', null, { signal: ctx.signal });
	} catch (e) {
		body.append(ui.showError(e));
		return;
	}
	if (!w.earliest || !w.latest) {
		body.append(ui.empty('No recovery window yet: it opens when the first base backup has finished.'));
		return;
	}
	const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
	const when = ts => h('time', { datetime: ts }, new Date(ts).toLocaleString());
	body.append(ui.section('Recovery window',
		h('div', { class: 'pitr-window' },
			h('div', { class: 'pitr-bar', 'aria-hidden': 'true' }),
			h('p', { class: 'pitr-ends' },
				h('span', {}, 'Earliest: ', when(w.earliest)),
				h('span', { class: 'pitr-span' }, span(w.earliest, w.latest) + ' of history'),
				h('span', {}, 'Latest: ', when(w.latest)))),
		h('p', { class: 'muted' }, 'Times in your time zone (' + tz + '). Checked ', ui.time(w.checked_at), '.')));
	if (!ctx.can('write'))
		return;
	body.append(ui.section('Restore to a point in time',
		ui.form({
			submit: 'Restore',
			initial: { target_time: local(w.latest) },
			fields: [
				{ name: 'target_time', label: 'Point in time', type: 'datetime-local', required: true, step: 1,
					min: local(w.earliest), max: local(w.latest), help: 'Inside the recovery window above.' },
				{ name: 'new_name', label: 'Into a new database named',
					help: 'Empty: restore this database in place (it is stopped meanwhile). A name: a new database at that point, this one untouched.' },
			],
			onSubmit: async (v) => {
				const t = new Date(v.target_time);
				if (Number.isNaN(t.getTime()) || t < new Date(w.earliest) - 999 || t > new Date(w.latest)) {
					throw new ApiError(400, { code: 'BAD_REQUEST', message: 'Pick a time inside the recovery window.',
						details: [{ field: 'target_time', message: 'must be inside the recovery window' }] });
				}
				const target = iso(t);
				if (v.new_name) {
					const copy = await api.post('/databases/' + db.id + '/pitr-clone', { target_time: target, new_name: v.new_name });
					ui.toast('Database ' + copy.name + ' is being restored', { kind: 'success' });
					navigate('/p/' + db.project_id + '/databases/' + copy.id);
					return;
				}
				const ok = await ui.confirm({
					title: 'Restore ' + db.name + ' in place?', confirm: 'Restore', typeToConfirm: db.name,
					body: 'The database is stopped and comes back as it was at ' + t.toLocaleString() +
						'. Everything written after that is lost.',
				});
				if (!ok)
					return;
				await api.post('/databases/' + db.id + '/pitr', { target_time: target });
				ui.toast('Restore queued', { kind: 'success' });
				navigate(base);
			},
		})));
}

// -------------------------------------------------------------- settings
async function settings(ctx, db, body, base) {
	const MIB = 1048576;
	const dests = db.type === 'postgres' ? await destinations() : [];
	body.append(
		ui.section('Resources and access',
			ui.form({
				submit: 'Save',
				initial: { public: db.public, cpu_limit: db.cpu_limit, pitr_enabled: db.pitr_enabled,
					pitr_destination_id: db.pitr_destination_id,
					memory_limit: db.memory_limit === null ? null : Math.round(db.memory_limit / MIB) },
				fields: [
					{ name: 'public', label: 'Reachable from outside the server (a public port)', type: 'checkbox' },
					{ name: 'cpu_limit', label: 'CPU limit (cores)', type: 'number', min: 0.01, step: 0.01 },
					{ name: 'memory_limit', label: 'Memory limit (MiB)', type: 'number', min: 1, parse: v => v * MIB },
					dests.length ? { name: 'pitr_enabled', label: 'Point-in-time recovery', type: 'checkbox' } : null,
					dests.length ? pitrDestinationField(dests) : null,
				],
				onSubmit: async (v) => {
					if (!v.pitr_enabled)
						delete v.pitr_destination_id;
					await api.put('/databases/' + db.id, v);
					ui.toast('Saved; a running database restarts with the new settings', { kind: 'success' });
					navigate(base);
				},
			})),
		ui.section('Password',
			h('p', {}, 'A new password is set in the engine; applications that refer to it get it at their next deployment.'),
			ui.button('Rotate password', async () => {
				if (!await ui.confirm({ title: 'Rotate the password of ' + db.name + '?', confirm: 'Rotate',
					body: 'Clients using the current password are refused once it changes.' }))
					return;
				await api.post('/databases/' + db.id + '/rotate-password');
				ui.toast('Password rotated', { kind: 'success' });
			}, { cap: 'write', ctx, busy: 'Rotating…' })),
		ui.section('Delete',
			h('p', {}, 'Deletes the database\'s container. Its data volume (db-' + db.name + ') and its backups are kept.'),
			ui.button('Delete', async () => {
				if (!await ui.confirm({ title: 'Delete database ' + db.name + '?', confirm: 'Delete', typeToConfirm: db.name }))
					return;
				await api.del('/databases/' + db.id);
				ui.toast('Database deleted', { kind: 'success' });
				navigate('/p/' + db.project_id + '/databases');
			}, { kind: 'danger', cap: 'write', ctx, busy: 'Deleting…' })));
}
