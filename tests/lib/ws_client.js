// ws_client.js - WebSocket clients for the tests and the bench, on the npm
// `ws` package (pinned in tests/tools/package.json; tests/run.sh installs it).
//
//   node tests/lib/ws_client.js '<json config>'
//
// Config: {url, headers, ca (a PEM file), socketPath (a unix socket: the
// daemon itself, no nginx), clients (default 1), count (a client is done
// after this many "log"/"metrics"/"notification" messages), timeout (s, default 30),
// paused (client 0 stops reading after its handshake), summary (print
// counts and checks only, not every message), stamp (record the arrival
// time, ms since the epoch, of each message), prefix (summary: keep only
// the first prefix characters of each line)}.
//
// Prints JSON lines: {"event":"refused","status":N,"body":...} for a
// handshake answered without an upgrade, {"event":"open","n":N} once every
// client is open, then {"event":"done","client":i,"close":code,"reason":...,
// "messages":[...]} per client when all are done.  Reads commands on stdin:
// "resume" (client 0 reads again), "end" (close every client and report).
'use strict';
const fs = require('fs');
const path = require('path');
const WebSocket = require(path.join(__dirname, '..', 'tools', 'node_modules', 'ws'));

const cfg = JSON.parse(process.argv[2]);
const n = cfg.clients || 1;
const results = [];
let opened = 0;
let finished = 0;
let reported = false;

function out(o) {
  process.stdout.write(JSON.stringify(o) + '\n');
}

function report() {
  if (reported) return;
  reported = true;
  let text = '';
  for (const r of results) {
    if (cfg.summary) {
      const logs = r.messages.filter((m) => m.type === 'log' || m.type === 'metrics' || m.type === 'traffic');
      r.count = logs.length;
      r.first = logs.length ? logs[0].message : null;
      r.last = logs.length ? logs[logs.length - 1].message : null;
      r.dropped = r.messages.filter((m) => m.type === 'dropped').reduce((a, m) => a + m.count, 0);
      r.messages = undefined;
      r.lines = logs.map((m) => m.message.slice(0, cfg.prefix || undefined));
    }
    text += JSON.stringify(r) + '\n';
  }
  // A pipe is written asynchronously: exit once it has all of it.
  process.stdout.write(text, () => process.exit(0));
}

function done(r) {
  if (r.finished) return;
  r.finished = true;
  if (++finished === n) report();
}

for (let i = 0; i < n; i++) {
  const r = {event: 'done', client: i, close: null, reason: null, messages: []};
  results.push(r);
  const opts = {headers: cfg.headers || {}};
  if (cfg.ca) opts.ca = fs.readFileSync(cfg.ca);
  let url = cfg.url;
  if (cfg.socketPath) url = 'ws+unix://' + cfg.socketPath + ':' + cfg.url;
  const ws = new WebSocket(url, opts);
  r.ws = ws;
  ws.on('unexpected-response', (req, res) => {
    let body = '';
    res.on('data', (d) => { body += d; });
    res.on('end', () => {
      out({event: 'refused', client: i, status: res.statusCode, body});
      r.refused = res.statusCode;
      done(r);
    });
  });
  ws.on('open', () => {
    if (i === 0 && cfg.paused) ws._socket.pause();
    if (++opened === n) out({event: 'open', n});
  });
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    if (cfg.stamp) m.at = Date.now();
    r.messages.push(m);
    if (m.type === 'log' || m.type === 'metrics' || m.type === 'traffic' ||
        m.type === 'notification') r.rows = (r.rows || 0) + 1;
    if (cfg.count && r.rows >= cfg.count) {
      ws.terminate();
      done(r);
    }
  });
  ws.on('close', (code, reason) => {
    r.close = code;
    r.reason = reason.toString();
    done(r);
  });
  ws.on('error', (e) => {
    r.error = String(e.message || e);
    done(r);
  });
}
for (const r of results) Object.defineProperty(r, 'ws', {enumerable: false});

process.stdin.setEncoding('utf8');
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  let k;
  while ((k = buf.indexOf('\n')) >= 0) {
    const cmd = buf.slice(0, k).trim();
    buf = buf.slice(k + 1);
    if (cmd === 'resume') results[0].ws._socket.resume();
    if (cmd === 'end') {
      for (const r of results) r.ws.terminate();
      report();
    }
  }
});
setTimeout(report, (cfg.timeout || 30) * 1000);
