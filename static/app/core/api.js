// The one API client of the dashboard: every call goes through raw().
//
// The token lives in this module's memory only: never in localStorage,
// sessionStorage or a cookie, so a script injected elsewhere cannot read
// it later and it does not outlive the tab.  The price is documented in the
// README: a reload, or a 401 when the token expires or is revoked, asks the
// user to sign in again, and the dashboard returns to the page they were on.

const TENANT_KEY = 'launcher.tenant';

let token = null;
const listeners = new Set();

export class ApiError extends Error {
	constructor(status, err, requestId) {
		super((err && err.message) || 'HTTP ' + status);
		this.name = 'ApiError';
		this.status = status;
		this.code = (err && err.code) || 'HTTP_' + status;
		this.details = (err && Array.isArray(err.details)) ? err.details : [];
		this.requestId = requestId || null;
	}
}

function storedTenant() {
	try {
		return localStorage.getItem(TENANT_KEY) || 'default';
	} catch {
		return 'default';
	}
}

function emit(why) {
	for (const fn of listeners) {
		try {
			fn(why);
		} catch (e) {
			console.warn('session listener', e);
		}
	}
}

export const session = {
	user: null,
	tenant: storedTenant(),
	get token() {
		return token;
	},
	signedIn() {
		return token !== null;
	},
	setTenant(t) {
		this.tenant = t || 'default';
		try {
			localStorage.setItem(TENANT_KEY, this.tenant);
		} catch { /* private mode: the form asks again */ }
	},
	signIn(t, user) {
		token = t;
		this.user = user || null;
		emit('signin');
	},
	// Local part of signing out; api.signOut() also revokes the token.
	clear(why = 'signout') {
		token = null;
		this.user = null;
		emit(why);
	},
	onChange(fn) {
		listeners.add(fn);
		return () => listeners.delete(fn);
	},
};

function base() {
	return '/' + encodeURIComponent(session.tenant) + '/api/v1';
}

function withQuery(url, query) {
	if (!query)
		return url;
	const q = query instanceof URLSearchParams ? query : new URLSearchParams();
	if (!(query instanceof URLSearchParams)) {
		for (const [k, v] of Object.entries(query)) {
			if (v !== undefined && v !== null && v !== '')
				q.set(k, String(v));
		}
	}
	const s = q.toString();
	return s ? url + (url.includes('?') ? '&' : '?') + s : url;
}

const NO_EXPIRY = /^\/auth\/(login|register|verify-code|send-code|accept-invite|setup-status|logout)$/;

async function raw(method, path, { body, query, headers = {}, signal } = {}) {
	const h = { Accept: 'application/json', ...headers };
	if (token)
		h.Authorization = 'Bearer ' + token;
	let payload;
	if (body !== undefined) {
		h['Content-Type'] = 'application/json';
		payload = JSON.stringify(body);
	}
	let res;
	// A read that failed in the network (the browser drops requests in flight
	// when the host's interfaces change, e.g. net::ERR_NETWORK_CHANGED) is sent
	// once more: it changes nothing. Writes are not repeated (no second POST).
	for (let attempt = 0; ; attempt++) {
		try {
			res = await fetch(withQuery(base() + path, query), {
				method, headers: h, body: payload, signal,
				credentials: 'omit', cache: 'no-store', redirect: 'error',
			});
			break;
		} catch (e) {
			if (e && e.name === 'AbortError')
				throw e;
			if (attempt === 0 && (method === 'GET' || method === 'HEAD')) {
				await new Promise((r) => setTimeout(r, 300));
				continue;
			}
			throw new ApiError(0, {
				code: 'NETWORK',
				message: 'The server could not be reached. Check the connection and try again.',
			}, null);
		}
	}
	const rid = res.headers.get('x-request-id');
	let json = null;
	if (res.status !== 204) {
		const text = await res.text();
		if (text) {
			try {
				json = JSON.parse(text);
			} catch {
				json = null;
			}
		}
	}
	if (!res.ok || (json && json.success === false)) {
		const err = new ApiError(res.status, json && json.error
			? json.error : { message: 'The server answered ' + res.status + '.' }, rid);
		if (res.status === 401 && token && !NO_EXPIRY.test(path))
			session.clear('expired');
		throw err;
	}
	return {
		status: res.status,
		data: json ? json.data : null,
		meta: json ? (json.meta || null) : null,
		headers: res.headers,
		requestId: rid,
	};
}

export const api = {
	raw,
	async get(path, query, opts = {}) {
		return (await raw('GET', path, { query, ...opts })).data;
	},
	async post(path, body, opts = {}) {
		const headers = {};
		if (opts.idempotencyKey)
			headers['Idempotency-Key'] = opts.idempotencyKey;
		return (await raw('POST', path, { body, headers, signal: opts.signal })).data;
	},
	async put(path, body, opts = {}) {
		return (await raw('PUT', path, { body, ...opts })).data;
	},
	async patch(path, body, opts = {}) {
		return (await raw('PATCH', path, { body, ...opts })).data;
	},
	async del(path, opts = {}) {
		return (await raw('DELETE', path, opts)).data;
	},
	// One page of a list: {items, next}; pass next back as query.cursor.
	async page(path, query, opts = {}) {
		const r = await raw('GET', path, { query, ...opts });
		return { items: r.data || [], next: (r.meta && r.meta.next_cursor) || null };
	},
	async signOut() {
		const t = token;
		session.clear('signout');
		if (t) {
			try {
				await fetch(base() + '/auth/logout', {
					method: 'POST', headers: { Authorization: 'Bearer ' + t }, credentials: 'omit',
				});
			} catch { /* the token is gone from memory either way */ }
		}
	},
};

// wss://host/{tenant}/ws/<endpoint>?token=... (API.md §22).  The access log
// records the path only, never the query string, so the token is not logged.
export function wsUrl(endpoint, query) {
	const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
	const q = { ...(query || {}) };
	if (token)
		q.token = token;
	return withQuery(proto + '//' + location.host + '/' + encodeURIComponent(session.tenant) +
		'/ws/' + endpoint.replace(/^\/+/, ''), q);
}
