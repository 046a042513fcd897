// Projects: the list (every project the caller can see) and creating one.
import { h } from '../core/dom.js';
import { api } from '../core/api.js';
import { navigate } from '../core/router.js';
import * as ui from '../core/ui.js';

export default async function page(ctx) {
	const create = ui.button('New project', () => {
		const d = ui.dialog({
			title: 'New project',
			body: ui.form({
				submit: 'Create',
				fields: [
					{ name: 'name', label: 'Name', required: true, help: 'Lower-case letters, digits and dashes (a-z0-9-), unique in the workspace.' },
					{ name: 'display_name', label: 'Display name' },
					{ name: 'description', label: 'Description', type: 'textarea', rows: 3 },
				],
				cancel: () => d.close(),
				onSubmit: async (v) => {
					const p = await api.post('/projects', v);
					d.close();
					navigate('/p/' + p.id);
				},
			}),
		});
		d.el.querySelector('input').focus();
	}, { kind: 'primary' });
	ctx.main.append(
		ui.pageHeader('Projects', { actions: [create] }),
		ui.listView({
			path: '/projects',
			caption: 'Projects',
			columns: [
				{ label: 'Name', value: p => p.display_name || p.name },
				{ label: 'Slug', value: p => h('code', {}, p.name) },
				{ label: 'Your role', value: p => p.my_role || '' },
				{ label: 'Created', value: p => ui.time(p.created_at) },
			],
			rowHref: p => '/p/' + p.id,
			empty: { text: 'No projects yet. A project groups applications, databases and the people who work on them.' },
		}));
}
