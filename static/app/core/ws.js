// The one WebSocket client of the dashboard (API.md §22): JSON text frames
// parsed, binary frames passed as ArrayBuffer, and a reconnect with capped,
// jittered backoff after a network cut.  A normal close (1000: a deployment's
// log ended, a terminal exited) is final: state 'ended'.
import { wsUrl } from './api.js';

// stream('applications/<id>/logs', { query, onMessage, onState, binary, reconnect, signal })
// query may be a function: it is called again on every (re)connect, so a
// log view can ask only for what came after the last line it has.
export function stream(endpoint, opts = {}) {
	const {
		query, onMessage = () => {}, onState = () => {}, binary = false,
		reconnect = true, signal,
	} = opts;
	let ws = null;
	let done = false;
	let attempt = 0;
	let timer = null;
	let state = 'connecting';

	function set(s, ev) {
		state = s;
		try {
			onState(s, ev);
		} catch (e) {
			console.warn('ws onState', e);
		}
	}

	function connect() {
		timer = null;
		if (done)
			return;
		set(attempt ? 'retrying' : 'connecting');
		const q = typeof query === 'function' ? query() : query;
		ws = new WebSocket(wsUrl(endpoint, q));
		if (binary)
			ws.binaryType = 'arraybuffer';
		ws.onopen = () => {
			attempt = 0;
			set('open');
		};
		ws.onmessage = (ev) => {
			let m = ev.data;
			if (typeof m === 'string') {
				try {
					m = JSON.parse(m);
				} catch { /* not JSON: pass the text */ }
				if (m && m.type === 'ping')
					return;
			}
			onMessage(m);
		};
		ws.onclose = (ev) => {
			ws = null;
			if (done)
				return;
			const again = typeof reconnect === 'function'
				? reconnect(ev) : (reconnect && ev.code !== 1000);
			if (!again) {
				done = true;
				set(ev.code === 1000 ? 'ended' : 'closed', ev);
				return;
			}
			attempt += 1;
			const delay = Math.min(15000, 400 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random() / 2);
			set('retrying', ev);
			timer = setTimeout(connect, delay);
		};
	}

	// Back online: try at once instead of waiting out the backoff.
	function online() {
		if (timer !== null && !done) {
			clearTimeout(timer);
			connect();
		}
	}

	function close() {
		if (done)
			return;
		done = true;
		if (timer !== null)
			clearTimeout(timer);
		window.removeEventListener('online', online);
		if (ws) {
			ws.onclose = null;
			ws.close(1000);
			ws = null;
		}
		set('closed');
	}

	window.addEventListener('online', online);
	if (signal) {
		if (signal.aborted) {
			done = true;
			return { send: () => false, close() {}, get state() { return 'closed'; } };
		}
		signal.addEventListener('abort', close, { once: true });
	}
	connect();
	return {
		send(data) {
			if (!ws || ws.readyState !== WebSocket.OPEN)
				return false;
			const raw = typeof data === 'string' || data instanceof ArrayBuffer || ArrayBuffer.isView(data);
			ws.send(raw ? data : JSON.stringify(data));
			return true;
		},
		close,
		get state() {
			return state;
		},
	};
}
