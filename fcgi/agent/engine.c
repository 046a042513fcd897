/*
 * engine.c - Engine API facts: /version, /info, /_ping (see engine.h).
 */
#include "engine.h"

#include <string.h>

#include "../core/util.h"
#include "text.h"

/* A string member copied into out (truncated to fit); "" when absent. */
static void
copy_str(const cJSON *o, const char *name, char *out, size_t outlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	size_t       n;

	out[0] = '\0';
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return;
	n = strnlen(v->valuestring, outlen - 1);
	memcpy(out, v->valuestring, n);
	out[n] = '\0';
}

static int64_t
get_count(const cJSON *o, const char *name)
{
	int64_t v;

	return text_json_i64(cJSON_GetObjectItemCaseSensitive(o, name), 0, 1000000000000000LL, &v) == 0 ?
	    v : 0;
}

int
engine_parse_version(const char *json, struct engine_facts *f)
{
	cJSON       *doc = cJSON_Parse(json);
	const cJSON *comps, *c;
	int          rc = -1;

	if (!cJSON_IsObject(doc))
		goto out;
	copy_str(doc, "Version", f->version, sizeof(f->version));
	copy_str(doc, "ApiVersion", f->api_version, sizeof(f->api_version));
	copy_str(doc, "Os", f->os, sizeof(f->os));
	copy_str(doc, "KernelVersion", f->kernel, sizeof(f->kernel));
	if (f->version[0] == '\0')
		goto out;
	util_snprintf(f->type, sizeof(f->type), "docker");
	/* Podman's compatible service names itself among the components. */
	comps = cJSON_GetObjectItemCaseSensitive(doc, "Components");
	cJSON_ArrayForEach(c, comps) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "Name");

		if (cJSON_IsString(name) && name->valuestring != NULL &&
		    strstr(name->valuestring, "Podman") != NULL) {
			util_snprintf(f->type, sizeof(f->type), "podman");
			break;
		}
	}
	f->reachable = true;
	rc = 0;
out:
	cJSON_Delete(doc);
	return rc;
}

int
engine_parse_info(const char *json, struct engine_facts *f)
{
	cJSON *doc = cJSON_Parse(json);
	int    rc = -1;

	if (!cJSON_IsObject(doc))
		goto out;
	f->containers = get_count(doc, "Containers");
	f->containers_running = get_count(doc, "ContainersRunning");
	f->images = get_count(doc, "Images");
	f->have_info = true;
	rc = 0;
out:
	cJSON_Delete(doc);
	return rc;
}

int
engine_parse_lists(const char *containers, const char *images, struct engine_facts *f)
{
	cJSON       *c = cJSON_Parse(containers), *i = cJSON_Parse(images);
	const cJSON *it;
	int          rc = -1;

	if (!cJSON_IsArray(c) || !cJSON_IsArray(i))
		goto out;
	f->containers = cJSON_GetArraySize(c);
	f->containers_running = 0;
	cJSON_ArrayForEach(it, c) {
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(it, "State");

		f->containers_running += cJSON_IsString(st) && strcmp(st->valuestring, "running") == 0;
	}
	f->images = cJSON_GetArraySize(i);
	f->have_info = true;
	rc = 0;
out:
	cJSON_Delete(c);
	cJSON_Delete(i);
	return rc;
}

/*
 * The counts.  Podman computes its /info (storage statistics included)
 * for ~300 ms, and the agent's loop would wait that long, wake-ups and
 * claims included: from Podman, the two lists (~1 ms each) give the same
 * counts.  Docker answers /info at once.
 */
static void
engine_counts(struct xfer *x, struct arena *a, struct engine_facts *f)
{
	struct xfer_resp r, ri;

	if (strcmp(f->type, "podman") != 0) {
		if (xfer_engine(x, a, ENGINE_API "/info", ENGINE_TIMEOUT_MS, &r) == 0 && r.status == 200)
			(void)engine_parse_info(r.body, f);
		return;
	}
	if (xfer_engine(x, a, ENGINE_API "/containers/json?all=1", ENGINE_TIMEOUT_MS, &r) == 0 &&
	    r.status == 200 &&
	    xfer_engine(x, a, ENGINE_API "/images/json", ENGINE_TIMEOUT_MS, &ri) == 0 &&
	    ri.status == 200)
		(void)engine_parse_lists(r.body, ri.body, f);
}

int
engine_facts_get(struct xfer *x, struct arena *a, struct engine_facts *f,
    char *err, size_t errlen)
{
	struct xfer_resp r;

	memset(f, 0, sizeof(*f));
	if (xfer_engine(x, a, ENGINE_API "/version", ENGINE_VERSION_TIMEOUT_MS, &r) != 0) {
		util_snprintf(err, errlen, "engine at %s: %s", x->conf->engine_socket, r.err);
		return -1;
	}
	if (r.status != 200 || engine_parse_version(r.body, f) != 0) {
		util_snprintf(err, errlen, "engine at %s: GET /version answered %ld",
		    x->conf->engine_socket, r.status);
		memset(f, 0, sizeof(*f));
		return -1;
	}
	/* Counts are a bonus: a failed count does not make the engine unreachable. */
	engine_counts(x, a, f);
	return 0;
}

int
engine_facts_cached(struct xfer *x, struct arena *a, struct engine_cache *c, int64_t now,
    struct engine_facts *f, char *err, size_t errlen)
{
	struct xfer_resp r;

	if (!c->valid || now - c->version_at >= ENGINE_VERSION_TTL_MS) {
		c->valid = false;
		if (engine_facts_get(x, a, &c->f, err, errlen) != 0) {
			*f = c->f;
			return -1;
		}
		c->valid = true;
		c->version_at = c->info_at = now;
		*f = c->f;
		return 0;
	}
	if (xfer_engine(x, a, ENGINE_API "/_ping", ENGINE_TIMEOUT_MS, &r) != 0 ||
	    r.status != 200) {
		util_snprintf(err, errlen, "engine at %s: %s", x->conf->engine_socket,
		    r.status != 0 ? "GET /_ping failed" : r.err);
		c->valid = false;
		memset(f, 0, sizeof(*f));
		return -1;
	}
	if (now - c->info_at >= ENGINE_INFO_TTL_MS) {
		engine_counts(x, a, &c->f);
		c->info_at = now;
	}
	*f = c->f;
	return 0;
}

cJSON *
engine_json(const struct engine_facts *f)
{
	cJSON *o = cJSON_CreateObject();
	bool   ok;

	if (o == NULL)
		return NULL;
	ok = cJSON_AddBoolToObject(o, "reachable", f->reachable) != NULL;
	if (ok && f->reachable)
		ok = cJSON_AddStringToObject(o, "type", f->type) != NULL &&
		    cJSON_AddStringToObject(o, "version", f->version) != NULL &&
		    cJSON_AddStringToObject(o, "api_version", f->api_version) != NULL &&
		    cJSON_AddStringToObject(o, "os", f->os) != NULL &&
		    cJSON_AddStringToObject(o, "kernel", f->kernel) != NULL;
	if (ok && f->reachable && f->have_info)
		ok = cJSON_AddNumberToObject(o, "containers", (double)f->containers) != NULL &&
		    cJSON_AddNumberToObject(o, "containers_running",
		    (double)f->containers_running) != NULL &&
		    cJSON_AddNumberToObject(o, "images", (double)f->images) != NULL;
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int
engine_ping(struct xfer *x, struct arena *a, char *detail, size_t detlen)
{
	struct xfer_resp r;

	if (xfer_engine(x, a, ENGINE_API "/_ping", ENGINE_TIMEOUT_MS, &r) != 0) {
		util_snprintf(detail, detlen, "%s: %s", x->conf->engine_socket, r.err);
		return -1;
	}
	if (r.status != 200 || strcmp(r.body, "OK") != 0) {
		util_snprintf(detail, detlen, "%s: GET /_ping answered %ld", x->conf->engine_socket,
		    r.status);
		return -1;
	}
	util_snprintf(detail, detlen, "%s answered OK in %lld ms", x->conf->engine_socket,
	    (long long)r.ms);
	return 0;
}
