// /p/:pid/deployments/:id — one deployment (API.md §11): its status
// timeline, what it deploys, its live build and release log (the
// deployment's stream: backlog first, then live lines, closed once the
// deployment is over), and Cancel while it is queued or running.
import { h, replace } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api } from '../core/api.js';
import { link } from '../core/router.js';
import { logView } from '../widgets/logview.js';

const RUNNING = new Set(['queued', 'building', 'deploying']);
const FINAL_TEXT = {
	succeeded: 'Succeeded', failed: 'Failed', cancelled: 'Cancelled', superseded: 'Superseded',
};

function when(ts) {
	return ts ? ui.time(ts) : null;
}

function duration(ms) {
	if (ms === null || ms === undefined)
		return null;
	const s = Math.round(ms / 1000);
	return s < 60 ? s + ' s' : Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
}

// Whether the deployment builds (a git source) before it deploys: image,
// compose and rollback deployments start at `deploying`.
function builds(d, app) {
	if (d.trigger === 'rollback' || d.rollback_of)
		return false;
	return !app || app.source_type === 'git';
}

// The steps queued -> building -> deploying -> final, each done, current,
// skipped or not reached, with the times the deployment records.
function timeline(d, app) {
	const order = ['queued', 'building', 'deploying'];
	const final = RUNNING.has(d.status) ? null : d.status;
	const at = order.indexOf(d.status);
	const build = builds(d, app);
	const steps = [
		{ key: 'queued', label: 'Queued', ts: d.created_at },
		{ key: 'building', label: 'Building', ts: build ? d.started_at : null, skip: !build },
		{ key: 'deploying', label: 'Deploying', ts: build ? null : d.started_at },
		{ key: 'final', label: final ? FINAL_TEXT[final] || final : 'Finished', ts: d.finished_at },
	];
	return h('ol', { class: 'dep-timeline', 'aria-label': 'Status timeline' }, steps.map((s, i) => {
		let state;
		if (s.key === 'final')
			state = final ? (final === 'succeeded' ? 'done' : 'bad') : 'todo';
		else if (s.skip)
			state = 'skip';
		else if (final)
			state = (i === 0 || d.started_at) ? 'done' : 'todo';
		else
			state = i < at ? 'done' : i === at ? 'now' : 'todo';
		const what = { done: 'done', bad: 'ended', now: 'in progress', todo: 'not reached', skip: 'skipped' }[state];
		return h('li', { class: ['dep-step', 'dep-step-' + state], 'aria-current': state === 'now' ? 'step' : null },
			h('span', { class: 'dep-step-label' }, s.label),
			h('span', { class: 'dep-step-state' }, ' (' + what + ')'),
			s.ts && state !== 'todo' ? h('span', { class: 'dep-step-time' }, ' ', when(s.ts)) : null);
	}));
}

// Why it failed: the first line, and the rest (a health check's last log
// lines) folded, so a long error does not push the log off the screen.
function errorBox(text) {
	const [first, ...rest] = String(text).split('\n');
	return h('div', { class: 'dep-error', role: 'alert' },
		h('p', null, first),
		rest.length ? h('details', null, h('summary', null, 'Details (' + rest.length + ' more lines)'),
			h('pre', { tabindex: '0' }, rest.join('\n'))) : null);
}

function details(d) {
	const rows = [
		['Status', ui.status(d.status)],
		['Trigger', d.trigger],
		d.branch ? ['Branch', d.branch] : null,
		d.commit_sha ? ['Commit', h('code', null, d.commit_sha.slice(0, 12))] : null,
		d.commit_message ? ['Message', d.commit_message] : null,
		d.commit_author ? ['Author', d.commit_author] : null,
		d.image ? ['Image', h('code', null, d.image)] : null,
		d.image_digest ? ['Digest', h('code', null, d.image_digest)] : null,
		d.strategy ? ['Strategy', d.strategy + (d.strategy_reason ? ' (' + d.strategy_reason + ')' : '')] : null,
		['Replicas', String(d.replicas)],
		d.queue_position ? ['Queue position', String(d.queue_position)] : null,
		d.rollback_of ? ['Rollback of', link('/p/' + d.project_id + '/deployments/' + d.rollback_of,
			d.rollback_of.slice(0, 8))] : null,
		['Created', when(d.created_at)],
		d.started_at ? ['Started', when(d.started_at)] : null,
		d.finished_at ? ['Finished', when(d.finished_at)] : null,
		d.duration_ms !== null && d.duration_ms !== undefined ? ['Duration', duration(d.duration_ms)] : null,
	].filter(Boolean);
	return ui.dl(rows);
}

export default async function page(ctx) {
	const { pid, id } = ctx.params;
	const path = '/deployments/' + encodeURIComponent(id);
	ctx.title('Deployment');
	let d;
	try {
		d = await api.get(path, undefined, { signal: ctx.signal });
	} catch (e) {
		if (ctx.signal.aborted)
			return;
		replace(ctx.main,
			ui.pageHeader('Deployment', { crumbs: [['Projects', '/projects'], [ctx.project ? ctx.project.name : 'Project', '/p/' + pid]] }),
			ui.showError(e),
			h('p', null, link('/p/' + pid + '/apps', 'Back to the applications')));
		return;
	}
	let app = null;
	try {
		app = await api.get('/applications/' + encodeURIComponent(d.application_id), undefined, { signal: ctx.signal });
	} catch (e) {
		if (ctx.signal.aborted)
			return;	// the deployment shows without its application's name
	}
	const appPath = '/p/' + pid + '/apps/' + d.application_id;
	const appName = app ? app.name : 'Application';

	const head = h('div');
	const timeSlot = h('div', { class: 'dep-timeline-wrap' });
	const errSlot = h('div');
	const infoSlot = h('div');

	function render() {
		ctx.title('Deployment ' + d.id.slice(0, 8) + ' of ' + appName);
		const cancel = RUNNING.has(d.status) ? ui.button('Cancel deployment', async () => {
			const ok = await ui.confirm({
				title: 'Cancel this deployment?',
				body: 'The build or release stops; the application keeps running its current deployment.',
				confirm: 'Cancel deployment', danger: true,
			});
			if (!ok)
				return;
			d = await api.post(path + '/cancel');
			render();
		}, { kind: 'danger', cap: 'deploy', ctx, busy: 'Cancelling…' }) : null;
		replace(head, ui.pageHeader('Deployment ' + d.id.slice(0, 8), {
			crumbs: [['Projects', '/projects'], [ctx.project ? ctx.project.name : 'Project', '/p/' + pid],
				[appName, appPath], ['Deployments', appPath + '/deployments']],
			sub: appName,
			actions: [link(appPath, 'Back to ' + appName, { class: 'btn' }), cancel].filter(Boolean),
		}));
		replace(timeSlot, timeline(d, app));
		replace(errSlot, d.error ? errorBox(d.error) : null);
		replace(infoSlot, details(d));
	}

	// The stream says only the final status; the steps between (building ->
	// deploying) come with log lines: read the deployment again after a burst.
	let again = null;
	async function refresh() {
		again = null;
		try {
			d = await api.get(path, undefined, { signal: ctx.signal });
			render();
		} catch (e) {
			if (!ctx.signal.aborted)
				ui.toastError(e);
		}
	}
	function soon(ms) {
		if (again === null && RUNNING.has(d.status))
			again = setTimeout(refresh, ms);
	}
	ctx.cleanup(() => {
		if (again !== null)
			clearTimeout(again);
	});

	render();
	let log;
	if (ctx.can('deploy')) {
		log = logView({
			endpoint: 'deployments/' + encodeURIComponent(id) + '/logs',
			backlog: () => api.get(path + '/logs', undefined, { signal: ctx.signal }),
			ctx,
			label: 'Deployment log',
			onEvent: (m) => {
				if (m.type === 'log')
					soon(1500);
				else if (m.type === 'status' && m.status !== d.status)
					refresh();
			},
			onState: (s) => {
				if (s === 'ended' && RUNNING.has(d.status))
					refresh();
			},
		});
	} else {
		log = ui.empty('Viewers cannot read deployment logs (members and above can).');
	}
	replace(ctx.main, head, timeSlot, errSlot,
		h('div', { class: 'dep-grid' },
			h('section', { class: 'dep-info', 'aria-label': 'Details' }, infoSlot),
			h('div', { class: 'dep-log' }, log)));
}
