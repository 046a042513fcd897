// The live log panel (API.md §22): a deployment's build log, an application's
// or a database's runtime logs.  One WebSocket through core/ws.js: its
// backlog first, then live lines.  After a network cut ws.js reconnects (with
// backoff) and this view asks only for what follows the last line it has
// (?since=<cursor>, the stream's own resume point), and skips any row whose
// cursor it already showed, so a reconnect never duplicates a line.
//
// logView({ endpoint, query, backlog, ctx, label, max, onEvent, onState }) -> <section>
//   endpoint  'deployments/<id>/logs', 'applications/<id>/logs', ...
//   query     the stream's query ({ tail: 200 }); `since` is added on reconnect
//   backlog   async () => [{timestamp, message, ...}]: the REST read, shown
//             when the stream is refused or unavailable (no line from it)
//   ctx       the page's ctx: the stream closes when the user navigates away
//   label     the panel's accessible name ('Build log'); max: lines kept in the DOM
//   onEvent   (msg) for the stream's other messages ({"type":"status"} ...)
//   onState   (state) 'connecting' | 'live' | 'reconnecting' | 'ended' | 'closed'
import { h, replace } from '../core/dom.js';
import { stream } from '../core/ws.js';

const MAX_LINES = 2000;		// lines kept in the DOM; older ones are dropped
const STATE_TEXT = {
	connecting: 'connecting',
	live: 'live',
	reconnecting: 'reconnecting',
	ended: 'ended',
	closed: 'disconnected',
};
const FROM_WS = { connecting: 'connecting', open: 'live', retrying: 'reconnecting', ended: 'ended', closed: 'closed' };

// Whether cursor c comes after last.  A cursor is a row id, or for /ws/logs
// one id per resource joined with '.'; a row is new if any of its ids moved.
function newer(c, last) {
	if (last === null)
		return true;
	const a = String(c).split('.');
	const b = String(last).split('.');
	if (a.length !== b.length)
		return true;
	return a.some((x, i) => {
		try {
			return BigInt(x) > BigInt(b[i]);
		} catch {
			return x !== b[i];
		}
	});
}

function clock(ts) {
	const d = new Date(ts);
	if (Number.isNaN(d.getTime()))
		return null;
	return h('time', { datetime: ts, title: d.toISOString() },
		d.toISOString().slice(11, 19));
}

function lineNode(m) {
	const who = m.instance || m.resource || null;
	return h('li', {
		class: ['logline', m.stream === 'stderr' && 'logline-err'],
		dataset: m.cursor !== undefined ? { cursor: String(m.cursor) } : undefined,
	},
	m.timestamp ? clock(m.timestamp) : null,
	who ? h('span', { class: 'logline-src' }, who) : null,
	h('span', { class: 'logline-msg' }, m.message === undefined ? '' : String(m.message)));
}

function marker(text) {
	return h('li', { class: 'logline logline-marker' }, text);
}

export function logView(opts) {
	const { endpoint, query = {}, backlog = null, ctx = null, label = 'Log', max = MAX_LINES,
		onEvent = () => {}, onState = () => {} } = opts;
	let last = null;		// cursor of the last row shown (or held while paused)
	let lines = 0;			// rows received from the stream
	let hidden = 0;			// older rows dropped from the DOM
	let paused = false;
	let held = [];			// nodes that arrived while paused
	let follow = true;		// stay at the bottom while the user has not scrolled up
	let live = null;

	const list = h('ol', { class: 'logview-lines' });
	const scroller = h('div', {
		class: 'logview-scroll', role: 'log', tabindex: '0', 'aria-label': label, 'aria-live': 'off',
	}, list);
	const stateEl = h('span', { class: 'logview-state', dataset: { state: 'connecting' } }, 'connecting');
	const emptyEl = h('p', { class: 'logview-empty' }, 'No lines yet.');
	const trimmed = h('p', { class: 'logview-trimmed', hidden: true });
	const pauseBtn = h('button', {
		type: 'button', class: 'btn btn-small', 'aria-pressed': 'false',
		on: { click: () => setPaused(!paused) },
	}, 'Pause');

	const el = h('section', { class: 'logview', 'aria-label': label },
		h('div', { class: 'logview-bar' },
			h('span', { class: 'logview-title' }, label),
			h('span', { role: 'status', class: 'logview-status' }, 'Stream: ', stateEl),
			pauseBtn),
		trimmed, emptyEl, scroller);

	function setState(s) {
		stateEl.dataset.state = s;
		stateEl.textContent = STATE_TEXT[s] || s;
		if (s === 'ended' && lines === 0)
			emptyEl.textContent = 'No lines.';
		pauseBtn.hidden = s === 'ended' && !paused;
		onState(s);
	}

	function atBottom() {
		return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 24;
	}

	function trim() {
		while (list.childElementCount > max) {
			list.firstElementChild.remove();
			hidden += 1;
		}
		if (hidden > 0) {
			trimmed.hidden = false;
			trimmed.textContent = hidden + (hidden === 1 ? ' earlier line' : ' earlier lines') +
				' not shown (the view keeps the last ' + max + ').';
		}
	}

	function show(nodes) {
		if (nodes.length === 0)
			return;
		emptyEl.hidden = true;
		list.append(...nodes);
		trim();
		if (follow)
			scroller.scrollTop = scroller.scrollHeight;
	}

	function add(node) {
		if (paused) {
			held.push(node);
			if (held.length > max) {
				held.shift();
				hidden += 1;
			}
			pauseBtn.textContent = 'Resume (' + held.length + ' new)';
			return;
		}
		show([node]);
	}

	function setPaused(p) {
		paused = p;
		pauseBtn.hidden = false;
		pauseBtn.setAttribute('aria-pressed', p ? 'true' : 'false');
		pauseBtn.textContent = p ? 'Resume' : 'Pause';
		if (!p) {
			const nodes = held;
			held = [];
			follow = true;
			show(nodes);
			scroller.scrollTop = scroller.scrollHeight;
		}
	}

	scroller.addEventListener('scroll', () => {
		follow = atBottom();
	});

	function onMessage(m) {
		if (!m || typeof m !== 'object' || m instanceof ArrayBuffer)
			return;
		if (m.type === 'log') {
			if (m.cursor !== undefined && m.cursor !== null) {
				if (!newer(m.cursor, last))
					return;		// already shown (a reconnect's overlap)
				last = String(m.cursor);
			}
			lines += 1;
			add(lineNode(m));
		} else if (m.type === 'dropped') {
			const n = Number(m.count) || 0;
			add(marker(n + (n === 1 ? ' line' : ' lines') + ' dropped: the view could not keep up.'));
		}
		onEvent(m);
	}

	// The stream does not open (refused, or the daemon is down: a browser
	// cannot tell them apart): show the REST read meanwhile, and its error
	// (the API's message and request id) if it fails too.  ws.js keeps
	// retrying; the stream's own backlog replaces these lines when it opens.
	let opened = false;
	let closed = false;
	let fell = false;
	let stand = [];
	async function fallback() {
		if (!backlog || fell || closed || (ctx && ctx.signal && ctx.signal.aborted))
			return;
		fell = true;
		try {
			const rows = await backlog();
			if (lines > 0)
				return;
			stand = (rows || []).map(lineNode);
			show(stand);
			if (stand.length === 0)
				emptyEl.textContent = 'No lines.';
		} catch (e) {
			emptyEl.hidden = false;
			replace(emptyEl, 'Could not read the log: ', e.message || String(e),
				e.requestId ? ' (request ' + e.requestId + ')' : '');
		}
	}

	live = stream(endpoint, {
		query: () => {
			if (last === null)
				return query;
			const q = { ...query, since: last };
			delete q.tail;
			return q;
		},
		onMessage: (m) => {
			if (stand.length > 0 && m && m.type === 'log') {
				for (const n of stand)
					n.remove();
				stand = [];
			}
			onMessage(m);
		},
		onState: (s) => {
			const mine = FROM_WS[s] || s;
			if (s === 'open') {
				if (opened && lines > 0)
					add(marker('Reconnected.'));
				opened = true;
			}
			setState(mine);
			if ((s === 'retrying' || s === 'closed') && !opened)
				fallback();
		},
		signal: ctx && ctx.signal,
	});
	if (ctx && ctx.cleanup)
		ctx.cleanup(() => el.close());
	el.close = () => {
		closed = true;
		live.close();
	};
	return el;
}
