// Error tracking of a project (API.md §17): the issues, filtered by status
// and text, paged by cursor; one issue with its occurrences and their stack
// traces (frames as text, in-app frames emphasised, library frames folded).
// Triage (resolve, ignore, reopen) needs the member role, as PUT /issues/:id
// does; delete needs admin (DELETE /issues/:id).
import { h, replace } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api } from '../core/api.js';
import { navigate } from '../core/router.js';

const STATUSES = [['', 'Any status'], ['unresolved', 'Unresolved'], ['resolved', 'Resolved'], ['ignored', 'Ignored']];

export default async function page(ctx) {
	if (ctx.params.id)
		return detail(ctx);
	return list(ctx);
}

const base = (ctx) => '/p/' + ctx.params.pid + '/issues';

async function list(ctx) {
	ctx.title('Issues');
	const status = ctx.query.has('status') ? ctx.query.get('status') : 'unresolved';
	const q = ctx.query.get('q') || '';
	const sel = h('select', { id: 'more-is-status', name: 'status' },
		STATUSES.map(([v, l]) => h('option', { value: v, selected: v === status }, l)));
	const text = h('input', { id: 'more-is-q', type: 'search', name: 'q', value: q, placeholder: 'TypeError' });
	const go = () => {
		const p = new URLSearchParams({ status: sel.value });
		if (text.value)
			p.set('q', text.value);
		navigate(base(ctx) + '?' + p);
	};
	sel.addEventListener('change', go);
	const filter = h('form', { class: 'more-filter', role: 'search', on: { submit: (e) => { e.preventDefault(); go(); } } },
		h('label', { for: 'more-is-status' }, 'Status'), sel,
		h('label', { for: 'more-is-q' }, 'Search'), text,
		h('button', { type: 'submit', class: 'btn' }, 'Filter'));
	const query = { projectId: ctx.params.pid };
	if (status)
		query.status = status;
	if (q)
		query.q = q;
	const lv = ui.listView({
		path: '/issues',
		query,
		columns: [
			{ label: 'Issue', value: (i) => h('span', null, h('strong', null, i.title), i.culprit ? h('span', { class: 'muted more-block' }, i.culprit) : null) },
			{ label: 'Level', value: (i) => ui.status(i.level) },
			{ label: 'Status', value: (i) => ui.status(i.status) },
			{ label: 'Events', value: (i) => String(i.event_count), class: 'num' },
			{ label: 'Last seen', value: (i) => ui.time(i.last_seen) },
			{ label: 'First seen', value: (i) => ui.time(i.first_seen) },
		],
		rowHref: (i) => base(ctx) + '/' + i.id,
		empty: { text: status || q ? 'No issue matches these filters.' : 'No errors reported yet. Send them with a Sentry SDK and the DSN of the project settings.' },
	});
	ctx.main.append(ui.pageHeader('Issues', { crumbs: [[ctx.project ? ctx.project.name : 'Project', '/p/' + ctx.params.pid]] }), filter, lv);
}

// ---------------------------------------------------------------- traces

function frameText(f) {
	const where = [f.filename || f.abs_path || f.module || '?', f.lineno ? ':' + f.lineno : '', f.colno ? ':' + f.colno : ''].join('');
	return where + ' in ' + (f.function || '<anonymous>');
}

function frameNode(f) {
	const inApp = f.in_app === true;
	return h('li', { class: inApp ? 'more-frame more-inapp' : 'more-frame' },
		h('code', null, frameText(f)),
		inApp ? h('span', { class: 'more-tag' }, 'in app') : null,
		f.context_line ? h('pre', { class: 'more-ctx' }, String(f.context_line).trim()) : null);
}

// Frames most recent first; runs of library frames folded in a <details>.
function framesNode(frames) {
	const out = [];
	let run = [];
	const flush = () => {
		if (!run.length)
			return;
		if (run.length === 1)
			out.push(frameNode(run[0]));
		else
			out.push(h('li', { class: 'more-frame' }, h('details', null,
				h('summary', null, run.length + ' library frames'), h('ol', { class: 'more-frames' }, run.map(frameNode)))));
		run = [];
	};
	for (const f of [...frames].reverse()) {
		if (f.in_app === true) {
			flush();
			out.push(frameNode(f));
		} else {
			run.push(f);
		}
	}
	flush();
	return h('ol', { class: 'more-frames' }, out);
}

function exceptionNode(ex) {
	const frames = (ex.stacktrace && ex.stacktrace.frames) || [];
	return h('details', { class: 'more-exc', open: true },
		h('summary', null, h('strong', null, ex.type || 'Error'), ex.value ? ': ' + ex.value : '', ex.module ? h('span', { class: 'muted' }, ' (' + ex.module + ')') : null),
		frames.length ? [h('p', { class: 'muted' }, 'Stack trace, most recent call first'), framesNode(frames)] : h('p', { class: 'muted' }, 'No stack trace.'));
}

function eventNode(e) {
	const exc = Array.isArray(e.exception) ? e.exception : [];
	const tags = e.tags && typeof e.tags === 'object' ? Object.entries(e.tags) : [];
	return h('article', { class: 'more-event', 'aria-label': 'Event ' + e.event_id },
		h('header', null, ui.status(e.level), ' ', ui.time(e.occurred_at),
			e.release ? h('span', { class: 'muted' }, ' · release ' + e.release) : null,
			e.environment ? h('span', { class: 'muted' }, ' · ' + e.environment) : null),
		e.message && !exc.length ? h('p', null, e.message) : null,
		// Innermost exception last in the API: show it first.
		[...exc].reverse().map(exceptionNode),
		tags.length ? h('details', null, h('summary', null, 'Tags (' + tags.length + ')'), ui.dl(tags.map(([k, v]) => [k, String(v)]))) : null,
		e.request && e.request.url ? h('p', { class: 'muted' }, 'Request: ' + (e.request.method || '') + ' ' + e.request.url) : null,
		h('p', { class: 'muted' }, 'Event id ' + e.event_id + (e.server_name ? ' · ' + e.server_name : '') + (e.sdk && e.sdk.name ? ' · ' + e.sdk.name + ' ' + (e.sdk.version || '') : '')));
}

// ---------------------------------------------------------------- detail

async function detail(ctx) {
	let issue;
	try {
		issue = await api.get('/issues/' + ctx.params.id);
	} catch (err) {
		ctx.title('Issue');
		ctx.main.append(ui.pageHeader('Issue', { crumbs: [['Issues', base(ctx)]] }), ui.showError(err));
		return;
	}
	ctx.title(issue.title);
	const head = h('div');
	const setStatus = (s) => async () => {
		issue = await api.put('/issues/' + issue.id, { status: s });
		ui.toast('Issue ' + s, { kind: 'success' });
		draw();
	};
	const draw = () => replace(head,
		ui.pageHeader(issue.title, {
			crumbs: [[ctx.project ? ctx.project.name : 'Project', '/p/' + ctx.params.pid], ['Issues', base(ctx)]],
			sub: issue.culprit || '',
			actions: [
				issue.status !== 'resolved' ? ui.button('Resolve', setStatus('resolved'), { kind: 'primary', cap: 'deploy', ctx }) : null,
				issue.status !== 'ignored' ? ui.button('Ignore', setStatus('ignored'), { cap: 'deploy', ctx }) : null,
				issue.status !== 'unresolved' ? ui.button('Reopen', setStatus('unresolved'), { cap: 'deploy', ctx }) : null,
				ui.button('Delete', async () => {
					if (!await ui.confirm({ title: 'Delete this issue?', body: 'Its events go with it; if the error happens again a new issue is made.', confirm: 'Delete', danger: true }))
						return;
					await api.del('/issues/' + issue.id);
					ui.toast('Issue deleted', { kind: 'success' });
					navigate(base(ctx));
				}, { kind: 'danger', cap: 'write', ctx }),
			].filter(Boolean),
		}),
		ui.dl([
			['Status', ui.status(issue.status)],
			['Level', ui.status(issue.level)],
			['Events', String(issue.event_count)],
			['First seen', ui.time(issue.first_seen)],
			['Last seen', ui.time(issue.last_seen)],
			issue.resolved_at ? ['Resolved', ui.time(issue.resolved_at)] : null,
		].filter(Boolean)));
	draw();
	const lv = ui.listView({
		path: '/issues/' + issue.id + '/events',
		render: eventNode,
		caption: 'Events',
		empty: { text: 'No events kept for this issue.' },
		limit: 20,
	});
	ctx.main.append(head, ui.section('Events', lv));
}
