/*
 * appspec.h - the pure parts of application jobs (no engine, no files):
 * reading the app.* payloads into a checked struct, redacting secret
 * values out of text, decoding the engine's multiplexed stream frames, and
 * reading the timestamp off a log line.  Everything here is table-tested
 * (tests/unit/test_agent_app.c).  The contract of the payloads is in app.h.
 */
#ifndef LAUNCHER_AGENT_APPSPEC_H
#define LAUNCHER_AGENT_APPSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../core/redact.h"

#define APP_ID_MAX        64
#define APP_REDACTED      REDACTED

enum app_source { APP_SRC_NONE, APP_SRC_IMAGE, APP_SRC_GIT, APP_SRC_RELEASE, APP_SRC_COMPOSE };

#define APP_VOLUMES_MAX   20		/* as the API's volumes field */

/* One mount of a named engine volume (volume.h names it from the id). */
struct app_volume {
	char        volume_id[APP_ID_MAX];
	const char *mount_path;			/* absolute, checked */
	bool        read_only;
	int64_t     size_limit;			/* bytes; 0 = none */
};

#define APP_SERVICES_MAX  20		/* as compose.h's COMPOSE_MAX_SERVICES */

/*
 * One service of a docker_compose application (source type "compose",
 * app.h): its container is created from the application's spec with
 * these in place (ctr.c).  Pointers into the payload.
 */
struct app_service {
	const char  *name;			/* [a-z0-9_-]: network alias, label, name part */
	const char  *image;			/* the reference (mirror table applied) */
	const char  *image_id;			/* a release's (source "images"), else NULL */
	const cJSON *command, *entrypoint;	/* argv arrays or NULL */
	const cJSON *depends_on;		/* [{"service", "condition"}] */
	const cJSON *hc_test;			/* argv run by exec, or NULL: no healthcheck */
	int64_t      hc_interval_ms, hc_timeout_ms, hc_start_ms;
	int          hc_retries;
	int          port;			/* the web service's container port; 0 */
	const char  *restart, *working_dir, *user;	/* NULL: the app's policy / image's */
	const cJSON *labels, *extra_hosts, *cap_drop;	/* object / arrays or NULL */
	const cJSON *host;			/* HostConfig members (a superadmin's), or NULL */
	struct app_volume vols[APP_VOLUMES_MAX];
	int          nvols;
};

/*
 * A parsed payload.  Strings point into the payload's cJSON (which must
 * outlive the struct) or are NULL when absent; ids are copied and checked
 * (they end up in labels, names, file names and URLs).
 */
struct app_spec {
	char            tenant_id[APP_ID_MAX], project_id[APP_ID_MAX];
	char            app_id[APP_ID_MAX], deployment_id[APP_ID_MAX];	/* "" = null */
	const char     *name, *app_type, *restart_policy, *start_command;
	const char     *healthcheck_path, *hostname;
	int             exposed_port;		/* 0 = none */
	int             replicas;
	int             hc_timeout_s;
	double          cpu_limit;		/* cores; 0 = none */
	int64_t         memory_limit;		/* bytes; 0 = none */
	const cJSON    *env;			/* object of strings (never NULL after parse) */
	enum app_source src;
	const char     *image;			/* docker_image: the reference; release:
						 * where to pull it from, or NULL */
	const char     *repo_url, *branch, *commit_sha, *dockerfile, *build_context;
	const cJSON    *build_args;		/* object or NULL */
	const char     *image_id;		/* release */
	/* The application's registry from the claim (registry.h), or NULL:
	 * the pull's X-Registry-Auth, and where a build is pushed. */
	const cJSON    *registry;
	struct app_volume vols[APP_VOLUMES_MAX];	/* "volumes" of the payload */
	int             nvols;
	const cJSON    *command;		/* app.exec: array of strings */
	int             exec_timeout_s;
	/*
	 * Set only by db.c, for a database's container (never by an app
	 * payload): labelled launcher.database instead of launcher.app and
	 * launcher.deployment, known on the project network as net_alias,
	 * exposed_port published on host_ip only when publish_db is set.
	 */
	char            database_id[APP_ID_MAX];	/* "" = an application's container */
	/* Set only by bucket.c (objstore.provision): the managed object
	 * store's container, labelled launcher.objstore, published like a
	 * public database's port. */
	char            objstore_id[APP_ID_MAX];
	const char     *net_alias;
	bool            publish_db;
	const char     *host_ip;			/* NULL: 127.0.0.1 */
	/*
	 * Set only by pitr.c (never from a payload): one host directory the
	 * agent made under its backup_local_root, bind-mounted on bind_target
	 * (a pgBackRest repository).  NULL = none.
	 */
	const char     *bind_source, *bind_target;
	/*
	 * docker_compose (source type "compose"): the services in start order
	 * and the one the edge routes (NULL: none).  svc is set by app.c while
	 * it creates one service's container (ctr.c reads its fields); NULL
	 * for every other container.
	 */
	struct app_service svcs[APP_SERVICES_MAX];
	int             nsvcs;
	const char     *web_service;
	const struct app_service *svc;
};

/*
 * Reads payload p for job kind (e.g. "app.deploy").  Returns 0, or -1 with
 * every problem found in err ("bad payload: ...").
 */
int  app_spec_parse(const cJSON *p, const char *kind, struct app_spec *s, char *err,
    size_t errlen);
/* Whether the app gets health-checked over HTTP/TCP and routed (web/api with a port). */
bool app_spec_is_served(const struct app_spec *s);

/*
 * The secret values to hide from build output, progress and errors: every
 * value of the release's env snapshot (the resolved map of the claim), the
 * build arguments, the repository credential and the registry's password.  Unbounded: a release may
 * have thousands of variables, and a value left out would be printed.
 */
struct app_redact {
	size_t       n, cap;
	const char **vals;			/* not owned (the payload's strings) */
	bool         oom;			/* a value could not be remembered */
	char       **own;			/* copies made here (URL passwords), freed */
	size_t       nown;
	char         cred[512];			/* a URL credential (user:token), "" = none */
};

/*
 * Collects the env values, the password of every env value that is a URL
 * with a credential (a database's url: the password alone may be printed),
 * and s's repository credential; app_redact_free after.
 */
void app_redact_init(struct app_redact *r, const struct app_spec *s);
/* Adds one value (ignored when shorter than REDACT_MIN_LEN or already there). */
void app_redact_add(struct app_redact *r, const char *v);
void app_redact_free(struct app_redact *r);
/*
 * Copies in into out (outlen bytes, always terminated, cut when needed)
 * with every known value (core/redact.h: exact, and pieces at line
 * boundaries) and every "scheme://user:secret@" credential replaced by
 * APP_REDACTED; all of it when a value could not be remembered.
 */
void app_redact(const struct app_redact *r, const char *in, char *out, size_t outlen);


/*
 * The engine's multiplexed stream (logs and exec of containers without a
 * TTY): frames of an 8-byte header {stream (0 stdin, 1 stdout, 2 stderr),
 * 0, 0, 0, size big-endian uint32} followed by size bytes.
 *
 * app_frames is the one splitter of that stream (every reader below and
 * the backup jobs' execs use it): app_frames_feed gives fn each payload
 * piece as it comes, with its stream (never an empty piece); headers and
 * payloads may be split anywhere between calls (a header's bytes are kept
 * in f).  The piece pointer is valid only during the call.  Returns 0, or
 * the first non-zero fn returned (the feed stops there; the refused piece
 * is not taken).
 *
 * raw_fallback (app_frames_init) is for output that may come from a TTY:
 * bytes at a header's place that are not one (stream above 2, or a
 * non-zero byte among the three zeros) turn the rest of the stream,
 * those bytes included, into raw stdout (stream 1), decided as soon as
 * the first bytes show it (a TTY's short first line does not wait for 8);
 * app_frames_end then delivers a header's first bytes the stream ended
 * on as raw stdout too.  Streams are then 0-2.  Without it (binary dumps,
 * always framed) every 8 bytes at a header's place are taken as one, its
 * stream byte passed as it is (0-255), and app_frames_end drops a partial
 * header.  app_frames_end returns like feed.
 */
typedef int (*app_piece_fn)(void *ud, int stream, const unsigned char *p, size_t n);
struct app_frames {
	bool          raw_fallback;	/* the option above */
	bool          raw;		/* fallback taken: the rest is raw stdout */
	unsigned char hdr[8];		/* a header read in part */
	size_t        hlen;
	int           stream;		/* of the frame being read */
	uint32_t      left;		/* its payload bytes still to come */
};
void app_frames_init(struct app_frames *f, bool raw_fallback);
int  app_frames_feed(struct app_frames *f, const void *data, size_t n, app_piece_fn fn, void *ud);
int  app_frames_end(struct app_frames *f, app_piece_fn fn, void *ud);

/*
 * Lines and whole outputs, on app_frames with raw_fallback (a body that
 * does not start with a header is taken as raw stdout, a TTY's).
 *
 * app_demux_lines calls fn once per complete line (without '\n'; a last
 * line without one is delivered too) with the stream it came on; the
 * line pointer is valid only during the call.  Lines longer than
 * max_line are cut.  Returns the number of lines.
 */
typedef void (*app_line_fn)(void *ud, int stream, const char *line, size_t n);
size_t app_demux_lines(const char *data, size_t len, size_t max_line, app_line_fn fn, void *ud);
/*
 * The same, incrementally, for a stream read as it comes (a followed log):
 * frames and lines may be split anywhere between app_demux_feed calls; a
 * line is delivered once its '\n' came; app_demux_end delivers the lines
 * still without one (the stream ended).  Memory: 3 lines of max_line.
 * init: 0 or -1 (out of memory); feed and end return the lines delivered.
 */
struct app_line_acc {
	char  *buf;
	size_t len, max;
	bool   any;	/* bytes since the last newline */
};
struct app_demux {
	struct app_line_acc acc[3];	/* per stream: stdin (the engine sends none), stdout, stderr */
	struct app_frames   f;
};
int    app_demux_init(struct app_demux *d, size_t max_line);
size_t app_demux_feed(struct app_demux *d, const char *data, size_t len, app_line_fn fn, void *ud);
size_t app_demux_end(struct app_demux *d, app_line_fn fn, void *ud);
void   app_demux_free(struct app_demux *d);
/*
 * Concatenates the payloads of every frame into out (outlen, terminated),
 * stdout and stderr interleaved as they came (raw output as it is); sets
 * *truncated when they did not fit.  Returns the bytes written.
 */
size_t app_demux_all(const char *data, size_t len, char *out, size_t outlen, bool *truncated);

/* A log timestamp: whole seconds since the epoch and nanoseconds. */
struct app_ts {
	int64_t sec;
	int32_t nsec;
};

/*
 * Reads "YYYY-MM-DDTHH:MM:SS[.digits]Z " off the start of a log line
 * (timestamps=1), sets *ts and *msg to what follows the space.  0 or -1.
 */
int  app_log_ts(const char *line, size_t n, struct app_ts *ts, size_t *msg_off);
/* a < b: -1, a == b: 0, a > b: 1. */
int  app_ts_cmp(struct app_ts a, struct app_ts b);
/* "SEC.NNNNNNNNN" for since=; 0 or -1. */
int  app_ts_since(struct app_ts t, char *out, size_t outlen);
/* RFC 3339 with nanoseconds, "2024-01-02T03:04:05.123456789Z"; 0 or -1. */
int  app_ts_rfc3339(struct app_ts t, char *out, size_t outlen);

/* The container name lnchr-<app8>-<dep8>-<n>, or lnchr-<app8>-<dep8>-<service>-<n>
 * for a compose service (service not NULL); 0 or -1. */
int  app_container_name(const char *app_id, const char *deployment_id, const char *service,
    int n, char *out, size_t outlen);
/* The compose service of s (by name), or NULL. */
const struct app_service *app_spec_service(const struct app_spec *s, const char *name);

#endif
