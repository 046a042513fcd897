/*
 * term.h - launcher-ws's terminal relay (API.md §22 /ws/terminal; README
 * "Terminals").  Two routes of server.c's table:
 *
 *   /<tenant>/ws/terminal/:sessionId        the client (a browser, a CLI)
 *   /<tenant>/ws/agent/terminal/:sessionId  the agent of the session's
 *                                           server (its token header)
 *
 * The client is admitted as the REST call that created the session would
 * be (ws_authorize on "POST /<target>s/<id>/terminal": same credentials,
 * scope, role and cap), by the session's creator only, once (the row's
 * attached_at, set atomically), before expires_at; the agent once, only
 * for its own server's sessions (sql/031_terminals.sql).  The two sockets
 * are paired by the session id, whichever comes first, and frames are
 * relayed verbatim: binary both ways, text from the client (resize) to the
 * agent, text from the agent ({"type":"exit","code":N}) to the client.
 * Each direction is a bounded queue (TERM_QUEUE_BYTES): a side that
 * outruns the other is no longer read until the queue drains.  Either side
 * closing ends the session: the row gets ended_at, the exit code and the
 * duration, the audit log terminal.end; the other side is closed (1000)
 * once what was queued for it has gone.  An end whose peer does not come
 * within TERM_PAIR_WAIT_S is closed (1011).  Nothing relayed is kept or
 * logged.
 */
#ifndef LAUNCHER_WS_TERM_H
#define LAUNCHER_WS_TERM_H

#include "ws.h"

#define TERM_QUEUE_BYTES (64 * 1024)	/* queued per direction before reading stops */
#define TERM_TEXT_MAX    1024		/* a text message (resize, exit); longer ones are dropped */
#define TERM_PAIR_WAIT_S 90		/* the session's 60 s to attach, and the agent's set-up */
#define TERM_SEEN_S      60		/* seen_at of an open session is refreshed this often */

extern const struct ws_handler ws_term_client;
extern const struct ws_handler ws_term_agent;

#endif
