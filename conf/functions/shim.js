'use strict';
// conf/functions/shim.js - the HTTP shim of a node20 function (Node.js 20,
// no npm dependencies).  Compiled into launcher-agent (fcgi/agent/fnshim.c)
// and copied into every function image as /launcher/shim.js; the protocol is the
// README's "Functions: runtimes and the shim" (API.md §7).
//
//   node shim.js           the server on $PORT (8080)
//   node shim.js --check   exit 0 when the handler loads, else 1 naming it
//                          (the image build runs it: a deploy of a handler
//                          that does not exist fails at build)
//   node shim.js --worker  (internal) one worker process
//
// Env: LAUNCHER_FN_HANDLER ("index.handler": export `handler` of
// $LAUNCHER_FN_DIR/index.js, or .mjs/.cjs), LAUNCHER_FN_TIMEOUT (seconds,
// default 30), LAUNCHER_FN_DIR (/fn), LAUNCHER_FN_CONCURRENCY (workers at
// most; default one per 48 MiB of the cgroup's memory limit, 1..4), PORT (8080).
//
// Every invocation runs in a worker process (child_process.fork, an IPC
// channel; its stdout/stderr are the container's), so that the shim can
// kill it: past the timeout the shim SIGKILLs it (504, status timeout); a
// worker killed by a SIGKILL the shim did not send (the memory limit's OOM
// killer, confirmed by the cgroup's oom_kill counter when readable; workers
// raise their oom_score_adj so that the killer takes them first) is 502,
// status oom; a handler that throws is 500, status error.  One worker is
// kept loaded (no cold start per call) and replaced when it dies; more are
// started under load up to the limit, further requests wait in a bounded
// queue (503 beyond it), and workers past the first leave after IDLE_MS idle.
// Each invocation prints one line LAUNCHER-INVOCATION {json} on stdout, and
// every answer carries X-Launcher-Invocation-Status.

const http = require('http');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { fork } = require('child_process');
const { pathToFileURL } = require('url');

const BODY_MAX = 6 * 1024 * 1024;          // request body; above: 413
const QUEUE_MAX = 256;                     // requests waiting for a worker; above: 503
const IDLE_MS = 30000;                     // an extra worker's idle life
const WORKER_MEMORY = 48 * 1024 * 1024;    // a worker's share of the memory limit (node: ~30 MiB idle)
const HEALTH_PATH = '/_launcher/health';
const TRIGGERS = new Set(['http', 'cron', 'invoke']);
const SHAPE_KEYS = new Set(['status', 'statusCode', 'headers', 'body']);

const HANDLER = process.env.LAUNCHER_FN_HANDLER || 'index.handler';
const FN_DIR = process.env.LAUNCHER_FN_DIR || '/fn';

function intEnv(name, def, min, max) {
  const v = Number.parseInt(process.env[name] || '', 10);
  return Number.isInteger(v) && v >= min && v <= max ? v : def;
}

// ------------------------------------------------------------------ worker

async function loadHandler() {
  const dot = HANDLER.lastIndexOf('.');
  if (dot <= 0 || dot === HANDLER.length - 1) {
    throw new Error(`handler ${HANDLER}: not of the form <file>.<function>`);
  }
  const file = HANDLER.slice(0, dot);
  const name = HANDLER.slice(dot + 1);
  const base = path.resolve(FN_DIR, file);
  const found = ['.js', '.mjs', '.cjs'].map((e) => base + e).find((f) => fs.existsSync(f));
  if (!found) throw new Error(`handler ${HANDLER}: ${base}.js does not exist`);
  let mod;
  try {
    mod = require(found);
  } catch (e) {
    if (e.code !== 'ERR_REQUIRE_ESM') throw e;
    mod = await import(pathToFileURL(found).href);
  }
  let fn = mod ? mod[name] : undefined;
  if (typeof fn !== 'function' && mod && mod.default) fn = mod.default[name];
  if (typeof fn !== 'function') {
    throw new Error(`handler ${HANDLER}: ${found} does not export a function ${name}`);
  }
  return fn;
}

function errorText(e) {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  try { return `thrown: ${JSON.stringify(e)}`; } catch (_) { return `thrown: ${String(e)}`; }
}

// The handler's answer as the parent sends it: {status, headers, body, base64}.
function encodeResult(res) {
  // An answer object has only these keys, and a body or an integer status
  // ({"status": "healthy"} is a value, answered as JSON).
  const shaped = res !== null && typeof res === 'object' && !Array.isArray(res) && !Buffer.isBuffer(res) &&
    !(res instanceof Uint8Array) && Object.keys(res).every((k) => SHAPE_KEYS.has(k)) &&
    ('body' in res || Number.isInteger(res.status) || Number.isInteger(res.statusCode));
  let status = 200;
  let headers = {};
  let body = res;
  if (shaped) {
    status = res.status !== undefined ? res.status : res.statusCode;
    status = Number.isInteger(status) && status >= 200 && status <= 599 ? status : 200;
    headers = res.headers && typeof res.headers === 'object' ? res.headers : {};
    body = res.body;
  }
  const h = {};
  for (const [k, v] of Object.entries(headers)) h[String(k).toLowerCase()] = String(v);
  if (body === undefined || body === null) return { status, headers: h, body: '' };
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) {
    if (!h['content-type']) h['content-type'] = 'application/octet-stream';
    return { status, headers: h, body: Buffer.from(body).toString('base64'), base64: true };
  }
  if (typeof body === 'string') {
    if (!h['content-type']) h['content-type'] = 'text/plain; charset=utf-8';
    return { status, headers: h, body };
  }
  if (!h['content-type']) h['content-type'] = 'application/json';
  return { status, headers: h, body: JSON.stringify(body) };
}

async function workerMain() {
  process.on('disconnect', () => process.exit(0));
  // The OOM killer takes a worker before the shim (raising it needs no privilege).
  try { fs.writeFileSync('/proc/self/oom_score_adj', '1000'); } catch (_) { /* no procfs */ }
  let fn;
  try {
    fn = await loadHandler();
  } catch (e) {
    process.send({ type: 'load_error', error: errorText(e) });
    return;
  }
  let current = null;
  const fail = (e) => {
    // an exception outside the handler's promise chain: the invocation fails
    // and this worker ends (its state is unknown); the shim starts another.
    console.error(e);
    if (current) process.send({ type: 'result', id: current, ok: false, error: errorText(e) });
    current = null;
    process.exit(1);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  process.on('message', async (m) => {
    if (!m || m.type !== 'invoke') return;
    current = m.id;
    const context = {
      invocationId: m.id, trigger: m.event.trigger, functionHandler: HANDLER,
      deadline: m.deadline, getRemainingTimeInMillis: () => Math.max(0, m.deadline - Date.now()),
    };
    let reply;
    try {
      let res;
      if (fn.length >= 3) {
        res = await new Promise((resolve, reject) => {
          const p = fn(m.event, context, (err, v) => (err ? reject(err) : resolve(v)));
          if (p && typeof p.then === 'function') p.then(resolve, reject);
        });
      } else {
        res = await fn(m.event, context);
      }
      reply = { type: 'result', id: m.id, ok: true, result: encodeResult(res) };
    } catch (e) {
      console.error(e);
      reply = { type: 'result', id: m.id, ok: false, error: errorText(e) };
    }
    if (current === m.id) {
      current = null;
      process.send(reply);
    }
  });
  process.send({ type: 'ready' });
}

// -------------------------------------------------------------- the shim

// The cgroup's count of OOM kills (v2 memory.events, v1 memory.oom_control); -1 unknown.
function oomKills() {
  for (const f of ['/sys/fs/cgroup/memory.events', '/sys/fs/cgroup/memory/memory.oom_control']) {
    try {
      const m = /^oom_kill (\d+)$/m.exec(fs.readFileSync(f, 'utf8'));
      if (m) return Number(m[1]);
    } catch (_) { /* not this hierarchy */ }
  }
  return -1;
}

// The cgroup's memory limit in bytes (v2 memory.max, v1 memory.limit_in_bytes); 0 unknown or none.
function memoryLimit() {
  for (const f of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const v = Number(fs.readFileSync(f, 'utf8').trim());
      if (Number.isFinite(v) && v > 0 && v < 2 ** 50) return v;
    } catch (_) { /* not this hierarchy */ }
  }
  return 0;
}

function logInvocation(rec) {
  process.stdout.write(`LAUNCHER-INVOCATION ${JSON.stringify(rec)}\n`);
}

class Pool {
  constructor(max) {
    this.max = max;
    this.workers = new Set();
    this.idle = [];
    this.waiting = [];
  }

  // A loaded worker: resolves with it, rejects with the load error.
  spawn() {
    return new Promise((resolve, reject) => {
      const child = fork(__filename, ['--worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const w = { child, job: null, killedByShim: false, idleTimer: null, ready: false };
      this.workers.add(w);
      child.on('message', (m) => {
        if (m.type === 'ready') {
          w.ready = true;
          resolve(w);
        } else if (m.type === 'load_error') {
          reject(new Error(m.error));
          child.kill('SIGKILL');
        } else if (m.type === 'result' && w.job && w.job.id === m.id) {
          const job = w.job;
          w.job = null;
          job.done(m.ok ? { kind: 'ok', result: m.result } : { kind: 'error', error: m.error });
          this.release(w);
        }
      });
      child.on('exit', (code, signal) => {
        this.workers.delete(w);
        this.idle = this.idle.filter((x) => x !== w);
        if (w.idleTimer) clearTimeout(w.idleTimer);
        if (!w.ready) reject(new Error(`the worker exited while loading the handler (code ${code}, signal ${signal})`));
        const job = w.job;
        w.job = null;
        if (job) {
          const oom = (job.oomBefore >= 0 && oomKills() > job.oomBefore) || (signal === 'SIGKILL' && !w.killedByShim);
          if (w.killedByShim) job.done({ kind: 'timeout' });
          else if (oom) job.done({ kind: 'oom' });
          else job.done({ kind: 'error', error: `the worker exited (code ${code}, signal ${signal})` });
        }
        this.refill();
      });
    });
  }

  // At least one warm worker, and one for each waiting request (less those
  // loading) while below max.
  refill() {
    let loading = 0;
    for (const w of this.workers) if (!w.ready) loading++;
    const want = Math.min(this.max - this.workers.size,
      Math.max(this.workers.size === 0 ? 1 : 0, this.waiting.length - loading));
    for (let i = 0; i < want; i++) {
      this.spawn().then((w) => this.release(w), (e) => {
        console.error(`launcher shim: ${e.message}`);
        setTimeout(() => this.refill(), 1000);
      });
    }
  }

  release(w) {
    if (!this.workers.has(w)) return;
    const next = this.waiting.shift();
    if (next) { next(w); return; }
    this.idle.push(w);
    if (this.workers.size > 1) {
      w.idleTimer = setTimeout(() => {
        if (this.workers.size > 1 && this.idle.includes(w)) {
          this.idle = this.idle.filter((x) => x !== w);
          w.child.kill('SIGTERM');
        }
      }, IDLE_MS);
    }
  }

  // A worker for one invocation, or null when the queue is full.
  acquire() {
    const w = this.idle.pop();
    if (w) {
      if (w.idleTimer) clearTimeout(w.idleTimer);
      w.idleTimer = null;
      return Promise.resolve(w);
    }
    if (this.waiting.length >= QUEUE_MAX) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.refill();
    });
  }
}

function send(res, status, headers, body, invStatus) {
  const h = Object.assign({}, headers, { 'x-launcher-invocation-status': invStatus });
  if (!h['content-type']) h['content-type'] = 'text/plain; charset=utf-8';
  h['content-length'] = Buffer.byteLength(body);
  res.writeHead(status, h);
  res.end(body);
}

function serve(pool, timeoutMs) {
  return (req, res) => {
    const url = new URL(req.url, 'http://function');
    if (url.pathname === HEALTH_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
      send(res, 200, {}, 'ok', 'ok');
      return;
    }
    const started = new Date();
    const id = /^[A-Za-z0-9._:-]{1,128}$/.test(req.headers['x-launcher-invocation'] || '')
      ? req.headers['x-launcher-invocation'] : crypto.randomUUID();
    const trig = String(req.headers['x-launcher-trigger'] || 'http').toLowerCase();
    const trigger = TRIGGERS.has(trig) ? trig : 'http';
    let finished = false;
    const finish = (status, httpStatus, headers, body, error) => {
      if (finished) return;
      finished = true;
      headers = Object.assign({}, headers, { 'x-launcher-invocation': id });
      if (!res.headersSent && !res.destroyed) send(res, httpStatus, headers, body, status);
      logInvocation({
        id, trigger, status, http_status: httpStatus, duration_ms: Date.now() - started.getTime(),
        started_at: started.toISOString(), error: error || null,
      });
    };
    const errBody = (code, message) => JSON.stringify({ error: { code, message } });
    const json = { 'content-type': 'application/json' };
    if (Number(req.headers['content-length'] || 0) > BODY_MAX) {
      // answered at once; the body is read and dropped, so that the client,
      // still sending it, gets the answer (and the connection stays usable)
      finish('error', 413, json, errBody('PAYLOAD_TOO_LARGE', 'the request body exceeds 6 MiB'),
        'request body too large');
      req.resume();
      return;
    }
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > BODY_MAX) {
        finish('error', 413, Object.assign({ connection: 'close' }, json),
          errBody('PAYLOAD_TOO_LARGE', 'the request body exceeds 6 MiB'), 'request body too large');
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', async () => {
      if (finished) return;
      const query = {};
      for (const [k, v] of url.searchParams) {
        if (k in query) query[k] = [].concat(query[k], v); else query[k] = v;
      }
      const event = {
        method: req.method, path: url.pathname, query, headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'), trigger,
      };
      const w = await pool.acquire();
      if (!w) {
        finish('error', 503, json, errBody('BUSY', 'too many requests waiting for the function'), 'queue full');
        return;
      }
      const timer = setTimeout(() => {
        w.killedByShim = true;
        w.child.kill('SIGKILL');
      }, timeoutMs);
      w.job = {
        id, oomBefore: oomKills(),
        done: (o) => {
          clearTimeout(timer);
          if (o.kind === 'ok') {
            const r = o.result;
            finish('ok', r.status, r.headers, r.base64 ? Buffer.from(r.body, 'base64') : r.body, null);
          } else if (o.kind === 'timeout') {
            finish('timeout', 504, json, errBody('TIMEOUT', `the function ran past its timeout (${timeoutMs / 1000} s)`),
              `timed out after ${timeoutMs / 1000} s`);
          } else if (o.kind === 'oom') {
            finish('oom', 502, json, errBody('OUT_OF_MEMORY', 'the function was killed: out of memory'),
              'killed: out of memory');
          } else {
            finish('error', 500, json, errBody('FUNCTION_ERROR', o.error), o.error);
          }
        },
      };
      w.child.send({ type: 'invoke', id, event, deadline: Date.now() + timeoutMs });
    });
  };
}

async function main() {
  const timeoutMs = intEnv('LAUNCHER_FN_TIMEOUT', 30, 1, 3600) * 1000;
  const port = intEnv('PORT', 8080, 1, 65535);
  // workers at most: LAUNCHER_FN_CONCURRENCY, else one per WORKER_MEMORY of
  // the memory limit, 1..4 (a 64 MiB function runs one at a time)
  const limit = memoryLimit();
  const pool = new Pool(intEnv('LAUNCHER_FN_CONCURRENCY',
    limit ? Math.min(4, Math.max(1, Math.floor(limit / WORKER_MEMORY))) : 4, 1, 64));
  try {
    pool.release(await pool.spawn());
  } catch (e) {
    console.error(`launcher shim: ${e.message}`);
    process.exit(1);
  }
  const server = http.createServer({ maxHeaderSize: 65536 }, serve(pool, timeoutMs));
  server.keepAliveTimeout = 65000;
  const stop = () => {
    server.close();
    for (const w of pool.workers) w.child.kill('SIGTERM');
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  server.listen(port, '0.0.0.0', () => console.log(`launcher shim: ${HANDLER} listening on :${port}`));
}

if (process.argv[2] === '--worker') {
  workerMain();
} else if (process.argv[2] === '--check') {
  loadHandler().then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); });
} else {
  main();
}
