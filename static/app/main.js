// Boot: the shell (header, navigation, main landmark) and the router.
import { h, replace } from './core/dom.js';
import { api, session } from './core/api.js';
import { start, href, navigate, currentPath } from './core/router.js';
import { can } from './core/perm.js';

const GLOBAL_NAV = [
	['projects', 'Projects', '/projects'],
	['servers', 'Servers', '/servers'],
	['templates', 'Templates', '/templates'],
	['monitoring', 'Monitoring', '/monitoring'],
	['alerts', 'Alerts', '/alerts'],
	['notifications', 'Notifications', '/notifications'],
	['settings', 'Settings', '/settings'],
	['audit', 'Audit log', '/audit-log', 'tenant_admin'],
];

const PROJECT_NAV = [
	['overview', 'Overview', ''],
	['apps', 'Applications', '/apps'],
	['databases', 'Databases', '/databases'],
	['buckets', 'Buckets', '/buckets'],
	['functions', 'Functions', '/functions'],
	['volumes', 'Volumes', '/volumes'],
	['issues', 'Issues', '/issues'],
	['members', 'Members', '/members'],
	['psettings', 'Settings', '/settings'],
];

const main = h('main', { id: 'main', tabindex: '-1' });
const nav = h('nav', { id: 'nav', class: 'nav', 'aria-label': 'Main' });
const bellSlot = h('div', { class: 'bell-slot' });
const userSlot = h('div', { class: 'user-slot' });
const menuBtn = h('button', {
	type: 'button', class: 'btn btn-plain menu-btn', 'aria-expanded': 'false', 'aria-controls': 'nav',
}, 'Menu');
const searchBtn = h('button', { type: 'button', class: 'btn btn-plain search-btn', 'aria-keyshortcuts': '/ Control+K' },
	'Search', h('kbd', { 'aria-hidden': 'true' }, '/'));
const skip = h('a', { class: 'skip', href: '#main' }, 'Skip to content');
skip.addEventListener('click', (ev) => {
	ev.preventDefault();
	main.focus();
});
const header = h('header', { class: 'topbar' },
	skip, menuBtn,
	h('a', { class: 'brand', href: href('/projects'), 'aria-label': 'Launcher: projects' }, h('img', { src: '/app/icon.svg', alt: '', width: '24', height: '24' }), 'Launcher'),
	h('div', { class: 'topbar-right' }, searchBtn, bellSlot, userSlot));
const shell = h('div', { class: 'shell' }, nav, main);

function closeMenu() {
	document.body.classList.remove('menu-open');
	menuBtn.setAttribute('aria-expanded', 'false');
}
menuBtn.addEventListener('click', () => {
	const open = !document.body.classList.contains('menu-open');
	document.body.classList.toggle('menu-open', open);
	menuBtn.setAttribute('aria-expanded', String(open));
});

function openPalette() {
	if (!session.signedIn())
		return;
	import('./widgets/palette.js').then(m => m.open()).catch(e => console.warn('palette', e));
}
searchBtn.addEventListener('click', openPalette);
document.addEventListener('keydown', (ev) => {
	const t = ev.target;
	const typing = t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName) ||
		(t.closest && t.closest('.xterm')));
	if (ev.key === 'Escape' && document.body.classList.contains('menu-open')) {
		closeMenu();
		menuBtn.focus();
	} else if ((ev.key === 'k' || ev.key === 'K') && (ev.ctrlKey || ev.metaKey)) {
		ev.preventDefault();
		openPalette();
	} else if (ev.key === '/' && !typing && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
		ev.preventDefault();
		openPalette();
	}
});

function navLink(key, label, path, active) {
	return h('li', {}, h('a', { href: href(path), 'aria-current': key === active ? 'page' : null }, label));
}

function drawNav(ctx, route) {
	const active = route && route.nav;
	const signed = session.signedIn();
	header.hidden = false;
	nav.hidden = !signed;
	searchBtn.hidden = !signed;
	document.body.classList.toggle('signed-out', !signed);
	if (!signed) {
		replace(nav);
		return;
	}
	const p = ctx && ctx.project;
	replace(nav,
		p ? h('div', { class: 'nav-group' },
			h('p', { class: 'nav-heading nav-project' }, h('span', { class: 'sr-only' }, 'Project '), p.display_name || p.name),
			h('ul', {}, PROJECT_NAV.map(([k, l, s]) => navLink(k, l, '/p/' + p.id + s, active)))) : null,
		h('div', { class: 'nav-group' },
			p ? h('p', { class: 'nav-heading' }, 'Workspace') : null,
			h('ul', {}, GLOBAL_NAV.filter(([, , , cap]) => !cap || can(null, cap))
				.map(([k, l, path]) => navLink(k, l, path, p ? null : active)))));
}

function drawUser() {
	if (!session.signedIn()) {
		replace(userSlot);
		replace(bellSlot);
		return;
	}
	const u = session.user || {};
	const out = h('button', { type: 'button', class: 'btn btn-plain' }, 'Sign out');
	out.addEventListener('click', async () => {
		await api.signOut();
	});
	replace(userSlot, h('a', { class: 'user-name', href: href('/account') },
		h('span', { class: 'sr-only' }, 'Account: '), u.first_name || u.email || 'Account'), out);
	import('./widgets/bell.js').then(m => m.mount(bellSlot)).catch(() => replace(bellSlot));
}

let lastCtx = null;
let lastRoute = null;
session.onChange((why) => {
	drawUser();
	drawNav(lastCtx, lastRoute);
	if (why === 'expired') {
		const here = currentPath();
		navigate('/signin?expired=1&next=' + encodeURIComponent(here.startsWith('/signin') ? '/projects' : here));
	} else if (why === 'signout') {
		navigate('/signin');
	}
});

replace(document.getElementById('app'), header, shell, h('div', { id: 'toasts', class: 'toasts' }));
start({
	main,
	onRoute(ctx, route) {
		lastCtx = ctx;
		lastRoute = route;
		closeMenu();
		drawNav(ctx, route);
	},
});
drawUser();
