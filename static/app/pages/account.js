// /account — the signed-in user's profile (PUT /auth/me) and password
// (PUT /auth/me/password, which signs out the user's other sessions; an
// account made by an invitation or an admin sets its first password with
// POST /auth/me/set-initial-password).
import { h, replace } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api, session } from '../core/api.js';
import { link } from '../core/router.js';

function passwordSection(me, onSet) {
	if (me.must_reset_password) {
		return ui.section('Set a password',
			h('p', {}, 'Your account has no password yet: you sign in with a code sent by e-mail. '
				+ 'Set one to sign in with it.'),
			ui.form({
				fields: [
					{ name: 'password', label: 'New password', type: 'password', required: true,
						autocomplete: 'new-password', help: 'At least 8 characters.' },
				],
				submit: 'Set password',
				onSubmit: async (v) => {
					await api.post('/auth/me/set-initial-password', { password: v.password });
					ui.toast('Password set', { kind: 'success' });
					onSet();
				},
			}));
	}
	const form = ui.form({
		fields: [
			{ name: 'current_password', label: 'Current password', type: 'password', required: true,
				autocomplete: 'current-password' },
			{ name: 'new_password', label: 'New password', type: 'password', required: true,
				autocomplete: 'new-password', help: 'At least 8 characters.' },
		],
		submit: 'Change password',
		onSubmit: async (v) => {
			const got = await api.put('/auth/me/password', v);
			const n = got.revoked_sessions;
			ui.toast('Password changed. ' + (n === 1 ? '1 other session was' : n + ' other sessions were')
				+ ' signed out; this one stays signed in.', { kind: 'success' });
			form.reset();
		},
	});
	return ui.section('Password',
		h('p', {}, 'Changing your password signs you out everywhere else (other browsers and devices); '
			+ 'this session stays signed in.'),
		form);
}

export default async function page(ctx) {
	ctx.title('Your account');
	let me;
	try {
		me = await api.get('/auth/me');
	} catch (err) {
		replace(ctx.main, ui.pageHeader('Your account'), ui.showError(err));
		return;
	}
	function render() {
		replace(ctx.main,
			ui.pageHeader('Your account', { sub: me.email }),
			ui.section('Profile',
				ui.dl([['E-mail', me.email], ['Workspace role', me.role], ['Member since', ui.time(me.created_at)]]),
				ui.form({
					fields: [
						{ name: 'first_name', label: 'First name', required: true, autocomplete: 'given-name' },
						{ name: 'last_name', label: 'Last name', required: true, autocomplete: 'family-name' },
					],
					initial: { first_name: me.first_name, last_name: me.last_name },
					submit: 'Save',
					onSubmit: async (v) => {
						me = await api.put('/auth/me', v);
						if (session.user)
							Object.assign(session.user, me);
						ui.toast('Profile saved', { kind: 'success' });
					},
				})),
			passwordSection(me, () => {
				me.must_reset_password = false;
				render();
			}),
			ui.section('Automation',
				h('p', {}, 'Scripts and CI act through service keys: ', link('/settings/service-keys', 'your service keys'), '.')));
	}
	render();
}
