// Poll a resource until it settles: the one way the dashboard follows work
// that has no WebSocket (a template deploy, a function deploy, an invoke or
// a bucket job answered 202, an alert test delivery).  Stops when `done`
// says so or when `signal` aborts (the user navigated away).
//
//   const td = await poll(() => api.get('/template-deploys/' + id),
//                         (t) => t.status !== 'deploying', { signal, onEach: render });

const sleep = (ms, signal) => new Promise((resolve) => {
	const t = setTimeout(resolve, ms);
	if (signal)
		signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

export async function poll(load, done, { signal, onEach, interval = 1500, max = 30000 } = {}) {
	let wait = interval;
	for (;;) {
		const v = await load();
		if (onEach)
			onEach(v);
		if (done(v) || (signal && signal.aborted))
			return v;
		await sleep(wait, signal);
		if (signal && signal.aborted)
			return v;
		wait = Math.min(wait * 1.5, max);
	}
}

// A job answered 202 (`{job}`): follow GET /jobs/{id} until it is terminal.
export function pollJob(api, job, opts) {
	return poll(() => api.get('/jobs/' + job.id), (j) => ['succeeded', 'failed', 'cancelled'].includes(j.status), opts);
}
