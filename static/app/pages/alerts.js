// Alerts of the tenant (API.md §18), three tabs: rules (list, create, edit,
// delete), channels (list, create with the fields of the chosen type, Test,
// delete) and history (every delivery, paged, filtered by status; one
// delivery's attempts).  The API serves all of it to tenant admins only, so
// the page says so to anybody else instead of showing its controls.
import { h, replace } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api } from '../core/api.js';
import { navigate, reload } from '../core/router.js';

const TABS = [['rules', 'Rules'], ['channels', 'Channels'], ['history', 'History']];
const EVENTS = ['deployment.failed', 'deployment.succeeded', 'application.crashed', 'server.offline',
	'server.disk_high', 'backup.failed', 'backup.stale', 'domain.verification_failed',
	'certificate.expiring', 'issue.new', 'issue.regressed', 'metric.threshold'];
const METRICS = ['server.cpu_percent', 'server.memory_percent', 'server.disk_percent', 'server.load1',
	'application.cpu_percent', 'application.memory_bytes', 'application.restarts', 'application.requests',
	'application.status_5xx_percent', 'application.latency_p95_ms'];
const TYPES = [['webhook', 'Webhook'], ['slack', 'Slack'], ['discord', 'Discord'], ['email', 'E-mail']];

export default async function page(ctx) {
	const tab = ctx.params.tab || 'rules';
	ctx.title('Alerts');
	ctx.main.append(ui.pageHeader('Alerts', { sub: 'Who is told when something happens' }));
	if (!ctx.can('tenant_admin')) {
		ctx.main.append(ui.empty('Alerts are managed by the administrators of this workspace.'));
		return;
	}
	const pane = { rules, channels, history }[tab];
	if (!pane) {
		ctx.main.append(ui.showError(Object.assign(new Error('no such tab: ' + tab), { status: 404 })));
		return;
	}
	const body = h('div', { class: 'more-tab' });
	ctx.main.append(ui.tabs(TABS.map(([t, l]) => ({ label: l, path: '/alerts/' + t })), '/alerts/' + tab), body);
	await pane(ctx, body);
}


const allChannels = () => ui.all('/alerts/channels');

// Point the API's body paths (`config.to[1]`, `condition.metric`) at the
// form's inputs so each error shows next to its field.
function remap(err, map) {
	if (err && Array.isArray(err.details))
		err.details = err.details.map((d) => ({ ...d, field: map(String(d.field || '')) }));
	return err;
}

// ---------------------------------------------------------------- rules

function ruleForm(ctx, channelsList, projects, rule, done) {
	const cond = (rule && rule.condition) || {};
	const initial = rule ? {
		name: rule.name, project_id: rule.project_id || '', event: rule.event,
		metric: cond.metric || '', op: cond.op || '>', threshold: cond.threshold ?? '', for_seconds: cond.for_seconds ?? '',
		cooldown_seconds: rule.cooldown_seconds, enabled: rule.enabled,
	} : { event: 'deployment.failed', op: '>', enabled: true, cooldown_seconds: 300, project_id: '' };
	for (const c of channelsList)
		initial['channel.' + c.id] = rule ? (rule.channel_ids || []).includes(c.id) : false;
	const fields = [
		{ name: 'name', label: 'Name', required: true },
		{ name: 'project_id', label: 'Project', type: 'select', options: [['', 'Every project'], ...projects.map((p) => [p.id, p.name])] },
		{ name: 'event', label: 'Event', type: 'select', options: EVENTS.map((e) => [e, e]) },
		{ name: 'metric', label: 'Metric', type: 'select', options: [['', '—'], ...METRICS.map((m) => [m, m])] },
		{ name: 'op', label: 'Comparison', type: 'select', options: [['>', '>'], ['>=', '>='], ['<', '<'], ['<=', '<=']] },
		{ name: 'threshold', label: 'Threshold', type: 'number' },
		{ name: 'for_seconds', label: 'For (seconds)', type: 'number', min: 0 },
		...channelsList.map((c) => ({ name: 'channel.' + c.id, label: 'Notify ' + c.name + ' (' + c.type + ')', type: 'checkbox' })),
		{ name: 'cooldown_seconds', label: 'Cooldown (seconds)', type: 'number', min: 0 },
		{ name: 'enabled', label: 'Enabled', type: 'checkbox' },
	];
	const firstChannel = channelsList.length ? 'channel.' + channelsList[0].id : 'name';
	const frm = ui.form({
		fields, initial, submit: rule ? 'Save' : 'Create',
		onSubmit: async (v) => {
			const body = {
				name: v.name, project_id: v.project_id || null, event: v.event,
				channel_ids: channelsList.filter((c) => v['channel.' + c.id]).map((c) => c.id),
				enabled: !!v.enabled,
			};
			if (v.cooldown_seconds !== '' && v.cooldown_seconds !== undefined)
				body.cooldown_seconds = Number(v.cooldown_seconds);
			if (v.event === 'metric.threshold') {
				body.condition = { metric: v.metric, op: v.op, threshold: Number(v.threshold) };
				if (v.for_seconds !== '' && v.for_seconds !== undefined)
					body.condition.for_seconds = Number(v.for_seconds);
			} else if (rule) {
				body.condition = null;
			}
			try {
				if (rule)
					await api.put('/alerts/rules/' + rule.id, body);
				else
					await api.post('/alerts/rules', body);
			} catch (err) {
				throw remap(err, (f) => f.startsWith('condition.') ? f.slice(10).replace(/\W.*$/, '') : f.startsWith('channel_ids') ? firstChannel : f);
			}
			ui.toast('Rule ' + v.name + (rule ? ' saved' : ' created'), { kind: 'success' });
			done(true);
		},
		cancel: () => done(false),
	});
	// The threshold fields only matter for metric.threshold rules.
	const ev = frm.input('event');
	const toggle = () => {
		for (const n of ['metric', 'op', 'threshold', 'for_seconds'])
			frm.input(n).closest('.field').hidden = ev.value !== 'metric.threshold';
	};
	ev.addEventListener('change', toggle);
	toggle();
	return frm;
}

async function rules(ctx, body) {
	const [channelsList, projects] = await Promise.all([
		allChannels(), ui.all('/projects'),
	]).catch((err) => [err, null]);
	if (!projects) {
		body.append(ui.showError(channelsList));
		return;
	}
	const pname = new Map(projects.map((p) => [p.id, p.name]));
	const open = (rule) => {
		const dlg = ui.dialog({
			title: rule ? 'Edit rule ' + rule.name : 'Create rule',
			body: ruleForm(ctx, channelsList, projects, rule, (saved) => { dlg.close(); if (saved) reload(); }),
		});
	};
	const lv = ui.listView({
		path: '/alerts/rules',
		columns: [
			{ label: 'Name', value: (r) => r.name },
			{ label: 'Event', value: (r) => r.event + (r.condition ? ' ' + r.condition.metric + ' ' + r.condition.op + ' ' + r.condition.threshold : '') },
			{ label: 'Project', value: (r) => (r.project_id ? pname.get(r.project_id) || r.project_id : 'every project') },
			{ label: 'Channels', value: (r) => String((r.channel_ids || []).length) },
			{ label: 'State', value: (r) => ui.status(r.enabled ? 'enabled' : 'disabled') },
			{
				label: 'Actions', value: (r) => h('span', { class: 'more-actions' },
					ui.button('Edit', () => open(r), { kind: 'plain' }),
					ui.button('Delete', async () => {
						if (!await ui.confirm({ title: 'Delete rule ' + r.name + '?', body: 'Its delivery history goes with it.', confirm: 'Delete', danger: true }))
							return;
						await api.del('/alerts/rules/' + r.id);
						ui.toast('Rule deleted', { kind: 'success' });
						reload();
					}, { kind: 'danger' })),
			},
		],
		empty: { text: channelsList.length ? 'No rules yet.' : 'No rules yet. Create a channel first, then a rule that notifies it.' },
	});
	body.append(h('div', { class: 'more-toolbar' }, ui.button('Create rule', () => open(null), { kind: 'primary' })), lv);
}

// ---------------------------------------------------------------- channels

const CONFIG_FIELDS = {
	slack: [{ name: 'config.webhook_url', label: 'Webhook URL', required: true, placeholder: 'https://hooks.slack.com/services/…', help: 'Stored sealed; not shown again' }],
	discord: [{ name: 'config.webhook_url', label: 'Webhook URL', required: true, placeholder: 'https://discord.com/api/webhooks/…', help: 'Stored sealed; not shown again' }],
	email: [{ name: 'config.to', label: 'Recipients', required: true, placeholder: 'ops@example.com, oncall@example.com', help: 'Comma separated, 1 to 20 addresses' }],
	webhook: [
		{ name: 'config.url', label: 'URL', required: true, placeholder: 'https://example.com/hooks/launcher' },
		{ name: 'config.secret', label: 'Signing secret', type: 'password', autocomplete: 'new-password', help: 'Optional, 8 characters or more; signs x-lnchr-signature' },
		{ name: 'config.headers', label: 'Extra headers', type: 'textarea', rows: 3, placeholder: 'Authorization: Bearer …', help: 'One "Name: value" a line; stored sealed' },
	],
};

function configFrom(type, v) {
	if (type === 'email')
		return { to: String(v['config.to'] || '').split(',').map((s) => s.trim()).filter(Boolean) };
	if (type !== 'webhook')
		return { webhook_url: v['config.webhook_url'] };
	const c = { url: v['config.url'] };
	if (v['config.secret'])
		c.secret = v['config.secret'];
	const headers = {};
	for (const line of String(v['config.headers'] || '').split('\n')) {
		const i = line.indexOf(':');
		if (line.trim() && i > 0)
			headers[line.slice(0, i).trim()] = line.slice(i + 1).trim();
	}
	if (Object.keys(headers).length)
		c.headers = headers;
	return c;
}

function channelCreate(done) {
	const typeSel = h('select', { id: 'more-ch-type', name: 'type' }, TYPES.map(([v, l]) => h('option', { value: v }, l)));
	const holder = h('div');
	let name = '';
	const build = () => {
		const type = typeSel.value;
		const frm = ui.form({
			fields: [{ name: 'name', label: 'Name', required: true }, ...CONFIG_FIELDS[type]],
			initial: { name },
			submit: 'Create',
			onSubmit: async (v) => {
				try {
					await api.post('/alerts/channels', { name: v.name, type, config: configFrom(type, v) });
				} catch (err) {
					throw remap(err, (f) => (/^config\.(to|headers)\b/.test(f) ? f.replace(/^(config\.\w+).*$/, '$1') : f));
				}
				ui.toast('Channel ' + v.name + ' created', { kind: 'success' });
				done(true);
			},
			cancel: () => done(false),
		});
		// Keep the name when the type changes.
		const n = frm.querySelector('[name="name"]');
		if (n)
			n.addEventListener('input', () => { name = n.value; });
		replace(holder, frm);
	};
	typeSel.addEventListener('change', build);
	build();
	return h('div', null, h('div', { class: 'field' }, h('label', { for: 'more-ch-type' }, 'Type'), typeSel), holder);
}

function target(c) {
	const cfg = c.config || {};
	if (c.type === 'email')
		return (cfg.to || []).join(', ');
	if (c.type === 'webhook')
		return (cfg.url || '') + (cfg.secret_set ? ' (signed)' : '');
	return cfg.webhook_url_set ? 'webhook URL set' : 'no webhook URL';
}

async function testChannel(ctx, c) {
	const d = await api.post('/alerts/channels/' + c.id + '/test');
	ui.toast('Test queued for ' + c.name, { kind: 'info' });
	// The delivery settles after its first attempt (or on success/failure).
	const r = await ui.poll(() => api.get('/alerts/history/' + d.id),
		(x) => x.status === 'succeeded' || x.status === 'failed' || (x.attempts || []).length > 0, { signal: ctx.signal, interval: 1000 });
	const last = (r.attempts || [])[r.attempts.length - 1] || {};
	if (r.status === 'succeeded')
		ui.toast('Test delivered to ' + c.name + (last.status_code ? ' (' + last.status_code + ')' : ''), { kind: 'success' });
	else if (!ctx.signal.aborted)
		ui.toast('Test to ' + c.name + ' failed: ' + (r.last_error || last.error || 'status ' + (r.last_status_code ?? '?')) + (r.status === 'pending' ? ' (will retry)' : ''), { kind: 'error' });
}

async function channels(ctx, body) {
		const open = () => {
		const dlg = ui.dialog({ title: 'Create channel', body: channelCreate((ok) => { dlg.close(); if (ok) reload(); }) });
	};
	const lv = ui.listView({
		path: '/alerts/channels',
		columns: [
			{ label: 'Name', value: (c) => c.name },
			{ label: 'Type', value: (c) => c.type },
			{ label: 'Sends to', value: target },
			{ label: 'Created', value: (c) => ui.time(c.created_at) },
			{
				label: 'Actions', value: (c) => h('span', { class: 'more-actions' },
					ui.button('Test', () => testChannel(ctx, c), { kind: 'plain', busy: 'Testing…' }),
					ui.button('Delete', async () => {
						if (!await ui.confirm({ title: 'Delete channel ' + c.name + '?', body: 'Rules stop notifying it; its history goes with it.', confirm: 'Delete', danger: true }))
							return;
						await api.del('/alerts/channels/' + c.id);
						ui.toast('Channel deleted', { kind: 'success' });
						reload();
					}, { kind: 'danger' })),
			},
		],
		empty: { text: 'No channels yet: add where alerts go (Slack, Discord, e-mail or a webhook).' },
	});
	body.append(h('div', { class: 'more-toolbar' }, ui.button('Create channel', open, { kind: 'primary' })), lv);
}

// ---------------------------------------------------------------- history

async function delivery(id, names) {
	const d = await api.get('/alerts/history/' + id);
	return h('section', { class: 'more-delivery', 'aria-labelledby': 'more-dl-h' },
		h('h2', { id: 'more-dl-h' }, 'Delivery of ' + d.event),
		ui.dl([
			['Status', ui.status(d.status)],
			['Channel', names.get(d.channel_id) || d.channel_id],
			['Message', d.message],
			['Created', ui.time(d.created_at)],
			d.delivered_at ? ['Delivered', ui.time(d.delivered_at)] : null,
			d.next_attempt_at ? ['Next attempt', ui.time(d.next_attempt_at)] : null,
			d.last_error ? ['Last error', d.last_error] : null,
		].filter(Boolean)),
		(d.attempts || []).length ? h('table', { class: 'table' },
			h('caption', null, 'Attempts'),
			h('thead', null, h('tr', null, ['#', 'Started', 'Answer', 'Duration', 'Error'].map((t) => h('th', { scope: 'col' }, t)))),
			h('tbody', null, d.attempts.map((a) => h('tr', null,
				h('td', null, String(a.attempt)), h('td', null, ui.time(a.started_at)),
				h('td', null, a.status_code === null ? 'no answer' : String(a.status_code)),
				h('td', null, a.duration_ms + ' ms'), h('td', null, a.error || ''))))) : h('p', null, 'Not attempted yet.'));
}

async function history(ctx, body) {
	const status = ctx.query.get('status') || '';
	const names = new Map((await allChannels().catch(() => [])).map((c) => [c.id, c.name]));
	const sel = h('select', { id: 'more-hi-status', name: 'status' },
		[['', 'Any status'], ['pending', 'Pending'], ['sending', 'Sending'], ['succeeded', 'Succeeded'], ['failed', 'Failed']]
			.map(([v, l]) => h('option', { value: v, selected: v === status }, l)));
	sel.addEventListener('change', () => navigate('/alerts/history' + (sel.value ? '?status=' + sel.value : '')));
	const id = ctx.query.get('delivery');
	if (id) {
		try {
			body.append(await delivery(id, names));
		} catch (err) {
			body.append(ui.showError(err));
		}
	}
	const lv = ui.listView({
		path: '/alerts/history',
		query: status ? { status } : {},
		columns: [
			{ label: 'Created', value: (d) => ui.time(d.created_at) },
			{ label: 'Event', value: (d) => d.event },
			{ label: 'Channel', value: (d) => names.get(d.channel_id) || d.channel_id },
			{ label: 'Status', value: (d) => ui.status(d.status) },
			{ label: 'Attempts', value: (d) => String((d.attempts || []).length), class: 'num' },
			{ label: 'Last answer', value: (d) => (d.last_status_code === null || d.last_status_code === undefined ? '—' : String(d.last_status_code)) },
		],
		rowHref: (d) => '/alerts/history?delivery=' + d.id + (status ? '&status=' + status : ''),
		empty: { text: 'Nothing delivered yet.' },
	});
	body.append(h('div', { class: 'more-filter' }, h('label', { for: 'more-hi-status' }, 'Status'), sel), lv);
}
