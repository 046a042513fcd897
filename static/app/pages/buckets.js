// Buckets of a project (API.md §6): the list with a create form, and one
// bucket's page: its state, its S3 credentials behind Reveal (write, as the
// API requires), key rotation, its objects page by page, a presigned
// download link, and delete (force only after the store refused a non-empty
// bucket and the user confirmed again).
import { h, replace } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api } from '../core/api.js';
import { navigate, reload } from '../core/router.js';

export default async function page(ctx) {
	if (ctx.params.id)
		return detail(ctx);
	return list(ctx);
}

const base = (ctx) => '/p/' + ctx.params.pid + '/buckets';

async function serverOptions() {
	// The tenant's servers for the placement select; the default ('') lets
	// the API choose the project's default server.
	const servers = await ui.all('/servers').catch(() => []);
	return [['', 'Project default'], ...servers.map((s) => [s.id, s.name])];
}

async function openCreate(ctx) {
	const servers = await serverOptions();
	const dlg = ui.dialog({
		title: 'Create bucket',
		body: ui.form({
			fields: [
				{ name: 'name', label: 'Name', required: true, help: '3 to 63 of a-z, 0-9, "." and "-"' },
				{ name: 'public', label: 'Public (objects readable without a key)', type: 'checkbox' },
				{ name: 'server_id', label: 'Server', type: 'select', options: servers },
			],
			submit: 'Create',
			onSubmit: async (v) => {
				const b = await api.post('/buckets', {
					project_id: ctx.params.pid, name: v.name, public: !!v.public,
					server_id: v.server_id || null,
				});
				dlg.close();
				ui.toast('Bucket ' + b.name + ' created', { kind: 'success' });
				navigate(base(ctx) + '/' + b.id);
			},
			cancel: () => dlg.close(),
		}),
	});
}

async function list(ctx) {
	ctx.title('Buckets');
	const create = ui.button('Create bucket', () => openCreate(ctx), { kind: 'primary', cap: 'write', ctx });
	ctx.main.append(
		ui.pageHeader('Buckets', {
			crumbs: [['Projects', '/projects'], [ctx.project ? ctx.project.name : 'Project', '/p/' + ctx.params.pid]],
			actions: [create],
		}),
		ui.listView({
			path: '/buckets',
			query: { projectId: ctx.params.pid },
			columns: [
				{ label: 'Name', value: (b) => b.name },
				{ label: 'Status', value: (b) => ui.status(b.status) },
				{ label: 'Access', value: (b) => (b.public ? 'public' : 'private') },
				{ label: 'Created', value: (b) => ui.time(b.created_at) },
			],
			rowHref: (b) => base(ctx) + '/' + b.id,
			empty: { text: 'No buckets in this project yet.', action: create && ui.button('Create bucket', () => openCreate(ctx), { kind: 'primary' }) },
		}),
	);
}

function credentials(ctx, b) {
	const box = h('div', { class: 'more-creds' });
	const reveal = ui.button('Reveal credentials', async () => {
		const c = await api.get('/buckets/' + b.id + '/credentials');
		replace(box, ui.dl([
			['Endpoint', h('span', null, c.endpoint, ' ', ui.copy(c.endpoint))],
			['Bucket name', h('span', null, c.bucket_name, ' ', ui.copy(c.bucket_name))],
			['Region', c.region],
			['Access key', h('span', null, c.access_key, ' ', ui.copy(c.access_key))],
			['Secret key', ui.secret(c.secret_key, { label: 'Secret key' })],
		]));
	}, { cap: 'write', ctx });
	replace(box, reveal || h('p', { class: 'muted' }, 'Revealing the credentials needs the project admin role.'));
	return box;
}

function objects(ctx, b, presignKey) {
	const prefix = h('input', { id: 'more-prefix', type: 'search', name: 'prefix', placeholder: 'photos/' });
	const holder = h('div');
	const show = () => replace(holder, ui.listView({
		load: async (cursor) => {
			const q = { limit: 50 };
			if (prefix.value)
				q.prefix = prefix.value;
			if (cursor)
				q.cursor = cursor;
			const page = await api.get('/buckets/' + b.id + '/objects', q);
			if (!page || !Array.isArray(page.objects))
				throw new Error('The store is slow to answer; try again in a moment.');
			return { items: page.objects, next: page.next_cursor };
		},
		columns: [
			{ label: 'Key', value: (o) => o.key },
			{ label: 'Size', value: (o) => ui.bytes(o.size) },
			{ label: 'Modified', value: (o) => ui.time(o.last_modified) },
			{ label: 'Link', value: (o) => ui.button('Download link', () => presignKey(o.key), { kind: 'plain' }) },
		],
		empty: { text: prefix.value ? 'No object key begins with that prefix.' : 'This bucket is empty.' },
	}));
	const filter = h('form', { class: 'more-filter', role: 'search', on: { submit: (e) => { e.preventDefault(); show(); } } },
		h('label', { for: 'more-prefix' }, 'Key prefix'), prefix, h('button', { type: 'submit', class: 'btn' }, 'Filter'));
	show();
	return ui.section('Objects', filter, holder);
}

function presign(b) {
	const out = h('div', { 'aria-live': 'polite' });
	const frm = ui.form({
		fields: [
			{ name: 'key', label: 'Object key', required: true },
			{ name: 'expires_in', label: 'Expires in (seconds)', type: 'number', min: 1, max: 604800 },
		],
		initial: { expires_in: 3600 },
		submit: 'Presign',
		onSubmit: async (v) => {
			const r = await api.post('/buckets/' + b.id + '/presign', {
				key: v.key, method: 'GET', expires_in: Number(v.expires_in) || 3600,
			});
			replace(out, h('p', null, h('a', { href: r.url, rel: 'noopener noreferrer', target: '_blank', class: 'more-url' }, r.url),
				' ', ui.copy(r.url), ' ', h('span', { class: 'muted' }, 'expires '), ui.time(r.expires_at)));
		},
	});
	const sec = ui.section('Download link', frm, out);
	// Fill the key from an object row and submit, so "Download link" on a row
	// gives the link at once.
	sec.fill = (key) => {
		const input = frm.input('key');
		input.value = key;
		frm.requestSubmit();
		input.focus();
	};
	return sec;
}

async function remove(ctx, b) {
	if (!await ui.confirm({ title: 'Delete bucket ' + b.name + '?', body: 'Its key stops working. This cannot be undone.', confirm: 'Delete', danger: true, typeToConfirm: b.name }))
		return;
	const path = '/buckets/' + b.id;
	let answer;
	try {
		answer = await api.del(path);
	} catch (err) {
		if (err.status !== 409)
			throw err;
		// The store refuses a non-empty bucket: say why, and offer force.
		if (!await ui.confirm({ title: 'Delete its objects too?', body: err.message + '. Delete every object in ' + b.name + ' and then the bucket?', confirm: 'Delete', danger: true }))
			return;
		answer = (await api.raw('DELETE', path, { query: { force: 'true' } })).data;
	}
	// Past the API's wait the store is still at it (202 with the job).
	ui.toast(answer && answer.job ? 'Bucket ' + b.name + ' is being deleted' : 'Bucket ' + b.name + ' deleted', { kind: 'success' });
	navigate(base(ctx));
}

async function detail(ctx) {
	let b;
	try {
		b = await api.get('/buckets/' + ctx.params.id);
	} catch (err) {
		ctx.title('Bucket');
		ctx.main.append(ui.pageHeader('Bucket', { crumbs: [['Buckets', base(ctx)]] }), ui.showError(err));
		return;
	}
	ctx.title(b.name);
	const rotate = ui.button('Rotate credentials', async () => {
		if (!await ui.confirm({ title: 'Rotate the credentials of ' + b.name + '?', body: 'A new key is made. The old one keeps working until every application that uses it has deployed again.', confirm: 'Rotate' }))
			return;
		await api.post('/buckets/' + b.id + '/rotate-credentials');
		ui.toast('A new key is being made; reveal again in a moment.', { kind: 'success' });
	}, { cap: 'write', ctx, busy: 'Rotating…' });
	const access = ui.button(b.public ? 'Make private' : 'Make public', async () => {
		if (!await ui.confirm({ title: 'Make ' + b.name + (b.public ? ' private?' : ' public?'),
			body: b.public ? 'Its objects will need a key or a presigned link again.' : 'Anybody will be able to read its objects at its public URL, without a key.',
			confirm: b.public ? 'Make private' : 'Make public', danger: !b.public }))
			return;
		await api.put('/buckets/' + b.id, { public: !b.public });
		reload();
	}, { cap: 'write', ctx });
	const del = ui.button('Delete', () => remove(ctx, b), { kind: 'danger', cap: 'write', ctx, busy: 'Deleting…' });
	const ps = presign(b);
	const ready_ = b.status === 'ready';
	ctx.main.append(
		ui.pageHeader(b.name, {
			crumbs: [[ctx.project ? ctx.project.name : 'Project', '/p/' + ctx.params.pid], ['Buckets', base(ctx)]],
			actions: [access, rotate, del],
			sub: b.bucket_name,
		}),
		ui.dl([
			['Status', h('span', null, ui.status(b.status), b.status_reason ? ' ' + b.status_reason : '')],
			['Access', b.public ? 'public' : 'private'],
			['Public URL', b.url ? h('span', null, b.url, ' ', ui.copy(b.url)) : '—'],
			['Endpoint', b.endpoint || '—'],
			['Region', b.region || '—'],
			['Reference', '${bucket.' + b.name + '.endpoint}'],
			['Created', ui.time(b.created_at)],
		]),
		ui.section('Credentials',
			ready_ ? credentials(ctx, b) : h('p', { class: 'muted' }, 'Available once the bucket is ready.')),
	);
	if (ready_)
		ctx.main.append(objects(ctx, b, (key) => ps.fill(key)), ps);
	// A bucket on its way (provisioning, deleting): show it again once the
	// store is done with it.
	if (b.status === 'provisioning' || b.status === 'deleting') {
		ui.poll(() => api.get('/buckets/' + b.id, undefined, { signal: ctx.signal }), (x) => x.status !== b.status,
			{ signal: ctx.signal, interval: 3000 })
			.then(() => reload(), (err) => { if (err.name !== 'AbortError') ui.toastError(err); });
	}
}
