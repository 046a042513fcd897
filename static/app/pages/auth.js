// Sign in (password or an e-mailed code), first-run registration, and
// accepting an invitation.  The token returned goes to memory only
// (core/api.js); afterwards the user goes back to the page that asked.
import { h, replace } from '../core/dom.js';
import { api, session } from '../core/api.js';
import { navigate, href } from '../core/router.js';
import * as ui from '../core/ui.js';

function safeNext(q) {
	const n = q.get('next') || '';
	// Only a path of this dashboard: never a URL elsewhere.
	return /^\/[a-z]/.test(n) && !n.startsWith('//') && !n.startsWith('/signin') ? n : '/projects';
}

function done(ctx, res) {
	session.signIn(res.token, res.user);
	navigate(safeNext(ctx.query), { replace: true });
}

// The workspace (tenant) of the URLs: one field above the forms of a page.
function workspace() {
	const input = h('input', {
		id: 'workspace', name: 'tenant', type: 'text', required: true, value: session.tenant,
		autocomplete: 'organization', spellcheck: 'false', 'aria-describedby': 'workspace-help',
	});
	const el = h('div', { class: 'field workspace' },
		h('label', { for: 'workspace' }, 'Workspace'), input,
		h('p', { id: 'workspace-help', class: 'help' }, 'The workspace (tenant) of this installation; usually "default".'));
	el.use = () => session.setTenant(input.value.trim() || 'default');
	return el;
}

function card(ctx, title, ...body) {
	ctx.title(title);
	ctx.main.append(h('div', { class: 'auth-card' },
		h('div', { class: 'page-header' }, h('h1', { class: 'page-title', tabindex: '-1' }, title)), ...body));
}

async function signin(ctx) {
	if (session.signedIn()) {
		navigate(safeNext(ctx.query), { replace: true });
		return;
	}
	const notice = ctx.query.get('expired')
		? h('p', { class: 'notice', role: 'status' }, 'Your session ended. Sign in again to go back to the page you were on.')
		: null;
	let setup = null;
	try {
		setup = await api.get('/auth/setup-status');
	} catch { /* the tenant field may be wrong: the form reports it */ }
	const ws = workspace();
	const withPassword = ui.form({
		submit: 'Sign in',
		fields: [
			{ name: 'email', label: 'E-mail', type: 'email', required: true, autocomplete: 'username' },
			{ name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'current-password' },
		],
		onSubmit: async (v) => {
			ws.use();
			done(ctx, await api.post('/auth/login', { email: v.email, password: v.password }));
		},
	});
	const codeBox = h('div', { class: 'code-box' });
	let email = '';
	const askCode = ui.form({
		submit: 'E-mail me a code',
		fields: [{ name: 'email', label: 'E-mail', type: 'email', required: true, autocomplete: 'username' }],
		onSubmit: async (v) => {
			ws.use();
			email = v.email;
			await api.post('/auth/send-code', { email, method: 'email' });
			const enter = ui.form({
				submit: 'Sign in with the code',
				fields: [{ name: 'code', label: 'Code from the e-mail', required: true, inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}' }],
				onSubmit: async (c) => done(ctx, await api.post('/auth/verify-code', { email, code: c.code })),
			});
			replace(codeBox, h('p', { role: 'status' }, 'If ', h('strong', {}, email), ' has an account, a 6-digit code is on its way. It is valid for 10 minutes.'), enter);
			enter.input('code').focus();
		},
	});
	replace(codeBox, askCode);
	card(ctx, 'Sign in',
		notice,
		setup && setup.setup_complete === false
			? h('p', { class: 'notice' }, 'This workspace has no account yet. ', h('a', { href: href('/register') }, 'Create the first account'), '.')
			: null,
		ws,
		withPassword,
		h('details', { class: 'alt-signin' }, h('summary', {}, 'Sign in with a code by e-mail instead'), codeBox));
}

async function register(ctx) {
	let setup = null;
	try {
		setup = await api.get('/auth/setup-status');
	} catch { /* shown by the form on submit */ }
	const ws = workspace();
	const f = ui.form({
		submit: 'Register',
		fields: [
			{ name: 'first_name', label: 'First name', required: true, autocomplete: 'given-name' },
			{ name: 'last_name', label: 'Last name', required: true, autocomplete: 'family-name' },
			{ name: 'email', label: 'E-mail', type: 'email', required: true, autocomplete: 'email' },
			{ name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'new-password', help: 'At least 12 characters.' },
		],
		onSubmit: async (v) => {
			ws.use();
			done(ctx, await api.post('/auth/register', v));
		},
	});
	card(ctx, 'Create the first account',
		h('p', {}, 'The first account of a workspace administers it. Later users are invited.'),
		setup && setup.setup_complete
			? h('p', { class: 'notice' }, 'This workspace already has accounts: ', h('a', { href: href('/signin') }, 'sign in'), ' instead.')
			: null,
		ws, f);
}

async function acceptInvite(ctx) {
	const token = ctx.query.get('token') || '';
	// The invitation's workspace is used for this acceptance only: a link
	// does not change the workspace remembered for later sign-ins.
	if (ctx.query.get('tenant'))
		session.tenant = ctx.query.get('tenant');
	const f = ui.form({
		submit: 'Accept the invitation',
		fields: [
			{ name: 'first_name', label: 'First name', required: true, autocomplete: 'given-name' },
			{ name: 'last_name', label: 'Last name', required: true, autocomplete: 'family-name' },
			{ name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password', help: 'Needed if you have no account here yet.' },
		],
		onSubmit: async (v) => done(ctx, await api.post('/auth/accept-invite', { token, ...v })),
	});
	card(ctx, 'Accept an invitation',
		token ? f : ui.showError(new Error('The invitation link is incomplete: it has no token.')));
}

export default async function page(ctx) {
	if (ctx.path === '/register')
		return register(ctx);
	if (ctx.path === '/accept-invite')
		return acceptInvite(ctx);
	return signin(ctx);
}
