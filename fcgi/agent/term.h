/*
 * term.h - interactive terminal sessions on the agent's side (API.md §22,
 * README "Terminals").
 *
 * The plane queues a terminal.open job for the target's server; its claim
 * carries {session_id, target, container_id, command, env?}.  The loop
 * hands it to term_spawn() instead of the job runner: a process of its own
 * (its own group; it dies with the agent) that
 *   1. opens its WebSocket to launcher-ws,
 *      <plane>/<tenant>/ws/agent/terminal/<session_id> with the agent token
 *      header (wake.h's client);
 *   2. starts the command with a terminal: for "application" and
 *      "database" an engine exec with Tty (POST /containers/<id>/exec, then
 *      POST /exec/<id>/start hijacked on its own connection to the engine
 *      socket), env (a database's password) only in the exec's Env; for
 *      "server" a login shell on the host under a pty (forkpty);
 *   3. reports the job (the runner's pipe records: "R {...}" once, then
 *      closes the pipe), so the job completes and the agent goes on with
 *      other jobs while the session lives on;
 *   4. relays: binary frames from the socket -> the command's input, its
 *      output -> binary frames; a text frame {"type":"resize","cols":C,
 *      "rows":R} -> POST /exec/<id>/resize (or TIOCSWINSZ); when the
 *      command ends, {"type":"exit","code":N} and a close frame.  A socket
 *      that closes ends the command (the engine stream is closed; a host
 *      shell gets SIGHUP).
 * Nothing of what passes is logged.
 */
#ifndef LAUNCHER_AGENT_TERM_H
#define LAUNCHER_AGENT_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "conf.h"
#include "runner.h"

#define TERM_KIND        "terminal.open"
#define TERM_MAX         64	/* sessions one agent runs at once */
#define TERM_SETUP_MS    15000	/* socket + exec set up within this */

bool term_kind(const char *kind);

/*
 * Forks the session process of job j (as runner_spawn: *pid, *fd the read
 * end of its record pipe).  token: the agent token for the socket's header.
 * 0 or -1 (errno).
 */
int  term_spawn(const struct job *j, const struct agent_conf *c, const char *token, pid_t *pid,
    int *fd);

/*
 * A resize text frame's size: 0 with *cols, *rows (1..1000), -1 when text
 * is not {"type":"resize","cols":C,"rows":R}.  (Exposed for the tests.)
 */
int  term_parse_resize(const char *text, size_t len, int *cols, int *rows);

#endif
