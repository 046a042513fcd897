// /p/:pid/members — the project's members and pending invites (API.md §2).
// Admins (ctx.can('write')) change roles, remove members and invite by
// e-mail; the owner (ctx.can('own')) also transfers the ownership.  Viewers
// and members see the list only (the invites list needs `write`).
import { h, replace } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api, session } from '../core/api.js';

const ROLES = [['admin', 'Admin'], ['member', 'Member'], ['viewer', 'Viewer']];

function fullName(m) {
	return [m.first_name, m.last_name].filter(Boolean).join(' ') || m.email;
}

export default async function page(ctx) {
	const p = ctx.project;
	const base = '/projects/' + p.id;
	ctx.title('Members');
	const membersSlot = h('div');
	const invitesSlot = h('div');

	function roleCell(m) {
		if (m.role === 'owner' || !ctx.can('write'))
			return ui.status(m.role);
		return ui.selectSaving({
			label: 'Role of ' + m.email, value: m.role, options: ROLES,
			save: async (role) => (m.role = (await api.put(base + '/members/' + m.id, { role })).role),
			done: (role) => ui.toast(m.email + ' is now ' + role, { kind: 'success' }),
		});
	}

	function actions(m) {
		if (m.role === 'owner')
			return '';
		return h('span', { class: 'row-actions' },
			ui.button('Make owner', async () => {
				const ok = await ui.confirm({
					title: 'Transfer ownership',
					body: 'Make ' + m.email + ' the owner of ' + p.name + '? The current owner becomes an admin.',
					confirm: 'Transfer', danger: true,
				});
				if (!ok)
					return;
				await api.post(base + '/transfer', { new_owner_id: m.user_id });
				Object.assign(p, await api.get('/projects/' + p.id));	// my_role changed: ctx.can() follows
				ui.toast(m.email + ' is now the owner', { kind: 'success' });
				showMembers();
			}, { kind: 'plain', cap: 'own', ctx }),
			ui.button('Remove', async () => {
				const ok = await ui.confirm({
					title: 'Remove member',
					body: 'Remove ' + m.email + ' from ' + p.name + '? They lose access at once.',
					confirm: 'Remove', danger: true,
				});
				if (!ok)
					return;
				await api.del(base + '/members/' + m.id);
				ui.toast(m.email + ' removed', { kind: 'success' });
				showMembers();
			}, { kind: 'danger', cap: 'write', ctx }));
	}

	function showMembers() {
		replace(membersSlot, ui.listView({
			path: base + '/members',
			columns: [
				{ label: 'Name', value: (m) => fullName(m) + (session.user && m.user_id === session.user.id ? ' (you)' : '') },
				{ label: 'E-mail', value: (m) => m.email },
				{ label: 'Role', value: roleCell },
				{ label: 'Member since', value: (m) => ui.time(m.created_at) },
				...(ctx.can('write') ? [{ label: 'Actions', value: actions }] : []),
			],
			empty: { text: 'No members.' },
		}));
	}

	function showInvites() {
		replace(invitesSlot, ui.listView({
			path: base + '/invites',
			columns: [
				{ label: 'E-mail', value: (i) => i.email },
				{ label: 'Role', value: (i) => ui.status(i.role) },
				{ label: 'Expires', value: (i) => ui.time(i.expires_at) },
				{ label: 'Actions', value: (i) => ui.button('Revoke', async () => {
					const ok = await ui.confirm({
						title: 'Revoke invitation',
						body: 'Revoke the invitation of ' + i.email + '? Its link stops working at once.',
						confirm: 'Revoke', danger: true,
					});
					if (!ok)
						return;
					await api.del(base + '/invites/' + i.id);
					ui.toast('Invitation of ' + i.email + ' revoked', { kind: 'success' });
					showInvites();
				}, { kind: 'danger', cap: 'write', ctx }) },
			],
			empty: { text: 'No pending invitations.' },
		}));
	}

	const sections = [
		ui.pageHeader('Members', { crumbs: [['Projects', '/projects'], [p.display_name || p.name, '/p/' + p.id]],
			sub: 'Who can see and change ' + (p.display_name || p.name) + '.' }),
		ui.section('Members', membersSlot),
	];
	if (ctx.can('write')) {
		const inviteForm = ui.form({
			fields: [
				{ name: 'email', label: 'E-mail', type: 'email', required: true, autocomplete: 'off',
					help: 'They receive a link valid for 7 days, usable once.' },
				{ name: 'role', label: 'Role', type: 'select', options: ROLES, required: true },
			],
			initial: { role: 'member' },
			submit: 'Invite',
			onSubmit: async (v) => {
				const inv = await api.post(base + '/invites', { email: v.email, role: v.role });
				ui.toast('Invitation sent to ' + inv.email, { kind: 'success' });
				inviteForm.reset();
				showInvites();
			},
		});
		sections.push(ui.section('Invitations', h('div', { class: 'admin-inline-form' }, inviteForm), invitesSlot));
	}
	replace(ctx.main, sections);
	showMembers();
	if (ctx.can('write'))
		showInvites();
}
