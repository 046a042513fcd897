// /p/:pid/settings — the project's fields, its environments, its error
// tracking (DSNs, ingest quota, key rotation) and its deletion (API.md §2,
// §17).  Write controls only for ctx.can('write'); deletion only for the
// owner, confirmed by typing the project's name.
import { h, replace } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api } from '../core/api.js';
import { navigate } from '../core/router.js';

function projectSection(ctx) {
	const p = ctx.project;
	if (!ctx.can('write')) {
		return ui.section('Project', ui.dl([
			['Name', p.name], ['Display name', p.display_name], ['Description', p.description || '—'],
			['Colour', p.color || '—'],
			['Automatic error tracking', p.auto_error_tracking_enabled ? 'On' : 'Off'],
		]));
	}
	return ui.section('Project', ui.form({
		fields: [
			{ name: 'name', label: 'Name', required: true, autocomplete: 'off',
				help: 'Lower-case letters, digits and "-"; part of the applications\' default hostnames.' },
			{ name: 'display_name', label: 'Display name', keepEmpty: true },
			{ name: 'description', label: 'Description', type: 'textarea', rows: 3, keepEmpty: true },
			{ name: 'color', label: 'Colour', placeholder: '#1a2b3c', help: '"#" and 6 hex digits; empty for none.' },
			{ name: 'auto_error_tracking_enabled', label: 'Give applications their error tracking DSN (SENTRY_DSN) at deploy',
				type: 'checkbox' },
		],
		initial: {
			name: p.name, display_name: p.display_name, description: p.description || '',
			color: p.color || '', auto_error_tracking_enabled: !!p.auto_error_tracking_enabled,
		},
		submit: 'Save',
		onSubmit: async (v) => {
			const got = await api.put('/projects/' + p.id, {
				name: v.name, display_name: v.display_name, description: v.description,
				color: v.color || null,
				auto_error_tracking_enabled: !!v.auto_error_tracking_enabled,
			});
			Object.assign(p, got);
			ui.toast('Project saved', { kind: 'success' });
		},
	}));
}

function environmentsSection(ctx) {
	const p = ctx.project;
	const base = '/projects/' + p.id + '/environments';
	const slot = h('div');

	function rename(env) {
		const d = ui.dialog({
			title: 'Rename ' + env.name,
			body: ui.form({
				fields: [{ name: 'name', label: 'Name', required: true, autocomplete: 'off' }],
				initial: { name: env.name },
				submit: 'Save',
				cancel: () => d.close(),
				onSubmit: async (v) => {
					await api.put(base + '/' + env.id, { name: v.name });
					d.close();
					ui.toast('Environment renamed to ' + v.name, { kind: 'success' });
					show();
				},
			}),
		});
	}

	function show() {
		replace(slot, ui.listView({
			path: base,
			columns: [
				{ label: 'Name', value: (e) => e.name },
				{ label: 'Default', value: (e) => (e.is_default ? ui.status('default') : '') },
				{ label: 'Created', value: (e) => ui.time(e.created_at) },
				...(ctx.can('write') ? [{ label: 'Actions', value: (e) => h('span', { class: 'row-actions' },
					ui.button('Rename', async () => rename(e), { kind: 'plain', cap: 'write', ctx }),
					e.is_default ? null : ui.button('Delete', async () => {
						const ok = await ui.confirm({
							title: 'Delete environment',
							body: 'Delete the environment ' + e.name + '? An environment that still has resources cannot be deleted.',
							confirm: 'Delete', danger: true,
						});
						if (!ok)
							return;
						await api.del(base + '/' + e.id);	// a 409 (resources left) goes to the toast
						ui.toast('Environment ' + e.name + ' deleted', { kind: 'success' });
						show();
					}, { kind: 'danger', cap: 'write', ctx })) }] : []),
			],
			empty: { text: 'No environments.' },
		}));
	}

	const parts = [slot];
	if (ctx.can('write')) {
		const form = ui.form({
			fields: [{ name: 'name', label: 'New environment', required: true, autocomplete: 'off', placeholder: 'preview' }],
			submit: 'Create',
			onSubmit: async (v) => {
				const env = await api.post(base, { name: v.name });
				ui.toast('Environment ' + env.name + ' created', { kind: 'success' });
				form.reset();
				show();
			},
		});
		parts.push(h('div', { class: 'admin-inline-form' }, form));
	}
	show();
	return ui.section('Environments', ...parts);
}

function errorTrackingSection(ctx) {
	const p = ctx.project;
	const path = '/projects/' + p.id + '/error-tracking';
	const slot = h('div', {}, ui.loading('Loading error tracking…'));

	function render(et) {
		const parts = [
			ui.dl([
				['Project DSN', h('span', { class: 'admin-mono' }, et.dsn, ' ', ui.copy(et.dsn))],
				['Events per minute', String(et.rate_limit_per_minute)],
				['Automatic DSN at deploy', et.auto_error_tracking_enabled ? 'On' : 'Off'],
			]),
		];
		if (et.applications && et.applications.length) {
			parts.push(h('table', { class: 'table' },
				h('caption', {}, 'Application DSNs'),
				h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Application'), h('th', { scope: 'col' }, 'DSN'))),
				h('tbody', {}, et.applications.map((a) => h('tr', {},
					h('td', {}, a.name), h('td', { class: 'admin-mono' }, a.dsn, ' ', ui.copy(a.dsn)))))));
		}
		if (ctx.can('write')) {
			parts.push(ui.form({
				fields: [{ name: 'rate_limit_per_minute', label: 'Events per minute (all DSNs together; 0 turns ingest off)',
					type: 'number', min: 0, max: 1000000, required: true }],
				initial: { rate_limit_per_minute: et.rate_limit_per_minute },
				submit: 'Save',
				onSubmit: async (v) => {
					const got = await api.put(path, { rate_limit_per_minute: Number(v.rate_limit_per_minute) });
					ui.toast('Ingest quota saved', { kind: 'success' });
					render(got);
				},
			}));
			parts.push(h('p', {}, ui.button('Rotate keys', async () => {
				const ok = await ui.confirm({
					title: 'Rotate the DSN keys',
					body: 'Every DSN of the project gets a new key at once; the old keys are refused from now on, '
						+ 'so running applications lose their events until they are redeployed.',
					confirm: 'Rotate keys', danger: true,
				});
				if (!ok)
					return;
				render(await api.put(path, { rotate_key: true }));
				ui.toast('DSN keys rotated', { kind: 'success' });
			}, { kind: 'danger', cap: 'write', ctx })));
		}
		replace(slot, parts);
	}

	const first = api.get(path).then(render, (err) => replace(slot, ui.showError(err)));
	return { el: ui.section('Error tracking', slot), first };
}

function deleteSection(ctx) {
	const p = ctx.project;
	return ui.section('Delete the project',
		h('p', {}, 'Deleting the project deletes everything in it: applications, databases, volumes, '
			+ 'buckets, functions and their data. It cannot be undone.'),
		ui.button('Delete project', async () => {
			const ok = await ui.confirm({
				title: 'Delete ' + p.name,
				body: 'Everything in the project is deleted, with its data. Type the project\'s name to confirm.',
				confirm: 'Delete', danger: true, typeToConfirm: p.name,
			});
			if (!ok)
				return;
			await api.del('/projects/' + p.id);
			ui.toast('Project ' + p.name + ' deleted', { kind: 'success' });
			navigate('/projects');
		}, { kind: 'danger', cap: 'own', ctx }));
}

export default async function page(ctx) {
	const p = ctx.project;
	ctx.title('Project settings');
	const et = errorTrackingSection(ctx);
	replace(ctx.main,
		ui.pageHeader('Settings', { crumbs: [['Projects', '/projects'], [p.display_name || p.name, '/p/' + p.id]] }),
		projectSection(ctx),
		environmentsSection(ctx),
		et.el,
		ctx.can('own') ? deleteSection(ctx) : null);
	await et.first;
}
