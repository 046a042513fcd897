// The env store editor of one scope (an application's variables): list, add, edit, delete,
// reveal, and the reference preview.
//
// API (API.md §9): GET /env-vars lists keys without values; GET /env-vars/:id/value reveals
// one (write; `is_secret` ones never: write-only); POST/PUT/DELETE change them (write);
// POST /env-vars/preview resolves `${db.*}`/`${VAR}` references as a deploy would (write).
// Callers without `write` (viewers, members) see masked values and no edit controls.
import { h, replace } from '../core/dom.js';
import * as ui from '../core/ui.js';
import { api } from '../core/api.js';

const MASK = '••••••••';

/**
 * envEditor({ projectId, scope, scopeId, environmentId, ctx, onChange }) -> element
 * scope: 'application' (or 'project' / 'environment'); environmentId: the environment the
 * preview resolves in; onChange(): after every successful change (e.g. to show that the
 * next deploy picks it up).
 */
export function envEditor({ projectId, scope = 'application', scopeId, environmentId, ctx, onChange }) {
	const canWrite = ctx.can('write');
	const listSlot = h('div', {});
	const previewSlot = h('div', { class: 'envedit-preview' });
	let list = null;
	const changed = () => { list.reload(); replace(previewSlot); if (onChange) onChange(); };

	function renderList() {
		list = ui.listView({
			path: '/env-vars',
			query: { projectId, scope, scopeId },
			limit: 200,
			columns: [
				{ label: 'Key', value: (v) => h('code', {}, v.key) },
				{ label: 'Value', value: (v) => valueCell(v) },
				{ label: 'Description', value: (v) => v.description || '' },
				...(canWrite ? [{ label: 'Actions', value: (v) => rowActions(v) }] : []),
			],
			empty: { text: 'No variables yet.' },
		});
		replace(listSlot, list);
	}

	function valueCell(v) {
		if (v.is_secret) return h('span', { class: 'envedit-secret', title: 'Secret: write-only' }, MASK, ' ', ui.status('secret'));
		if (!canWrite) return h('span', { 'aria-label': `${v.key}: value hidden` }, MASK);
		return ui.secret(async () => (await api.get(`/env-vars/${v.id}/value`)).value, { label: `Value of ${v.key}` });
	}

	function rowActions(v) {
		return h('span', { class: 'envedit-actions' },
			ui.button('Edit', () => editDialog(v), { kind: 'plain' }),
			ui.button('Delete', async () => {
				const ok = await ui.confirm({ title: `Delete ${v.key}?`, body: 'The next deployment runs without it.', confirm: 'Delete', danger: true });
				if (!ok) return;
				await api.del(`/env-vars/${v.id}`);
				ui.toast(`${v.key} deleted`, { kind: 'success' });
				changed();
			}, { kind: 'danger' }));
	}

	function editDialog(v) {
		const d = ui.dialog({
			title: `Edit ${v.key}`,
			body: ui.form({
				fields: [
					{ name: 'key', label: 'Key', type: 'text', required: true, autocomplete: 'off' },
					{ name: 'value', label: v.is_secret ? 'New value (the secret stays write-only)' : 'New value (empty: unchanged)', type: 'textarea', rows: 3 },
					{ name: 'is_secret', label: 'Secret (write-only)', type: 'checkbox' },
					{ name: 'description', label: 'Description', type: 'text' },
				],
				initial: { key: v.key, is_secret: v.is_secret, description: v.description || '' },
				submit: 'Save',
				cancel: () => d.close(),
				onSubmit: async (f) => {
					const body = {};
					if (f.key !== v.key) body.key = f.key;
					if (f.value) body.value = f.value;
					if (Boolean(f.is_secret) !== v.is_secret) body.is_secret = Boolean(f.is_secret);
					if ((f.description || '') !== (v.description || '')) body.description = f.description || null;
					if (Object.keys(body).length) await api.put(`/env-vars/${v.id}`, body);
					d.close();
					ui.toast(`${f.key} saved; redeploy to apply it`, { kind: 'success' });
					changed();
				},
			}),
		});
	}

	const addForm = canWrite ? h('details', { class: 'envedit-add' },
		h('summary', {}, 'Add a variable'),
		ui.form({
			fields: [
				{ name: 'key', label: 'Key', type: 'text', required: true, autocomplete: 'off', placeholder: 'DATABASE_URL' },
				{ name: 'value', label: 'Value', type: 'textarea', rows: 2, placeholder: '${db.my-postgres.url}',
					help: 'References: ${db.<name>.<property>}, ${bucket.…}, ${fn.…}, ${OTHER_VAR}; $${ for a literal ${.' },
				{ name: 'is_secret', label: 'Secret (write-only)', type: 'checkbox' },
				{ name: 'description', label: 'Description', type: 'text' },
			],
			submit: 'Add',
			onSubmit: async (f) => {
				const body = { project_id: projectId, scope, key: f.key, value: f.value || '', is_secret: Boolean(f.is_secret) };
				if (scope !== 'project') body.scope_id = scopeId;
				if (f.description) body.description = f.description;
				await api.post('/env-vars', body);
				ui.toast(`${f.key} added; redeploy to apply it`, { kind: 'success' });
				const form = addForm.querySelector('form');
				if (form) form.reset();
				changed();
			},
		})) : null;

	// The merged environment of the scope as a deploy would resolve it now.
	async function preview() {
		replace(previewSlot, ui.loading('Resolving…'));
		try {
			const env = scope === 'application' ? await api.get(`/applications/${scopeId}/env`) : {};
			const body = { project_id: projectId, environment_id: environmentId, env };
			const resolved = await api.post('/env-vars/preview', body);
			const keys = Object.keys(resolved).sort();
			replace(previewSlot, 
				h('h3', {}, 'Resolved values'),
				h('p', { class: 'muted' }, 'Project, environment and application variables merged, references resolved. Values stay hidden until revealed: a reference may carry a password.'),
				keys.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
					h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Key'), h('th', { scope: 'col' }, 'Resolves to'))),
					h('tbody', {}, keys.map((k) => h('tr', {}, h('th', { scope: 'row' }, h('code', {}, k)), h('td', {}, ui.secret(String(resolved[k]), { label: k })))))))
					: ui.empty('Nothing to resolve.'));
		} catch (e) {
			const details = (e && e.details) || [];
			replace(previewSlot, ui.showError(e),
				details.length ? h('ul', { class: 'envedit-bad' }, details.map((x) => h('li', {}, h('code', {}, x.field), `: ${x.message}`))) : null);
		}
	}

	const root = h('section', { class: 'envedit', 'aria-label': 'Environment variables' },
		canWrite ? null : h('p', { class: 'muted' }, 'Values are hidden: revealing and editing them needs the admin role.'),
		listSlot,
		addForm,
		canWrite && environmentId ? h('div', { class: 'envedit-previewbar' }, ui.button('Preview resolved values', preview, { kind: 'plain' })) : null,
		previewSlot,
	);
	renderList();
	return root;
}
