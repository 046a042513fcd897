// /settings/:tab — the workspace's settings.  Tabs: general, smtp and users
// for workspace admins (caps tenant_admin); service keys for everyone (each
// user sees their own keys, admins all of them); backup destinations,
// registries and git providers readable by everyone, changed by admins.
// A tab the user may not use is neither listed nor rendered.
import { h, replace } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api, session } from '../core/api.js';

const TABS = [
	{ tab: 'general', label: 'General', admin: true, render: general },
	{ tab: 'smtp', label: 'E-mail (SMTP)', admin: true, render: smtp },
	{ tab: 'service-keys', label: 'Service keys', admin: false, render: serviceKeys },
	{ tab: 'users', label: 'Users', admin: true, render: users },
	{ tab: 'backup-destinations', label: 'Backup destinations', admin: false, render: backupDestinations },
	{ tab: 'registries', label: 'Registries', admin: false, render: registries },
	{ tab: 'git-providers', label: 'Git providers', admin: false, render: gitProviders },
];

// The Test button of a registry, git provider or backup destination: queues
// the check on an agent, waits for it, and tells how it went.
function testButton(ctx, path, describe) {
	return ui.button('Test', async () => {
		const queued = await api.post(path + '/test', {});
		ui.toast('Test queued on a server\'s agent…');
		const job = await ui.waitJob(queued.job, { signal: ctx.signal });
		if (job.status === 'succeeded' && (!job.result || job.result.ok !== false))
			ui.toast('Test passed' + (describe(job.result) ? ': ' + describe(job.result) : ''), { kind: 'success' });
		else
			ui.toast('Test failed: ' + (describe(job.result) || job.error || job.status), { kind: 'error' });
	}, { kind: 'plain', busy: 'Testing…' });
}

// A list of a workspace resource with, for admins, a create form, a Test
// and a Delete button per row (registries, git providers, backup
// destinations share this shape).
function resourceTab(ctx, { path, noun, intro, columns, fields, initial, body, describe }) {
	const admin = ctx.can('tenant_admin');
	const slot = h('div');
	function show() {
		replace(slot, ui.listView({
			path,
			columns: [
				...columns,
				...(admin ? [{ label: 'Actions', value: (x) => h('span', { class: 'row-actions' },
					testButton(ctx, path + '/' + x.id, describe),
					ui.button('Delete', async () => {
						const ok = await ui.confirm({ title: 'Delete ' + noun, body: 'Delete ' + x.name + '?',
							confirm: 'Delete', danger: true });
						if (!ok)
							return;
						await api.del(path + '/' + x.id);	// 409 when in use: the toast names the users
						ui.toast(x.name + ' deleted', { kind: 'success' });
						show();
					}, { kind: 'danger' })) }] : []),
			],
			empty: { text: 'No ' + noun + ' yet.' },
		}));
	}
	show();
	const parts = [h('p', {}, intro), slot];
	if (admin) {
		const form = ui.form({
			fields, initial, submit: 'Create',
			onSubmit: async (v) => {
				const x = await api.post(path, body(v));
				ui.toast(x.name + ' created', { kind: 'success' });
				form.reset();
				show();
			},
		});
		parts.push(ui.section('Add a ' + noun, form));
	}
	return parts;
}

function orNull(s) {
	return s === undefined || s === '' ? null : s;
}

async function general(ctx) {
	const g = await api.get('/settings/general');
	return [ui.form({
		fields: [
			{ name: 'display_name', label: 'Workspace name', required: true },
			{ name: 'default_base_domain', label: 'Default base domain', placeholder: 'apps.example.com',
				help: 'Applications get <name>-<project>.<domain> when their server has no base domain. Empty: none.' },
			{ name: 'jwt_lifetime_seconds', label: 'Session lifetime (seconds)', type: 'number', min: 300, max: 2592000,
				help: g.jwt_lifetime_default ? 'Now the plane\'s default. Empty: the plane\'s default.'
					: 'Empty: the plane\'s default.' },
		],
		initial: {
			display_name: g.display_name, default_base_domain: g.default_base_domain || '',
			jwt_lifetime_seconds: g.jwt_lifetime_default ? '' : g.jwt_lifetime_seconds,
		},
		submit: 'Save',
		onSubmit: async (v) => {
			await api.put('/settings/general', {
				display_name: v.display_name,
				default_base_domain: orNull(v.default_base_domain),
				jwt_lifetime_seconds: v.jwt_lifetime_seconds === undefined ? null : v.jwt_lifetime_seconds,
			});
			ui.toast('Settings saved', { kind: 'success' });
		},
	})];
}

async function smtp(ctx) {
	const s = await api.get('/settings/smtp');
	return [
		h('p', {}, s.configured ? 'E-mail alert channels send through this server.'
			: 'Not configured: e-mail alert channels go through the plane\'s own mail server.'),
		ui.form({
			fields: [
				{ name: 'host', label: 'Host', required: true, placeholder: 'smtp.example.com' },
				{ name: 'port', label: 'Port', type: 'number', min: 1, max: 65535, required: true },
				{ name: 'tls_mode', label: 'TLS', type: 'select', required: true,
					options: [['starttls', 'STARTTLS (usually port 587)'], ['tls', 'Implicit TLS (usually port 465)'],
						['none', 'None (no user or password allowed)']] },
				{ name: 'user', label: 'User', autocomplete: 'off' },
				{ name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password',
					help: s.password_set ? 'A password is stored and never shown. Empty: keep it.' : 'Not set.' },
				...(s.password_set ? [{ name: 'remove_password', label: 'Remove the stored password', type: 'checkbox' }] : []),
				{ name: 'from', label: 'From address', type: 'email', required: true },
			],
			initial: {
				host: s.host || '', port: s.port || 587, tls_mode: s.tls_mode || 'starttls',
				user: s.username || '', from: s.from || '',
			},
			submit: 'Save',
			onSubmit: async (v) => {
				const body = { host: v.host, port: Number(v.port), tls_mode: v.tls_mode, user: orNull(v.user), from: v.from };
				if (v.remove_password)
					body.password = null;
				else if (v.password)
					body.password = v.password;
				await api.put('/settings/smtp', body);
				ui.toast('SMTP settings saved', { kind: 'success' });
			},
		}),
	];
}

const EXPIRY = [['', 'Never'], ['7', 'In 7 days'], ['30', 'In 30 days'], ['90', 'In 90 days'], ['365', 'In a year']];

async function serviceKeys(ctx) {
	const admin = ctx.can('tenant_admin');
	const projects = { items: await ui.all('/projects') };
	const pname = new Map(projects.items.map((p) => [p.id, p.name]));
	const slot = h('div');
	const shown = h('div', { class: 'admin-key-once', role: 'region', 'aria-label': 'New key', hidden: true });

	function show() {
		replace(slot, ui.listView({
			path: '/settings/service-keys',
			columns: [
				{ label: 'Name', value: (k) => k.name },
				{ label: 'Key', value: (k) => h('code', {}, k.prefix + '…') },
				{ label: 'Scopes', value: (k) => k.scopes.join(', ') },
				{ label: 'Project', value: (k) => (k.project_id ? pname.get(k.project_id) || k.project_id : 'All') },
				{ label: 'Expires', value: (k) => (k.expires_at ? ui.time(k.expires_at) : 'Never') },
				{ label: 'Last used', value: (k) => (k.last_used_at ? ui.time(k.last_used_at) : 'Never') },
				{ label: 'Actions', value: (k) => ui.button('Revoke', async () => {
					const ok = await ui.confirm({ title: 'Revoke service key',
						body: 'Revoke ' + k.name + '? Whatever uses it is refused at once.', confirm: 'Revoke', danger: true });
					if (!ok)
						return;
					await api.del('/settings/service-keys/' + k.id);
					ui.toast(k.name + ' revoked', { kind: 'success' });
					show();
				}, { kind: 'danger' }) },
			],
			empty: { text: 'No service keys yet.' },
		}));
	}

	const scopes = ['read', 'write', 'deploy', ...(admin ? ['admin'] : [])];
	const form = ui.form({
		fields: [
			{ name: 'name', label: 'Name', required: true, autocomplete: 'off', placeholder: 'ci-deploy' },
			...scopes.map((s) => ({ name: 'scope_' + s, label: 'Scope: ' + s, type: 'checkbox' })),
			{ name: 'project_id', label: 'Project', type: 'select',
				options: [['', 'All projects'], ...projects.items.map((p) => [p.id, p.name])] },
			{ name: 'expires', label: 'Expires', type: 'select', options: EXPIRY },
		],
		initial: { scope_read: true, scope_write: true, scope_deploy: true, project_id: '', expires: '' },
		submit: 'Create',
		onSubmit: async (v) => {
			const body = { name: v.name, scopes: scopes.filter((s) => v['scope_' + s]), project_id: orNull(v.project_id) };
			if (v.expires)
				body.expires_at = new Date(Date.now() + Number(v.expires) * 86400e3).toISOString().replace(/\.\d+Z$/, 'Z');
			const k = await api.post('/settings/service-keys', body);
			form.reset();
			replace(shown,
				h('h3', {}, 'Your new key ' + k.name),
				h('p', {}, 'Copy it now: it is shown only this once. Send it as the x-lnchr-key header.'),
				h('p', {}, 'Key: ', h('code', { class: 'admin-mono admin-key' }, k.key), ' ', ui.copy(k.key)),
				ui.button('Done', async () => {
					shown.hidden = true;
					replace(shown);
				}, { kind: 'plain' }));
			shown.hidden = false;
			shown.querySelector('button')?.focus();
			show();
		},
	});
	show();
	return [
		h('p', {}, admin ? 'Every key of the workspace. A key acts as the user who made it, within its scopes.'
			: 'Your keys. A key acts as you, within its scopes.'),
		shown,
		slot,
		ui.section('Create a service key', form),
	];
}

async function users(ctx) {
	const superadmin = ctx.can('superadmin');
	const roles = [['user', 'User'], ['admin', 'Admin'], ...(superadmin ? [['superadmin', 'Superadmin']] : [])];
	const slot = h('div');
	const me = session.user && session.user.id;

	function roleCell(u) {
		if (u.id === me || (u.role === 'superadmin' && !superadmin))
			return ui.status(u.role);
		return ui.selectSaving({
			label: 'Role of ' + u.email, value: u.role, options: roles,
			save: async (role) => (u.role = (await api.put('/users/' + u.id, { role })).role),
			done: (role) => ui.toast(u.email + ' is now ' + role, { kind: 'success' }),
		});
	}

	function show() {
		replace(slot, ui.listView({
			path: '/users',
			columns: [
				{ label: 'E-mail', value: (u) => u.email },
				{ label: 'Name', value: (u) => [u.first_name, u.last_name].filter(Boolean).join(' ') || '—' },
				{ label: 'Role', value: roleCell },
				{ label: 'Status', value: (u) => ui.status(!u.active ? 'deactivated' : u.must_reset_password ? 'no password yet' : 'active') },
				{ label: 'Since', value: (u) => ui.time(u.created_at) },
				{ label: 'Actions', value: (u) => (u.id === me ? '' : u.active
					? ui.button('Deactivate', async () => {
						const ok = await ui.confirm({ title: 'Deactivate user',
							body: 'Deactivate ' + u.email + '? Their sessions end at once; their history stays.',
							confirm: 'Deactivate', danger: true });
						if (!ok)
							return;
						await api.del('/users/' + u.id);
						ui.toast(u.email + ' deactivated', { kind: 'success' });
						show();
					}, { kind: 'danger' })
					: ui.button('Reactivate', async () => {
						await api.put('/users/' + u.id, { active: true });
						ui.toast(u.email + ' reactivated', { kind: 'success' });
						show();
					}, { kind: 'plain' })) },
			],
			empty: { text: 'No users.' },
		}));
	}
	const form = ui.form({
		fields: [
			{ name: 'email', label: 'E-mail', type: 'email', required: true, autocomplete: 'off' },
			{ name: 'first_name', label: 'First name' },
			{ name: 'last_name', label: 'Last name' },
			{ name: 'role', label: 'Role', type: 'select', options: roles },
		],
		initial: { role: 'user' },
		submit: 'Create',
		onSubmit: async (v) => {
			const u = await api.post('/users', v);
			ui.toast(u.email + ' created: they sign in with a code sent by e-mail, then set a password',
				{ kind: 'success' });
			form.reset();
			show();
		},
	});
	show();
	return [slot, ui.section('Add a user', form)];
}

async function backupDestinations(ctx) {
	return resourceTab(ctx, {
		path: '/settings/backup-destinations',
		noun: 'backup destination',
		intro: 'Where backups of databases, volumes and buckets are written. The keys are never shown again.',
		columns: [
			{ label: 'Name', value: (d) => d.name },
			{ label: 'Provider', value: (d) => d.provider },
			{ label: 'Bucket or path', value: (d) => d.bucket || d.path || '—' },
			{ label: 'Endpoint', value: (d) => d.endpoint || d.region || '—' },
			{ label: 'Credentials', value: (d) => (d.has_credentials ? 'set (…' + (d.access_key_hint || '') + ')' : 'none') },
		],
		fields: [
			{ name: 'name', label: 'Name', required: true, help: 'Lower-case letters, digits, space, ".", "_", "-".' },
			{ name: 'provider', label: 'Provider', type: 'select', required: true,
				options: [['s3', 'Amazon S3'], ['r2', 'Cloudflare R2'], ['backblaze', 'Backblaze B2'], ['minio', 'MinIO'],
					['custom', 'Other S3-compatible'], ['local', 'A directory on the server']] },
			{ name: 'bucket', label: 'Bucket', help: 'Every provider but "directory".' },
			{ name: 'region', label: 'Region', help: 'S3 and Backblaze.' },
			{ name: 'endpoint', label: 'Endpoint', placeholder: 'https://minio.example.com:9000', help: 'MinIO and other.' },
			{ name: 'account_id', label: 'Account id', help: 'Cloudflare R2.' },
			{ name: 'path', label: 'Path', help: 'A prefix in the bucket; for a directory, the directory.' },
			{ name: 'access_key', label: 'Access key', autocomplete: 'off' },
			{ name: 'secret_key', label: 'Secret key', type: 'password', autocomplete: 'new-password' },
		],
		initial: { provider: 's3' },
		body: (v) => {
			const b = { name: v.name, provider: v.provider };
			for (const f of ['bucket', 'region', 'endpoint', 'account_id', 'path', 'access_key', 'secret_key'])
				b[f] = orNull(v[f]);
			return b;
		},
		describe: (r) => (r && r.steps ? r.steps.map((s) => s.step + ' ' + (s.ok ? 'ok' : s.error || 'failed')).join(', ') : ''),
	});
}

async function registries(ctx) {
	return resourceTab(ctx, {
		path: '/registries',
		noun: 'registry',
		intro: 'Private container registries applications pull their images from. Passwords are never shown again.',
		columns: [
			{ label: 'Name', value: (r) => r.name },
			{ label: 'Type', value: (r) => r.type },
			{ label: 'URL', value: (r) => r.url },
			{ label: 'User', value: (r) => r.username || '—' },
			{ label: 'Password', value: (r) => (r.password_set ? 'set' : 'none') },
		],
		fields: [
			{ name: 'name', label: 'Name', required: true },
			{ name: 'type', label: 'Type', type: 'select', required: true,
				options: [['docker_hub', 'Docker Hub'], ['ghcr', 'GitHub (ghcr.io)'], ['gitlab', 'GitLab'], ['custom', 'Other']] },
			{ name: 'url', label: 'URL', placeholder: 'https://registry.example.com', help: 'Required for "Other".' },
			{ name: 'username', label: 'User', autocomplete: 'off' },
			{ name: 'password', label: 'Password or token', type: 'password', autocomplete: 'new-password' },
		],
		initial: { type: 'docker_hub' },
		body: (v) => ({ name: v.name, type: v.type, url: orNull(v.url), username: orNull(v.username), password: orNull(v.password) }),
		describe: (r) => (r ? r.message : ''),
	});
}

async function gitProviders(ctx) {
	return resourceTab(ctx, {
		path: '/git-providers',
		noun: 'git provider',
		intro: 'Tokens to clone private repositories and register push webhooks. Tokens are never shown again.',
		columns: [
			{ label: 'Name', value: (g) => g.name },
			{ label: 'Type', value: (g) => g.type },
			{ label: 'Address', value: (g) => g.base_url || 'public service' },
			{ label: 'User', value: (g) => g.username || '—' },
			{ label: 'Applications', value: (g) => String(g.applications) },
		],
		fields: [
			{ name: 'name', label: 'Name', required: true },
			{ name: 'type', label: 'Type', type: 'select', required: true,
				options: [['github', 'GitHub'], ['gitlab', 'GitLab'], ['bitbucket', 'Bitbucket']] },
			{ name: 'base_url', label: 'Address of a self-hosted instance', placeholder: 'https://git.example.com' },
			{ name: 'username', label: 'User', autocomplete: 'off' },
			{ name: 'token', label: 'Token', type: 'password', required: true, autocomplete: 'new-password' },
		],
		initial: { type: 'github' },
		body: (v) => ({ name: v.name, type: v.type, base_url: orNull(v.base_url), username: orNull(v.username), token: v.token }),
		describe: (r) => (r && r.login ? 'the token is ' + r.login : ''),
	});
}

export default async function page(ctx) {
	ctx.title('Settings');
	const admin = ctx.can('tenant_admin');
	const visible = TABS.filter((t) => admin || !t.admin);
	const want = ctx.params.tab || visible[0].tab;
	const tab = visible.find((t) => t.tab === want);
	const nav = ui.tabs(visible.map((t) => ({ label: t.label, path: '/settings/' + t.tab })), '/settings/' + want);
	const header = ui.pageHeader('Settings', { sub: 'Workspace ' + (session.tenant || '') });
	if (!tab) {
		replace(ctx.main, header, nav, ui.empty(TABS.some((t) => t.tab === want)
			? 'Only workspace administrators can use this tab.' : 'No such settings tab.'));
		return;
	}
	let body;
	try {
		body = await tab.render(ctx);
	} catch (err) {
		body = [ui.showError(err)];
	}
	replace(ctx.main, header, nav, h('div', { class: 'admin-tab' }, body));
}
