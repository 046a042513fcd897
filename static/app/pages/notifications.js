// /notifications — the user's in-app notifications (API.md §19): all or
// unread only (?unread=true), a page at a time; mark read, mark all read,
// delete; and the per-event preferences.  The header bell (widgets/bell.js)
// shows the live count.
import { h, replace } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api } from '../core/api.js';
import { link } from '../core/router.js';
import { pathFor } from '../widgets/palette.js';
import { refresh as refreshBell } from '../widgets/bell.js';

export const EVENTS = {
	'deployment.failed': 'A deployment failed',
	'deployment.succeeded': 'A deployment succeeded',
	'application.crashed': 'An application crashed',
	'server.offline': 'A server went offline',
	'server.disk_high': 'A server\'s disk is nearly full',
	'backup.failed': 'A backup failed',
	'backup.stale': 'A backup schedule is late',
	'domain.verification_failed': 'A domain\'s verification failed',
	'certificate.expiring': 'A certificate expires soon',
	'issue.new': 'A new error issue',
	'issue.regressed': 'An error issue came back',
	'metric.threshold': 'An alert threshold was crossed',
};

// Where a notification leads: its resource's page, if it has one.
export function notificationPath(n) {
	if (!n.resource_id)
		return n.project_id ? '/p/' + n.project_id : null;
	return pathFor(n.resource_type, n.resource_id, n.project_id)
		|| (n.project_id ? '/p/' + n.project_id : null);
}

function preferences() {
	const slot = h('div', {}, ui.loading('Loading preferences…'));
	const first = api.get('/notifications/preferences').then((prefs) => {
		const initial = {};
		for (const ev of Object.keys(prefs))
			initial[ev] = !!prefs[ev].in_app;
		replace(slot, ui.form({
			fields: Object.keys(prefs).map((ev) => ({ name: ev, label: EVENTS[ev] || ev, type: 'checkbox' })),
			initial,
			submit: 'Save preferences',
			onSubmit: async (v) => {
				const body = {};
				for (const ev of Object.keys(initial)) {
					if (!!v[ev] !== initial[ev])
						body[ev] = { in_app: !!v[ev] };
				}
				const got = await api.put('/notifications/preferences', body);
				for (const ev of Object.keys(got))
					initial[ev] = !!got[ev].in_app;
				ui.toast('Preferences saved', { kind: 'success' });
			},
		}));
	}, (err) => replace(slot, ui.showError(err)));
	return { el: ui.section('Preferences',
		h('p', {}, 'Which events make a notification for you here (e-mail and chat go through alert channels).'),
		slot), first };
}

export default async function page(ctx) {
	ctx.title('Notifications');
	const unread = ctx.query.get('unread') === 'true';
	const slot = h('div');

	function show() {
		replace(slot, ui.listView({
			path: '/notifications',
			query: unread ? { unread: 'true' } : {},
			columns: [
				{ label: 'Notification', value: (n) => {
					const to = notificationPath(n);
					return h('span', { class: n.read ? 'notif-read' : 'notif-unread' },
						n.read ? null : h('span', { class: 'sr-only' }, 'Unread: '),
						to ? link(to, n.message) : n.message);
				} },
				{ label: 'Event', value: (n) => EVENTS[n.event] || n.event },
				{ label: 'When', value: (n) => ui.time(n.created_at) },
				{ label: 'Actions', value: (n) => h('span', { class: 'row-actions' },
					n.read ? null : ui.button('Mark read', async () => {
						await api.post('/notifications/' + n.id + '/read');
						refreshBell();
						show();
					}, { kind: 'plain' }),
					ui.button('Delete', async () => {
						await api.del('/notifications/' + n.id);
						refreshBell();
						show();
					}, { kind: 'danger' })) },
			],
			empty: { text: unread ? 'No unread notifications.' : 'No notifications yet.' },
		}));
	}

	const prefs = preferences();
	replace(ctx.main,
		ui.pageHeader('Notifications', {
			actions: [ui.button('Mark all read', async () => {
				const got = await api.post('/notifications/read-all');
				ui.toast(got.count === 1 ? '1 notification marked read' : got.count + ' notifications marked read',
					{ kind: 'success' });
				refreshBell();
				show();
			}, { kind: 'plain' })],
		}),
		ui.tabs([{ label: 'All', path: '/notifications' }, { label: 'Unread', path: '/notifications?unread=true' }],
			unread ? '/notifications?unread=true' : '/notifications'),
		slot,
		prefs.el);
	show();
	await prefs.first;
}
