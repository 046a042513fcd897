// /audit-log — every committed mutation of the workspace (tenant admins):
// actor, action, resource, project, request id, client address, time;
// a page at a time, filtered by the API's filters (projectId, actorId,
// action), which live in the page's query so a filtered view is a link.
import { h, replace } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api } from '../core/api.js';
import { link, navigate } from '../core/router.js';

const FILTERS = ['projectId', 'actorId', 'action'];

function short(id) {
	return id ? id.slice(0, 8) : '—';
}

// id -> e-mail of the workspace's users and id -> name of its projects, to
// show names instead of UUIDs (first page of each; else the short id).
async function names() {
	const [users, projects] = await Promise.all([
		api.page('/users', { limit: 200 }).catch(() => ({ items: [] })),
		api.page('/projects', { limit: 200 }).catch(() => ({ items: [] })),
	]);
	return {
		users: new Map(users.items.map((u) => [u.id, u.email])),
		projects: new Map(projects.items.map((p) => [p.id, p.name])),
	};
}

export default async function page(ctx) {
	ctx.title('Audit log');
	if (!ctx.can('tenant_admin')) {
		replace(ctx.main, ui.pageHeader('Audit log'),
			ui.empty('Only workspace administrators can read the audit log.'));
		return;
	}
	const query = {};
	for (const f of FILTERS) {
		const v = ctx.query.get(f);
		if (v)
			query[f] = v;
	}
	const n = await names();

	function actor(e) {
		if (e.actor_type === 'webhook')
			return 'webhook';
		const who = n.users.get(e.user_id) || short(e.user_id);
		const label = e.actor_type === 'service_key' ? who + ' (key ' + short(e.actor_id) + ')' : who;
		return e.user_id ? link('/audit-log?actorId=' + encodeURIComponent(e.user_id), label,
			{ title: 'Only what ' + who + ' did' }) : label;
	}

	const filterForm = ui.form({
		fields: [
			{ name: 'action', label: 'Action', placeholder: 'project.update' },
			{ name: 'projectId', label: 'Project', type: 'select',
				options: [['', 'Any project'], ...[...n.projects].map(([id, name]) => [id, name])] },
			{ name: 'actorId', label: 'Actor', type: 'select',
				options: [['', 'Anyone'], ...[...n.users].map(([id, email]) => [id, email])] },
		],
		initial: { action: query.action || '', projectId: query.projectId || '', actorId: query.actorId || '' },
		submit: 'Filter',
		onSubmit: async (v) => {
			const q = new URLSearchParams();
			for (const f of FILTERS) {
				if (v[f])
					q.set(f, v[f]);
			}
			const qs = q.toString();
			navigate('/audit-log' + (qs ? '?' + qs : ''));
		},
	});

	replace(ctx.main,
		ui.pageHeader('Audit log', { sub: 'Every change made in this workspace, oldest first.' }),
		h('div', { class: 'admin-filters' }, filterForm,
			Object.keys(query).length ? link('/audit-log', 'Clear filters') : null),
		ui.listView({
			path: '/audit-log',
			query,
			columns: [
				{ label: 'Time', value: (e) => ui.time(e.created_at) },
				{ label: 'Actor', value: actor },
				{ label: 'Action', value: (e) => link('/audit-log?action=' + encodeURIComponent(e.action), e.action) },
				{ label: 'Resource', value: (e) => e.resource_type + (e.resource_id ? ' ' + short(e.resource_id) : '') },
				{ label: 'Project', value: (e) => (e.project_id ? n.projects.get(e.project_id) || short(e.project_id) : '—') },
				{ label: 'Request id', value: (e) => h('code', {}, e.request_id), class: 'admin-mono' },
				{ label: 'IP', value: (e) => e.ip || '—' },
			],
			empty: { text: Object.keys(query).length ? 'Nothing matches these filters.' : 'Nothing has been changed yet.' },
		}));
}
