/*
 * compose.c - checking and normalising a docker_compose application's
 * compose file (contract in compose.h).  The YAML is read by yaml.h; this
 * file only walks the tree it gives, one table of service keys.
 */
#include "compose.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"
#include "yaml.h"

#define NAME_MAX_LEN 63

struct cx {
	struct yaml_doc *doc;
	cJSON           *details;
	bool             superadmin;
	int              errors;
};

/* One problem: field "compose.<path>" at node's line and column (yaml_detail). */
static void
problem(struct cx *c, const cJSON *node, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
problem(struct cx *c, const cJSON *node, const char *path, const char *fmt, ...)
{
	char    field[256], what[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	(void)snprintf(field, sizeof(field), "compose%s%s", path[0] ? "." : "", path);
	yaml_detail(c->details, c->doc, node, field, what);
	c->errors++;
}

/* ------------------------------------------------------------ scalars */

static bool
is_scalar(const cJSON *v)
{
	return cJSON_IsString(v) || cJSON_IsNumber(v) || cJSON_IsBool(v);
}

/* A scalar as it was written ("1.0" stays "1.0": yaml_text). */
static const char *
scalar_text(const cJSON *v)
{
	const char *s = yaml_text(v);

	return s != NULL ? s : "";
}

static bool
service_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_MAX_LEN || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-' ||
		    s[i] == '_'))
			return false;
	return true;
}

/* [registry[:port]/]path[:tag][@digest] of printable, unquoted bytes. */
static bool
image_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 1024 || s[0] == '-')
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || strchr("._-/:@", *s)))
			return false;
	return true;
}

/* An absolute container path: no control bytes, no ':' or ',' (mount syntax). */
static bool
container_path_ok(const char *p)
{
	if (p[0] != '/' || strlen(p) > 1024 || strstr(p, "/../") != NULL ||
	    (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0))
		return false;
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == ':' || *p == ',')
			return false;
	return true;
}

cJSON *
compose_split_words(const char *s)
{
	cJSON *out = cJSON_CreateArray();
	size_t n = strlen(s);
	char  *w = malloc(n + 1);
	size_t wl = 0;
	bool   in_word = false;

	if (out == NULL || w == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
			if (in_word) {
				w[wl] = '\0';
				cJSON_AddItemToArray(out, cJSON_CreateString(w));
				wl = 0;
				in_word = false;
			}
			continue;
		}
		in_word = true;
		if (ch == '\\' && i + 1 < n) {
			w[wl++] = s[++i];
		} else if (ch == '\'') {
			for (i++; i < n && s[i] != '\''; i++)
				w[wl++] = s[i];
			if (i >= n)
				goto fail;
		} else if (ch == '"') {
			for (i++; i < n && s[i] != '"'; i++) {
				if (s[i] == '\\' && i + 1 < n && strchr("\"\\$`", s[i + 1]))
					i++;
				w[wl++] = s[i];
			}
			if (i >= n)
				goto fail;
		} else
			w[wl++] = ch;
	}
	if (in_word) {
		w[wl] = '\0';
		cJSON_AddItemToArray(out, cJSON_CreateString(w));
	}
	free(w);
	return out;
fail:
	free(w);
	cJSON_Delete(out);
	return NULL;
}

long long
compose_duration_ms(const char *s)
{
	static const struct { const char *unit; long long ms; } units[] = {
		{"ms", 1}, {"us", 0}, {"h", 3600000}, {"m", 60000}, {"s", 1000},
	};
	long long total = 0;
	bool      any = false;
	char     *end;
	int64_t   secs;

	if (s == NULL || *s == '\0')
		return -1;
	if (util_parse_i64(s, 0, 86400 * 7, &secs) == 0)
		return (long long)secs * 1000;
	while (*s) {
		double v;
		size_t k;

		if (!(isdigit((unsigned char)*s) || *s == '.'))
			return -1;	/* strtod would take nan, inf, signs */
		v = strtod(s, &end);
		if (end == s || v < 0)
			return -1;
		for (k = 0; k < sizeof(units) / sizeof(*units); k++)
			if (strncmp(end, units[k].unit, strlen(units[k].unit)) == 0)
				break;
		if (k == sizeof(units) / sizeof(*units))
			return -1;
		/* Compared as a double first: a huge "1e30s" has no long long. */
		if (v * (double)units[k].ms > 86400000.0 * 7)
			return -1;
		total += (long long)(v * (double)units[k].ms);
		if (total > 86400000LL * 7)
			return -1;
		s = end + strlen(units[k].unit);
		any = true;
	}
	return any ? total : -1;
}

/* A string or a list of strings as an argv (a string is split like a shell). */
static cJSON *
argv_of(struct cx *c, const cJSON *v, const char *path)
{
	cJSON       *out;
	const cJSON *it;

	if (cJSON_IsNull(v))
		return cJSON_CreateNull();
	if (cJSON_IsString(v)) {
		if ((out = compose_split_words(v->valuestring)) == NULL) {
			problem(c, v, path, "has an unterminated quote");
			return NULL;
		}
		return out;
	}
	if (!cJSON_IsArray(v)) {
		problem(c, v, path, "must be a string or a list of strings");
		return NULL;
	}
	out = cJSON_CreateArray();
	cJSON_ArrayForEach(it, v) {

		if (!is_scalar(it)) {
			problem(c, it, path, "must be a list of strings");
			cJSON_Delete(out);
			return NULL;
		}
		cJSON_AddItemToArray(out, cJSON_CreateString(scalar_text(it)));
	}
	return out;
}

/* A map or a list of "k=v" (list items without '=' have no value: NULL). */
static cJSON *
pairs_of(struct cx *c, const cJSON *v, const char *path, bool env_keys)
{
	cJSON       *out = cJSON_CreateObject();
	const cJSON *it;
	char         sub[300];

	if (cJSON_IsObject(v)) {
		cJSON_ArrayForEach(it, v) {
			(void)snprintf(sub, sizeof(sub), "%s.%s", path, it->string);
			if (env_keys && !util_env_name_ok(it->string))
				problem(c, it, sub, "is not a variable name ([A-Za-z_][A-Za-z0-9_]*, at most 255)");
			else if (cJSON_IsNull(it))
				continue;	/* no value: the application's env store decides */
			else if (!is_scalar(it))
				problem(c, it, sub, "must be a string, a number or a boolean");
			else
				cJSON_AddStringToObject(out, it->string, scalar_text(it));
		}
		return out;
	}
	if (!cJSON_IsArray(v)) {
		problem(c, v, path, "must be a map or a list of KEY=VALUE strings");
		cJSON_Delete(out);
		return NULL;
	}
	cJSON_ArrayForEach(it, v) {
		const char *eq;
		char        key[256];

		if (!cJSON_IsString(it)) {
			problem(c, it, path, "must be a list of KEY=VALUE strings");
			continue;
		}
		eq = strchr(it->valuestring, '=');
		if ((eq != NULL ? (size_t)(eq - it->valuestring) : strlen(it->valuestring)) >=
		    sizeof(key)) {	/* not cut to a key it does not name */
			problem(c, it, path, "%.40s...: is not a variable name ([A-Za-z_][A-Za-z0-9_]*, "
			    "at most 255)", it->valuestring);
			continue;
		}
		(void)snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - it->valuestring) : 255,
		    it->valuestring);
		(void)snprintf(sub, sizeof(sub), "%s.%s", path, key);
		if (env_keys && !util_env_name_ok(key))
			problem(c, it, sub, "is not a variable name ([A-Za-z_][A-Za-z0-9_]*, at most 255)");
		else if (eq != NULL)
			cJSON_AddStringToObject(out, key, eq + 1);
	}
	return out;
}

static cJSON *
strings_of(struct cx *c, const cJSON *v, const char *path)
{
	cJSON       *out;
	const cJSON *it;

	if (!cJSON_IsArray(v)) {
		problem(c, v, path, "must be a list of strings");
		return NULL;
	}
	out = cJSON_CreateArray();
	cJSON_ArrayForEach(it, v) {
		if (!is_scalar(it)) {
			problem(c, it, path, "must be a list of strings");
			continue;
		}
		cJSON_AddItemToArray(out, cJSON_CreateString(scalar_text(it)));
	}
	return out;
}

/* A port number 1..65535 from a number or a "80[/tcp]" string; 0 = bad. */
static int
port_of(const cJSON *v)
{
	char    buf[32];
	int64_t p;

	if (cJSON_IsNumber(v))
		return v->valuedouble >= 1 && v->valuedouble <= 65535 &&
		    v->valuedouble == (double)(int)v->valuedouble ? (int)v->valuedouble : 0;
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof(buf))
		return 0;
	(void)snprintf(buf, sizeof(buf), "%s", v->valuestring);
	if (strlen(buf) > 4 && strcmp(buf + strlen(buf) - 4, "/tcp") == 0)
		buf[strlen(buf) - 4] = '\0';
	return util_parse_i64(buf, 1, 65535, &p) == 0 ? (int)p : 0;
}

/* --------------------------------------------------------- service keys */

struct svc {
	const char  *name;
	const cJSON *node;	/* the service's mapping */
	cJSON       *out;	/* normalised */
	int          mark;	/* topological sort: 0 new, 1 on the path, 2 done */
};

static cJSON *
host_of(cJSON *o)
{
	cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "host");

	if (cJSON_IsNull(h)) {
		cJSON_DeleteItemFromObjectCaseSensitive(o, "host");
		h = cJSON_AddObjectToObject(o, "host");
	}
	return h;
}

/* The host-escape keys: refused unless superadmin, then given to the engine. */
static void
host_key(struct cx *c, const char *svc, const cJSON *v, cJSON *o)
{
	char  path[300];
	const char *k = v->string;
	cJSON *h;

	(void)snprintf(path, sizeof(path), "services.%s.%s", svc, k);
	if (!c->superadmin) {
		problem(c, v, path, "%s is refused: it reaches outside the application's sandbox "
		    "(only a superadmin may use it)", k);
		return;
	}
	h = host_of(o);
	if (strcmp(k, "privileged") == 0) {
		if (!cJSON_IsBool(v))
			problem(c, v, path, "must be true or false");
		else
			cJSON_AddBoolToObject(h, "Privileged", cJSON_IsTrue(v));
	} else if (strcmp(k, "network_mode") == 0 || strcmp(k, "pid") == 0 ||
	    strcmp(k, "ipc") == 0 || strcmp(k, "userns_mode") == 0) {
		const char *key = strcmp(k, "network_mode") == 0 ? "NetworkMode" :
		    strcmp(k, "pid") == 0 ? "PidMode" : strcmp(k, "ipc") == 0 ? "IpcMode" : "UsernsMode";

		if (!cJSON_IsString(v))
			problem(c, v, path, "must be a string");
		else
			cJSON_AddStringToObject(h, key, v->valuestring);
	} else if (strcmp(k, "cap_add") == 0 || strcmp(k, "security_opt") == 0) {
		cJSON *l = strings_of(c, v, path);

		if (l != NULL)
			cJSON_AddItemToObject(h, strcmp(k, "cap_add") == 0 ? "CapAdd" : "SecurityOpt", l);
	} else if (strcmp(k, "sysctls") == 0) {
		cJSON *m = pairs_of(c, v, path, false);

		if (m != NULL)
			cJSON_AddItemToObject(h, "Sysctls", m);
	} else if (strcmp(k, "devices") == 0) {
		cJSON       *l = cJSON_AddArrayToObject(h, "Devices");
		const cJSON *it;

		if (!cJSON_IsArray(v)) {
			problem(c, v, path, "must be a list of host:container[:permissions]");
			return;
		}
		cJSON_ArrayForEach(it, v) {
			char  d[1100], *p1, *p2;
			cJSON *dev;

			if (!cJSON_IsString(it) || strlen(it->valuestring) >= sizeof(d)) {
				problem(c, it, path, "must be a list of host:container[:permissions]");
				continue;
			}
			(void)snprintf(d, sizeof(d), "%s", scalar_text(it));
			p1 = strchr(d, ':');
			if (p1 != NULL)
				*p1++ = '\0';
			p2 = p1 != NULL ? strchr(p1, ':') : NULL;
			if (p2 != NULL)
				*p2++ = '\0';
			dev = cJSON_CreateObject();
			cJSON_AddStringToObject(dev, "PathOnHost", d);
			cJSON_AddStringToObject(dev, "PathInContainer", p1 != NULL && *p1 ? p1 : d);
			cJSON_AddStringToObject(dev, "CgroupPermissions", p2 != NULL && *p2 ? p2 : "rwm");
			cJSON_AddItemToArray(l, dev);
		}
	}
}

/* One mount: a named volume (declared at the top) or, for a superadmin, a host path. */
static void
mount_of(struct cx *c, const char *svc, const cJSON *it, const cJSON *top_vols, cJSON *o)
{
	char        path[300], spec[1200], *src = NULL, *dst = NULL, *mode = NULL;
	const char *type = "volume";
	bool        ro = false;
	cJSON      *m;

	(void)snprintf(path, sizeof(path), "services.%s.volumes", svc);
	if (cJSON_IsString(it)) {
		if (strlen(it->valuestring) >= sizeof(spec)) {
			problem(c, it, path, "entry is too long");
			return;
		}
		(void)snprintf(spec, sizeof(spec), "%s", it->valuestring);
		src = spec;
		if ((dst = strchr(spec, ':')) == NULL) {
			problem(c, it, path, "%s: anonymous volumes are not supported: name the volume "
			    "(name:/path) and declare it under the top-level volumes", spec);
			return;
		}
		*dst++ = '\0';
		if ((mode = strchr(dst, ':')) != NULL)
			*mode++ = '\0';
		if (mode != NULL && strcmp(mode, "ro") != 0 && strcmp(mode, "rw") != 0) {
			problem(c, it, path, "mode %s: only ro or rw", mode);
			return;
		}
		ro = mode != NULL && strcmp(mode, "ro") == 0;
		if (src[0] == '/' || src[0] == '.' || src[0] == '~')
			type = "bind";
	} else if (cJSON_IsObject(it)) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "type");
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "source");
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(it, "target");
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(it, "read_only");
		const cJSON *k;

		cJSON_ArrayForEach(k, it) {
			if (strcmp(k->string, "type") != 0 && strcmp(k->string, "source") != 0 &&
			    strcmp(k->string, "target") != 0 && strcmp(k->string, "read_only") != 0) {
				problem(c, k, path, "%s: only type, source, target and read_only are "
				    "supported in a mount", k->string);
				return;
			}
		}
		type = cJSON_IsString(t) ? t->valuestring : "";
		if (strcmp(type, "volume") != 0 && strcmp(type, "bind") != 0) {
			problem(c, it, path, "type %s: only named volumes (type: volume) are supported",
			    type);
			return;
		}
		if (!cJSON_IsString(s) || !cJSON_IsString(d) || (r != NULL && !cJSON_IsBool(r))) {
			problem(c, it, path, "needs a source and a target (strings) and read_only "
			    "(a boolean) if any");
			return;
		}
		(void)snprintf(spec, sizeof(spec), "%s", s->valuestring);
		src = spec;
		dst = d->valuestring;
		ro = cJSON_IsTrue(r);
	} else {
		problem(c, it, path, "entries must be name:/path[:ro] or a mapping");
		return;
	}
	if (!container_path_ok(dst)) {
		problem(c, it, path, "%s: the target must be an absolute container path", dst);
		return;
	}
	if (strcmp(type, "bind") == 0) {
		cJSON *h;

		if (!c->superadmin) {
			problem(c, it, path, "%s: host paths are refused: they reach outside the "
			    "application's sandbox (only a superadmin may mount one; use a named volume)",
			    src);
			return;
		}
		if (src[0] != '/') {
			problem(c, it, path, "%s: a host path must be absolute (there is no project "
			    "directory on the server)", src);
			return;
		}
		h = host_of(o);
		if (cJSON_GetObjectItemCaseSensitive(h, "Binds") == NULL)
			cJSON_AddArrayToObject(h, "Binds");
		(void)snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec), ":%s:%s", dst,
		    ro ? "ro" : "rw");
		cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(h, "Binds"),
		    cJSON_CreateString(spec));
		return;
	}
	if (!cJSON_IsObject(top_vols) || cJSON_GetObjectItemCaseSensitive(top_vols, src) == NULL) {
		problem(c, it, path, "%s: a named volume must be declared under the top-level volumes",
		    src);
		return;
	}
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "name", src);
	cJSON_AddStringToObject(m, "mount_path", dst);
	cJSON_AddBoolToObject(m, "read_only", ro);
	cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(o, "volumes"), m);
}

/* ports: one entry, the container port ("80", "8080:80", "127.0.0.1:8080:80", {target}). */
static void
ports_of(struct cx *c, const char *svc, const cJSON *v, cJSON *o)
{
	char        path[300];
	const cJSON *it;
	int         port = 0;

	(void)snprintf(path, sizeof(path), "services.%s.ports", svc);
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 1) {
		problem(c, v, path, "must be a list of one port: the edge routes one port of the web "
		    "service");
		return;
	}
	it = v->child;
	if (cJSON_IsObject(it)) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(it, "protocol");

		if (p != NULL && !(cJSON_IsString(p) && strcmp(p->valuestring, "tcp") == 0)) {
			problem(c, it, path, "only tcp ports are routed");
			return;
		}
		port = port_of(cJSON_GetObjectItemCaseSensitive(it, "target"));
	} else if (is_scalar(it)) {
		const char *t = scalar_text(it), *last = strrchr(t, ':');
		cJSON       *tail;

		if (strstr(t, "/udp") != NULL) {
			problem(c, it, path, "only tcp ports are routed");
			return;
		}
		tail = cJSON_CreateString(last != NULL ? last + 1 : t);
		port = port_of(cJSON_IsNumber(it) ? it : tail);
		cJSON_Delete(tail);
	}
	if (port == 0) {
		problem(c, it, path, "must name one container port 1..65535 (\"80\", \"8080:80\"; "
		    "the host port is the agent's to pick)");
		return;
	}
	cJSON_ReplaceItemInObjectCaseSensitive(o, "port", cJSON_CreateNumber(port));
}

static void
healthcheck_of(struct cx *c, const char *svc, const cJSON *v, cJSON *o)
{
	static const struct { const char *key; const char *out; long long def; } durations[] = {
		{"interval", "interval_ms", 30000}, {"timeout", "timeout_ms", 30000},
		{"start_period", "start_period_ms", 0},
	};
	char        path[300];
	const cJSON *k, *test = cJSON_GetObjectItemCaseSensitive(v, "test");
	cJSON       *hc, *argv = NULL;
	const cJSON *retries = cJSON_GetObjectItemCaseSensitive(v, "retries");

	(void)snprintf(path, sizeof(path), "services.%s.healthcheck", svc);
	if (!cJSON_IsObject(v)) {
		problem(c, v, path, "must be a mapping");
		return;
	}
	cJSON_ArrayForEach(k, v) {
		if (strcmp(k->string, "test") != 0 && strcmp(k->string, "interval") != 0 &&
		    strcmp(k->string, "timeout") != 0 && strcmp(k->string, "retries") != 0 &&
		    strcmp(k->string, "start_period") != 0 && strcmp(k->string, "disable") != 0)
			problem(c, k, path, "%s: only test, interval, timeout, retries, start_period and "
			    "disable are supported", k->string);
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "disable")))
		return;
	if (cJSON_IsString(test)) {
		argv = cJSON_CreateArray();
		cJSON_AddItemToArray(argv, cJSON_CreateString("/bin/sh"));
		cJSON_AddItemToArray(argv, cJSON_CreateString("-c"));
		cJSON_AddItemToArray(argv, cJSON_CreateString(test->valuestring));
	} else if (cJSON_IsArray(test) && cJSON_IsString(test->child) &&
	    cJSON_GetArraySize(test) >= 1) {
		const char *kind = test->child->valuestring;

		if (strcmp(kind, "NONE") == 0)
			return;
		if (strcmp(kind, "CMD-SHELL") == 0 && cJSON_GetArraySize(test) == 2 &&
		    cJSON_IsString(test->child->next)) {
			argv = cJSON_CreateArray();
			cJSON_AddItemToArray(argv, cJSON_CreateString("/bin/sh"));
			cJSON_AddItemToArray(argv, cJSON_CreateString("-c"));
			cJSON_AddItemToArray(argv, cJSON_CreateString(test->child->next->valuestring));
		} else if (strcmp(kind, "CMD") == 0 && cJSON_GetArraySize(test) >= 2) {
			cJSON *rest = cJSON_CreateArray();

			for (const cJSON *w = test->child->next; w; w = w->next)
				if (cJSON_IsString(w))
					cJSON_AddItemToArray(rest, cJSON_CreateString(w->valuestring));
			argv = rest;
		}
	}
	if (argv == NULL || cJSON_GetArraySize(argv) == 0) {
		cJSON_Delete(argv);
		problem(c, test != NULL ? test : v, path, "test must be a string, [\"CMD\", ...], "
		    "[\"CMD-SHELL\", \"...\"] or [\"NONE\"]");
		return;
	}
	hc = cJSON_CreateObject();
	cJSON_AddItemToObject(hc, "test", argv);
	for (size_t i = 0; i < sizeof(durations) / sizeof(*durations); i++) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(v, durations[i].key);
		long long    ms = d == NULL ? durations[i].def :
		    compose_duration_ms(is_scalar(d) ? scalar_text(d) : NULL);

		if (ms < 0 || (ms == 0 && strcmp(durations[i].key, "start_period") != 0)) {
			problem(c, d, path, "%s must be a duration like 10s, 1m30s or 500ms",
			    durations[i].key);
			ms = durations[i].def;
		} else if (ms < COMPOSE_MIN_PROBE_MS && strcmp(durations[i].key, "start_period") != 0) {
			/* The agent runs every probe through the engine: not in a busy loop. */
			problem(c, d, path, "%s must be at least 1s", durations[i].key);
			ms = durations[i].def;
		}
		cJSON_AddNumberToObject(hc, durations[i].out, (double)ms);
	}
	if (retries != NULL && !(cJSON_IsNumber(retries) && retries->valuedouble >= 1 &&
	    retries->valuedouble <= 100))
		problem(c, retries, path, "retries must be an integer 1..100");
	cJSON_AddNumberToObject(hc, "retries", cJSON_IsNumber(retries) ? (int)retries->valuedouble : 3);
	cJSON_ReplaceItemInObjectCaseSensitive(o, "healthcheck", hc);
}

static void
depends_of(struct cx *c, const char *svc, const cJSON *v, cJSON *o)
{
	static const char *const conds[] = {"service_started", "service_healthy",
		"service_completed_successfully", NULL};
	char        path[300];
	const cJSON *it;
	cJSON       *l = cJSON_GetObjectItemCaseSensitive(o, "depends_on");

	(void)snprintf(path, sizeof(path), "services.%s.depends_on", svc);
	if (!cJSON_IsArray(v) && !cJSON_IsObject(v)) {
		problem(c, v, path, "must be a list of services or a mapping of service: {condition}");
		return;
	}
	cJSON_ArrayForEach(it, v) {
		const char *name = cJSON_IsObject(v) ? it->string : cJSON_IsString(it) ?
		    it->valuestring : NULL;
		const char *cond = "service_started";
		cJSON      *d;

		if (name == NULL) {
			problem(c, it, path, "must be a list of service names");
			continue;
		}
		if (cJSON_IsObject(v)) {
			const cJSON *cd = cJSON_GetObjectItemCaseSensitive(it, "condition"), *k;
			bool         ok = false;

			if (!cJSON_IsObject(it) && !cJSON_IsNull(it)) {
				problem(c, it, path, "%s: must be a mapping with condition", name);
				continue;
			}
			for (k = cJSON_IsObject(it) ? it->child : NULL; k != NULL; k = k->next) {
				if (strcmp(k->string, "condition") != 0 && strcmp(k->string, "restart") != 0 &&
				    strcmp(k->string, "required") != 0)
					problem(c, k, path, "%s.%s: only condition, restart and required are "
					    "supported", name, k->string);
			}
			if (cd != NULL) {
				for (size_t i = 0; conds[i] && cJSON_IsString(cd); i++)
					ok = ok || strcmp(cd->valuestring, conds[i]) == 0;
				if (!ok) {
					problem(c, cd, path, "%s.condition must be service_started, "
					    "service_healthy or service_completed_successfully", name);
					continue;
				}
				cond = cd->valuestring;
			}
		}
		d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "service", name);
		cJSON_AddStringToObject(d, "condition", cond);
		cJSON_AddItemToArray(l, d);
	}
}

static const char *
restart_of(const cJSON *v)
{
	if (!cJSON_IsString(v))
		return NULL;
	if (strcmp(v->valuestring, "no") == 0 || strcmp(v->valuestring, "always") == 0 ||
	    strcmp(v->valuestring, "unless-stopped") == 0 || strcmp(v->valuestring, "on-failure") == 0)
		return v->valuestring;
	if (strncmp(v->valuestring, "on-failure:", 11) == 0)
		return "on-failure";
	return NULL;
}

/* The keys compose files carry that we do not run, with why. */
static const struct { const char *key, *why; } refused_keys[] = {
	{"build", "build is not supported: give an image (build it elsewhere and push it to a "
	    "registry)"},
	{"env_file", "env_file is not supported: there are no files beside the compose text; use "
	    "environment or the application's env"},
	{"networks", "networks are not supported: every service is on the project's network, "
	    "reachable by its service name"},
	{"container_name", "container_name is not supported: the platform names the containers"},
	{"deploy", "deploy is not supported: one container per service"},
};

static const char *const host_keys[] = {"privileged", "network_mode", "cap_add", "devices",
	"pid", "ipc", "userns_mode", "security_opt", "sysctls", NULL};

static bool
in_list(const char *k, const char *const *l)
{
	for (; *l; l++)
		if (strcmp(k, *l) == 0)
			return true;
	return false;
}

static cJSON *
service_of(struct cx *c, const char *name, const cJSON *svc, const cJSON *top_vols)
{
	cJSON       *o = cJSON_CreateObject();
	const cJSON *k;
	char         path[300];
	int          before = c->errors;

	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddNullToObject(o, "image");
	cJSON_AddNullToObject(o, "command");
	cJSON_AddNullToObject(o, "entrypoint");
	cJSON_AddObjectToObject(o, "environment");
	cJSON_AddArrayToObject(o, "depends_on");
	cJSON_AddNullToObject(o, "healthcheck");
	cJSON_AddArrayToObject(o, "volumes");
	cJSON_AddNullToObject(o, "port");
	cJSON_AddNullToObject(o, "restart");
	cJSON_AddNullToObject(o, "working_dir");
	cJSON_AddNullToObject(o, "user");
	cJSON_AddObjectToObject(o, "labels");
	cJSON_AddArrayToObject(o, "expose");
	cJSON_AddArrayToObject(o, "extra_hosts");
	cJSON_AddArrayToObject(o, "cap_drop");
	cJSON_AddNullToObject(o, "host");
	cJSON_ArrayForEach(k, svc) {
		const char *key = k->string;
		bool        refused = false;

		(void)snprintf(path, sizeof(path), "services.%s.%s", name, key);
		for (size_t i = 0; i < sizeof(refused_keys) / sizeof(*refused_keys); i++)
			if (strcmp(key, refused_keys[i].key) == 0) {
				problem(c, k, path, "%s", refused_keys[i].why);
				refused = true;
			}
		if (refused || strncmp(key, "x-", 2) == 0)
			continue;
		if (in_list(key, host_keys)) {
			host_key(c, name, k, o);
		} else if (strcmp(key, "image") == 0) {
			if (!cJSON_IsString(k) || !image_ok(k->valuestring))
				problem(c, k, path, "must be an image reference like "
				    "registry.example.com/app:tag");
			else
				cJSON_ReplaceItemInObjectCaseSensitive(o, "image",
				    cJSON_CreateString(k->valuestring));
		} else if (strcmp(key, "command") == 0 || strcmp(key, "entrypoint") == 0) {
			cJSON *a = argv_of(c, k, path);

			if (a != NULL)
				cJSON_ReplaceItemInObjectCaseSensitive(o, key, a);
		} else if (strcmp(key, "environment") == 0 || strcmp(key, "labels") == 0) {
			cJSON *m = pairs_of(c, k, path, strcmp(key, "environment") == 0);

			if (m != NULL && strcmp(key, "labels") == 0)
				for (const cJSON *l = m->child; l; l = l->next)
					if (strncmp(l->string, "launcher.", 9) == 0)
						problem(c, k, path, "%s: labels launcher.* are the platform's",
						    l->string);
			if (m != NULL)
				cJSON_ReplaceItemInObjectCaseSensitive(o, key, m);
		} else if (strcmp(key, "depends_on") == 0) {
			depends_of(c, name, k, o);
		} else if (strcmp(key, "healthcheck") == 0) {
			healthcheck_of(c, name, k, o);
		} else if (strcmp(key, "volumes") == 0) {
			const cJSON *it;

			if (!cJSON_IsArray(k))
				problem(c, k, path, "must be a list of mounts");
			for (it = cJSON_IsArray(k) ? k->child : NULL; it != NULL; it = it->next) {
				mount_of(c, name, it, top_vols, o);
			}
		} else if (strcmp(key, "ports") == 0) {
			ports_of(c, name, k, o);
		} else if (strcmp(key, "restart") == 0) {
			if (restart_of(k) == NULL)
				problem(c, k, path, "must be no, always, on-failure[:N] or unless-stopped");
			else
				cJSON_ReplaceItemInObjectCaseSensitive(o, "restart",
				    cJSON_CreateString(restart_of(k)));
		} else if (strcmp(key, "working_dir") == 0) {
			if (!cJSON_IsString(k) || !container_path_ok(k->valuestring))
				problem(c, k, path, "must be an absolute container path");
			else
				cJSON_ReplaceItemInObjectCaseSensitive(o, key,
				    cJSON_CreateString(k->valuestring));
		} else if (strcmp(key, "user") == 0) {
			if (!is_scalar(k) || cJSON_IsBool(k))
				problem(c, k, path, "must be a user name or id (user[:group])");
			else
				cJSON_ReplaceItemInObjectCaseSensitive(o, key,
				    cJSON_CreateString(scalar_text(k)));
		} else if (strcmp(key, "expose") == 0) {
			const cJSON *it;

			if (!cJSON_IsArray(k))
				problem(c, k, path, "must be a list of ports");
			for (it = cJSON_IsArray(k) ? k->child : NULL; it != NULL; it = it->next) {
				int p = port_of(it);

				if (p == 0)
					problem(c, it, path, "must be a list of ports 1..65535");
				else
					cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(o, "expose"),
					    cJSON_CreateNumber(p));
			}
		} else if (strcmp(key, "extra_hosts") == 0) {
			cJSON *m = pairs_of(c, k, path, false), *l = cJSON_CreateArray();

			/* list "host:ip" entries have no '=': take them as they are */
			if (cJSON_IsArray(k)) {
				cJSON_Delete(m);
				m = NULL;
				for (const cJSON *it = k->child; it; it = it->next)
					if (cJSON_IsString(it) && strchr(it->valuestring, ':') != NULL)
						cJSON_AddItemToArray(l, cJSON_CreateString(it->valuestring));
					else
						problem(c, it, path, "entries must be host:address");
			}
			for (const cJSON *e = m ? m->child : NULL; e; e = e->next) {
				char hp[600];

				(void)snprintf(hp, sizeof(hp), "%s:%s", e->string, e->valuestring);
				cJSON_AddItemToArray(l, cJSON_CreateString(hp));
			}
			cJSON_Delete(m);
			cJSON_ReplaceItemInObjectCaseSensitive(o, "extra_hosts", l);
		} else if (strcmp(key, "cap_drop") == 0) {
			cJSON *l = strings_of(c, k, path);

			if (l != NULL)
				cJSON_ReplaceItemInObjectCaseSensitive(o, "cap_drop", l);
		} else {
			problem(c, k, path, "%s is not a supported key of a service (supported: image, "
			    "command, entrypoint, environment, depends_on, healthcheck, volumes, ports, "
			    "restart, working_dir, user, labels, expose, extra_hosts, cap_drop)", key);
		}
	}
	if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "image")) && c->errors == before) {
		(void)snprintf(path, sizeof(path), "services.%s.image", name);
		problem(c, svc, path, "is required (build is not supported)");
	}
	return o;
}

/* ------------------------------------------------------------ the file */

static struct svc *
find_svc(struct svc *v, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

/* Depth-first: appends s after its dependencies; a cycle is reported once. */
static void
visit(struct cx *c, struct svc *v, int n, struct svc *s, cJSON *order, char *trail, size_t tlen)
{
	size_t keep = strlen(trail);

	if (s->mark == 2)
		return;
	(void)snprintf(trail + keep, tlen - keep, "%s%s", keep ? " -> " : "", s->name);
	if (s->mark == 1) {
		char path[300];

		(void)snprintf(path, sizeof(path), "services.%s.depends_on", s->name);
		problem(c, cJSON_GetObjectItemCaseSensitive(s->node, "depends_on"), path,
		    "depends_on has a cycle: %s", trail);
		trail[keep] = '\0';
		return;
	}
	s->mark = 1;
	for (const cJSON *d = cJSON_GetObjectItemCaseSensitive(s->out, "depends_on")->child; d;
	    d = d->next) {
		struct svc *t = find_svc(v, n, cJSON_GetObjectItemCaseSensitive(d, "service")->valuestring);

		if (t != NULL && c->errors < 50)
			visit(c, v, n, t, order, trail, tlen);
	}
	s->mark = 2;
	trail[keep] = '\0';
	cJSON_AddItemReferenceToArray(order, s->out);
}

static const char *const top_keys[] = {"services", "volumes", "version", "name", NULL};

static cJSON *
check_tree(struct cx *c, const cJSON *root)
{
	const cJSON *services = cJSON_GetObjectItemCaseSensitive(root, "services");
	const cJSON *vols = cJSON_GetObjectItemCaseSensitive(root, "volumes"), *k;
	struct svc   v[COMPOSE_MAX_SERVICES];
	int          n = 0;
	cJSON       *spec, *order, *names;
	const char  *web = NULL;
	char         trail[2048] = "";

	if (!cJSON_IsObject(root)) {
		problem(c, root, "", "must be a mapping with services");
		return NULL;
	}
	cJSON_ArrayForEach(k, root) {
		if (strcmp(k->string, "networks") == 0)
			problem(c, k, "networks", "networks are not supported: every service is on the "
			    "project's network, reachable by its service name");
		else if (strcmp(k->string, "configs") == 0 || strcmp(k->string, "secrets") == 0)
			problem(c, k, k->string, "%s are not supported: use environment and the "
			    "application's env (secret values are sealed there)", k->string);
		else if (!in_list(k->string, top_keys) && strncmp(k->string, "x-", 2) != 0)
			problem(c, k, k->string, "%s is not a supported top-level key (services, "
			    "volumes, version, name)", k->string);
	}
	names = cJSON_CreateArray();
	if (vols != NULL && !cJSON_IsNull(vols) && !cJSON_IsObject(vols))
		problem(c, vols, "volumes", "must be a mapping of volume names");
	for (k = cJSON_IsObject(vols) ? vols->child : NULL; k != NULL; k = k->next) {
		char path[300];

		(void)snprintf(path, sizeof(path), "volumes.%s", k->string);
		if (!util_is_slug(k->string))
			problem(c, k, path, "volume names are 1 to 63 of a-z, 0-9 and '-'");
		else if (!cJSON_IsNull(k) && !(cJSON_IsObject(k) && k->child == NULL))
			problem(c, k, path, "only plain named volumes are supported (no driver, "
			    "external or options)");
		else
			cJSON_AddItemToArray(names, cJSON_CreateString(k->string));
	}
	if (!cJSON_IsObject(services) || services->child == NULL) {
		problem(c, services ? services : root, "services", "must be a mapping of at least one "
		    "service");
		cJSON_Delete(names);
		return NULL;
	}
	cJSON_ArrayForEach(k, services) {
		char path[300];

		(void)snprintf(path, sizeof(path), "services.%s", k->string);
		if (n == COMPOSE_MAX_SERVICES) {
			problem(c, k, "services", "at most %d services", COMPOSE_MAX_SERVICES);
			break;
		}
		if (!service_name_ok(k->string)) {
			problem(c, k, path, "service names are 1 to 63 of a-z, 0-9, '-' and '_' "
			    "(they are names on the project network)");
			continue;
		}
		if (strncmp(k->string, "db-", 3) == 0 || strncmp(k->string, "lnchr-", 6) == 0) {
			problem(c, k, path, "service names must not start with db- or lnchr-: those are "
			    "the project network's names of its databases and the plane's containers");
			continue;
		}
		if (!cJSON_IsObject(k)) {
			problem(c, k, path, "must be a mapping");
			continue;
		}
		v[n] = (struct svc){.name = k->string, .node = k};
		v[n].out = service_of(c, k->string, k, vols);
		n++;
	}
	/* Dependencies name services; service_healthy needs a healthcheck. */
	for (int i = 0; i < n; i++) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(v[i].out, "port");
		char         path[300];

		(void)snprintf(path, sizeof(path), "services.%s.depends_on", v[i].name);
		for (const cJSON *d = cJSON_GetObjectItemCaseSensitive(v[i].out, "depends_on")->child; d;
		    d = d->next) {
			const char *t = cJSON_GetObjectItemCaseSensitive(d, "service")->valuestring;
			const char *cond = cJSON_GetObjectItemCaseSensitive(d, "condition")->valuestring;
			struct svc *s = find_svc(v, n, t);

			if (s == NULL)
				problem(c, cJSON_GetObjectItemCaseSensitive(v[i].node, "depends_on"), path,
				    "%s is not a service of this file", t);
			else if (strcmp(cond, "service_healthy") == 0 &&
			    cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(s->out, "healthcheck")))
				problem(c, cJSON_GetObjectItemCaseSensitive(v[i].node, "depends_on"), path,
				    "%s: service_healthy needs a healthcheck on %s", t, t);
		}
		if (cJSON_IsNumber(p)) {
			if (web != NULL) {
				(void)snprintf(path, sizeof(path), "services.%s.ports", v[i].name);
				problem(c, cJSON_GetObjectItemCaseSensitive(v[i].node, "ports"), path,
				    "only one service may publish ports (%s does): it is the web service, "
				    "the others are reached on the project network by name", web);
			} else
				web = v[i].name;
		}
	}
	order = cJSON_CreateArray();
	for (int i = 0; i < n && c->errors == 0; i++)
		visit(c, v, n, &v[i], order, trail, sizeof(trail));
	spec = cJSON_CreateObject();
	if (web != NULL) {
		cJSON_AddStringToObject(spec, "web_service", web);
		cJSON_AddNumberToObject(spec, "port",
		    cJSON_GetObjectItemCaseSensitive(find_svc(v, n, web)->out, "port")->valuedouble);
	} else {
		cJSON_AddNullToObject(spec, "web_service");
		cJSON_AddNullToObject(spec, "port");
	}
	cJSON_AddItemToObject(spec, "volumes", names);
	/* The services in start order: copies, then the originals go. */
	{
		cJSON *list = cJSON_AddArrayToObject(spec, "services");

		for (const cJSON *s = order->child; s; s = s->next)
			cJSON_AddItemToArray(list, cJSON_Duplicate(s, true));
	}
	cJSON_Delete(order);
	for (int i = 0; i < n; i++)
		cJSON_Delete(v[i].out);
	if (c->errors > 0) {
		cJSON_Delete(spec);
		return NULL;
	}
	return spec;
}

cJSON *
compose_check(const char *text, size_t len, bool superadmin, cJSON *details)
{
	struct cx c = {.details = details, .superadmin = superadmin};
	char      err[512], msg[600];
	int       line = 0, col = 0;
	cJSON    *spec;

	if (len > COMPOSE_MAX_BYTES) {
		json_detail(details, "compose", "must be at most 262144 bytes");
		return NULL;
	}
	if ((c.doc = yaml_parse(text, len, err, sizeof(err), &line, &col)) == NULL) {
		(void)snprintf(msg, sizeof(msg), "is not valid YAML: %s", err);
		yaml_detail_at(details, "compose", msg, line, col);
		return NULL;
	}
	spec = check_tree(&c, yaml_root(c.doc));
	yaml_doc_free(c.doc);
	return spec;
}
