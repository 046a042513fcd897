/*
 * fnscale.h - scale to zero of functions (API.md §7 idle_timeout_seconds;
 * README "Functions": scale to zero).
 *
 * A function's container stays up between requests (no cold start).  One
 * whose idle_timeout_seconds is set and that received no request for that
 * long is stopped by its agent; the first request after it waits for the
 * start.  Everything here runs in the agent's main loop and never waits:
 * stopping and starting a container are child processes (runner_fork).
 *
 * State files, in <state_dir>/fn-scale/ (the loop and the job children
 * share them):
 *   <function id>        written by fn.deploy: the idle timeout in seconds
 *                        (0 = never); removed by fn.remove
 *   <function id>.seen   its mtime: the last invocation the agent ran
 *                        (fn.invoke touches it before and after; it holds a
 *                        shared flock on it while the function runs, the
 *                        stop an exclusive one: no invocation is cut)
 *   <function id>.zero   the container was stopped for idleness (the
 *                        instance report says "scaled_to_zero": true; the
 *                        plane shows the function's scaled_to_zero); removed
 *                        by the start and by fn.deploy
 * The last HTTP request of a function comes from the edge's traffic log
 * the loop already tails (traffic.h; its $msec); without traffic_log the
 * agent cannot see HTTP requests and stops nothing (said once).
 *
 * The first request after: the function's edge location (edge.c
 * put_fn_location) sends a 502 of its upstream (no container listening)
 * to a named location @wake_<id> that proxies to the wake socket
 * (fn_wake_socket, default <state_dir>/fn-wake.sock) without the body
 * (nginx keeps it), naming the function in X-Launcher-Wake.  The loop
 * reads the request head without blocking, starts the container in a
 * child (one start per function: concurrent first requests wait for the
 * same one), and when its health check passes answers
 * `X-Accel-Redirect: @fn_<id>`: nginx proxies the original request, body
 * included, to the container again.  A start that fails or passes
 * FN_START_TIMEOUT_S answers 503 {"error": {"code": "FUNCTION_UNAVAILABLE",
 * "message"}}.  A 502 after the request reached the container (it died
 * mid-request: X-Launcher-Sent, nginx's $upstream_bytes_sent, is not 0) is
 * not replayed: 502 with the same envelope.
 */
#ifndef LAUNCHER_AGENT_FNSCALE_H
#define LAUNCHER_AGENT_FNSCALE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"

#define FNSCALE_MAX         256		/* functions tracked on one server */
#define FNSCALE_CONNS       64		/* wake requests held at once */
#define FNSCALE_REQ_MAX     4096	/* a wake request's head */
#define FNSCALE_HEAD_MS     10000	/* for the head to arrive */
#define FN_START_TIMEOUT_S  60		/* a start's bound: the container healthy by then */
#define FNSCALE_WAKE_HEADER "X-Launcher-Wake"
#define FNSCALE_SENT_HEADER "X-Launcher-Sent"

struct fnscale_fn {
	bool    used;
	char    id[37];
	int64_t idle_s;		/* 0 = never */
	double  last;		/* wall seconds of the last request seen */
	bool    zero;		/* stopped for idleness (the .zero file) */
	pid_t   stopper, starter;	/* children, 0 = none */
	int     stop_fd, start_fd;	/* their pipes (a failure's words) */
	int64_t start_deadline;	/* monotonic ms */
	double  start_wall;	/* when the start began (the log's "took") */
	bool    want_start;	/* a request waits while the stop runs */
};

struct fnscale_conn {
	int     fd;		/* -1 = free */
	char    fid[37];	/* "" until the head named it */
	char    in[FNSCALE_REQ_MAX];
	size_t  len;
	int64_t since;		/* monotonic ms */
	bool    waiting;	/* head read: waits for its function's start */
};

struct fnscale {
	const struct agent_conf *conf;
	char                     dir[AGENT_STR_MAX + 16];
	char                     sock[AGENT_STR_MAX + 16];
	int                      lfd;		/* the wake socket; -1 = none */
	bool                     traffic;	/* HTTP requests are seen */
	bool                     said_blind;
	int64_t                  next_check;
	struct fnscale_fn        fns[FNSCALE_MAX];
	struct fnscale_conn      conns[FNSCALE_CONNS];
};

/* The state directory's file of function fid with suffix ("" or ".seen" ...). */
int     fnscale_path(const struct agent_conf *c, const char *fid, const char *suffix, char *out,
    size_t outlen);
/* The wake socket's path (fn_wake_socket or its default). */
void    fnscale_socket(const struct agent_conf *c, char *out, size_t outlen);

/* Opens the wake socket; traffic: whether the loop tails the traffic log. */
void    fnscale_init(struct fnscale *s, const struct agent_conf *c, bool traffic);
void    fnscale_close(struct fnscale *s);
/* A request of application/function id (UUID) ended at wall time t (traffic log). */
void    fnscale_seen(struct fnscale *s, const char *id, double t);
/* Everything due: children reaped, requests read and answered, the idle check. */
void    fnscale_service(struct fnscale *s, int64_t now);
/* The descriptors to poll (the socket, heads being read) into pfd; how many. */
int     fnscale_pollfds(const struct fnscale *s, struct pollfd *pfd, int max);
/* The next monotonic ms at which fnscale_service has work without I/O. */
int64_t fnscale_next(const struct fnscale *s, int64_t now);

/* Request-head parsing, separate for the unit tests: the value of header
 * name in head (case-insensitive name) into out; 0, or -1 when absent. */
int     fnscale_header(const char *head, const char *name, char *out, size_t outlen);

#endif
