/*
 * stream.h - the streams of launcher-ws (API.md §22): their handlers for
 * the route table (server.c) and the fan-out of what the listener read.
 */
#ifndef LAUNCHER_WS_STREAM_H
#define LAUNCHER_WS_STREAM_H

#include "ws.h"

extern const struct ws_handler stream_deployment_logs;
extern const struct ws_handler stream_app_logs;
extern const struct ws_handler stream_app_traffic;
extern const struct ws_handler stream_db_logs;
extern const struct ws_handler stream_server_metrics;
extern const struct ws_handler stream_unified;
extern const struct ws_handler stream_notifications;

/* The loop was woken: hands what the listener read to the subscribers. */
void stream_deliver(struct ws_listener *l);
/* At exit, after the listener has stopped: frees what is still queued. */
void stream_free(struct ws_listener *l);

#endif
