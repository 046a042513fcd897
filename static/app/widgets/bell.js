// The header bell: a link to /notifications with the unread count, kept
// live by the `notifications` WebSocket (core/ws.js reconnects it after a
// network cut, with ?since= the last one pushed, so none is missed).  The count is always read back from GET
// /notifications/unread-count — on every (re)connection and after every
// pushed notification — so it can neither drift nor count one twice.
// New notifications are announced to screen readers (aria-live).
import { h } from '../core/dom.js';
import { api, session } from '../core/api.js';
import { stream } from '../core/ws.js';
import { href } from '../core/router.js';

const SVG = 'http://www.w3.org/2000/svg';
let state = null;	// { link, badge, live, ws, ctl } of the mounted bell

function icon() {
	const svg = document.createElementNS(SVG, 'svg');
	svg.setAttribute('viewBox', '0 0 24 24');
	svg.setAttribute('width', '20');
	svg.setAttribute('height', '20');
	svg.setAttribute('aria-hidden', 'true');
	svg.setAttribute('focusable', 'false');
	const path = document.createElementNS(SVG, 'path');
	path.setAttribute('d', 'M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1z');
	path.setAttribute('fill', 'currentColor');
	svg.append(path);
	return svg;
}

function show(count) {
	if (!state)
		return;
	state.badge.textContent = count > 99 ? '99+' : String(count);
	state.badge.hidden = count === 0;
	state.link.setAttribute('aria-label', count ? 'Notifications, ' + count + ' unread' : 'Notifications');
	state.link.dataset.count = String(count);
}

// Reads the unread count again (the notifications page calls it after
// marking read or deleting).
export async function refresh() {
	if (!state)
		return;
	const mine = state;
	try {
		const got = await api.get('/notifications/unread-count', undefined, { signal: mine.ctl.signal });
		if (state === mine)
			show(got.count);
	} catch {
		// The count stays as it was; the next push or reconnection reads it again.
	}
}

function announce(text) {
	if (!state)
		return;
	// A fresh text node each time, so the same message twice is read twice.
	state.live.textContent = '';
	state.live.append(document.createTextNode('New notification: ' + text));
}

export function unmount() {
	if (!state)
		return;
	state.ctl.abort();	// closes the stream (signal) and any count request
	state.link.remove();
	state.live.remove();
	state = null;
}

// mount(el): puts the bell into el (the header slot) for the signed-in user.
export function mount(el) {
	unmount();
	const ctl = new AbortController();
	const badge = h('span', { class: 'bell-count', 'aria-hidden': 'true', hidden: true }, '0');
	const link = h('a', { href: href('/notifications'), class: 'bell', 'aria-label': 'Notifications' }, icon(), badge);
	const live = h('div', { class: 'sr-only', 'aria-live': 'polite', 'aria-atomic': 'true' });
	el.append(link, live);
	state = { link, badge, live, ctl };
	let since = null;	// the last pushed notification: a reconnection asks for what came after it
	state.ws = stream('notifications', {
		signal: ctl.signal,
		query: () => (since ? { since } : {}),
		onState: (s) => {
			link.dataset.live = s;
			if (s === 'open')
				refresh();
		},
		onMessage: (msg) => {
			if (!msg || msg.type !== 'notification')
				return;
			since = msg.cursor || since;
			announce(msg.message);
			refresh();
		},
	});
	refresh();
	return { unmount };
}

session.onChange(() => {
	if (!session.signedIn())
		unmount();
});
