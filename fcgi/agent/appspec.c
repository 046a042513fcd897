/*
 * appspec.c - payload parsing, redaction, stream frames and log timestamps
 * for the app.* jobs (see appspec.h; the payload contract is in app.h).
 */
#include "appspec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/util.h"
#include "text.h"
#include "timefmt.h"

/* ------------------------------------------------------------- payload */

struct perr {
	char  *out;
	size_t len, used;
	int    n;
};

static void
bad(struct perr *e, const char *what)
{
	int w;

	if (e->n++ == 0)
		w = snprintf(e->out, e->len, "bad payload: %s", what);
	else
		w = snprintf(e->out + e->used, e->len - e->used, "; %s", what);
	if (w > 0)
		e->used = e->used + (size_t)w < e->len ? e->used + (size_t)w : e->len - 1;
}

/* Ids go into labels, names, paths and URLs: [A-Za-z0-9_-]{1,63}. */
static bool
id_ok(const char *s)
{
	return text_word_ok(s, APP_ID_MAX - 1, "-_");
}

static void
get_id(const cJSON *p, const char *name, bool required, char *out, struct perr *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, name);
	char         msg[96];

	out[0] = '\0';
	if ((v == NULL || cJSON_IsNull(v)) && !required)
		return;
	if (!cJSON_IsString(v) || !id_ok(v->valuestring)) {
		util_snprintf(msg, sizeof(msg), "%s must be an id", name);
		bad(e, msg);
		return;
	}
	memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
}

/* An integer member in [lo,hi]; def when absent or null. */
static int64_t
get_int(const cJSON *o, const char *name, int64_t lo, int64_t hi, int64_t def, struct perr *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	char         msg[128];
	int64_t      out;

	if (v == NULL || cJSON_IsNull(v))
		return def;
	if (text_json_i64(v, lo, hi, &out) != 0) {
		util_snprintf(msg, sizeof(msg), "%s must be an integer %lld..%lld", name,
		    (long long)lo, (long long)hi);
		bad(e, msg);
		return def;
	}
	return out;
}

/* A string member of at most max bytes; def when absent or null. */
static const char *
get_str(const cJSON *o, const char *name, size_t max, const char *def, struct perr *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	char         msg[128];

	if (v == NULL || cJSON_IsNull(v))
		return def;
	if (!cJSON_IsString(v) || strlen(v->valuestring) > max) {
		util_snprintf(msg, sizeof(msg), "%s must be a string of at most %zu bytes", name, max);
		bad(e, msg);
		return def;
	}
	return v->valuestring;
}

static bool
one_of(const char *v, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(v, *set) == 0)
			return true;
	return false;
}

/* No byte <= ' ' nor DEL: it goes into nginx's config or a URL. */
static bool
no_space(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

static bool
hostname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '-' || s[i] == '.' || s[i] == '_' ||
		    (s[i] == '*' && i == 0)))
			return false;
	return true;
}

/* A relative path inside the checkout: no leading '/', no ".." component. */
static bool
relpath_ok(const char *s)
{
	const char *p = s;

	if (*s == '\0' || *s == '/' || !no_space(s) || strchr(s, '\\') != NULL)
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += n;
		if (*p == '/')
			p++;
	}
	return true;
}

static bool
env_name_ok(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_' ||
		    (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

static bool
string_map_ok(const cJSON *o, bool names)
{
	const cJSON *it;

	if (!cJSON_IsObject(o))
		return false;
	cJSON_ArrayForEach(it, o) {
		if (!cJSON_IsString(it) || it->string == NULL || (names && !env_name_ok(it->string)))
			return false;
	}
	return true;
}

static bool
hex_ok(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

static void
parse_app(const cJSON *app, struct app_spec *s, struct perr *e)
{
	static const char *const types[] = {"web", "worker", "api", NULL};
	static const char *const policies[] = {"always", "on-failure", "unless-stopped", "no", NULL};
	const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(app, "cpu_limit");

	s->name = get_str(app, "name", 255, "", e);
	s->app_type = get_str(app, "app_type", 16, "web", e);
	if (!one_of(s->app_type, types))
		bad(e, "app.app_type must be web|worker|api");
	s->exposed_port = (int)get_int(app, "exposed_port", 1, 65535, 0, e);
	s->replicas = (int)get_int(app, "replicas", 0, 100, 1, e);
	s->restart_policy = get_str(app, "restart_policy", 32, "always", e);
	if (!one_of(s->restart_policy, policies))
		bad(e, "app.restart_policy must be always|on-failure|unless-stopped|no");
	s->start_command = get_str(app, "start_command", 8192, NULL, e);
	if (s->start_command != NULL && s->start_command[0] == '\0')
		s->start_command = NULL;
	if (cpu != NULL && !cJSON_IsNull(cpu)) {
		if (!cJSON_IsNumber(cpu) || !(cpu->valuedouble > 0) || !(cpu->valuedouble <= 1024))
			bad(e, "app.cpu_limit must be a number of cores > 0");
		else
			s->cpu_limit = cpu->valuedouble;
	}
	s->memory_limit = get_int(app, "memory_limit", 0, INT64_C(1) << 50, 0, e);
	s->healthcheck_path = get_str(app, "healthcheck_path", 1024, NULL, e);
	if (s->healthcheck_path != NULL && s->healthcheck_path[0] == '\0')
		s->healthcheck_path = NULL;
	if (s->healthcheck_path != NULL && (s->healthcheck_path[0] != '/' ||
	    !no_space(s->healthcheck_path)))
		bad(e, "app.healthcheck_path must start with / and hold no spaces");
	s->hc_timeout_s = (int)get_int(app, "healthcheck_timeout_seconds", 1, 3600, 60, e);
	s->hostname = get_str(app, "hostname", 253, NULL, e);
	if (s->hostname != NULL && s->hostname[0] == '\0')
		s->hostname = NULL;
	if (s->hostname != NULL && !hostname_ok(s->hostname))
		bad(e, "app.hostname must be a DNS name");
}

static void
parse_source(const cJSON *src, struct app_spec *s, struct perr *e)
{
	const char *type = get_str(src, "type", 32, "", e);

	if (strcmp(type, "docker_image") == 0) {
		s->src = APP_SRC_IMAGE;
		s->image = get_str(src, "image", 512, NULL, e);
		if (s->image == NULL || s->image[0] == '\0' || !no_space(s->image))
			bad(e, "source.image must be an image reference");
	} else if (strcmp(type, "git") == 0) {
		s->src = APP_SRC_GIT;
		s->repo_url = get_str(src, "repository_url", 2048, NULL, e);
		if (s->repo_url == NULL || !no_space(s->repo_url) || s->repo_url[0] == '-' ||
		    strstr(s->repo_url, "://") == NULL)
			bad(e, "source.repository_url must be a URL");
		s->branch = get_str(src, "branch", 255, "main", e);
		if (s->branch[0] == '\0' || s->branch[0] == '-' || !no_space(s->branch))
			bad(e, "source.branch must be a branch name");
		s->commit_sha = get_str(src, "commit_sha", 64, NULL, e);
		if (s->commit_sha != NULL && s->commit_sha[0] == '\0')
			s->commit_sha = NULL;
		if (s->commit_sha != NULL && !hex_ok(s->commit_sha, 4, 64))
			bad(e, "source.commit_sha must be hexadecimal");
		s->dockerfile = get_str(src, "dockerfile_path", 1024, "Dockerfile", e);
		if (!relpath_ok(s->dockerfile))
			bad(e, "source.dockerfile_path must be a relative path inside the repository");
		s->build_context = get_str(src, "build_context", 1024, ".", e);
		if (!relpath_ok(s->build_context))
			bad(e, "source.build_context must be a relative path inside the repository");
		s->build_args = cJSON_GetObjectItemCaseSensitive(src, "build_args");
		if (cJSON_IsNull(s->build_args))
			s->build_args = NULL;
		if (s->build_args != NULL && !string_map_ok(s->build_args, false))
			bad(e, "source.build_args must be an object of strings");
	} else if (strcmp(type, "release") == 0) {
		s->src = APP_SRC_RELEASE;
		s->image_id = get_str(src, "image_id", 128, NULL, e);
		if (s->image_id == NULL || !(hex_ok(s->image_id, 12, 64) ||
		    (strncmp(s->image_id, "sha256:", 7) == 0 && hex_ok(s->image_id + 7, 64, 64))))
			bad(e, "source.image_id must be sha256:<64 hex>");
	} else
		bad(e, "source.type must be docker_image|git|release");
}

int
app_spec_parse(const cJSON *p, const char *kind, struct app_spec *s, char *err, size_t errlen)
{
	static const cJSON empty_env = {.type = cJSON_Object};
	struct perr  e = {.out = err, .len = errlen};
	const cJSON *app = cJSON_GetObjectItemCaseSensitive(p, "app");
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(p, "source");
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(p, "env");
	bool         is_remove = strcmp(kind, "app.remove") == 0;
	bool         need_app = strcmp(kind, "app.deploy") == 0 || strcmp(kind, "app.scale") == 0 ||
	    strcmp(kind, "app.start") == 0;

	memset(s, 0, sizeof(*s));
	err[0] = '\0';
	s->replicas = 1;
	s->hc_timeout_s = 60;
	s->app_type = "web";
	s->restart_policy = "always";
	s->name = "";
	s->env = &empty_env;
	if (!cJSON_IsObject(p)) {
		bad(&e, "not an object");
		return -1;
	}
	get_id(p, "tenant_id", !is_remove, s->tenant_id, &e);
	get_id(p, "project_id", !is_remove, s->project_id, &e);
	get_id(p, "app_id", true, s->app_id, &e);
	get_id(p, "deployment_id", !is_remove, s->deployment_id, &e);
	if (cJSON_IsObject(app))
		parse_app(app, s, &e);
	else if (need_app || (app != NULL && !cJSON_IsNull(app)))
		bad(&e, "app must be an object");
	if (env != NULL && !cJSON_IsNull(env)) {
		if (!string_map_ok(env, true))
			bad(&e, "env must be an object of strings with variable names");
		else
			s->env = env;
	}
	if (src != NULL && !cJSON_IsNull(src)) {
		if (!cJSON_IsObject(src))
			bad(&e, "source must be an object");
		else
			parse_source(src, s, &e);
	}
	if (strcmp(kind, "app.deploy") == 0 && s->src == APP_SRC_NONE && e.n == 0)
		bad(&e, "source is required");
	if (strcmp(kind, "app.scale") == 0) {
		s->replicas = (int)get_int(p, "replicas", 0, 100, s->replicas, &e);
		if (s->src != APP_SRC_RELEASE)
			bad(&e, "app.scale needs source {\"type\": \"release\", \"image_id\"}");
	}
	if (strcmp(kind, "app.exec") == 0) {
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(p, "command"), *it;
		int64_t      t = get_int(p, "timeout_seconds", 1, 86400, 30, &e);
		int          n = 0;
		bool         ok = cJSON_IsArray(c);

		cJSON_ArrayForEach(it, c) {
			if (!cJSON_IsString(it))
				ok = false;
			n++;
		}
		if (!ok || n < 1 || n > 256)
			bad(&e, "command must be an array of 1..256 strings");
		s->command = c;
		s->exec_timeout_s = (int)(t > 600 ? 600 : t);
	}
	return e.n == 0 ? 0 : -1;
}

bool
app_spec_is_served(const struct app_spec *s)
{
	return strcmp(s->app_type, "worker") != 0 && s->exposed_port > 0;
}

/* ------------------------------------------------------------ redaction */

void
app_redact_add(struct app_redact *r, const char *v)
{
	if (v == NULL || strlen(v) < REDACT_MIN_LEN)
		return;
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->vals[i], v) == 0)
			return;
	if (r->n == r->cap) {
		size_t       cap = r->cap ? r->cap * 2 : 64;
		const char **p = realloc(r->vals, cap * sizeof(*p));

		if (p == NULL) {
			r->oom = true;
			return;
		}
		r->vals = p;
		r->cap = cap;
	}
	r->vals[r->n++] = v;
}

void
app_redact_init(struct app_redact *r, const struct app_spec *s)
{
	const cJSON *it;
	char         url[2048];

	memset(r, 0, sizeof(*r));
	cJSON_ArrayForEach(it, s->env) {
		if (cJSON_IsString(it))
			app_redact_add(r, it->valuestring);
	}
	if (s->repo_url != NULL &&
	    util_url_split_cred(s->repo_url, url, sizeof(url), r->cred, sizeof(r->cred)) == 0 &&
	    r->cred[0] != '\0') {
		char *colon = strchr(r->cred, ':');

		app_redact_add(r, r->cred);
		/* The token alone, too (git may print the URL in pieces). */
		if (colon != NULL)
			app_redact_add(r, colon + 1);
	}
}

void
app_redact_free(struct app_redact *r)
{
	free(r->vals);
	r->vals = NULL;
	r->n = r->cap = 0;
}

void
app_redact(const struct app_redact *r, const char *in, char *out, size_t outlen)
{
	if (r->oom) {
		(void)util_snprintf(out, outlen, "%s", APP_REDACTED);
		return;
	}
	(void)redact(r->vals, r->n, true, in, out, outlen);
}

/* ------------------------------------------------------- stream frames */

static bool
frame_header(const unsigned char *p, size_t left, int *stream, size_t *size)
{
	if (left < 8 || p[0] > 2 || p[1] != 0 || p[2] != 0 || p[3] != 0)
		return false;
	*stream = p[0];
	*size = ((size_t)p[4] << 24) | ((size_t)p[5] << 16) | ((size_t)p[6] << 8) | p[7];
	return true;
}

struct line_acc {
	char  *buf;
	size_t len, max;
	bool   any;	/* bytes since the last newline */
};

static void
acc_feed(struct line_acc *l, int stream, const char *p, size_t n, app_line_fn fn, void *ud,
    size_t *count)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			l->buf[l->len] = '\0';
			fn(ud, stream, l->buf, l->len);
			(*count)++;
			l->len = 0;
			l->any = false;
			continue;
		}
		l->any = true;
		if (l->len < l->max)
			l->buf[l->len++] = p[i];
	}
}

size_t
app_demux_lines(const char *data, size_t len, size_t max_line, app_line_fn fn, void *ud)
{
	const unsigned char *d = (const unsigned char *)data;
	struct line_acc      acc[3];
	size_t               off = 0, count = 0, size;
	int                  stream;
	bool                 framed;

	for (int i = 0; i < 3; i++) {
		acc[i].buf = malloc(max_line + 1);
		acc[i].len = 0;
		acc[i].max = max_line;
		acc[i].any = false;
		if (acc[i].buf == NULL) {
			for (int k = 0; k < i; k++)
				free(acc[k].buf);
			return 0;
		}
	}
	framed = frame_header(d, len, &stream, &size);
	if (!framed)
		acc_feed(&acc[1], 1, data, len, fn, ud, &count);
	while (framed && off < len) {
		if (!frame_header(d + off, len - off, &stream, &size)) {
			/* Not a frame: the rest as it is, on stdout. */
			acc_feed(&acc[1], 1, data + off, len - off, fn, ud, &count);
			break;
		}
		off += 8;
		if (size > len - off)
			size = len - off;
		acc_feed(&acc[stream], stream, data + off, size, fn, ud, &count);
		off += size;
	}
	for (int i = 0; i < 3; i++) {
		if (acc[i].any) {
			acc[i].buf[acc[i].len] = '\0';
			fn(ud, i, acc[i].buf, acc[i].len);
			count++;
		}
		free(acc[i].buf);
	}
	return count;
}

size_t
app_demux_all(const char *data, size_t len, char *out, size_t outlen, bool *truncated)
{
	const unsigned char *d = (const unsigned char *)data;
	size_t               off = 0, o = 0, size, take;
	int                  stream;

	*truncated = false;
	if (outlen == 0)
		return 0;
	if (!frame_header(d, len, &stream, &size)) {
		take = len < outlen - 1 ? len : outlen - 1;
		memcpy(out, data, take);
		out[take] = '\0';
		*truncated = take < len;
		return take;
	}
	while (off < len) {
		if (!frame_header(d + off, len - off, &stream, &size)) {
			size = len - off;	/* not a frame: the rest as it is */
		} else
			off += 8;
		if (size > len - off)
			size = len - off;
		take = size < outlen - 1 - o ? size : outlen - 1 - o;
		memcpy(out + o, data + off, take);
		o += take;
		if (take < size)
			*truncated = true;
		off += size;
	}
	out[o] = '\0';
	return o;
}

/* ---------------------------------------------------------- timestamps */

/* The engine's stamp, then one space before the message (or nothing). */
int
app_log_ts(const char *line, size_t n, struct app_ts *ts, size_t *msg_off)
{
	int64_t sec;
	int32_t nsec;
	size_t  k = timefmt_scan_rfc3339(line, n, &sec, &nsec);

	if (k == 0 || (k < n && line[k] != ' '))
		return -1;
	ts->sec = sec;
	ts->nsec = nsec;
	*msg_off = k < n ? k + 1 : n;
	return 0;
}

int
app_ts_cmp(struct app_ts a, struct app_ts b)
{
	if (a.sec != b.sec)
		return a.sec < b.sec ? -1 : 1;
	if (a.nsec != b.nsec)
		return a.nsec < b.nsec ? -1 : 1;
	return 0;
}

int
app_ts_since(struct app_ts t, char *out, size_t outlen)
{
	return util_snprintf(out, outlen, "%lld.%09d", (long long)t.sec, (int)t.nsec) < 0 ? -1 : 0;
}

int
app_ts_rfc3339(struct app_ts t, char *out, size_t outlen)
{
	struct tm tm;
	time_t    sec = (time_t)t.sec;
	char      base[32];

	if (gmtime_r(&sec, &tm) == NULL || strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return -1;
	return util_snprintf(out, outlen, "%s.%09dZ", base, (int)t.nsec) < 0 ? -1 : 0;
}

int
app_container_name(const char *app_id, const char *deployment_id, int n, char *out,
    size_t outlen)
{
	return util_snprintf(out, outlen, "lnchr-%.8s-%.8s-%d", app_id, deployment_id, n) < 0 ? -1 : 0;
}
