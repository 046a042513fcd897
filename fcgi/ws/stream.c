/*
 * stream.c - the streams of launcher-ws (see stream.h).
 */
#include "stream.h"

const struct ws_handler stream_deployment_logs = {0};
const struct ws_handler stream_app_logs = {0};
const struct ws_handler stream_app_traffic = {0};
const struct ws_handler stream_db_logs = {0};
const struct ws_handler stream_server_metrics = {0};
const struct ws_handler stream_unified = {0};
const struct ws_handler stream_notifications = {0};

void
stream_deliver(struct ws_listener *l)
{
	(void)l;
}

void
stream_free(struct ws_listener *l)
{
	(void)l;
}
