/*
 * stream.h - the streams of launcher-ws (API.md §22): their handlers for
 * the route table (server.c) and the fan-out of what the listener read.
 */
#ifndef LAUNCHER_WS_STREAM_H
#define LAUNCHER_WS_STREAM_H

#include "ws.h"

/*
 * The topics rows are announced on (sql/030_streams.sql): a letter and the
 * id of the resource the rows belong to.
 */
enum {
	TOPIC_JOB = 'j',	/* job_logs of a job (a deployment's lines) */
	TOPIC_APP = 'a',	/* runtime_logs of an application */
	TOPIC_DB = 'b',		/* runtime_logs of a database */
	TOPIC_METRICS = 'm',	/* server_metrics of a server */
	TOPIC_TRAFFIC = 't',	/* app_traffic of an application (sql/039_traffic.sql) */
	TOPIC_NOTIFICATION = 'n',	/* notifications of a user (sql/041) */
	TOPIC_DEPLOYMENT = 'd',	/* a deployment's status (body: {"status","job_id"}) */
	TOPIC_JOB_FINISHED = 'f',	/* a job ended (sql/055): wakes its waits (wait.c) */
	TOPIC_RESYNC = 'R',	/* the listener reconnected: notifications were lost */
};

/*
 * One row read by the listener, as the loop sends it: body is a JSON
 * object of its fields ({"timestamp":...,"message":...}); id is the row's
 * id (the cursor).  A live row (target 0) is shared by every subscriber
 * (refs); a backlog row is for the connection whose serial is target.  A
 * page's end is a row with end set (and no body unless the page read a
 * deployment's status): more tells whether the page was full.
 */
struct ws_event {
	struct ws_event *next;
	int              refs;
	char             topic;
	char             key[WS_ID_LEN + 1];
	int64_t          id;
	uint64_t         target;
	int              source;	/* target's source index */
	bool             end, more;
	size_t           len;
	char             body[];
};

/* A page of backlog the loop asks the listener for. */
struct ws_fetch {
	struct ws_fetch *next;
	uint64_t         target;	/* the connection's serial */
	int              source;
	char             topic;		/* TOPIC_JOB is asked as TOPIC_DEPLOYMENT */
	char             key[WS_ID_LEN + 1];
	char             tenant_id[WS_ID_LEN + 1];
	int64_t          after;		/* rows with a greater id */
	int64_t          tail;		/* > 0: start at the last tail rows instead */
	int64_t          admitted_ms;	/* when the stream was admitted (epoch ms) */
	int              limit;
};

/* For the loop: asks the listener for a page (f is the listener's then). */
void ws_fetch_queue(struct ws_listener *l, struct ws_fetch *f);
/* For the listener (listener.c): queues rows for the loop, and wakes it. */
void ws_feed_push(struct ws_listener *l, struct ws_event *head, struct ws_event *tail, size_t n);
/* Whether any connection follows topic/key (the listener reads nothing else). */
bool ws_followed(struct ws_listener *l, char topic, const char *key);
struct ws_event *ws_event_new(char topic, const char *key, int64_t id, const char *body, size_t len);
void ws_event_unref(struct ws_event *e);

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
