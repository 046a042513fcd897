// Functions of a project (API.md §7): the list with a create form, and one
// function's tabs: overview (URL, triggers, status incl. scaled to zero,
// Deploy), code (edit, Save, Deploy), invoke (a payload editor and the
// answer), invocations (paged), logs (GET /functions/:id/logs with Refresh:
// the WebSocket server has no function log stream) and settings/delete.
import { h, replace } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api } from '../core/api.js';
import { navigate } from '../core/router.js';

const TABS = ['overview', 'code', 'invoke', 'invocations', 'logs', 'settings'];
const TAB_LABEL = { overview: 'Overview', code: 'Code', invoke: 'Invoke', invocations: 'Invocations', logs: 'Logs', settings: 'Settings' };

const SAMPLE = {
	node20: "exports.handler = async (event) => {\n  return { status: 200, body: { hello: 'world', method: event.method } };\n};\n",
	python3: 'def handler(event, context):\n    return {"status": 200, "body": {"hello": "world", "method": event["method"]}}\n',
};

export default async function page(ctx) {
	if (ctx.params.id)
		return detail(ctx);
	return list(ctx);
}

const base = (ctx) => '/p/' + ctx.params.pid + '/functions';

// ---------------------------------------------------------------- forms

// KEY=VALUE lines to an object; blank lines and # comments are skipped.
function parseEnv(text) {
	const env = {};
	for (const line of String(text || '').split('\n')) {
		const t = line.trim();
		if (!t || t.startsWith('#'))
			continue;
		const i = t.indexOf('=');
		if (i <= 0)
			throw fieldError('env', 'each line is KEY=VALUE');
		env[t.slice(0, i).trim()] = t.slice(i + 1);
	}
	return env;
}

function fieldError(field, message) {
	return Object.assign(new Error(field + ': ' + message), { status: 400, message, details: [{ field, message }] });
}

// The trigger fields of the create and settings forms.
const triggerFields = [
	{ name: 'http', label: 'HTTP trigger (answers at its URL through the edge)', type: 'checkbox' },
	{ name: 'methods', label: 'HTTP methods', placeholder: 'GET, POST', help: 'Comma separated; empty: every method' },
	{ name: 'schedule', label: 'Cron schedule', placeholder: '*/5 * * * *', help: 'Five fields; empty: no cron trigger' },
	{ name: 'timezone', label: 'Time zone', placeholder: 'UTC' },
];

function triggersFrom(v) {
	const t = [];
	if (v.http) {
		const methods = String(v.methods || '').split(',').map((m) => m.trim().toUpperCase()).filter(Boolean);
		t.push(methods.length ? { type: 'http', methods } : { type: 'http' });
	}
	if (String(v.schedule || '').trim()) {
		const c = { type: 'cron', schedule: v.schedule.trim() };
		if (String(v.timezone || '').trim())
			c.timezone = v.timezone.trim();
		t.push(c);
	}
	return t;
}

function triggerInitial(triggers) {
	const http = (triggers || []).find((t) => t.type === 'http');
	const cron = (triggers || []).find((t) => t.type === 'cron');
	return {
		http: !!http, methods: http && http.methods ? http.methods.join(', ') : '',
		schedule: cron ? cron.schedule : '', timezone: cron && cron.timezone ? cron.timezone : '',
	};
}

// The API names fields of its body (`triggers[1].schedule`, `source.code`,
// `env.KEY`); the form's fields are flatter: point each detail at the input
// that made it, so the error shows next to that field.
function remap(err, triggers) {
	if (!err || !Array.isArray(err.details))
		return err;
	err.details = err.details.map((d) => {
		let f = String(d.field || '');
		const m = /^triggers\[(\d+)\]\.?(\w*)/.exec(f);
		if (m) {
			const t = triggers[Number(m[1])];
			f = t && t.type === 'http' ? 'methods' : m[2] === 'timezone' ? 'timezone' : 'schedule';
		} else if (f.startsWith('source')) {
			f = 'code';
		} else if (f.startsWith('env')) {
			f = 'env';
		} else if (f === 'memory_limit') {
			f = 'memory_mib';
		}
		return { ...d, field: f };
	});
	return err;
}

const mib = (v) => (v === '' || v === undefined || v === null ? undefined : Math.round(Number(v) * 1048576));

function openCreate(ctx) {
	let triggers = [];
	let dlg = null;
	const frm = ui.form({
			fields: [
				{ name: 'name', label: 'Name', required: true },
				{ name: 'runtime', label: 'Runtime', type: 'select', options: [['node20', 'Node.js 20'], ['python3', 'Python 3']] },
				{ name: 'handler', label: 'Handler', placeholder: 'index.handler', help: 'file.function; empty: index.handler' },
				{ name: 'code', label: 'Code', type: 'textarea', rows: 8, required: true, help: 'The handler file (index.js or index.py)' },
				...triggerFields,
				{ name: 'env', label: 'Environment variables', type: 'textarea', rows: 3, placeholder: 'KEY=value', help: 'One KEY=value a line; stored sealed' },
				{ name: 'timeout_seconds', label: 'Timeout (seconds)', type: 'number', min: 1, max: 900 },
			],
			initial: { runtime: 'node20', code: SAMPLE.node20, http: true, timeout_seconds: 30 },
			submit: 'Create',
			onSubmit: async (v) => {
				triggers = triggersFrom(v);
				const body = {
					project_id: ctx.params.pid, name: v.name, runtime: v.runtime,
					source: { code: v.code }, triggers, env: parseEnv(v.env),
				};
				if (v.handler)
					body.handler = v.handler;
				if (v.timeout_seconds !== '' && v.timeout_seconds !== undefined)
					body.timeout_seconds = Number(v.timeout_seconds);
				let f;
				try {
					f = await api.post('/functions', body);
				} catch (err) {
					throw remap(err, triggers);
				}
				dlg.close();
				ui.toast('Function ' + f.name + ' created; deploy it to run it', { kind: 'success' });
				navigate(base(ctx) + '/' + f.id);
			},
			cancel: () => dlg.close(),
	});
	// The sample code follows the runtime until the user edits it.
	const rt = frm.input('runtime');
	const code = frm.input('code');
	rt.addEventListener('change', () => {
		if (Object.values(SAMPLE).includes(code.value))
			code.value = SAMPLE[rt.value] || '';
	});
	dlg = ui.dialog({ title: 'Create function', body: frm });
}

async function list(ctx) {
	ctx.title('Functions');
	const create = ui.button('Create function', () => openCreate(ctx), { kind: 'primary', cap: 'write', ctx });
	const lv = ui.listView({
		path: '/functions',
		query: { projectId: ctx.params.pid },
		columns: [
			{ label: 'Name', value: (f) => f.name },
			{ label: 'Runtime', value: (f) => f.runtime },
			{ label: 'Status', value: (f) => statusBadge(f) },
			{ label: 'Triggers', value: (f) => (f.triggers || []).map((t) => t.type).join(', ') || '—' },
			{ label: 'Created', value: (f) => ui.time(f.created_at) },
		],
		rowHref: (f) => base(ctx) + '/' + f.id,
		empty: { text: 'No functions in this project yet.' },
	});
	ctx.main.append(
		ui.pageHeader('Functions', {
			crumbs: [[ctx.project ? ctx.project.name : 'Project', '/p/' + ctx.params.pid]],
			actions: [create],
		}),
		lv,
	);
}


function statusBadge(f) {
	return h('span', null, ui.status(f.status), f.scaled_to_zero ? [' ', ui.status('scaled to zero')] : null);
}

// ---------------------------------------------------------------- detail

async function detail(ctx) {
	const tab = ctx.params.tab || 'overview';
	let f;
	try {
		if (!TABS.includes(tab))
			throw Object.assign(new Error('no such tab: ' + tab), { status: 404 });
		f = await api.get('/functions/' + ctx.params.id);
	} catch (err) {
		ctx.title('Function');
		ctx.main.append(ui.pageHeader('Function', { crumbs: [['Functions', base(ctx)]] }), ui.showError(err));
		return;
	}
	const here = base(ctx) + '/' + f.id;
	ctx.title(f.name);
	const body = h('div', { class: 'more-tab' });
	ctx.main.append(
		ui.pageHeader(f.name, {
			crumbs: [[ctx.project ? ctx.project.name : 'Project', '/p/' + ctx.params.pid], ['Functions', base(ctx)]],
			actions: [deployButton(ctx, f)],
			sub: f.runtime + ' · ' + f.handler,
		}),
		ui.tabs(TABS.map((t) => ({ label: TAB_LABEL[t], path: here + '/' + t })), here + '/' + tab),
		body,
	);
	await ({ overview, code, invoke, invocations, logs, settings })[tab](ctx, f, body);
}

function deployButton(ctx, f) {
	return ui.button('Deploy', async () => {
		await api.post('/functions/' + f.id + '/deploy');
		ui.toast('Deploying ' + f.name, { kind: 'info' });
		// Follow the status on the overview until it settles.
		const s = document.getElementById('more-fn-status');
		await ui.poll(() => api.get('/functions/' + f.id), (x) => x.status === 'running' || x.status === 'failed', {
			signal: ctx.signal,
			onEach: (x) => { if (s) replace(s, statusBadge(x), x.status_reason ? ' ' + x.status_reason : ''); },
		});
	}, { kind: 'primary', cap: 'deploy', ctx, busy: 'Deploying…' });
}

function triggerText(t) {
	if (t.type === 'http')
		return 'HTTP' + (t.methods && t.methods.length ? ' (' + t.methods.join(', ') + ')' : ' (every method)');
	return 'cron ' + t.schedule + (t.timezone ? ' ' + t.timezone : '');
}

async function overview(ctx, f, body) {
	body.append(ui.dl([
		['Status', h('span', { id: 'more-fn-status' }, statusBadge(f), f.status_reason ? ' ' + f.status_reason : '')],
		['URL', f.url ? h('span', null, h('a', { href: f.url, rel: 'noopener noreferrer', target: '_blank' }, f.url), ' ', ui.copy(f.url)) : 'No HTTP trigger'],
		['Triggers', (f.triggers || []).length ? h('ul', { class: 'more-plain' }, f.triggers.map((t) => h('li', null, triggerText(t)))) : 'None (invoke only)'],
		['Scale to zero', f.idle_timeout_seconds ? 'after ' + f.idle_timeout_seconds + ' s idle' + (f.scaled_to_zero ? ' (stopped now; the next request starts it)' : '') : 'never'],
		['Timeout', f.timeout_seconds + ' s'],
		['Memory', f.memory_limit ? ui.bytes(f.memory_limit) : '—'],
		['Environment', f.env_set ? 'variables set (sealed)' : 'none'],
		['Reference', '${fn.' + f.name + '.url}'],
		['Created', ui.time(f.created_at)],
	]));
}

async function code(ctx, f, body) {
	const src = f.source || {};
	if (src.code === undefined) {
		body.append(h('p', null, src.type === 'git' ? 'Built from git: ' + src.repository_url : 'Made of several files:'),
			h('div', null, Object.entries(src.files || {}).map(([p, c]) => ui.section(p, h('pre', { class: 'more-code', tabindex: '0' }, c)))));
		return;
	}
	if (!ctx.can('write')) {
		body.append(h('pre', { class: 'more-code', tabindex: '0' }, src.code));
		return;
	}
	body.append(ui.form({
		fields: [{ name: 'code', label: 'Code', type: 'textarea', rows: 18, required: true }],
		initial: { code: src.code },
		submit: 'Save',
		onSubmit: async (v) => {
			try {
				await api.put('/functions/' + f.id, { source: { code: v.code } });
			} catch (err) {
				throw remap(err, []);
			}
			f.source = { code: v.code };
			ui.toast('Saved; Deploy runs the new code', { kind: 'success' });
		},
	}));
}

async function invoke(ctx, f, body) {
	if (!ctx.can('deploy')) {
		body.append(ui.empty('Invoking needs the member role in this project.'));
		return;
	}
	const out = h('div', { class: 'more-result', 'aria-live': 'polite' });
	const show = (r) => replace(out,
		h('h2', null, 'Response'),
		ui.dl([
			['Status', String(r.status)],
			['Duration', r.duration_ms + ' ms'],
			['Invocation', r.invocation ? r.invocation.status : '—'],
		]),
		h('pre', { class: 'more-code', tabindex: '0', 'aria-label': 'Response body' },
			typeof r.body === 'string' ? r.body : JSON.stringify(r.body, null, 2)));
	body.append(ui.form({
		fields: [{ name: 'payload', label: 'Payload (JSON)', type: 'textarea', rows: 6 }],
		initial: { payload: '{}' },
		submit: 'Invoke',
		onSubmit: async (v) => {
			let payload = null;
			if (String(v.payload || '').trim()) {
				try {
					payload = JSON.parse(v.payload);
				} catch {
					throw fieldError('payload', 'is not valid JSON');
				}
			}
			replace(out, ui.loading('Invoking…'));
			try {
				const r = await api.raw('POST', '/functions/' + f.id + '/invoke', { body: { payload } });
				if (r.status === 202) {
					// Past the API's wait: follow the job to its result.
					const j = await ui.waitJob(r.data.job, { signal: ctx.signal });
					if (j.status !== 'succeeded')
						throw new Error(j.error || 'the invocation ' + j.status);
					show(j.result);
				} else {
					show(r.data);
				}
			} catch (err) {
				replace(out, ui.showError(err));
			}
		},
	}), out);
}

async function invocations(ctx, f, body) {
	const lv = ui.listView({
		path: '/functions/' + f.id + '/invocations',
		columns: [
			{ label: 'Started', value: (i) => (i.started_at ? ui.time(i.started_at) : ui.time(i.created_at)) },
			{ label: 'Trigger', value: (i) => i.trigger },
			{ label: 'Status', value: (i) => ui.status(i.status) },
			{ label: 'HTTP', value: (i) => (i.http_status === null || i.http_status === undefined ? '—' : String(i.http_status)) },
			{ label: 'Duration', value: (i) => (i.duration_ms === null || i.duration_ms === undefined ? '—' : i.duration_ms + ' ms') },
			{ label: 'Error', value: (i) => i.error || '' },
		],
		empty: { text: 'No invocations yet.' },
	});
	body.append(lv);
}

async function logs(ctx, f, body) {
	if (!ctx.can('deploy')) {
		body.append(ui.empty('Reading logs needs the member role in this project.'));
		return;
	}
	const pre = h('pre', { class: 'more-log', tabindex: '0', 'aria-label': 'Function logs', 'aria-live': 'off' });
	const load = async () => {
		try {
			const lines = await api.get('/functions/' + f.id + '/logs');
			if (!lines || !lines.length) {
				replace(pre, 'No log lines yet.');
				return;
			}
			replace(pre, lines.map((l) => h('span', { class: l.stream === 'stderr' ? 'more-stderr' : null },
				l.timestamp + ' ' + l.message + '\n')));
			pre.scrollTop = pre.scrollHeight;
		} catch (err) {
			replace(pre, ui.showError(err));
		}
	};
	body.append(h('div', { class: 'more-toolbar' },
		ui.button('Refresh', load, { busy: 'Loading…' }),
		h('span', { class: 'muted' }, 'No live stream for functions: refresh to read new lines.')), pre);
	await load();
}

async function settings(ctx, f, body) {
	if (!ctx.can('write')) {
		body.append(ui.empty('Changing a function needs the admin role in this project.'));
		return;
	}
	let triggers = [];
	body.append(ui.form({
		fields: [
			...triggerFields,
			{ name: 'timeout_seconds', label: 'Timeout (seconds)', type: 'number', min: 1, max: 900 },
			{ name: 'memory_mib', label: 'Memory limit (MiB)', type: 'number', min: 6 },
			{ name: 'idle_timeout_seconds', label: 'Scale to zero after (seconds idle)', type: 'number', min: 1, help: 'Empty: never' },
			{ name: 'env', label: 'Replace environment variables', type: 'textarea', rows: 3, placeholder: 'KEY=value', help: 'Empty keeps the current ones (they are sealed and not shown)' },
			{ name: 'clear_env', label: 'Remove every environment variable', type: 'checkbox' },
		],
		initial: {
			...triggerInitial(f.triggers), timeout_seconds: f.timeout_seconds,
			memory_mib: f.memory_limit ? Math.round(f.memory_limit / 1048576) : '',
			idle_timeout_seconds: f.idle_timeout_seconds || '',
		},
		submit: 'Save',
		onSubmit: async (v) => {
			triggers = triggersFrom(v);
			const b = { triggers, timeout_seconds: Number(v.timeout_seconds) || undefined, memory_limit: mib(v.memory_mib),
				idle_timeout_seconds: v.idle_timeout_seconds === undefined ? null : Number(v.idle_timeout_seconds) };
			if (v.clear_env)
				b.env = {};
			else if (String(v.env || '').trim())
				b.env = parseEnv(v.env);
			try {
				await api.put('/functions/' + f.id, b);
			} catch (err) {
				throw remap(err, triggers);
			}
			ui.toast('Saved; the next deploy applies it', { kind: 'success' });
		},
	}),
	h('section', { class: 'more-danger', 'aria-labelledby': 'more-fd-h' },
		h('h2', { id: 'more-fd-h' }, 'Delete function'),
		h('p', null, 'Removes the function, its container and its invocations.'),
		ui.button('Delete', async () => {
			if (!await ui.confirm({ title: 'Delete ' + f.name + '?', body: 'This cannot be undone.', confirm: 'Delete', danger: true, typeToConfirm: f.name }))
				return;
			await api.del('/functions/' + f.id);
			ui.toast('Function ' + f.name + ' deleted', { kind: 'success' });
			navigate(base(ctx));
		}, { kind: 'danger', cap: 'write', ctx, busy: 'Deleting…' })));
}
