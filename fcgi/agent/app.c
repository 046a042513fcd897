/*
 * app.c - the app.* job kinds (contract in app.h): deploy (image, new
 * containers, health, edge switch, drain), scale, start/stop/restart,
 * remove and exec.  Runs inside the job's child process.
 */
#include "app.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <curl/curl.h>

#include "../core/arena.h"
#include "../core/log.h"
#include "../core/util.h"
#include "appspec.h"
#include "ctr.h"
#include "edge.h"
#include "fnscale.h"
#include "engine.h"
#include "image.h"
#include "text.h"
#include "timefmt.h"
#include "volume.h"
#include "xfer.h"

#define MAX_NEW        100
#define EXEC_OUT_MAX   (64 * 1024)
#define WORKER_SETTLE_MS 2000
/* Health probes: every HEALTH_POLL_FIRST_MS for the first HEALTH_FAST_MS
 * (most apps listen within a fraction of a second, and a refused connect
 * costs nothing), then doubling up to HEALTH_POLL_MS.  Doubling from the
 * start left up to 160 ms between an app that was ready and the probe
 * that noticed (probes at 20, 60, 140, 300 ms...). */
#define HEALTH_POLL_FIRST_MS 20
#define HEALTH_FAST_MS 1000
#define HEALTH_POLL_MS 250
/* A running container whose published port refuses connections this long
 * is restarted once: seen (rarely) with Podman 4.3, whose port forwarding
 * was missing although the app listened; a restart sets it up again. */
#define HEALTH_REFUSED_RESTART_MS 5000
#define ERR_COPY       8000	/* RUNNER_MAX_ERROR */

struct app_ctx {
	struct app_job    *j;
	struct app_spec    s;
	struct app_redact  red;
	struct app_io      io;
	struct xfer        x;
	struct arena       a;
	bool               vols_ready;	/* the job's engine volumes exist */
	bool               net_ready;	/* the project's network exists */
	cJSON             *vol_facts;	/* [{volume_id, warning}] for the result */
};

/* A container as the jobs handle it. */
struct inst {
	const cJSON *doc;	/* inspect document (arena) */
	char         id[80];
	char         name[128];
	int          port;
	bool         served;	/* health-checked and routed: not a compose service but the web one */
	bool         healthy;
	bool         restarted;	/* the health check restarted it once */
};

int
app_job_fail(struct app_job *j, const struct app_redact *red, const char *fmt, ...)
{
	char    raw[8192];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	app_redact(red, raw, j->error, j->errlen);
	return -1;
}

/* Sets the job's error, redacted. */
#define fail(c, ...) app_job_fail((c)->j, &(c)->red, __VA_ARGS__)

/* ------------------------------------------------------------ listing */

static int
inst_from(struct app_ctx *c, const cJSON *doc, struct inst *in)
{
	memset(in, 0, sizeof(*in));
	in->doc = doc;
	(void)util_snprintf(in->id, sizeof(in->id), "%s", ctr_id(doc));
	(void)util_snprintf(in->name, sizeof(in->name), "%s", ctr_name(doc));
	in->port = c->s.exposed_port > 0 ? ctr_host_port(doc, c->s.exposed_port) : 0;
	{
		const char *svc = ctr_label(doc, "launcher.service");

		in->served = svc == NULL || c->s.web_service == NULL ||
		    strcmp(svc, c->s.web_service) == 0;
	}
	return 0;
}

/* Ours to touch: managed and of this app (checked on the inspect document). */
static bool
is_ours(const struct app_ctx *c, const cJSON *doc)
{
	const char *m = ctr_label(doc, "launcher.managed"), *app = ctr_label(doc, "launcher.app");

	return m != NULL && strcmp(m, "1") == 0 && app != NULL && strcmp(app, c->s.app_id) == 0;
}

/*
 * The app's managed containers (inspected), optionally only deployment dep
 * (NULL: any), only running ones, or only those NOT of deployment not_dep.
 * *out is an arena array; returns the count or -1 (error set).
 */
static int
list_app(struct app_ctx *c, const char *dep, const char *not_dep, bool running_only,
    struct inst **out)
{
	const char *labels[2];
	size_t      nl = 0;
	cJSON      *arr, *it;
	char        err[1024];
	int         n = 0, cap;

	labels[nl++] = arena_printf(&c->a, "launcher.app=%s", c->s.app_id);
	if (dep != NULL)
		labels[nl++] = arena_printf(&c->a, "launcher.deployment=%s", dep);
	if (ctr_list(&c->x, &c->a, labels, nl, CTR_TIMEOUT_MS, &arr, err, sizeof(err)) != 0)
		return fail(c, "%s", err);
	cap = cJSON_GetArraySize(arr);
	if ((*out = arena_alloc(&c->a, sizeof(**out) * (size_t)(cap > 0 ? cap : 1))) == NULL)
		return fail(c, "out of memory");
	cJSON_ArrayForEach(it, arr) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "Id");
		cJSON       *doc;
		const char  *d;
		int          rc;

		if (!cJSON_IsString(id))
			continue;
		rc = ctr_inspect(&c->x, &c->a, id->valuestring, CTR_TIMEOUT_MS, &doc, err, sizeof(err));
		if (rc == 1)
			continue;	/* gone meanwhile */
		if (rc != 0)
			return fail(c, "%s", err);
		if (!is_ours(c, doc))
			continue;
		d = ctr_label(doc, "launcher.deployment");
		if (dep != NULL && (d == NULL || strcmp(d, dep) != 0))
			continue;
		if (not_dep != NULL && d != NULL && strcmp(d, not_dep) == 0)
			continue;
		if (running_only && !ctr_running(doc))
			continue;
		inst_from(c, doc, &(*out)[n++]);
	}
	return n;
}

/* Created time of an inspect document (for "newest first"). */
static struct app_ts
created_at(const cJSON *doc)
{
	const cJSON  *v = cJSON_GetObjectItemCaseSensitive(doc, "Created");
	struct app_ts ts = {0, 0};
	size_t        off;

	if (cJSON_IsString(v))
		(void)app_log_ts(v->valuestring, strlen(v->valuestring), &ts, &off);
	return ts;
}

static int
by_created_desc(const void *a, const void *b)
{
	const struct inst *x = a, *y = b;

	return -app_ts_cmp(created_at(x->doc), created_at(y->doc));
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct inst *)a)->name, ((const struct inst *)b)->name);
}

/* ---------------------------------------------------------- start/health */

/* A free lnchr-<app8>-<dep8>-<n> against every container of the app. */
static int
free_name(struct app_ctx *c, const struct inst *all, int nall, const struct inst *made, int nmade,
    char *out, size_t outlen)
{
	for (int n = 1; n < 10000; n++) {
		bool used = false;

		if (app_container_name(c->s.app_id, c->s.deployment_id,
		    c->s.svc != NULL ? c->s.svc->name : NULL, n, out, outlen) != 0)
			return -1;
		for (int i = 0; i < nall && !used; i++)
			used = strcmp(all[i].name, out) == 0;
		for (int i = 0; i < nmade && !used; i++)
			used = strcmp(made[i].name, out) == 0;
		if (!used)
			return 0;
	}
	return -1;
}

/*
 * Removes the containers a failed job made.  The job's error (what the
 * user reads) is kept as it was: the removal only narrates.
 */
static void
remove_all(struct app_ctx *c, struct inst *v, int n)
{
	char err[1024], keep[ERR_COPY];

	memcpy(keep, c->j->error, sizeof(keep) < c->j->errlen ? sizeof(keep) : c->j->errlen);
	keep[sizeof(keep) - 1] = '\0';
	for (int i = 0; i < n; i++) {
		if (ctr_remove(&c->x, &c->a, v[i].id, err, sizeof(err)) != 0)
			app_say(&c->io, "could not remove container %s: %s", v[i].name, err);
		else
			app_say(&c->io, "removed container %s", v[i].name);
	}
	(void)util_snprintf(c->j->error, c->j->errlen, "%s", keep);
}

/* ------------------------------------------------------------ host ports */

/* Host ports a job will not publish on (engine's, tried, its own). */
#define PORTS_AVOID_MAX 4096
#define PORT_TRIES      3	/* creates per container when the port is taken */
#define INSPECT_TRIES   5	/* more inspects of a container just started */

struct ports {
	int lo, hi;
	int avoid[PORTS_AVOID_MAX];
	int n;
};

/* Whether 127.0.0.1:port can be bound: no listener of another program and
 * no engine proxy (conmon, docker-proxy) of a running container holds it. */
static bool
port_bindable(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, ok;

	if (fd < 0)
		return false;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static void
ports_avoid(struct ports *p, int port)
{
	if (port > 0 && p->n < PORTS_AVOID_MAX)
		p->avoid[p->n++] = port;
}

/* The host_ports range and every port the engine's containers publish. */
static int
ports_load(struct app_ctx *c, struct ports *p)
{
	char err[1024];
	int  n;

	memset(p, 0, sizeof(*p));
	if (agent_port_range(c->j->conf->host_ports, &p->lo, &p->hi) != 0)
		return fail(c, "host_ports: bad range '%s'", c->j->conf->host_ports);
	if ((n = ctr_published_ports(&c->x, &c->a, p->avoid, PORTS_AVOID_MAX, err,
	    sizeof(err))) < 0)
		return fail(c, "%s", err);
	p->n = n;
	return 0;
}

/*
 * A host port from host_ports that no container of the engine publishes,
 * this job has not used or tried, and loopback can bind; the search
 * starts at a random place so that jobs and retries spread over the range.
 * The port joins the avoided ones.  Returns it, or -1 (error set).
 */
static int
ports_pick(struct app_ctx *c, struct ports *p)
{
	unsigned span = (unsigned)(p->hi - p->lo + 1), start = 0;

	if (getentropy(&start, sizeof(start)) != 0)
		start = (unsigned)timefmt_mono_ms() ^ (unsigned)getpid();
	for (unsigned k = 0; k < span; k++) {
		int  port = p->lo + (int)((start + k) % span);
		bool taken = false;

		for (int i = 0; i < p->n && !taken; i++)
			taken = p->avoid[i] == port;
		if (!taken && port_bindable(port)) {
			ports_avoid(p, port);
			return port;
		}
	}
	return fail(c, "no free host port in host_ports %d-%d", p->lo, p->hi);
}

/* The engine's answer when a published port is held by someone else. */
static bool
port_conflict(const char *err)
{
	return strstr(err, "address already in use") != NULL ||
	    strstr(err, "port is already allocated") != NULL;
}

/*
 * Creates and starts one container of image_id named in->name, published
 * on a port from p when the app serves one; a port that turns out taken
 * (another program bound it meanwhile) costs the container and a retry on
 * another port.  0, or -1 (error set; in->id is set when a container
 * exists).
 */
static int
create_started(struct app_ctx *c, const char *image_id, struct ports *p, struct inst *in)
{
	char err[1024];

	for (int t = 0;; t++) {
		int port = 0;

		if (c->s.exposed_port > 0 && (port = ports_pick(c, p)) < 0)
			return -1;
		if (ctr_create(&c->x, &c->a, &c->s, image_id, in->name, port, in->id, sizeof(in->id),
		    err, sizeof(err)) != 0) {
			in->id[0] = '\0';
			return fail(c, "%s", err);
		}
		if (ctr_action(&c->x, &c->a, in->id, "start", err, sizeof(err)) == 0)
			return 0;
		if (!port_conflict(err) || t + 1 >= PORT_TRIES)
			return fail(c, "%s", err);
		app_say(&c->io, "host port %d was taken meanwhile; trying another", port);
		if (ctr_remove(&c->x, &c->a, in->id, err, sizeof(err)) != 0)
			return fail(c, "%s", err);
		in->id[0] = '\0';
	}
}

/*
 * The engine volumes the app mounts, made (or found ours) once per job
 * before its first container; c->vol_facts says what became of each.
 * 0, or -1 (error set: e.g. a volume of our name that is not ours).
 */
static int
ensure_volumes(struct app_ctx *c)
{
	char warning[VOL_WARNING_MAX], err[1024];

	if (c->vols_ready || c->s.nvols == 0)
		return 0;
	if (c->vol_facts == NULL && (c->vol_facts = cJSON_CreateArray()) == NULL)
		return fail(c, "out of memory");
	for (int i = 0; i < c->s.nvols; i++) {
		const struct app_volume *v = &c->s.vols[i];
		cJSON                   *f;
		bool                     seen = false;

		for (int k = 0; k < i; k++)
			seen = seen || strcmp(c->s.vols[k].volume_id, v->volume_id) == 0;
		if (seen)
			continue;
		if (vol_ensure(&c->x, &c->a, &c->s, v, warning, sizeof(warning), err, sizeof(err)) != 0)
			return fail(c, "%s", err);
		app_say(&c->io, "volume %s%s ready for %s%s%s", VOL_PREFIX, v->volume_id, v->mount_path,
		    warning[0] ? ": " : "", warning);
		if ((f = cJSON_CreateObject()) == NULL)
			return fail(c, "out of memory");
		cJSON_AddStringToObject(f, "volume_id", v->volume_id);
		if (warning[0])
			cJSON_AddStringToObject(f, "warning", warning);
		else
			cJSON_AddNullToObject(f, "warning");
		cJSON_AddItemToArray(c->vol_facts, f);
	}
	c->vols_ready = true;
	return 0;
}

/*
 * Creates and starts count containers of image_id; made[] gets them (even
 * when a later one fails, so that the caller can remove them).  Returns 0
 * or -1 (error set); *nmade is how many exist.
 */
static int
start_new(struct app_ctx *c, const char *image_id, int count, struct inst *made, int *nmade)
{
	struct inst  *all;
	struct ports *p;
	int           nall = list_app(c, NULL, NULL, false, &all), rc;
	char          err[1024];

	*nmade = 0;
	if (nall < 0 || (count > 0 && ensure_volumes(c) != 0))
		return -1;
	/* The project's network: its databases are reachable there (ctr.h). */
	if (count > 0 && !c->net_ready) {
		if (ctr_network_ensure(&c->x, &c->a, c->s.tenant_id, c->s.project_id, err,
		    sizeof(err)) != 0)
			return fail(c, "%s", err);
		c->net_ready = true;
	}
	if ((p = arena_alloc(&c->a, sizeof(*p))) == NULL)
		return fail(c, "out of memory");
	if (count > 0 && c->s.exposed_port > 0 && ports_load(c, p) != 0)
		return -1;
	for (int i = 0; i < count; i++) {
		struct inst *in = &made[*nmade];
		cJSON       *doc;

		memset(in, 0, sizeof(*in));
		if (free_name(c, all, nall, made, *nmade, in->name, sizeof(in->name)) != 0)
			return fail(c, "no free container name");
		if (create_started(c, image_id, p, in) != 0) {
			if (in->id[0] != '\0')
				(*nmade)++;
			return -1;
		}
		(*nmade)++;
		/* An engine busy restarting a container that exited at once (its
		 * restart policy) may fail an inspect: ask again before giving up. */
		for (int t = 0; (rc = ctr_inspect(&c->x, &c->a, in->id, CTR_TIMEOUT_MS, &doc, err,
		    sizeof(err))) < 0 && t < INSPECT_TRIES; t++)
			timefmt_sleep_ms(200);
		if (rc == 1)
			return fail(c, "container %s vanished after its start", in->name);
		if (rc != 0)
			return fail(c, "container %s after its start: %s", in->name, err);
		inst_from(c, doc, in);
		if (c->s.exposed_port > 0 && in->port > 0)
			app_say(&c->io, "starting container %s (host port %d)", in->name, in->port);
		else
			app_say(&c->io, "starting container %s", in->name);
	}
	return 0;
}

/* One HTTP or TCP probe of 127.0.0.1:port; true when healthy. */
static bool
probe(const char *path, int port, char *why, size_t whylen)
{
	if (path != NULL) {
		CURL    *h = curl_easy_init();
		char     url[1200];
		long     st = 0;
		CURLcode cc;

		if (h == NULL)
			return false;
		(void)util_snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
		curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, NULL);
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
		curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
		{
			FILE *devnull = fopen("/dev/null", "we");

			curl_easy_setopt(h, CURLOPT_WRITEDATA, devnull);
			cc = curl_easy_perform(h);
			if (devnull != NULL)
				fclose(devnull);
		}
		if (cc == CURLE_OK)
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
		curl_easy_cleanup(h);
		if (cc != CURLE_OK) {
			(void)util_snprintf(why, whylen, "GET %s: %s", path, curl_easy_strerror(cc));
			return false;
		}
		if (st >= 200 && st < 400)
			return true;
		(void)util_snprintf(why, whylen, "GET %s answered %ld", path, st);
		return false;
	} else {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

		if (fd < 0)
			return false;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (!ok)
			(void)util_snprintf(why, whylen, "port %d: %s", port, strerror(errno));
		close(fd);
		return ok;
	}
}

/*
 * Waits until every container in v is healthy (see app.h), or one exits,
 * or the timeout.  On failure the error holds the reason and the last log
 * lines of the failing container; returns -1.
 */
/*
 * The remedy for a published port that refuses a running container: a
 * fresh container in its place (same name, new host port and address), or
 * a restart when there is no image to create it from.  Seen with Podman
 * 4.3 under load: the forwarding of a new container's port was torn down
 * by the asynchronous clean-up of a container stopped just before.
 */
static void
renew(struct app_ctx *c, const char *image_id, struct inst *in)
{
	char          err[1024];
	struct ports *p;
	cJSON        *doc;

	p = image_id != NULL ? arena_alloc(&c->a, sizeof(*p)) : NULL;
	if (p != NULL && ports_load(c, p) == 0 &&
	    ctr_remove(&c->x, &c->a, in->id, err, sizeof(err)) == 0) {
		struct inst fresh;

		memset(&fresh, 0, sizeof(fresh));
		(void)util_snprintf(fresh.name, sizeof(fresh.name), "%s", in->name);
		ports_avoid(p, in->port);	/* the one that refused */
		if (create_started(c, image_id, p, &fresh) != 0)
			app_say(&c->io, "%s", c->j->error);
		(void)util_snprintf(in->id, sizeof(in->id), "%s", fresh.id);
	} else if (ctr_action(&c->x, &c->a, in->id, "restart", err, sizeof(err)) != 0)
		app_say(&c->io, "%s", err);
	c->j->error[0] = '\0';	/* the health check decides */
	if (ctr_inspect(&c->x, &c->a, in->id, 5000L, &doc, err, sizeof(err)) == 0)
		inst_from(c, doc, in);
	in->restarted = true;
}

static int
health_wait(struct app_ctx *c, struct inst *v, int n, const char *image_id)
{
	bool    served = app_spec_is_served(&c->s);
	int64_t t0 = timefmt_mono_ms(), limit = (int64_t)c->s.hc_timeout_s * 1000;
	int64_t nap = HEALTH_POLL_FIRST_MS;
	char    why[512] = "", err[1024], logs[8192], red[8192];
	int     bad = -1, left = n;

	if (n == 0)
		return 0;
	/* Containers already known healthy (a compose dependency's check) are not waited for. */
	for (int i = 0; i < n; i++)
		left -= v[i].healthy ? 1 : 0;
	if (served)
		app_say(&c->io, "health check: %s on %d container%s (timeout %d s)",
		    c->s.healthcheck_path ? c->s.healthcheck_path : "TCP connect", n, n == 1 ? "" : "s",
		    c->s.hc_timeout_s);
	else
		timefmt_sleep_ms(WORKER_SETTLE_MS);
	for (;;) {
		struct arena scratch;

		arena_init(&scratch, 16384);
		for (int i = 0; i < n && bad < 0; i++) {
			cJSON       *doc;
			const cJSON *ec;
			int          rc;

			if (v[i].healthy)
				continue;
			rc = ctr_inspect(&c->x, &scratch, v[i].id, 5000L, &doc, err, sizeof(err));
			if (rc != 0) {
				util_snprintf(why, sizeof(why), "container %s: %s", v[i].name,
				    rc == 1 ? "removed" : err);
				bad = i;
				break;
			}
			if (!ctr_running(doc)) {
				ec = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc,
				    "State"), "ExitCode");
				util_snprintf(why, sizeof(why), "container %s exited with code %d",
				    v[i].name, cJSON_IsNumber(ec) ? (int)ec->valuedouble : -1);
				bad = i;
				break;
			}
			if (served && v[i].served && v[i].port == 0) {
				util_snprintf(why, sizeof(why), "container %s has no host port", v[i].name);
				bad = i;
				break;
			}
			if (!served || !v[i].served ||
			    probe(c->s.healthcheck_path, v[i].port, why, sizeof(why))) {
				v[i].healthy = true;
				left--;
			} else if (!v[i].restarted && strstr(why, "onnect") != NULL &&
			    timefmt_mono_ms() - t0 >= HEALTH_REFUSED_RESTART_MS &&
			    timefmt_mono_ms() - t0 < limit - HEALTH_REFUSED_RESTART_MS) {
				app_say(&c->io, "container %s: port %d still refuses connections after "
				    "%.0f s although it runs; %s it once", v[i].name, v[i].port,
				    (timefmt_mono_ms() - t0) / 1000.0, image_id ? "replacing" : "restarting");
				renew(c, image_id, &v[i]);
			}
		}
		arena_free(&scratch);
		if (bad >= 0 || left == 0)
			break;
		if (timefmt_mono_ms() - t0 >= limit) {
			for (int i = 0; i < n; i++)
				if (!v[i].healthy) {
					bad = i;
					break;
				}
			break;
		}
		timefmt_sleep_ms(served ? nap : 500);
		if (timefmt_mono_ms() - t0 >= HEALTH_FAST_MS)
			nap = nap * 2 < HEALTH_POLL_MS ? nap * 2 : HEALTH_POLL_MS;
	}
	if (bad < 0) {
		app_say(&c->io, "health check passed after %.1f s", (timefmt_mono_ms() - t0) / 1000.0);
		return 0;
	}
	/* The logs, then the error: both redacted (fail() does it). */
	if (ctr_logs_tail(&c->x, &c->a, v[bad].id, APP_LOG_TAIL, logs, sizeof(logs)) != 0)
		util_snprintf(logs, sizeof(logs), "(the engine gave no logs)");
	app_redact(&c->red, logs, red, sizeof(red));
	return fail(c, "health check failed: %s after %.0f s; last log lines:\n%s",
	    why[0] ? why : "timed out", (timefmt_mono_ms() - t0) / 1000.0, red);
}

/* ----------------------------------------------------------------- edge */

static bool
routed(const struct app_ctx *c)
{
	return app_spec_is_served(&c->s) && c->s.hostname != NULL && c->j->conf->edge_sites_dir[0];
}

/* Rewrites the site with v's ports (n == 0: 503).  0 or -1 (error set). */
static int
route(struct app_ctx *c, const struct inst *v, int n)
{
	int   ports[MAX_NEW * 2];
	int   np = 0, len;
	char *site, err[2048], path[AGENT_STR_MAX + 80], wake[AGENT_STR_MAX + 16];

	if (!routed(c))
		return 0;
	for (int i = 0; i < n && np < (int)(sizeof(ports) / sizeof(*ports)); i++)
		if (v[i].port > 0)
			ports[np++] = v[i].port;
	if ((site = arena_alloc(&c->a, EDGE_SITE_MAX)) == NULL)
		return fail(c, "out of memory");
	/* A function's site wakes its container stopped for idleness (fnscale.h). */
	if (c->s.function)
		fnscale_socket(c->j->conf, wake, sizeof(wake));
	len = edge_render_fn(c->s.app_id, c->s.name, c->s.deployment_id[0] ?
	    c->s.deployment_id : "-", c->s.hostname, c->j->conf->edge_listen, ports, (size_t)np,
	    c->s.function ? (c->s.methods != NULL ? c->s.methods : "") : NULL,
	    c->s.function ? wake : NULL, site, EDGE_SITE_MAX);
	if (len < 0)
		return fail(c, "the edge site does not fit in %d bytes", EDGE_SITE_MAX);
	if (edge_install(c->j->conf, c->s.app_id, site, err, sizeof(err)) != 0)
		return fail(c, "edge route not switched: %s", err);
	(void)edge_path(c->j->conf, c->s.app_id, path, sizeof(path));
	app_say(&c->io, "edge route app-%s.conf written (%d upstream%s); nginx %s", c->s.app_id, np,
	    np == 1 ? "" : "s", c->j->conf->edge_reload_command[0] || c->j->conf->edge_nginx_pid[0] ?
	    "reloaded" : "not reloaded (no edge_reload_command or edge_nginx_pid)");
	return 0;
}

/* ---------------------------------------------------------------- results */

static cJSON *
instances_json(struct app_ctx *c, const struct inst *v, int n, bool fresh)
{
	cJSON *arr = cJSON_CreateArray();
	char   err[512];

	if (arr == NULL)
		return NULL;
	for (int i = 0; i < n; i++) {
		cJSON       *doc = NULL;
		const cJSON *d = v[i].doc;

		if (fresh && ctr_inspect(&c->x, &c->a, v[i].id, CTR_TIMEOUT_MS, &doc, err,
		    sizeof(err)) == 0)
			d = doc;
		if (d != NULL)
			cJSON_AddItemToArray(arr, ctr_instance(d, false,
			    v[i].healthy && app_spec_is_served(&c->s) ? "healthy" : "none"));
	}
	return arr;
}

static int
result_instances(struct app_ctx *c, const struct inst *v, int n)
{
	cJSON *arr = instances_json(c, v, n, true);

	if (arr == NULL || (c->j->result = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(arr);
		return fail(c, "out of memory");
	}
	cJSON_AddItemToObject(c->j->result, "instances", arr);
	return 0;
}

/* -------------------------------------------------------------- deploy */

static int
marker_path(const struct app_ctx *c, char *out, size_t outlen)
{
	return util_snprintf(out, outlen, "%s/switched-%s", c->j->conf->state_dir,
	    c->s.deployment_id) < 0 ? -1 : 0;
}

static void
put_str_or_null(cJSON *o, const char *k, const char *v)
{
	if (v != NULL && v[0] != '\0')
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

static cJSON *
image_facts(const struct image_out *im)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return NULL;
	put_str_or_null(o, "image", im->image);
	put_str_or_null(o, "image_id", im->image_id);
	put_str_or_null(o, "commit_sha", im->commit_sha);
	put_str_or_null(o, "commit_message", im->commit_message);
	return o;
}

/* Stops and removes every other deployment's containers of the app. */
static void
drain_old(struct app_ctx *c)
{
	struct inst *old;
	int          n = list_app(c, NULL, c->s.deployment_id, false, &old);
	char         err[1024];

	if (n < 0) {
		app_say(&c->io, "listing old containers failed: %s", c->j->error);
		c->j->error[0] = '\0';
		return;
	}
	for (int i = 0; i < n; i++) {
		app_say(&c->io, "stopping old container %s", old[i].name);
		if (ctr_running(old[i].doc) &&
		    ctr_action(&c->x, &c->a, old[i].id, "stop", err, sizeof(err)) != 0)
			app_say(&c->io, "%s", err);
		if (ctr_remove(&c->x, &c->a, old[i].id, err, sizeof(err)) != 0)
			app_say(&c->io, "%s", err);
	}
	if (n == 0)
		app_say(&c->io, "no old containers to stop");
}

/*
 * Recreate, for an application that mounts volumes (one writer at a
 * time): the running containers of its other deployments are stopped,
 * not removed, before the new ones start.  drain_old removes them once
 * the new ones passed the health check; start_old starts them again when
 * the new ones fail, so that the old release serves again after a gap.
 * *old gets the stopped ones.  0, or -1 (error set; *nold are stopped).
 */
static int
stop_old(struct app_ctx *c, struct inst **old, int *nold)
{
	char err[1024];
	int  n = list_app(c, NULL, c->s.deployment_id, true, old);

	*nold = 0;
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		app_say(&c->io, "stopping old container %s before the new ones start (recreate)",
		    (*old)[i].name);
		if (ctr_action(&c->x, &c->a, (*old)[i].id, "stop", err, sizeof(err)) != 0)
			return fail(c, "%s", err);
		(*nold)++;
	}
	return 0;
}

static void
start_old(struct app_ctx *c, const struct inst *old, int n)
{
	char err[1024];

	for (int i = 0; i < n; i++) {
		if (ctr_action(&c->x, &c->a, old[i].id, "start", err, sizeof(err)) != 0)
			app_say(&c->io, "could not start old container %s again: %s", old[i].name, err);
		else
			app_say(&c->io, "started old container %s again", old[i].name);
	}
}

/* ------------------------------------------------------------- compose */

/* Whether any container of s mounts a volume (the application, or a compose service). */
static bool
mounts_volumes(const struct app_spec *s)
{
	for (int i = 0; i < s->nsvcs; i++)
		if (s->svcs[i].nvols > 0)
			return true;
	return s->nvols > 0;
}

/*
 * Puts the spec of compose service v's container in c->s (the application's
 * with the service's command, env, mounts, restart policy and port; only
 * the web service is served), the application's own in *keep, which
 * service_end puts back.
 */
static void
service_begin(struct app_ctx *c, const struct app_service *v, struct app_spec *keep)
{
	bool web = c->s.web_service != NULL && strcmp(v->name, c->s.web_service) == 0;

	*keep = c->s;
	c->s.svc = v;
	c->s.start_command = NULL;
	c->s.exposed_port = web ? v->port : 0;
	if (!web) {
		c->s.app_type = "worker";
		c->s.healthcheck_path = NULL;
	}
	if (v->restart != NULL)
		c->s.restart_policy = v->restart;
	memcpy(c->s.vols, v->vols, sizeof(v->vols));
	c->s.nvols = v->nvols;
	c->vols_ready = false;
}

static void
service_end(struct app_ctx *c, const struct app_spec *keep)
{
	c->s = *keep;
	c->vols_ready = false;
}

/*
 * Runs service v's healthcheck test in its container in (exec, as the
 * engine would) every interval until it exits 0; failures inside the
 * start period do not count, then retries of them make it unhealthy;
 * the whole wait is bounded by the application's healthcheck timeout, as
 * service_completed's.  0, or -1 (error set, with the test's last output).
 */
static int
service_healthy(struct app_ctx *c, const struct app_service *v, const struct inst *in)
{
	int64_t t0 = timefmt_mono_ms(), limit = (int64_t)c->s.hc_timeout_s * 1000;
	int     fails = 0, code;
	char    out[2048], err[1024], red[2048];
	bool    trunc, timed_out;

	app_say(&c->io, "waiting for service %s to be healthy (its healthcheck every %lld ms)",
	    v->name, (long long)v->hc_interval_ms);
	for (;;) {
		cJSON *doc;

		if (ctr_inspect(&c->x, &c->a, in->id, CTR_TIMEOUT_MS, &doc, err, sizeof(err)) != 0 ||
		    !ctr_running(doc))
			return fail(c, "service %s stopped before it was healthy", v->name);
		if (ctr_exec(&c->x, &c->a, in->id, v->hc_test, NULL, (long)v->hc_timeout_ms, out,
		    sizeof(out), &code, &trunc, &timed_out, err, sizeof(err)) != 0)
			return fail(c, "service %s: its healthcheck could not run: %s", v->name, err);
		if (code == 0 && !timed_out) {
			app_say(&c->io, "service %s is healthy after %.1f s", v->name,
			    (timefmt_mono_ms() - t0) / 1000.0);
			return 0;
		}
		if (timefmt_mono_ms() - t0 >= v->hc_start_ms && ++fails >= v->hc_retries) {
			app_redact(&c->red, out, red, sizeof(red));
			return fail(c, "service %s is unhealthy: its healthcheck failed %d times (%s); "
			    "last output: %s", v->name, fails, timed_out ? "timed out" :
			    "non-zero exit", red);
		}
		if (timefmt_mono_ms() - t0 + v->hc_interval_ms > limit)
			return fail(c, "service %s was not healthy within %d s (the application's "
			    "healthcheck_timeout_seconds)", v->name, c->s.hc_timeout_s);
		timefmt_sleep_ms(v->hc_interval_ms);
	}
}

/* Waits until service v's container in exited; 0 when it exited 0, else -1 (error set). */
static int
service_completed(struct app_ctx *c, const struct app_service *v, const struct inst *in)
{
	int64_t t0 = timefmt_mono_ms(), limit = (int64_t)c->s.hc_timeout_s * 1000;
	char    err[1024];

	app_say(&c->io, "waiting for service %s to complete", v->name);
	for (;;) {
		cJSON       *doc;
		const cJSON *ec;

		if (ctr_inspect(&c->x, &c->a, in->id, CTR_TIMEOUT_MS, &doc, err, sizeof(err)) != 0)
			return fail(c, "service %s: %s", v->name, err);
		if (!ctr_running(doc)) {
			ec = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "State"),
			    "ExitCode");
			if (cJSON_IsNumber(ec) && ec->valuedouble == 0) {
				app_say(&c->io, "service %s completed", v->name);
				return 0;
			}
			return fail(c, "service %s exited with code %d", v->name,
			    cJSON_IsNumber(ec) ? (int)ec->valuedouble : -1);
		}
		if (timefmt_mono_ms() - t0 >= limit)
			return fail(c, "service %s did not complete within %d s", v->name,
			    c->s.hc_timeout_s);
		timefmt_sleep_ms(250);
	}
}

/* Whether some service waits for v to complete (it may then exit). */
static bool
one_shot(const struct app_spec *s, const char *name)
{
	for (int i = 0; i < s->nsvcs; i++)
		for (const cJSON *d = s->svcs[i].depends_on ? s->svcs[i].depends_on->child : NULL; d;
		    d = d->next)
			if (strcmp(cJSON_GetObjectItemCaseSensitive(d, "service")->valuestring, name) == 0 &&
			    strcmp(cJSON_GetObjectItemCaseSensitive(d, "condition")->valuestring,
			    "service_completed_successfully") == 0)
				return true;
	return false;
}

/*
 * Brings up the stack of the job's compose source: each service's image
 * (a release's id, else the reference as the server has it or pulled;
 * ids[i] gets it), then the services in order, each after its
 * dependencies reached their condition (started, healthy: its
 * healthcheck passed, completed: exited 0), one container each, on the
 * project network with the service name as alias; then the health check
 * of the set (the web service over HTTP or TCP, the others running).
 * made[] gets every container (also on failure, for the caller to
 * remove); where[i] the index in made of service i.  0 or -1 (error set).
 */
static int
compose_up(struct app_ctx *c, const char **ids, struct inst *made, int *nmade, int *where)
{
	struct app_spec *keep = arena_alloc(&c->a, sizeof(*keep));
	char             err[4096];

	*nmade = 0;
	if (keep == NULL)
		return fail(c, "out of memory");
	for (int i = 0; i < c->s.nsvcs; i++) {
		const struct app_service *v = &c->s.svcs[i];
		struct image_out          im;

		if (ids[i] != NULL)
			continue;
		if (image_ensure(&c->x, &c->a, v->image_id != NULL ? v->image_id : v->image, &c->io, &im,
		    err, sizeof(err)) != 0)
			return fail(c, "service %s: %s", v->name, err);
		ids[i] = arena_strdup(&c->a, im.image_id);
	}
	for (int i = 0; i < c->s.nsvcs; i++) {
		const struct app_service *v = &c->s.svcs[i];
		int                       k = 0, rc;

		for (const cJSON *d = v->depends_on ? v->depends_on->child : NULL; d; d = d->next) {
			const char *dep = cJSON_GetObjectItemCaseSensitive(d, "service")->valuestring;
			const char *cond = cJSON_GetObjectItemCaseSensitive(d, "condition")->valuestring;
			const struct app_service *t = app_spec_service(&c->s, dep);
			int                       j = (int)(t - c->s.svcs);

			if (t == NULL || where[j] < 0)
				return fail(c, "service %s depends on %s, which has no container", v->name,
				    dep);
			if (strcmp(cond, "service_healthy") == 0 && t->hc_test != NULL &&
			    !made[where[j]].healthy) {
				if (service_healthy(c, t, &made[where[j]]) != 0)
					return -1;
				made[where[j]].healthy = true;
			} else if (strcmp(cond, "service_completed_successfully") == 0 &&
			    !made[where[j]].healthy) {
				if (service_completed(c, t, &made[where[j]]) != 0)
					return -1;
				made[where[j]].healthy = true;
			}
		}
		service_begin(c, v, keep);
		rc = start_new(c, ids[i], 1, &made[*nmade], &k);
		service_end(c, keep);
		if (k > 0)
			where[i] = *nmade;
		*nmade += k;
		if (rc != 0)
			return -1;
		app_say(&c->io, "service %s runs in %s", v->name, made[where[i]].name);
	}
	for (int i = 0; i < c->s.nsvcs; i++)
		if (where[i] >= 0 && one_shot(&c->s, c->s.svcs[i].name))
			made[where[i]].healthy = true;
	return health_wait(c, made, *nmade, NULL);
}

/* The result's "images": {service: image id}. */
static cJSON *
compose_images(const struct app_ctx *c, const char **ids)
{
	cJSON *o = cJSON_CreateObject();

	for (int i = 0; o != NULL && i < c->s.nsvcs; i++)
		if (ids[i] != NULL)
			cJSON_AddStringToObject(o, c->s.svcs[i].name, ids[i]);
	return o;
}

/*
 * app.deploy of a docker_compose application: the whole stack of the
 * deployment comes up beside the old one (or after it stopped, when a
 * service mounts a volume: recreate), passes the health check, takes the
 * edge route (the web service), then the old stack goes.  On failure the
 * new containers go and the old stack serves on (started again after a
 * recreate).
 */
/*
 * Sends traffic to the new containers v[0..n): the cancel marker first
 * (from here on the deployment completes even if cancelled: the plane
 * refuses a cancel once it has seen the "switching traffic" line), the edge
 * route, then the drain.  -1 when the route failed (the marker removed).
 */
static int
switch_traffic(struct app_ctx *c, const char *marker, const struct inst *v, int n)
{
	int fd;

	app_say(&c->io, "switching traffic to deployment %s", c->s.deployment_id);
	fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	if (route(c, v, n) != 0) {
		unlink(marker);
		return -1;
	}
	if (c->j->conf->edge_drain_ms > 0) {
		app_say(&c->io, "draining for %lld ms", (long long)c->j->conf->edge_drain_ms);
		timefmt_sleep_ms(c->j->conf->edge_drain_ms);
	}
	return 0;
}

/* A deploy's end: its result r (taken) gets the strategy (recreate or
 * rolling, and why) and the new instances, and the log says it is live. */
static int
go_live(struct app_ctx *c, cJSON *r, const struct inst *made, int nmade, bool recreate,
    const char *reason)
{
	cJSON *facts;

	cJSON_AddStringToObject(r, "strategy", recreate ? "recreate" : "rolling");
	cJSON_AddStringToObject(r, "strategy_reason", reason);
	facts = instances_json(c, made, nmade, true);
	cJSON_AddItemToObject(r, "instances", facts != NULL ? facts : cJSON_CreateArray());
	c->j->result = r;
	app_say(&c->io, "deployment %s is live with %d container%s", c->s.deployment_id, nmade,
	    nmade == 1 ? "" : "s");
	return 0;
}

static int
compose_deploy(struct app_ctx *c)
{
	struct inst *made = arena_alloc(&c->a, sizeof(*made) * APP_SERVICES_MAX), *old = NULL;
	const char **ids = arena_alloc(&c->a, sizeof(*ids) * APP_SERVICES_MAX);
	int          where[APP_SERVICES_MAX], nmade = 0, nold = 0, web = -1;
	bool         recreate = mounts_volumes(&c->s), switched = false;
	char         marker[AGENT_STR_MAX + 80];
	cJSON       *r;

	if (made == NULL || ids == NULL)
		return fail(c, "out of memory");
	memset(ids, 0, sizeof(*ids) * APP_SERVICES_MAX);
	for (int i = 0; i < APP_SERVICES_MAX; i++)
		where[i] = -1;
	if (marker_path(c, marker, sizeof(marker)) != 0)
		return fail(c, "state_dir path too long");
	app_say(&c->io, "deployment %s of %s: a compose stack of %d service%s", c->s.deployment_id,
	    c->s.name[0] ? c->s.name : c->s.app_id, c->s.nsvcs, c->s.nsvcs == 1 ? "" : "s");
	/* Images first: a missing one fails the deploy before the old stack is touched. */
	for (int i = 0; i < c->s.nsvcs; i++) {
		const struct app_service *v = &c->s.svcs[i];
		struct image_out          im;
		char                      err[4096];

		if (image_ensure(&c->x, &c->a, v->image_id != NULL ? v->image_id : v->image, &c->io, &im,
		    err, sizeof(err)) != 0) {
			c->j->result = compose_images(c, ids);
			return fail(c, "service %s: %s", v->name, err);
		}
		ids[i] = arena_strdup(&c->a, im.image_id);
	}
	if ((recreate && stop_old(c, &old, &nold) != 0) ||
	    compose_up(c, ids, made, &nmade, where) != 0) {
		remove_all(c, made, nmade);
		start_old(c, old, nold);
		return -1;
	}
	for (int i = 0; i < c->s.nsvcs; i++)
		if (c->s.web_service != NULL && strcmp(c->s.svcs[i].name, c->s.web_service) == 0)
			web = where[i];
	if (routed(c) && web >= 0) {
		switched = true;
		if (switch_traffic(c, marker, &made[web], 1) != 0) {
			remove_all(c, made, nmade);
			start_old(c, old, nold);
			return -1;
		}
	}
	drain_old(c);
	if (switched)
		unlink(marker);
	if ((r = cJSON_CreateObject()) == NULL)
		return fail(c, "out of memory");
	{
		int first = web >= 0 ? web : 0;
		int svc = 0;

		for (int i = 0; i < c->s.nsvcs; i++)
			if (where[i] == first)
				svc = i;
		cJSON_AddStringToObject(r, "image", c->s.svcs[svc].image);
		cJSON_AddStringToObject(r, "image_id", ids[svc]);
	}
	cJSON_AddItemToObject(r, "images", compose_images(c, ids));
	return go_live(c, r, made, nmade, recreate, recreate ?
	    "a service mounts volumes: the old stack stops before the new one starts, so that one "
	    "release at a time writes to them" :
	    "the new stack starts and passes the health check before the old one stops");
}

static int
kind_deploy(struct app_ctx *c)
{
	struct image_out im;
	struct inst      made[MAX_NEW];
	int              nmade = 0;
	char             dir[AGENT_STR_MAX + 80], marker[AGENT_STR_MAX + 80], err[4096];
	cJSON           *r;
	bool             switched = false, recreate = c->s.nvols > 0;
	struct inst     *old = NULL;
	int              nold = 0;

	if (c->s.src == APP_SRC_COMPOSE)
		return compose_deploy(c);

	if (util_snprintf(dir, sizeof(dir), "%s/build-%s", c->j->conf->state_dir,
	    c->s.deployment_id) < 0 || marker_path(c, marker, sizeof(marker)) != 0)
		return fail(c, "state_dir path too long");
	app_say(&c->io, "deployment %s of %s (%s, %d replica%s)", c->s.deployment_id,
	    c->s.name[0] ? c->s.name : c->s.app_id, c->s.app_type, c->s.replicas,
	    c->s.replicas == 1 ? "" : "s");
	if (image_resolve(&c->x, &c->a, c->j->conf, &c->s, &c->io, dir, &im, err, sizeof(err)) != 0) {
		c->j->result = image_facts(&im);
		return fail(c, "%s", err);
	}
	if ((recreate && stop_old(c, &old, &nold) != 0) ||
	    start_new(c, im.image_id, c->s.replicas, made, &nmade) != 0 ||
	    health_wait(c, made, nmade, im.image_id) != 0) {
		remove_all(c, made, nmade);
		start_old(c, old, nold);
		c->j->result = image_facts(&im);
		return -1;
	}
	if (routed(c)) {
		switched = true;
		if (switch_traffic(c, marker, made, nmade) != 0) {
			remove_all(c, made, nmade);
			c->j->result = image_facts(&im);
			return -1;
		}
	}
	drain_old(c);
	if (switched)
		unlink(marker);
	if ((r = image_facts(&im)) == NULL)
		return fail(c, "out of memory");
	return go_live(c, r, made, nmade, recreate, recreate ?
	    "the application mounts volumes: old containers stop before new ones start, so that "
	    "one release at a time writes to them" :
	    "new containers start and pass the health check before old ones stop");
}

/* ---------------------------------------------------------- scale et al. */

static int
kind_scale(struct app_ctx *c)
{
	struct inst *cur, made[MAX_NEW];
	int          n = list_app(c, c->s.deployment_id, NULL, true, &cur), nmade = 0;
	char         err[1024];
	struct image_out im;

	if (n < 0)
		return -1;
	app_say(&c->io, "scaling %s from %d to %d", c->s.name[0] ? c->s.name : c->s.app_id, n,
	    c->s.replicas);
	if (c->s.replicas > n) {
		if (image_resolve(&c->x, &c->a, c->j->conf, &c->s, &c->io, NULL, &im, err,
		    sizeof(err)) != 0)
			return fail(c, "%s", err);
		if (start_new(c, im.image_id, c->s.replicas - n, made, &nmade) != 0 ||
		    health_wait(c, made, nmade, im.image_id) != 0) {
			remove_all(c, made, nmade);
			return -1;
		}
		for (int i = 0; i < n; i++)
			cur[i].healthy = true;
		/* cur and made together: the new set. */
		{
			struct inst *all = arena_alloc(&c->a, sizeof(*all) * (size_t)(n + nmade));

			if (all == NULL)
				return fail(c, "out of memory");
			memcpy(all, cur, sizeof(*all) * (size_t)n);
			memcpy(all + n, made, sizeof(*all) * (size_t)nmade);
			if (route(c, all, n + nmade) != 0)
				return -1;
			return result_instances(c, all, n + nmade);
		}
	}
	qsort(cur, (size_t)n, sizeof(*cur), by_created_desc);
	for (int i = 0; i < n; i++)
		cur[i].healthy = true;
	/* Route to the survivors first, then stop the newest extras. */
	if (c->s.replicas < n && route(c, cur + (n - c->s.replicas), c->s.replicas) != 0)
		return -1;
	for (int i = 0; i < n - c->s.replicas; i++) {
		app_say(&c->io, "stopping container %s", cur[i].name);
		if (ctr_action(&c->x, &c->a, cur[i].id, "stop", err, sizeof(err)) != 0)
			app_say(&c->io, "%s", err);
		if (ctr_remove(&c->x, &c->a, cur[i].id, err, sizeof(err)) != 0)
			return fail(c, "%s", err);
	}
	if (c->s.replicas == n && route(c, cur, n) != 0)
		return -1;
	return result_instances(c, cur + (n - c->s.replicas), c->s.replicas);
}

/* stop, start, restart of the deployment's containers. */
static int
kind_lifecycle(struct app_ctx *c, const char *action)
{
	struct inst *cur, made[MAX_NEW];
	int          n = list_app(c, c->s.deployment_id, NULL, false, &cur), nmade = 0;
	char         err[1024];
	struct image_out im;

	if (n < 0)
		return -1;
	qsort(cur, (size_t)n, sizeof(*cur), by_name);
	if (n == 0 && strcmp(action, "start") == 0 && c->s.src == APP_SRC_COMPOSE) {
		const char **ids = arena_alloc(&c->a, sizeof(*ids) * APP_SERVICES_MAX);
		int          where[APP_SERVICES_MAX];

		if (ids == NULL)
			return fail(c, "out of memory");
		memset(ids, 0, sizeof(*ids) * APP_SERVICES_MAX);
		for (int i = 0; i < APP_SERVICES_MAX; i++)
			where[i] = -1;
		app_say(&c->io, "no container of deployment %s: bringing its stack up",
		    c->s.deployment_id);
		if (compose_up(c, ids, made, &nmade, where) != 0) {
			remove_all(c, made, nmade);
			return -1;
		}
		if (route(c, made, nmade) != 0)
			return -1;
		return result_instances(c, made, nmade);
	}
	if (n == 0 && strcmp(action, "start") == 0) {
		if (c->s.src != APP_SRC_RELEASE)
			return fail(c, "no container of deployment %s exists and no release image was "
			    "given to create them", c->s.deployment_id);
		app_say(&c->io, "no container of deployment %s: creating %d", c->s.deployment_id,
		    c->s.replicas);
		if (image_resolve(&c->x, &c->a, c->j->conf, &c->s, &c->io, NULL, &im, err,
		    sizeof(err)) != 0)
			return fail(c, "%s", err);
		if (start_new(c, im.image_id, c->s.replicas, made, &nmade) != 0 ||
		    health_wait(c, made, nmade, im.image_id) != 0) {
			remove_all(c, made, nmade);
			return -1;
		}
		if (route(c, made, nmade) != 0)
			return -1;
		return result_instances(c, made, nmade);
	}
	if (strcmp(action, "stop") == 0 && route(c, cur, 0) != 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (strcmp(action, "start") == 0 && ctr_running(cur[i].doc)) {
			app_say(&c->io, "container %s is already running", cur[i].name);
			continue;
		}
		app_say(&c->io, "%s container %s", strcmp(action, "stop") == 0 ? "stopping" :
		    strcmp(action, "start") == 0 ? "starting" : "restarting", cur[i].name);
		if (ctr_action(&c->x, &c->a, cur[i].id, action, err, sizeof(err)) != 0)
			return fail(c, "%s", err);
	}
	if (strcmp(action, "stop") != 0) {
		/* Ports may change over a restart: read them again. */
		for (int i = 0; i < n; i++) {
			cJSON *doc;

			if (ctr_inspect(&c->x, &c->a, cur[i].id, CTR_TIMEOUT_MS, &doc, err,
			    sizeof(err)) == 0)
				inst_from(c, doc, &cur[i]);
		}
		if (health_wait(c, cur, n, NULL) != 0 || route(c, cur, n) != 0)
			return -1;
	}
	return result_instances(c, cur, n);
}

static int
kind_remove(struct app_ctx *c)
{
	struct inst *cur;
	int          n = list_app(c, NULL, NULL, false, &cur), removed = 0;
	char         err[2048];

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (ctr_remove(&c->x, &c->a, cur[i].id, err, sizeof(err)) != 0)
			return fail(c, "%s", err);
		app_say(&c->io, "removed container %s", cur[i].name);
		removed++;
	}
	if (c->s.tenant_id[0] != '\0' && c->s.project_id[0] != '\0') {
		ctr_network_prune(&c->x, &c->a, c->s.tenant_id, c->s.project_id, err, sizeof(err));
		if (err[0] != '\0')
			app_say(&c->io, "%s", err);
	}
	if (edge_remove(c->j->conf, c->s.app_id, err, sizeof(err)) != 0)
		return fail(c, "containers removed, but the edge route was not: %s", err);
	if (c->j->conf->edge_sites_dir[0])
		app_say(&c->io, "edge route app-%s.conf removed", c->s.app_id);
	if ((c->j->result = cJSON_CreateObject()) == NULL)
		return fail(c, "out of memory");
	cJSON_AddNumberToObject(c->j->result, "removed", removed);
	return 0;
}

/* ----------------------------------------------------------------- exec */

static int
kind_exec(struct app_ctx *c)
{
	struct inst *cur;
	int          n = list_app(c, c->s.deployment_id, NULL, true, &cur), code;
	cJSON       *res;
	char        *out, *red, err[1024];
	bool         trunc, timed_out;

	if (n < 0)
		return -1;
	if (n == 0)
		return fail(c, "no running container of deployment %s", c->s.deployment_id);
	qsort(cur, (size_t)n, sizeof(*cur), by_name);
	out = arena_alloc(&c->a, EXEC_OUT_MAX + 1);
	red = arena_alloc(&c->a, EXEC_OUT_MAX + 1);
	if (out == NULL || red == NULL)
		return fail(c, "out of memory");
	app_say(&c->io, "exec in %s (timeout %d s)", cur[0].name, c->s.exec_timeout_s);
	if (ctr_exec(&c->x, &c->a, cur[0].id, c->s.command, NULL, (long)c->s.exec_timeout_s * 1000L,
	    out, EXEC_OUT_MAX + 1, &code, &trunc, &timed_out, err, sizeof(err)) != 0)
		return fail(c, "exec in %s: %s", cur[0].name, err);
	app_redact(&c->red, out, red, EXEC_OUT_MAX + 1);
	if ((res = cJSON_CreateObject()) == NULL)
		return fail(c, "out of memory");
	c->j->result = res;
	if (code >= 0 && !timed_out)
		cJSON_AddNumberToObject(res, "exit_code", code);
	else
		cJSON_AddNullToObject(res, "exit_code");
	cJSON_AddStringToObject(res, "output", red);
	cJSON_AddStringToObject(res, "instance", cur[0].name);
	cJSON_AddBoolToObject(res, "truncated", trunc);
	cJSON_AddBoolToObject(res, "timed_out", timed_out);
	if (timed_out)
		app_say(&c->io, "exec timed out after %d s", c->s.exec_timeout_s);
	return 0;
}

/* ------------------------------------------------------------- dispatch */

static int
kind_start(struct app_ctx *c)
{
	return kind_lifecycle(c, "start");
}

static int
kind_stop(struct app_ctx *c)
{
	return kind_lifecycle(c, "stop");
}

static int
kind_restart(struct app_ctx *c)
{
	return kind_lifecycle(c, "restart");
}

static const struct {
	const char *kind;
	int       (*run)(struct app_ctx *c);
} app_kinds[] = {
	{"app.deploy", kind_deploy},
	{"app.scale", kind_scale},
	{"app.start", kind_start},
	{"app.stop", kind_stop},
	{"app.restart", kind_restart},
	{"app.remove", kind_remove},
	{"app.exec", kind_exec},
};

static int
app_kind_index(const char *kind)
{
	for (size_t i = 0; i < sizeof(app_kinds) / sizeof(*app_kinds); i++)
		if (strcmp(app_kinds[i].kind, kind) == 0)
			return (int)i;
	return -1;
}

bool
app_kind(const char *kind)
{
	return app_kind_index(kind) >= 0;
}

int
app_run(struct app_job *j)
{
	struct app_ctx c;
	int            k = app_kind_index(j->kind), rc;

	memset(&c, 0, sizeof(c));
	c.j = j;
	j->error[0] = '\0';
	if (k < 0)
		return fail(&c, "unknown job kind %s", j->kind);
	if (app_spec_parse(j->payload, j->kind, &c.s, j->error, j->errlen) != 0)
		return -1;
	app_redact_init(&c.red, &c.s);
	if (c.s.build_args != NULL) {
		const cJSON *it;

		cJSON_ArrayForEach(it, c.s.build_args) {
			app_redact_add(&c.red, it->valuestring);
		}
	}
	c.io.emit = j->emit;
	c.io.ud = j->ud;
	c.io.red = &c.red;
	xfer_init(&c.x, j->conf, NULL);
	arena_init(&c.a, 65536);
	rc = app_kinds[k].run(&c);
	if (rc != 0 && j->error[0] == '\0')
		fail(&c, "%s failed", j->kind);
	if (c.vol_facts != NULL && j->result == NULL)
		j->result = cJSON_CreateObject();
	if (c.vol_facts != NULL && cJSON_IsObject(j->result))
		cJSON_AddItemToObject(j->result, "volumes", c.vol_facts);
	else
		cJSON_Delete(c.vol_facts);
	xfer_cleanup(&c.x);
	arena_free(&c.a);
	app_redact_free(&c.red);
	return rc;
}

/* ------------------------------------------------------ after a kill */

static void
cleanup_run(const struct agent_conf *conf, const char *job_id, const cJSON *payload)
{
	struct app_job j = {.kind = "app.deploy", .job_id = job_id, .payload = payload, .conf = conf};
	struct app_ctx c;
	char           err[2048], marker[AGENT_STR_MAX + 80], dir[AGENT_STR_MAX + 80];
	struct inst   *v;
	int            n;
	bool           switched;

	memset(&c, 0, sizeof(c));
	j.error = err;
	j.errlen = sizeof(err);
	c.j = &j;
	if (app_spec_parse(payload, "app.deploy", &c.s, err, sizeof(err)) != 0 ||
	    c.s.deployment_id[0] == '\0')
		return;
	app_redact_init(&c.red, &c.s);
	c.io.red = &c.red;
	xfer_init(&c.x, conf, NULL);
	arena_init(&c.a, 65536);
	if (util_snprintf(dir, sizeof(dir), "%s/build-%s", conf->state_dir, c.s.deployment_id) >= 0)
		(void)image_rmtree(dir);
	switched = marker_path(&c, marker, sizeof(marker)) == 0 && access(marker, F_OK) == 0;
	if (switched) {
		log_info("job %s: cancelled after the traffic switch: completing the drain of app %s",
		    job_id, c.s.app_id);
		drain_old(&c);
		unlink(marker);
	} else if ((n = list_app(&c, c.s.deployment_id, NULL, false, &v)) > 0) {
		log_info("job %s: cancelled: removing the %d new container%s of deployment %s",
		    job_id, n, n == 1 ? "" : "s", c.s.deployment_id);
		for (int i = 0; i < n; i++)
			if (ctr_remove(&c.x, &c.a, v[i].id, err, sizeof(err)) != 0)
				log_warn("job %s: %s", job_id, err);
	}
	/* Recreate stopped the old release first: it serves again. */
	if (mounts_volumes(&c.s) && !switched &&
	    (n = list_app(&c, NULL, c.s.deployment_id, false, &v)) > 0) {
		for (int i = 0; i < n; i++)
			if (!ctr_running(v[i].doc) &&
			    ctr_action(&c.x, &c.a, v[i].id, "start", err, sizeof(err)) != 0)
				log_warn("job %s: %s", job_id, err);
	}
	xfer_cleanup(&c.x);
	arena_free(&c.a);
	app_redact_free(&c.red);
}

void
app_detached(const struct agent_conf *c, const char *job_id, const cJSON *payload,
    void (*fn)(const struct agent_conf *c, const char *job_id, const cJSON *payload))
{
	pid_t pid;

	/* Double fork: the grandchild is nobody's to wait for. */
	if ((pid = fork()) < 0) {
		log_error("job %s: cannot fork the clean-up: %s", job_id, strerror(errno));
		return;
	}
	if (pid == 0) {
		if (fork() == 0) {
			sigset_t none;

			setsid();
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			signal(SIGHUP, SIG_IGN);
			signal(SIGCHLD, SIG_DFL);
			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
			fn(c, job_id, payload);
			_exit(0);
		}
		_exit(0);
	}
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

void
app_after_kill(const struct agent_conf *c, const char *kind, const char *job_id,
    const cJSON *payload)
{
	if (strcmp(kind, "app.deploy") == 0)
		app_detached(c, job_id, payload, cleanup_run);
}
