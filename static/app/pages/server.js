// pages/server.js - one server (API.md §3, §16): /servers/:id/:tab with the
// tabs status, metrics (history + live), diagnostics, settings and, for
// superadmins only, a terminal on the host.  Also exports serverMetrics(),
// the charts of one server that pages/monitoring.js shows too.
import { h, replace } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api, ApiError } from '../core/api.js';
import { stream } from '../core/ws.js';
import { navigate, href } from '../core/router.js';
import { chart } from '../widgets/chart.js';
import { labelsField, parseLabels, labelsText, shownOnce } from './servers.js';

const TABS = [['status', 'Status'], ['metrics', 'Metrics'], ['diagnostics', 'Diagnostics'],
	['settings', 'Settings'], ['terminal', 'Terminal']];

export const RANGES = [['1h', 'Last hour', 3600], ['6h', '6 hours', 6 * 3600],
	['24h', '24 hours', 86400], ['7d', '7 days', 7 * 86400]];

export default async function page(ctx) {
	const id = ctx.params.id;
	const tab = ctx.params.tab || 'status';
	const base = '/servers/' + id;
	let server;
	try {
		server = await api.get(base, null, { signal: ctx.signal });
	} catch (e) {
		ctx.title('Server');
		ctx.main.append(ui.pageHeader('Server', { crumbs: [['Servers', '/servers']] }), ui.showError(e));
		return;
	}
	ctx.title(server.name);
	const tabs = TABS.filter(([t]) => t !== 'terminal' || ctx.can('superadmin'))
		.filter(([t]) => t !== 'settings' || ctx.can('tenant_admin'));
	const body = h('div', { class: 'tab-body' });
	ctx.main.append(
		ui.pageHeader(server.name, {
			crumbs: [['Servers', '/servers']],
			actions: [ui.status(server.status)],
			sub: [server.host, server.base_domain].filter(Boolean).join(' · ') || null,
		}),
		ui.tabs(tabs.map(([t, label]) => ({ label, path: t === 'status' ? base : base + '/' + t })),
			tab === 'status' ? base : base + '/' + tab),
		body);
	const show = {
		status: statusTab, metrics: metricsTab, diagnostics: diagnosticsTab,
		settings: settingsTab, terminal: terminalTab,
	}[tab];
	if (!show || !tabs.some(([t]) => t === tab)) {
		body.append(ui.showError(new ApiError(404, { code: 'NOT_FOUND', message: 'There is no such tab.' })));
		return;
	}
	await show(ctx, server, body);
}

// ---------------------------------------------------------------- status
// steady(load, first, note): a poll's load that rides out a network cut or
// a 5xx (the last answer again, and a note saying so) and fails only on a
// 4xx, so a followed page resumes by itself when the plane answers again.
function steady(load, first, note) {
	let last = first;
	return async () => {
		try {
			last = await load();
			note.textContent = '';
		} catch (e) {
			if ((e && e.name === 'AbortError') || (e && e.status >= 400 && e.status < 500))
				throw e;
			note.textContent = 'The plane cannot be reached; retrying…';
		}
		return last;
	};
}

async function statusTab(ctx, server, body) {
	const path = '/servers/' + server.id + '/status';
	let st;
	try {
		st = await api.get(path, null, { signal: ctx.signal });
	} catch (e) {
		body.append(ui.showError(e));
		return;
	}
	const view = h('div', { 'aria-live': 'off' }, statusView(server, st));
	const note = h('p', { class: 'live-state muted', role: 'status' });
	body.append(note, view);
	// Kept fresh at the heartbeat's pace while the page is open.
	ui.poll(steady(() => api.get(path, null, { signal: ctx.signal }), st, note), () => false, {
		signal: ctx.signal, interval: Math.max(5, st.heartbeat_interval_seconds || 10) * 1000,
		onEach: s => replace(view, statusView(server, s)),
	}).catch(() => {});
}

function statusView(server, st) {
	const r = st.resources || {};
	const of = (used, total) => (used === null || used === undefined ? null
		: ui.bytes(used) + ' of ' + ui.bytes(total) + (total ? ' (' + Math.round(100 * used / total) + ' %)' : ''));
	return [
		ui.section('Heartbeat',
			ui.dl([
				['Status', ui.status(st.status)],
				['Last heartbeat', st.last_seen_at ? ui.time(st.last_seen_at) : 'never'],
				['Heartbeat interval', st.heartbeat_interval_seconds + ' s'],
				['Agent version', server.agent_version],
			]),
			st.status === 'pending' ? h('p', { class: 'muted' },
				'No heartbeat yet: run the install command on the machine (Settings can issue a new one).') : null),
		ui.section('Engine',
			ui.dl([
				['Engine', st.engine ? st.engine + ' ' + (st.engine_version || '') : null],
				['Reachable', st.engine_reachable === null ? null : st.engine_reachable ? 'yes' : 'no'],
				['Containers', st.containers_total === null ? null
					: st.containers_running + ' running of ' + st.containers_total],
				['Jobs', st.jobs_queued + ' queued, ' + st.jobs_running + ' running'],
			])),
		ui.section('Resources',
			ui.dl([
				['Host name', r.hostname],
				['Operating system', r.os || server.os],
				['CPUs', r.cpus ?? server.cpus],
				['CPU', r.cpu_percent === undefined || r.cpu_percent === null ? null : r.cpu_percent.toFixed(1) + ' %'],
				['Load (1, 5, 15 min)', r.load1 === undefined || r.load1 === null ? null
					: [r.load1, r.load5, r.load15].map(v => (v ?? 0).toFixed(2)).join(', ')],
				['Memory', of(r.memory_used_bytes, r.memory_total_bytes)],
				['Disk', of(r.disk_used_bytes, r.disk_total_bytes)],
			])),
		ui.section('Labels', Object.keys(server.labels || {}).length
			? h('ul', { class: 'labels' }, Object.entries(server.labels).map(([k, v]) => h('li', {}, h('code', {}, k + '=' + v))))
			: ui.empty('No labels.')),
	];
}

// --------------------------------------------------------------- metrics
// serverMetrics(serverId, ctx, { seconds }): CPU, memory, disk, load and
// network charts of one server: its history (awaited) then its live points
// over /ws/servers/<id>/metrics (not awaited; closed with the page).
export async function serverMetrics(serverId, ctx, { seconds = 3600, compact = false } = {}) {
	const charts = {
		cpu: chart({ caption: 'CPU', series: [{ label: 'CPU busy', unit: '%' }], ctx }),
		mem: chart({ caption: 'Memory', series: [{ label: 'Used', unit: 'bytes' }, { label: 'Total', unit: 'bytes' }], ctx }),
		disk: compact ? null : chart({ caption: 'Disk (/)', series: [{ label: 'Used', unit: 'bytes' }, { label: 'Total', unit: 'bytes' }], ctx }),
		load: compact ? null : chart({ caption: 'Load average (1 min)', series: [{ label: 'Load', unit: '' }], ctx }),
		net: compact ? null : chart({ caption: 'Network', series: [{ label: 'Received', unit: 'bytes/s' }, { label: 'Sent', unit: 'bytes/s' }], ctx }),
	};
	const live = h('p', { class: 'live-state muted', role: 'status' });
	const el = h('div', { class: 'chart-grid' }, Object.values(charts).filter(Boolean).map(c => c.el));
	const wrap = h('div', {}, live, el);
	let prev = null;   // the last point: network counters are totals since boot
	function rate(p, key) {
		if (!prev || p[key] === null || prev[key] === null || p.t <= prev.t || p[key] < prev[key])
			return null;
		return (p[key] - prev[key]) / (p.t - prev.t);
	}
	// One point as a row of each chart: [t, values...].
	function rowsOf(p) {
		const t = Date.parse(p.ts || p.timestamp) / 1000;
		const q = { ...p, t };
		const r = {
			cpu: [t, p.cpu_percent],
			mem: [t, p.memory_used_bytes, p.memory_total_bytes],
			disk: [t, p.disk_used_bytes, p.disk_total_bytes],
			load: [t, p.load1],
			net: [t, rate(q, 'net_rx_bytes'), rate(q, 'net_tx_bytes')],
		};
		prev = q;
		return r;
	}
	const to = new Date();
	const from = new Date(to.getTime() - seconds * 1000);
	const iso = d => d.toISOString().replace(/\.\d+Z$/, 'Z');
	let points;
	try {
		points = await api.get('/monitoring/servers/' + serverId + '/metrics',
			{ from: iso(from), to: iso(to) }, { signal: ctx.signal });
	} catch (e) {
		return h('div', {}, ui.showError(e));
	}
	const hist = { cpu: [], mem: [], disk: [], load: [], net: [] };
	for (const p of points || []) {
		const r = rowsOf(p);
		for (const k of Object.keys(hist))
			hist[k].push(r[k]);
	}
	for (const [k, c] of Object.entries(charts)) {
		if (c)
			c.set(hist[k]);
	}
	// Live only for the recent ranges: a 7-day chart of 1 h points gains
	// nothing from a point every 10 s.
	if (seconds <= 86400) {
		stream('servers/' + serverId + '/metrics', {
			signal: ctx.signal,
			onState: (s) => {
				live.textContent = s === 'open' ? 'Live' : s === 'retrying' ? 'Reconnecting…'
					: s === 'connecting' ? 'Connecting…' : '';
			},
			onMessage: (m) => {
				if (!m || m.type !== 'metrics')
					return;
				// The stream's backlog (its last point) may be the history's last.
				if (prev && Date.parse(m.timestamp) / 1000 <= prev.t)
					return;
				const r = rowsOf(m);
				for (const [k, c] of Object.entries(charts)) {
					if (c)
						c.push(r[k][0], r[k].slice(1));
				}
			},
		});
	}
	return wrap;
}

async function metricsTab(ctx, server, body) {
	const key = ctx.query.get('range') || '1h';
	const range = RANGES.find(r => r[0] === key) || RANGES[0];
	const path = '/servers/' + server.id + '/metrics';
	body.append(h('nav', { class: 'range-picker', 'aria-label': 'Time range' },
		h('ul', {}, RANGES.map(([k, label]) => h('li', {},
			h('a', { href: href(path + '?range=' + k), 'aria-current': k === range[0] ? 'true' : null }, label))))));
	body.append(await serverMetrics(server.id, ctx, { seconds: range[2] }));
}

// ----------------------------------------------------------- diagnostics
function runView(run) {
	const checks = run.checks || [];
	return h('div', { class: 'diag-run' },
		ui.dl([
			['Run', h('code', {}, run.id)],
			['Status', ui.status(run.status)],
			['Started', ui.time(run.started_at)],
			['Finished', ui.time(run.finished_at)],
			run.error ? ['Error', run.error] : null,
		]),
		checks.length ? h('table', { class: 'table diag-checks' },
			h('caption', {}, 'Checks'),
			h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Check'), h('th', { scope: 'col' }, 'Result'),
				h('th', { scope: 'col' }, 'Detail'))),
			h('tbody', {}, checks.map(c => h('tr', {},
				h('th', { scope: 'row' }, c.name.replace(/_/g, ' ')),
				h('td', {}, ui.status(c.status)),
				h('td', {}, c.detail || ''))))) :
			(run.status === 'queued' || run.status === 'running'
				? ui.loading(run.status === 'queued' ? 'Waiting for the agent to pick the run up…' : 'The agent is running the checks…')
				: null));
}

async function diagnosticsTab(ctx, server, body) {
	const out = h('div', { 'aria-live': 'polite' });
	const note = h('p', { class: 'live-state muted', role: 'status' });
	// The run's checks as the agent completes it (polled; the poll ends
	// with the page: ctx.signal).
	async function follow(run) {
		replace(out, runView(run));
		try {
			await ui.poll(steady(() => api.get('/servers/' + server.id + '/diagnostics/' + run.id, null, { signal: ctx.signal }),
				run, note),
				r => r.status !== 'queued' && r.status !== 'running',
				{ signal: ctx.signal, interval: 1000, onEach: r => replace(out, runView(r)) });
		} catch (e) {
			if (!(e && e.name === 'AbortError'))
				replace(out, ui.showError(e));
		}
	}
	const start = ui.button('Run diagnostics', async () => {
		const run = await api.post('/servers/' + server.id + '/diagnostics');
		follow(run);
	}, { kind: 'primary', cap: 'tenant_admin', ctx, busy: 'Starting…' });
	body.append(ui.section('Diagnostics',
		h('p', {}, 'The agent checks the engine (ping, version), disk and memory headroom, DNS, clock skew, ' +
			'the edge nginx configuration and that it can reach the plane.'),
		start || h('p', { class: 'muted' }, 'Running diagnostics needs the tenant admin role.'),
		note, out));
}

// -------------------------------------------------------------- settings
async function settingsTab(ctx, server, body) {
	const base = '/servers/' + server.id;
	const tokenOut = h('div', { 'aria-live': 'polite' });
	body.append(
		ui.section('Server',
			ui.form({
				submit: 'Save',
				initial: { ...server, labels: labelsText(server.labels) },
				fields: [
					{ name: 'name', label: 'Name', required: true, help: 'Lower-case letters, digits and dashes.' },
					{ name: 'description', label: 'Description', keepEmpty: true },
					{ name: 'host', label: 'Host', help: 'Host name or IP address of the machine.' },
					{ name: 'base_domain', label: 'Base domain', help: 'Applications on this server get names under it.' },
					labelsField(),
					{ name: 'heartbeat_interval_seconds', label: 'Heartbeat interval (seconds)', type: 'number', min: 1, max: 3600 },
				],
				onSubmit: async (v) => {
					const b = { ...v, labels: parseLabels(v.labels || '') };
					b.host = v.host || null;
					b.base_domain = v.base_domain || null;
					await api.put(base, b);
					ui.toast('Server saved', { kind: 'success' });
					navigate(base + '/settings');
				},
			})),
		ui.section('Agent token',
			h('p', {}, 'A new token stops the old one at once: the agent is refused until it is given the new one.'),
			ui.button('Rotate agent token', async () => {
				const ok = await ui.confirm({
					title: 'Rotate the agent token?', confirm: 'Rotate',
					body: 'The agent of ' + server.name + ' stops working until you install the new token.',
				});
				if (!ok)
					return;
				const s = await api.post(base + '/agent-token');
				replace(tokenOut, shownOnce(s));
			}, { kind: 'plain', cap: 'tenant_admin', ctx, busy: 'Rotating…' }),
			tokenOut),
		ui.section('Delete',
			h('p', {}, 'Deleting removes the server, its jobs and its metrics. ' +
				'It is refused while applications, databases or volumes are placed on it.'),
			ui.button('Delete', async () => {
				const ok = await ui.confirm({
					title: 'Delete server ' + server.name + '?', confirm: 'Delete', typeToConfirm: server.name,
				});
				if (!ok)
					return;
				try {
					await api.del(base);
				} catch (e) {
					if (!(e instanceof ApiError) || e.status !== 409 || !/force/.test(e.message))
						throw e;
					const force = await ui.confirm({
						title: 'Delete anyway?', confirm: 'Delete with its jobs',
						body: e.message + '. Deleting now also deletes those jobs.',
					});
					if (!force)
						return;
					await api.del(base, { query: { force: 'true' } });
				}
				ui.toast('Server deleted', { kind: 'success' });
				navigate('/servers');
			}, { kind: 'danger', cap: 'tenant_admin', ctx, busy: 'Deleting…' })));
}

// -------------------------------------------------------------- terminal
async function terminalTab(ctx, server, body) {
	body.append(h('p', { class: 'muted' },
		'A login shell on the host, as the agent\'s user. Everything typed is recorded in the audit log as a session.'));
	let mod;
	try {
		mod = await import('../widgets/terminal.js');
	} catch {
		body.append(ui.empty('The terminal is not available in this build.'));
		return;
	}
	const t = mod.terminal({
		open: async () => (await api.post('/servers/' + server.id + '/terminal')).sessionId,
		ctx, label: 'Terminal on ' + server.name,
	});
	body.append(t.el || t);
}
