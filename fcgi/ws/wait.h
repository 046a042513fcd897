/*
 * wait.h - launcher-ws holds the calls that wait for a job's outcome
 * (wait.c; core/jobs.h job_respond_wait).  All on the loop.
 */
#ifndef LAUNCHER_WS_WAIT_H
#define LAUNCHER_WS_WAIT_H

#include <pthread.h>
#include <stdbool.h>

#include "ws.h"

/* Whether a plain HTTP request's path is a wait (/.lnchr-wait/...). */
bool ws_wait_path(const char *uri);
/*
 * A wait's request (LWS_CALLBACK_HTTP): 1 = answered now (the caller
 * completes the transaction), 0 = held until due, -1 = drop it.
 */
int  ws_wait_http(struct lws *wsi, const char *uri);
/* Whether wsi is a held wait (its writable and close are this file's). */
bool ws_wait_held(struct lws *wsi);
/* LWS_CALLBACK_HTTP_WRITEABLE: a due wait is handed back; 0 or -1 (close). */
int  ws_wait_writable(struct lws *wsi);
/* The connection is gone (nginx gave up, the client left): forget its wait. */
void ws_wait_closed(struct lws *wsi);
/*
 * The set of job ids held waits wait on is guarded by mu (the listener's
 * queue mutex, l->q.mu): ws_wait_attach(mu) once the listener runs, NULL
 * once it stopped.
 */
void ws_wait_attach(pthread_mutex_t *mu);
/* Whether a held wait waits on job id; the caller holds mu (any thread). */
bool ws_wait_waited(const char *id);
/* These waited-on jobs ended (l->fin); all = every held wait asks the
 * database, in one query. */
void ws_wait_wake(char ids[][WS_ID_LEN + 1], int n, bool all);
/* SIGTERM: every held wait is due; returns how many are still held. */
int  ws_wait_drain(void);

#endif
