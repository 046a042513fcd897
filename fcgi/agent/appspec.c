/*
 * appspec.c - payload parsing, redaction, stream frames and log timestamps
 * for the app.* jobs (see appspec.h; the payload contract is in app.h).
 */
#include "appspec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/compose.h"
#include "../core/util.h"
#include "db.h"
#include "text.h"
#include "timefmt.h"
#include "volume.h"

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

/* An argv: an array of 1..256 strings. */
static bool
argv_ok(const cJSON *c)
{
	const cJSON *it;
	int          n = 0;

	if (!cJSON_IsArray(c))
		return false;
	cJSON_ArrayForEach(it, c) {
		if (!cJSON_IsString(it))
			return false;
		n++;
	}
	return n >= 1 && n <= 256;
}

static bool
string_map_ok(const cJSON *o, bool names)
{
	const cJSON *it;

	if (!cJSON_IsObject(o))
		return false;
	cJSON_ArrayForEach(it, o) {
		if (!cJSON_IsString(it) || it->string == NULL || (names && !util_env_name_ok(it->string)))
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
	s->methods = get_str(app, "methods", 64, NULL, e);
	if (s->methods != NULL && (s->methods[0] == '\0' ||
	    strspn(s->methods, "ABCDEFGHIJKLMNOPQRSTUVWXYZ|") != strlen(s->methods)))
		bad(e, "app.methods must be methods separated by |");
	s->function = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(app, "function"));
}

/* A container path as the API allows it: absolute, no "." or ".."
 * segment, nothing an engine's mount syntax would split on. */
static bool
mount_path_ok(const char *p)
{
	if (p == NULL || p[0] != '/' || p[1] == '\0' || strstr(p, "/./") != NULL ||
	    strstr(p, "/../") != NULL || strstr(p, "//") != NULL)
		return false;
	for (const char *c = p; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == ':' || *c == ',')
			return false;
	return !(strlen(p) >= 3 && (strcmp(p + strlen(p) - 3, "/..") == 0 ||
	    strcmp(p + strlen(p) - 2, "/.") == 0));
}

/* "volumes": [{"volume_id", "mount_path", "mode": rw|ro, "size_limit"}]. */
static void
parse_volumes(const cJSON *vols, struct app_spec *s, struct perr *e)
{
	const cJSON *it;

	if (!cJSON_IsArray(vols) || cJSON_GetArraySize(vols) > APP_VOLUMES_MAX) {
		bad(e, "volumes must be an array of at most 20 mounts");
		return;
	}
	cJSON_ArrayForEach(it, vols) {
		struct app_volume *v = &s->vols[s->nvols];
		const char        *mode;

		if (!cJSON_IsObject(it)) {
			bad(e, "volumes[] must be objects");
			return;
		}
		get_id(it, "volume_id", true, v->volume_id, e);
		v->mount_path = get_str(it, "mount_path", 1024, NULL, e);
		if (!mount_path_ok(v->mount_path))
			bad(e, "volumes[].mount_path must be an absolute container path");
		mode = get_str(it, "mode", 8, "rw", e);
		if (strcmp(mode, "rw") != 0 && strcmp(mode, "ro") != 0)
			bad(e, "volumes[].mode must be rw|ro");
		v->read_only = strcmp(mode, "ro") == 0;
		v->size_limit = get_int(it, "size_limit", 1, INT64_C(1) << 50, 0, e);
		s->nvols++;
	}
}

static bool
string_list_ok(const cJSON *a)
{
	const cJSON *it;

	if (!cJSON_IsArray(a))
		return false;
	cJSON_ArrayForEach(it, a) {
		if (!cJSON_IsString(it))
			return false;
	}
	return true;
}

/* An array or null member: NULL for null/absent; bad() when neither. */
static const cJSON *
get_list(const cJSON *o, const char *name, bool argv, struct perr *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	char         msg[128];

	if (v == NULL || cJSON_IsNull(v))
		return NULL;
	if (argv ? !argv_ok(v) : !string_list_ok(v)) {
		util_snprintf(msg, sizeof(msg), "services[].%s must be %s", name,
		    argv ? "an array of 1..256 strings" : "an array of strings");
		bad(e, msg);
		return NULL;
	}
	return v;
}

/* One service of a compose source (compose.h's form, with volume ids). */
static void
parse_service(const cJSON *o, const cJSON *images, struct app_service *v, struct perr *e)
{
	static const char *const policies[] = {"always", "on-failure", "unless-stopped", "no", NULL};
	const cJSON *hc = cJSON_GetObjectItemCaseSensitive(o, "healthcheck"), *it;
	const cJSON *vols = cJSON_GetObjectItemCaseSensitive(o, "volumes");

	v->name = get_str(o, "name", 63, "", e);
	if (!text_word_ok(v->name, 63, "-_"))
		bad(e, "services[].name must be a service name");
	v->image = get_str(o, "image", 1024, NULL, e);
	if (v->image == NULL || v->image[0] == '\0' || !no_space(v->image))
		bad(e, "services[].image must be an image reference");
	v->image_id = images != NULL ? get_str(images, v->name, 128, NULL, e) : NULL;
	if (images != NULL && (v->image_id == NULL || !(hex_ok(v->image_id, 12, 64) ||
	    (strncmp(v->image_id, "sha256:", 7) == 0 && hex_ok(v->image_id + 7, 64, 64)))))
		bad(e, "source.images must map every service to sha256:<64 hex>");
	v->command = get_list(o, "command", true, e);
	v->entrypoint = get_list(o, "entrypoint", true, e);
	v->depends_on = cJSON_GetObjectItemCaseSensitive(o, "depends_on");
	if (v->depends_on != NULL && !cJSON_IsArray(v->depends_on))
		bad(e, "services[].depends_on must be an array");
	for (it = cJSON_IsArray(v->depends_on) ? (v->depends_on)->child : NULL; it != NULL; it = it->next) {
		if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "service")) ||
		    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "condition")))
			bad(e, "services[].depends_on[] must be {service, condition}");
	}
	if (hc != NULL && !cJSON_IsNull(hc)) {
		v->hc_test = cJSON_GetObjectItemCaseSensitive(hc, "test");
		if (!argv_ok(v->hc_test))
			bad(e, "services[].healthcheck.test must be an array of 1..256 strings");
		v->hc_interval_ms = get_int(hc, "interval_ms", 1, 86400000, 30000, e);
		v->hc_timeout_ms = get_int(hc, "timeout_ms", 1, 86400000, 30000, e);
		v->hc_start_ms = get_int(hc, "start_period_ms", 0, 86400000, 0, e);
		v->hc_retries = (int)get_int(hc, "retries", 1, 100, 3, e);
	}
	v->port = (int)get_int(o, "port", 1, 65535, 0, e);
	v->restart = get_str(o, "restart", 32, NULL, e);
	if (v->restart != NULL && !one_of(v->restart, policies))
		bad(e, "services[].restart must be always|on-failure|unless-stopped|no");
	v->working_dir = get_str(o, "working_dir", 1024, NULL, e);
	if (v->working_dir != NULL && v->working_dir[0] != '/')
		bad(e, "services[].working_dir must be an absolute path");
	v->user = get_str(o, "user", 256, NULL, e);
	v->labels = cJSON_GetObjectItemCaseSensitive(o, "labels");
	if (cJSON_IsNull(v->labels))
		v->labels = NULL;
	if (v->labels != NULL && !string_map_ok(v->labels, false))
		bad(e, "services[].labels must be an object of strings");
	cJSON_ArrayForEach(it, v->labels) {
		if (strncmp(it->string, "launcher.", 9) == 0)
			bad(e, "services[].labels must not set launcher.* labels");
	}
	v->extra_hosts = get_list(o, "extra_hosts", false, e);
	v->cap_drop = get_list(o, "cap_drop", false, e);
	v->host = cJSON_GetObjectItemCaseSensitive(o, "host");
	if (cJSON_IsNull(v->host))
		v->host = NULL;
	if (v->host != NULL && !cJSON_IsObject(v->host))
		bad(e, "services[].host must be an object");
	cJSON_ArrayForEach(it, (cJSON_IsObject(v->host) ? v->host : NULL)) {
		if (!compose_host_member_ok(it->string))
			bad(e, "services[].host may set only the HostConfig members a compose file "
			    "can (compose.h)");
	}
	if (vols != NULL && !cJSON_IsNull(vols) &&
	    (!cJSON_IsArray(vols) || cJSON_GetArraySize(vols) > APP_VOLUMES_MAX)) {
		bad(e, "services[].volumes must be an array of at most 20 mounts");
		return;
	}
	for (it = cJSON_IsArray(vols) ? (vols)->child : NULL; it != NULL; it = it->next) {
		struct app_volume *m = &v->vols[v->nvols++];

		get_id(it, "volume_id", true, m->volume_id, e);
		m->mount_path = get_str(it, "mount_path", 1024, NULL, e);
		if (!mount_path_ok(m->mount_path))
			bad(e, "services[].volumes[].mount_path must be an absolute container path");
		m->read_only = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "read_only"));
	}
}

/* "source": {"type": "compose", "web_service", "services": [...], "images"?}. */
static void
parse_compose(const cJSON *src, struct app_spec *s, struct perr *e)
{
	const cJSON *svcs = cJSON_GetObjectItemCaseSensitive(src, "services"), *it;
	const cJSON *images = cJSON_GetObjectItemCaseSensitive(src, "images");

	s->src = APP_SRC_COMPOSE;
	s->web_service = get_str(src, "web_service", 63, NULL, e);
	if (cJSON_IsNull(images))
		images = NULL;
	if (images != NULL && !cJSON_IsObject(images))
		bad(e, "source.images must be an object");
	if (!cJSON_IsArray(svcs) || cJSON_GetArraySize(svcs) < 1 ||
	    cJSON_GetArraySize(svcs) > APP_SERVICES_MAX) {
		bad(e, "source.services must be an array of 1..20 services");
		return;
	}
	cJSON_ArrayForEach(it, svcs) {
		if (!cJSON_IsObject(it)) {
			bad(e, "source.services[] must be objects");
			return;
		}
		parse_service(it, images, &s->svcs[s->nsvcs++], e);
	}
	for (int i = 0; i < s->nsvcs; i++)
		for (const cJSON *d = s->svcs[i].depends_on ? s->svcs[i].depends_on->child : NULL; d;
		    d = d->next) {
			const cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "service");
			int          k;

			for (k = 0; k < i && cJSON_IsString(t); k++)
				if (strcmp(s->svcs[k].name, t->valuestring) == 0)
					break;
			if (!cJSON_IsString(t) || k == i)
				bad(e, "source.services must come after the services they depend on");
			/* A one-shot service (waited on until it exits 0) without a restart
			 * of its own does not take the application's (always): it would
			 * run forever.  Compose's default for it, "no". */
			else if (s->svcs[k].restart == NULL && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(
			    d, "condition")) && strcmp(cJSON_GetObjectItemCaseSensitive(d,
			    "condition")->valuestring, "service_completed_successfully") == 0)
				s->svcs[k].restart = "no";
		}
	if (s->web_service != NULL && app_spec_service(s, s->web_service) == NULL)
		bad(e, "source.web_service must name a service");
}

/* Keys of a compose release's env: "<service>.<KEY>" (app_actions.c). */
static bool
compose_env_ok(const cJSON *o)
{
	const cJSON *it;

	if (!cJSON_IsObject(o))
		return false;
	cJSON_ArrayForEach(it, o) {
		const char *dot = it->string ? strchr(it->string, '.') : NULL;

		if (!cJSON_IsString(it) || dot == NULL || dot == it->string || !util_env_name_ok(dot + 1))
			return false;
	}
	return true;
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
		/* Where the release can be pulled from when this server lacks it
		 * (the claim adds it for an application with a registry). */
		s->image = get_str(src, "image", 512, NULL, e);
		if (s->image != NULL && (s->image[0] == '\0' || !no_space(s->image)))
			bad(e, "source.image must be an image reference");
	} else if (strcmp(type, "compose") == 0)
		parse_compose(src, s, e);
	else
		bad(e, "source.type must be docker_image|git|release|compose");
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
	if (src != NULL && !cJSON_IsNull(src)) {
		if (!cJSON_IsObject(src))
			bad(&e, "source must be an object");
		else
			parse_source(src, s, &e);
	}
	if (env != NULL && !cJSON_IsNull(env)) {
		if (s->src == APP_SRC_COMPOSE ? !compose_env_ok(env) : !string_map_ok(env, true))
			bad(&e, "env must be an object of strings with variable names "
			    "(<service>.<name> for a compose release)");
		else
			s->env = env;
	}
	/* The claim's "registry" (registry.h): credentials of the pull and push. */
	s->registry = cJSON_GetObjectItemCaseSensitive(p, "registry");
	if (s->registry != NULL && !cJSON_IsObject(s->registry))
		bad(&e, "registry must be an object");
	if (cJSON_GetObjectItemCaseSensitive(p, "volumes") != NULL &&
	    !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(p, "volumes")))
		parse_volumes(cJSON_GetObjectItemCaseSensitive(p, "volumes"), s, &e);
	if (strcmp(kind, "app.deploy") == 0 && s->src == APP_SRC_NONE && e.n == 0)
		bad(&e, "source is required");
	if (strcmp(kind, "app.scale") == 0) {
		s->replicas = (int)get_int(p, "replicas", 0, 100, s->replicas, &e);
		if (s->src != APP_SRC_RELEASE)
			bad(&e, "app.scale needs source {\"type\": \"release\", \"image_id\"}");
	}
	if (strcmp(kind, "app.exec") == 0) {
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(p, "command");
		int64_t      t = get_int(p, "timeout_seconds", 1, 86400, 30, &e);

		if (!argv_ok(c))
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

/* The password of "scheme://user:password@host..." in v, remembered as a copy. */
static void
redact_url_password(struct app_redact *r, const char *v)
{
	char        url[2048], cred[512], *copy, **own;
	const char *colon;

	if (strstr(v, "://") == NULL || strchr(v, '@') == NULL ||
	    util_url_split_cred(v, url, sizeof(url), cred, sizeof(cred)) != 0 ||
	    (colon = strchr(cred, ':')) == NULL || strlen(colon + 1) < REDACT_MIN_LEN) {
		explicit_bzero(cred, sizeof(cred));
		return;
	}
	if ((own = realloc(r->own, (r->nown + 1) * sizeof(*own))) == NULL ||
	    (copy = strdup(colon + 1)) == NULL) {
		if (own != NULL)
			r->own = own;
		r->oom = true;
		explicit_bzero(cred, sizeof(cred));
		return;
	}
	r->own = own;
	r->own[r->nown++] = copy;
	app_redact_add(r, copy);
	explicit_bzero(cred, sizeof(cred));
}

void
app_redact_init(struct app_redact *r, const struct app_spec *s)
{
	const cJSON *it;
	char         url[2048];

	memset(r, 0, sizeof(*r));
	cJSON_ArrayForEach(it, s->env) {
		if (cJSON_IsString(it)) {
			app_redact_add(r, it->valuestring);
			redact_url_password(r, it->valuestring);
		}
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
	if (cJSON_IsObject(s->registry) &&
	    cJSON_IsString(cJSON_GetObjectItemCaseSensitive(s->registry, "password")))
		app_redact_add(r, cJSON_GetObjectItemCaseSensitive(s->registry, "password")->valuestring);
}

void
app_redact_free(struct app_redact *r)
{
	for (size_t i = 0; i < r->nown; i++) {
		explicit_bzero(r->own[i], strlen(r->own[i]));
		free(r->own[i]);
	}
	free(r->own);
	r->own = NULL;
	r->nown = 0;
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

/* Whether the first n (<= 8) bytes at a header's place already show that
 * they are none: stream above 2, or a non-zero byte among the three
 * zeros.  The one place a header is judged. */
static bool
not_header(const unsigned char *p, size_t n)
{
	if (n > 0 && p[0] > 2)
		return true;
	for (size_t i = 1; i < n && i < 4; i++)
		if (p[i] != 0)
			return true;
	return false;
}

void
app_frames_init(struct app_frames *f, bool raw_fallback)
{
	memset(f, 0, sizeof(*f));
	f->raw_fallback = raw_fallback;
}

/* The header's bytes in f->hdr (f->hlen of them: 8, or fewer that are
 * already no header, with the fallback): the frame begins, or the rest is
 * raw stdout from those bytes on.  0 or what fn returned. */
static int
frames_header(struct app_frames *f, app_piece_fn fn, void *ud)
{
	size_t got = f->hlen;

	f->hlen = 0;
	if (f->raw_fallback && (got < 8 || not_header(f->hdr, 8))) {
		f->raw = true;
		return fn(ud, 1, f->hdr, got);
	}
	f->stream = f->hdr[0];
	f->left = (uint32_t)f->hdr[4] << 24 | (uint32_t)f->hdr[5] << 16 |
	    (uint32_t)f->hdr[6] << 8 | (uint32_t)f->hdr[7];
	return 0;
}

int
app_frames_feed(struct app_frames *f, const void *data, size_t n, app_piece_fn fn, void *ud)
{
	const unsigned char *p = data;
	size_t               take;
	int                  rc;

	while (n > 0) {
		if (f->raw)
			return fn(ud, 1, p, n);
		if (f->left > 0) {	/* inside a frame's payload */
			take = n < f->left ? n : f->left;
			if ((rc = fn(ud, f->stream, p, take)) != 0)
				return rc;
			f->left -= (uint32_t)take;
			p += take;
			n -= take;
			continue;
		}
		/* A header, perhaps split across calls. */
		take = sizeof(f->hdr) - f->hlen < n ? sizeof(f->hdr) - f->hlen : n;
		memcpy(f->hdr + f->hlen, p, take);
		f->hlen += take;
		p += take;
		n -= take;
		if (f->hlen < sizeof(f->hdr) && !(f->raw_fallback && not_header(f->hdr, f->hlen)))
			return 0;
		if ((rc = frames_header(f, fn, ud)) != 0)
			return rc;
	}
	return 0;
}

int
app_frames_end(struct app_frames *f, app_piece_fn fn, void *ud)
{
	size_t got = f->hlen;

	f->hlen = 0;
	if (got == 0 || !f->raw_fallback)
		return 0;
	/* Fewer than 8 bytes at a header's place: no header, raw output. */
	f->raw = true;
	return fn(ud, 1, f->hdr, got);
}

static void
acc_feed(struct app_line_acc *l, int stream, const char *p, size_t n, app_line_fn fn, void *ud,
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

int
app_demux_init(struct app_demux *d, size_t max_line)
{
	memset(d, 0, sizeof(*d));
	app_frames_init(&d->f, true);
	for (int i = 0; i < 3; i++) {
		d->acc[i].max = max_line;
		if ((d->acc[i].buf = malloc(max_line + 1)) == NULL) {
			app_demux_free(d);
			return -1;
		}
	}
	return 0;
}

void
app_demux_free(struct app_demux *d)
{
	for (int i = 0; i < 3; i++) {
		free(d->acc[i].buf);
		d->acc[i].buf = NULL;
	}
}

/* One feed or end of the line demuxer: where the pieces' lines go. */
struct lines_sink {
	struct app_demux *d;
	app_line_fn       fn;
	void             *ud;
	size_t            count;
};

/* Streams are 0-2 here: the splitter runs with raw_fallback. */
static int
lines_piece(void *ud, int stream, const unsigned char *p, size_t n)
{
	struct lines_sink *s = ud;

	acc_feed(&s->d->acc[stream], stream, (const char *)p, n, s->fn, s->ud, &s->count);
	return 0;
}

size_t
app_demux_feed(struct app_demux *d, const char *data, size_t len, app_line_fn fn, void *ud)
{
	struct lines_sink s = {d, fn, ud, 0};

	(void)app_frames_feed(&d->f, data, len, lines_piece, &s);
	return s.count;
}

size_t
app_demux_end(struct app_demux *d, app_line_fn fn, void *ud)
{
	struct lines_sink s = {d, fn, ud, 0};

	(void)app_frames_end(&d->f, lines_piece, &s);
	for (int i = 0; i < 3; i++)
		if (d->acc[i].any) {
			d->acc[i].buf[d->acc[i].len] = '\0';
			fn(ud, i, d->acc[i].buf, d->acc[i].len);
			d->acc[i].len = 0;
			d->acc[i].any = false;
			s.count++;
		}
	return s.count;
}

size_t
app_demux_lines(const char *data, size_t len, size_t max_line, app_line_fn fn, void *ud)
{
	struct app_demux d;
	size_t           count;

	if (app_demux_init(&d, max_line) != 0)
		return 0;
	count = app_demux_feed(&d, data, len, fn, ud);
	count += app_demux_end(&d, fn, ud);
	app_demux_free(&d);
	return count;
}

/* app_demux_all's output: what fits, and whether anything did not. */
struct all_sink {
	char  *out;
	size_t o, cap;	/* cap: outlen - 1, room for the terminator */
	bool  *truncated;
};

static int
all_piece(void *ud, int stream, const unsigned char *p, size_t n)
{
	struct all_sink *s = ud;
	size_t           take = n < s->cap - s->o ? n : s->cap - s->o;

	(void)stream;
	memcpy(s->out + s->o, p, take);
	s->o += take;
	if (take < n)
		*s->truncated = true;
	return 0;
}

size_t
app_demux_all(const char *data, size_t len, char *out, size_t outlen, bool *truncated)
{
	struct app_frames f;
	struct all_sink   s = {out, 0, outlen > 0 ? outlen - 1 : 0, truncated};

	*truncated = false;
	if (outlen == 0)
		return 0;
	app_frames_init(&f, true);
	(void)app_frames_feed(&f, data, len, all_piece, &s);
	(void)app_frames_end(&f, all_piece, &s);
	out[s.o] = '\0';
	return s.o;
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
app_container_name(const char *app_id, const char *deployment_id, const char *service, int n,
    char *out, size_t outlen)
{
	if (service != NULL)
		return util_snprintf(out, outlen, "lnchr-%.8s-%.8s-%s-%d", app_id, deployment_id,
		    service, n) < 0 ? -1 : 0;
	return util_snprintf(out, outlen, "lnchr-%.8s-%.8s-%d", app_id, deployment_id, n) < 0 ? -1 : 0;
}

const struct app_service *
app_spec_service(const struct app_spec *s, const char *name)
{
	for (int i = 0; name != NULL && i < s->nsvcs; i++)
		if (strcmp(s->svcs[i].name, name) == 0)
			return &s->svcs[i];
	return NULL;
}

/* ------------------------------------------------- db.* payloads (db.h) */

/* A password that may go into a SQL literal or a redis argument as it is. */
static bool
db_password_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= DB_PASSWORD_MIN && n <= DB_PASSWORD_MAX && text_word_ok(s, n, "._~-");
}

/* A variable name of env_names, or NULL (absent or null). */
static const char *
db_env_name(const cJSON *names, const char *key, struct perr *e)
{
	const char *v = get_str(names, key, 128, NULL, e);
	char        msg[96];

	if (v != NULL && !util_env_name_ok(v)) {
		util_snprintf(msg, sizeof(msg), "env_names.%s must be a variable name", key);
		bad(e, msg);
		return NULL;
	}
	return v;
}

int
db_spec_parse(const cJSON *p, const char *kind, struct db_spec *d, char *err, size_t errlen)
{
	static const char *const types[] = {"postgres", "mysql", "redis", "mongodb", "clickhouse", NULL};
	static const char *const policies[] = {"always", "on-failure", "unless-stopped", "no", NULL};
	struct perr  e = {.out = err, .len = errlen};
	const cJSON *names = cJSON_GetObjectItemCaseSensitive(p, "env_names");
	const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(p, "cpu_limit");
	const cJSON *pub = cJSON_GetObjectItemCaseSensitive(p, "public");
	const cJSON *del = cJSON_GetObjectItemCaseSensitive(p, "delete_data");
	const char  *net, *vol;
	bool         runs = strcmp(kind, "db.provision") == 0 || strcmp(kind, "db.start") == 0 ||
	    strcmp(kind, "db.restart") == 0 || strcmp(kind, "db.pitr_restore") == 0;
	bool         rotate = strcmp(kind, "db.rotate_password") == 0;
	char         want[VOL_NAME_MAX + 16];

	memset(d, 0, sizeof(*d));
	err[0] = '\0';
	if (!cJSON_IsObject(p)) {
		bad(&e, "not an object");
		return -1;
	}
	get_id(p, "database_id", true, d->database_id, &e);
	get_id(p, "tenant_id", true, d->tenant_id, &e);
	get_id(p, "project_id", true, d->project_id, &e);
	get_id(p, "volume_id", runs, d->volume_id, &e);
	d->name = get_str(p, "name", 255, "", &e);
	d->type = get_str(p, "type", 16, NULL, &e);
	if ((runs || rotate) && (d->type == NULL || !one_of(d->type, types)))
		bad(&e, "type must be postgres|mysql|redis|mongodb|clickhouse");
	d->image = get_str(p, "image", 600, NULL, &e);
	if (runs && (d->image == NULL || d->image[0] == '\0' || !no_space(d->image)))
		bad(&e, "image must be an image reference");
	d->port = (int)get_int(p, "port", 1, 65535, 0, &e);
	if ((runs || rotate) && d->port == 0)
		bad(&e, "port must be an integer 1..65535");
	d->data_path = get_str(p, "data_path", 1024, NULL, &e);
	if (runs && !mount_path_ok(d->data_path))
		bad(&e, "data_path must be an absolute container path");
	d->readiness = cJSON_GetObjectItemCaseSensitive(p, "readiness");
	if (runs && !argv_ok(d->readiness))
		bad(&e, "readiness must be an array of 1..256 strings");
	if (names != NULL && !cJSON_IsNull(names) && !cJSON_IsObject(names))
		bad(&e, "env_names must be an object");
	d->env_user = db_env_name(names, "user", &e);
	d->env_password = db_env_name(names, "password", &e);
	d->env_database = db_env_name(names, "database", &e);
	d->db_user = get_str(p, "db_user", 128, NULL, &e);
	d->db_name = get_str(p, "db_name", 128, NULL, &e);
	d->internal_host = get_str(p, "internal_host", 63, NULL, &e);
	if (runs && (d->internal_host == NULL || !hostname_ok(d->internal_host)))
		bad(&e, "internal_host must be a DNS label");
	net = get_str(p, "network", 96, NULL, &e);
	if (net != NULL && (util_snprintf(want, sizeof(want), "lnchr-net-%s", d->project_id) < 0 ||
	    strcmp(net, want) != 0))
		bad(&e, "network must be lnchr-net-<project_id>");
	vol = get_str(p, "volume", VOL_NAME_MAX, NULL, &e);
	if (vol != NULL && (vol_engine_name(d->volume_id, want, sizeof(want)) != 0 ||
	    strcmp(vol, want) != 0))
		bad(&e, "volume must be lnchr-vol-<volume_id>");
	if (pub != NULL && !cJSON_IsNull(pub) && !cJSON_IsBool(pub))
		bad(&e, "public must be a boolean");
	d->is_public = cJSON_IsTrue(pub);
	if (del != NULL && !cJSON_IsNull(del) && !cJSON_IsBool(del))
		bad(&e, "delete_data must be a boolean");
	d->delete_data = cJSON_IsTrue(del);
	if (cpu != NULL && !cJSON_IsNull(cpu)) {
		if (!cJSON_IsNumber(cpu) || !(cpu->valuedouble > 0) || !(cpu->valuedouble <= 1024))
			bad(&e, "cpu_limit must be a number of cores > 0");
		else
			d->cpu_limit = cpu->valuedouble;
	}
	d->memory_limit = get_int(p, "memory_limit", 0, INT64_C(1) << 50, 0, &e);
	d->restart_policy = get_str(p, "restart_policy", 32, "always", &e);
	if (!one_of(d->restart_policy, policies))
		bad(&e, "restart_policy must be always|on-failure|unless-stopped|no");
	d->ready_timeout_s = (int)get_int(p, "readiness_timeout_seconds", 1, 3600,
	    DB_READY_DEFAULT_S, &e);
	/* The claim's secrets: never echoed, even in an error. */
	d->password = get_str(p, "password", DB_PASSWORD_MAX, NULL, &e);
	if ((runs || rotate) && (d->password == NULL || !db_password_ok(d->password)))
		bad(&e, "password (from the claim) must be 16..128 bytes of [A-Za-z0-9._~-]");
	d->new_password = get_str(p, "new_password", DB_PASSWORD_MAX, NULL, &e);
	if (rotate && (d->new_password == NULL || !db_password_ok(d->new_password)))
		bad(&e, "new_password (from the claim) must be 16..128 bytes of [A-Za-z0-9._~-]");
	if (rotate && d->db_user == NULL && strcmp(d->type != NULL ? d->type : "", "redis") != 0)
		bad(&e, "db_user is required");
	return e.n > 0 ? -1 : 0;
}
