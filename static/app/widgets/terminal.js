// A terminal in the browser (README "Terminals"): xterm.js over
// /ws/terminal/<sessionId>.  The terminal's bytes go both ways as binary
// frames; the size as {"type":"resize","cols","rows"} text frames; the
// command's end arrives as {"type":"exit","code"} and a close (1000).
// A session is single use, so there is no reconnect: after an exit or a cut
// the panel offers a new session.
//
// terminal({ open: async () => sessionId, ctx, label }) -> <section>
//   open   creates the session (POST /applications/:id/terminal ...) and
//          returns its sessionId; its ApiError (409 no running instance,
//          429 too many sessions, 403) is shown in the panel
//
// xterm.js is loaded on first use (it is not part of the first load).
import { h, replace } from '../core/dom.js';
import { stream } from '../core/ws.js';
import * as ui from '../core/ui.js';

const XTERM = '/vendor/xterm/xterm.mjs';
const FIT = '/vendor/xterm/addon-fit.mjs';
const XTERM_CSS = '/vendor/xterm/xterm.css';

let vendor = null;
function loadXterm() {
	if (!vendor) {
		if (!document.querySelector('link[data-xterm]'))
			document.head.append(h('link', { rel: 'stylesheet', href: XTERM_CSS, dataset: { xterm: '1' } }));
		vendor = Promise.all([import(XTERM), import(FIT)]).catch((e) => {
			vendor = null;
			throw e;
		});
	}
	return vendor;
}

// xterm.js writes its computed styles (cell size, theme, scrollbar) into
// <style> elements it creates in open(); the dashboard's CSP (style-src
// 'self', no 'unsafe-inline') refuses those.  While open() runs, a <style>
// it asks for is an inert <template> whose text goes to a constructable
// stylesheet adopted by the document instead: the CSSOM is not inline
// style, so the strict CSP stays as it is.  The sheet goes with the node.
function openUnderCsp(term, parent) {
	const create = Document.prototype.createElement;
	Document.prototype.createElement = function createElement(tag, options) {
		if (String(tag).toLowerCase() !== 'style')
			return create.call(this, tag, options);
		const sheet = new CSSStyleSheet();
		const doc = this;
		doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
		const node = create.call(this, 'template');
		let text = '';
		Object.defineProperty(node, 'textContent', {
			get: () => text,
			set: (v) => {
				text = String(v ?? '');
				sheet.replaceSync(text);
			},
		});
		const remove = node.remove.bind(node);
		node.remove = () => {
			doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter((s) => s !== sheet);
			remove();
		};
		return node;
	};
	try {
		term.open(parent);
	} finally {
		Document.prototype.createElement = create;
	}
}

const THEME = {
	background: '#111418', foreground: '#e6e8eb', cursor: '#e6e8eb',
	selectionBackground: '#3a4a63',
};

export function terminal({ open, ctx = null, label = 'Terminal' }) {
	const screen = h('div', { class: 'term-screen' });
	const note = h('p', { class: 'term-note', role: 'status' }, 'Opening a session…');
	const actions = h('div', { class: 'term-actions' });
	const el = h('section', { class: 'term', 'aria-label': label },
		h('div', { class: 'term-bar' }, note, actions), screen);

	let term = null;
	let fit = null;
	let sock = null;
	let resizeObs = null;
	let gone = false;
	let exitCode = null;
	const enc = new TextEncoder();

	function teardown() {
		if (sock) {
			const s = sock;
			sock = null;	// its 'closed' below is ours, not the session's end
			s.close();
		}
		if (resizeObs) {
			resizeObs.disconnect();
			resizeObs = null;
		}
		if (term) {
			term.dispose();
			term = null;
		}
	}

	function offerNew(text) {
		note.textContent = text;
		const again = ui.button('New session', start, { kind: 'primary' });
		replace(actions, again);
		again.focus();
	}

	function ended(attached) {
		if (exitCode !== null)
			offerNew('Session ended (exit code ' + exitCode + ').');
		else if (attached)
			offerNew('Session ended: the connection closed.');
		else
			offerNew('Could not attach to the session (it may have expired).');
		if (term)
			term.options.disableStdin = true;
	}

	async function start() {
		if (gone)
			return;
		teardown();
		exitCode = null;
		replace(actions);
		replace(screen);
		note.textContent = 'Opening a session…';
		let mods;
		let sessionId;
		try {
			[mods, sessionId] = await Promise.all([loadXterm(), open()]);
		} catch (e) {
			if (gone)
				return;
			replace(screen, ui.showError(e));
			offerNew('No session.');
			return;
		}
		if (gone)
			return;
		const [{ Terminal }, { FitAddon }] = mods;
		term = new Terminal({
			cursorBlink: true, convertEol: false, scrollback: 5000, theme: THEME,
			fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace', fontSize: 14,
		});
		fit = new FitAddon();
		term.loadAddon(fit);
		openUnderCsp(term, screen);
		term.textarea?.setAttribute('aria-label', label + ' input');
		fit.fit();
		note.textContent = 'Connecting…';

		let attached = false;
		const mine = stream('terminal/' + encodeURIComponent(sessionId), {
			binary: true,
			reconnect: false,
			signal: ctx && ctx.signal,
			onMessage: (m) => {
				if (!term)
					return;
				if (m instanceof ArrayBuffer)
					term.write(new Uint8Array(m));
				else if (typeof m === 'string')
					term.write(m);
				else if (m && m.type === 'exit')
					exitCode = m.code ?? null;
			},
			onState: (s) => {
				if (s === 'connecting' || sock !== mine)
					return;		// (a teardown's close is ours, not the session's end)
				if (s === 'open') {
					attached = true;
					note.textContent = 'Connected.';
					mine.send({ type: 'resize', cols: term.cols, rows: term.rows });
					term.focus();
				} else if (s === 'ended' || s === 'closed') {
					sock = null;
					if (!gone)
						ended(attached);
				}
			},
		});
		sock = mine;
		term.onData((d) => sock?.send(enc.encode(d)));
		term.onBinary((d) => sock?.send(Uint8Array.from(d, (c) => c.charCodeAt(0) & 255)));
		term.onResize(({ cols, rows }) => sock?.send({ type: 'resize', cols, rows }));
		resizeObs = new ResizeObserver(() => {
			if (fit && term)
				fit.fit();
		});
		resizeObs.observe(screen);
	}

	if (ctx && ctx.cleanup) {
		ctx.cleanup(() => {
			gone = true;
			teardown();
		});
	}
	start();
	return el;
}
