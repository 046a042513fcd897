// pages/monitoring.js - /monitoring (API.md §16): per-project totals, one
// server's charts and one application's traffic, each with its history and
// its live stream.  What is shown is in the hash's query (?server=&app=&range=)
// so that a view can be bookmarked and the page is simply rebuilt on change.
import { h } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api } from '../core/api.js';
import { stream } from '../core/ws.js';
import { navigate } from '../core/router.js';
import { chart } from '../widgets/chart.js';
import { serverMetrics, RANGES } from './server.js';

const iso = d => d.toISOString().replace(/\.\d+Z$/, 'Z');

export default async function page(ctx) {
	ctx.title('Monitoring');
	const key = ctx.query.get('range') || '1h';
	const range = RANGES.find(r => r[0] === key) || RANGES[0];

	const overview = ui.listView({
		path: '/monitoring/overview',
		caption: 'Projects',
		columns: [
			{ label: 'Project', value: p => p.name },
			{ label: 'Applications', value: p => String(p.applications) },
			{ label: 'Databases', value: p => String(p.databases) },
			{ label: 'Servers online', value: p => String(p.servers_online) },
			{ label: 'CPU', value: p => (p.cpu_percent ?? 0).toFixed(1) + ' %' },
			{ label: 'Memory', value: p => ui.bytes(p.memory_bytes) },
		],
		rowHref: p => '/p/' + p.project_id,
		empty: { text: 'No projects yet.' },
	});

	let servers = [];
	let apps = [];
	let pickErr = null;
	try {
		[servers, apps] = await Promise.all([ui.all('/servers', {}, 200), ui.all('/applications', {}, 500)]);
	} catch (e) {
		pickErr = e;
	}
	const serverId = ctx.query.get('server') || (servers[0] && servers[0].id) || '';
	const appId = ctx.query.get('app') || (apps[0] && apps[0].id) || '';

	const picker = ui.form({
		submit: 'Show',
		class: 'form-inline',
		initial: { server: serverId, app: appId, range: range[0] },
		fields: [
			{ name: 'server', label: 'Server', type: 'select', options: servers.map(s => [s.id, s.name + ' (' + s.status + ')']) },
			{ name: 'app', label: 'Application', type: 'select', options: [['', '—'], ...apps.map(a => [a.id, a.name])] },
			{ name: 'range', label: 'Range', type: 'select', options: RANGES.map(([k, label]) => [k, label]) },
		],
		onSubmit: async (v) => {
			const q = new URLSearchParams();
			for (const k of ['server', 'app', 'range']) {
				if (v[k])
					q.set(k, v[k]);
			}
			navigate('/monitoring?' + q.toString());
		},
	});

	const serverPart = h('div');
	const trafficPart = h('div');
	ctx.main.append(
		ui.pageHeader('Monitoring', { sub: 'Live points every 10 seconds; history from the plane\'s rollups.' }),
		ui.section('Projects', overview),
		pickErr ? ui.showError(pickErr) : picker,
		ui.section('Server', serverPart),
		ui.section('Application traffic', trafficPart));

	const jobs = [overview.loaded];
	if (serverId) {
		jobs.push(serverMetrics(serverId, ctx, { seconds: range[2], compact: true })
			.then(el => serverPart.append(el)));
	} else {
		serverPart.append(ui.empty('No servers yet.'));
	}
	if (appId) {
		jobs.push(traffic(appId, ctx, range[2]).then(el => trafficPart.append(el)));
	} else {
		trafficPart.append(ui.empty('No applications yet.'));
	}
	await Promise.all(jobs);
}

// traffic(appId, ctx, seconds): requests by status class, latency
// percentiles and bytes out of one application (history, then live).
async function traffic(appId, ctx, seconds) {
	const req = chart({ caption: 'Requests', ctx, series: [
		{ label: '2xx', unit: 'req' }, { label: '3xx', unit: 'req' },
		{ label: '4xx', unit: 'req' }, { label: '5xx', unit: 'req' }] });
	const lat = chart({ caption: 'Latency', ctx, series: [
		{ label: 'p50', unit: 'ms' }, { label: 'p95', unit: 'ms' }, { label: 'p99', unit: 'ms' }] });
	const out = chart({ caption: 'Bytes sent', ctx, series: [{ label: 'Sent', unit: 'bytes' }] });
	const live = h('p', { class: 'live-state muted', role: 'status' });
	const rows = p => [p.ts || p.timestamp,
		[p.status_2xx, p.status_3xx, p.status_4xx, p.status_5xx],
		[p.latency_p50_ms, p.latency_p95_ms, p.latency_p99_ms],
		[p.bytes_out]];
	const to = new Date();
	let points;
	try {
		points = await api.get('/monitoring/applications/' + appId + '/traffic',
			{ from: iso(new Date(to.getTime() - seconds * 1000)), to: iso(to) }, { signal: ctx.signal });
	} catch (e) {
		return ui.showError(e);
	}
	const r = (points || []).map(rows);
	req.set(r.map(([t, a]) => [t, ...a]));
	lat.set(r.map(([t, , b]) => [t, ...b]));
	out.set(r.map(([t, , , c]) => [t, ...c]));
	if (seconds <= 86400) {
		stream('applications/' + appId + '/traffic', {
			signal: ctx.signal,
			onState: (s) => {
				live.textContent = s === 'open' ? 'Live' : s === 'retrying' ? 'Reconnecting…' : '';
			},
			onMessage: (m) => {
				if (!m || m.type !== 'traffic')
					return;
				const [t, a, b, c] = rows(m);
				req.push(t, a);
				lat.push(t, b);
				out.push(t, c);
			},
		});
	}
	return h('div', {}, live,
		r.length ? null : h('p', { class: 'muted' }, 'No traffic in this range yet.'),
		h('div', { class: 'chart-grid' }, req.el, lat.el, out.el));
}
