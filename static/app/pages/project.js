// A project's overview: what is in it, its environments, where to go next.
import { h } from '../core/dom.js';
import { api } from '../core/api.js';
import { href } from '../core/router.js';
import * as ui from '../core/ui.js';

const KINDS = [
	['Applications', '/applications', '/apps'],
	['Databases', '/databases', '/databases'],
	['Buckets', '/buckets', '/buckets'],
	['Functions', '/functions', '/functions'],
	['Volumes', '/volumes', '/volumes'],
];

export default async function page(ctx) {
	const p = ctx.project;
	ctx.title(p.display_name || p.name);
	const cards = await Promise.all(KINDS.map(async ([label, path, sub]) => {
		let text;
		try {
			const pg = await api.page(path, { projectId: p.id, limit: 200 });
			text = pg.next ? '200+' : String(pg.items.length);
		} catch (e) {
			text = e.status === 403 ? '—' : '?';
		}
		return h('li', { class: 'stat' }, h('a', { href: href('/p/' + p.id + sub) },
			h('span', { class: 'stat-value' }, text), h('span', { class: 'stat-label' }, label)));
	}));
	ctx.main.append(
		ui.pageHeader(p.display_name || p.name, {
			crumbs: [['Projects', '/projects']],
			sub: p.description || null,
			actions: [
				ctx.can('write') ? h('a', { class: 'btn btn-primary', href: href('/p/' + p.id + '/apps/new') }, 'New application') : null,
			],
		}),
		h('ul', { class: 'stats' }, cards),
		ui.section('Environments',
			(p.environments && p.environments.length)
				? h('ul', { class: 'chips' }, p.environments.map(e => h('li', { class: 'chip' }, e.name, e.is_default ? ' (default)' : '')))
				: ui.empty('No environments.')),
		ui.section('About',
			ui.dl([
				['Slug', h('code', {}, p.name)],
				['Your role', p.my_role || null],
				['Created', ui.time(p.created_at)],
				['Error tracking', p.auto_error_tracking_enabled ? 'on' : 'off'],
			])));
}
