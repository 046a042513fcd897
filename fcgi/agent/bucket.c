/*
 * bucket.c - the bucket.* job kinds over the object-store driver
 * (core/bucketstore.c) and objstore.provision, the managed store's
 * container made with the engine code db.provision uses (see bucket.h).
 */
#include "bucket.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "../core/arena.h"
#include "../core/s3.h"
#include "../core/util.h"
#include "appspec.h"
#include "ctr.h"
#include "db.h"
#include "edge.h"
#include "image.h"
#include "runner.h"
#include "text.h"
#include "volume.h"
#include "xfer.h"

/* objstore.provision: how long the store may take to answer its health
 * check after its start, and how often it is asked. */
#define OBJSTORE_READY_S      120
#define OBJSTORE_READY_POLL_MS 500
#define OBJSTORE_PORT_DEFAULT 9000

int
bucket_store_parse(const cJSON *p, struct bstore *s, const char **name, char *err, size_t errlen)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(p, "store");
	const char *bad = NULL;

	memset(s, 0, sizeof(*s));
	*name = util_json_str(p, "bucket_name");
	s->driver = util_json_str(st, "driver");
	s->admin_endpoint = util_json_str(st, "admin_endpoint");
	s->region = util_json_str(st, "region");
	s->admin_access_key = util_json_str(st, "admin_access_key");
	s->admin_secret_key = util_json_str(st, "admin_secret_key");
	s->ca_file = util_json_str(st, "ca_file");
	if (!cJSON_IsObject(st))
		bad = "store must be an object";
	else if (s->driver == NULL || (strcmp(s->driver, "rgw") != 0 && strcmp(s->driver, "minio") != 0))
		bad = "store.driver must be rgw or minio";
	else if (s->admin_endpoint == NULL || (strncmp(s->admin_endpoint, "http://", 7) != 0 &&
	         strncmp(s->admin_endpoint, "https://", 8) != 0) || strlen(s->admin_endpoint) > 512)
		bad = "store.admin_endpoint must be an http(s) URL";
	else if (s->admin_access_key == NULL || s->admin_secret_key == NULL)
		bad = "store.admin_access_key and admin_secret_key are required (the claim opens the secret)";
	else if (*name == NULL || !bstore_name_ok(*name))
		bad = "bucket_name must be a bucket name S3 allows";
	if (bad == NULL)
		return 0;
	util_snprintf(err, errlen, "bad payload: %s", bad);
	return -1;
}

static cJSON *
key_result(const struct bstore_key *k)
{
	cJSON *r = cJSON_CreateObject();

	if (r != NULL && (cJSON_AddStringToObject(r, "access_key", k->access_key) == NULL ||
	    cJSON_AddStringToObject(r, "secret_key", k->secret_key) == NULL)) {
		cJSON_Delete(r);
		r = NULL;
	}
	return r;
}

/* The refused delete's result: an HTTP error for the plane to answer. */
static cJSON *
conflict_result(void)
{
	cJSON *r = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(r, "error");

	cJSON_AddStringToObject(e, "code", "CONFLICT");
	cJSON_AddStringToObject(e, "message", "bucket is not empty");
	cJSON_AddNumberToObject(e, "status", 409);
	return r;
}

struct listing { cJSON *objects; };

static int
list_cb(void *ud, const char *key, uint64_t size, const char *etag, const char *mtime)
{
	struct listing *l = ud;
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return -1;
	cJSON_AddItemToArray(l->objects, o);
	cJSON_AddStringToObject(o, "key", key);
	cJSON_AddNumberToObject(o, "size", (double)size);
	cJSON_AddStringToObject(o, "etag", etag);
	cJSON_AddStringToObject(o, "last_modified", mtime);
	return 0;
}

static int
bucket_objects(const struct bstore *s, const char *name, const cJSON *p, cJSON **result,
    char *err, size_t errlen)
{
	struct objstore_dest d;
	struct listing l;
	const char *prefix = util_json_str(p, "prefix"), *after = util_json_str(p, "start_after");
	const cJSON *lim = cJSON_GetObjectItemCaseSensitive(p, "limit");
	int64_t limit = BUCKET_LIST_DEFAULT;
	bool more = false;

	if (lim != NULL && !cJSON_IsNull(lim) && text_json_i64(lim, 1, 1000, &limit) != 0) {
		util_snprintf(err, errlen, "bad payload: limit must be an integer 1..1000");
		return -1;
	}
	memset(&d, 0, sizeof(d));
	d.provider = "custom";
	d.endpoint = s->admin_endpoint;
	d.region = s->region ? s->region : "us-east-1";
	d.bucket = name;
	d.access_key = util_json_str(p, "access_key");
	d.secret_key = util_json_str(p, "secret_key");
	d.path_style = true;
	d.ca_file = s->ca_file;
	if (d.access_key == NULL || d.secret_key == NULL) {
		util_snprintf(err, errlen, "bad payload: the bucket's access_key and secret_key are "
		              "required (the claim opens them)");
		return -1;
	}
	/* Listed with the bucket's own key: what the application sees. */
	if ((*result = cJSON_CreateObject()) == NULL ||
	    (l.objects = cJSON_AddArrayToObject(*result, "objects")) == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (s3_list(&d, prefix, after, (int)limit, list_cb, &l, &more, err, errlen) != 0) {
		cJSON_Delete(*result);
		*result = NULL;
		return -1;
	}
	cJSON_AddBoolToObject(*result, "truncated", more);
	return 0;
}

/*
 * The bucket's edge site after its public flag: installed (public) or
 * removed.  No edge (edge_sites_dir unset): nothing to do.  0, or -1 + err.
 */
static int
bucket_edge(const struct agent_conf *c, const cJSON *p, bool public, char *err, size_t errlen)
{
	const char *id = util_json_str(p, "bucket_id"), *host = util_json_str(p, "hostname");
	const char *endpoint = util_json_str(cJSON_GetObjectItemCaseSensitive(p, "store"), "endpoint");
	char       *site;
	int         rc;

	if (c == NULL || c->edge_sites_dir[0] == '\0')
		return 0;
	if (id == NULL || !text_word_ok(id, 36, "-")) {
		util_snprintf(err, errlen, "bad payload: bucket_id must be an id");
		return -1;
	}
	if (!public)
		return edge_remove(c, id, err, errlen);
	if (host == NULL || endpoint == NULL) {
		util_snprintf(err, errlen, "bad payload: hostname and store.endpoint are required "
		              "for a public bucket");
		return -1;
	}
	if ((site = malloc(EDGE_SITE_MAX)) == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (edge_render_bucket(id, util_json_str(p, "bucket_name"), host, c->edge_listen, endpoint,
	    site, EDGE_SITE_MAX) < 0) {
		util_snprintf(err, errlen, "bad payload: hostname must be a hostname and store.endpoint "
		              "http(s)://host[:port]");
		rc = -1;
	} else {
		rc = edge_install(c, id, site, err, errlen);
	}
	free(site);
	return rc;
}

bool
bucket_kind(const char *kind)
{
	static const char *const k[] = {"bucket.create", "bucket.rotate", "bucket.revoke",
	    "bucket.delete", "bucket.public", "bucket.objects"};

	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		if (strcmp(k[i], kind) == 0)
			return true;
	return false;
}

int
bucket_run(const struct agent_conf *c, const char *kind, const cJSON *p, cJSON **result, char *err, size_t errlen)
{
	struct bstore s;
	struct bstore_key k;
	const char *name;
	const cJSON *flag;
	int rc = -1;

	*result = NULL;
	memset(&k, 0, sizeof(k));
	if (bucket_store_parse(p, &s, &name, err, errlen) != 0)
		return -1;
	if (strcmp(kind, "bucket.create") == 0) {
		flag = cJSON_GetObjectItemCaseSensitive(p, "public");
		if (bstore_bucket_create(&s, name, &k, err, errlen) == 0 &&
		    (!cJSON_IsTrue(flag) || (bstore_bucket_public(&s, name, true, err, errlen) == 0 &&
		    bucket_edge(c, p, true, err, errlen) == 0)))
			rc = (*result = key_result(&k)) != NULL ? 0 : -2;
	} else if (strcmp(kind, "bucket.rotate") == 0) {
		if (bstore_key_add(&s, name, &k, err, errlen) == 0)
			rc = (*result = key_result(&k)) != NULL ? 0 : -2;
	} else if (strcmp(kind, "bucket.revoke") == 0) {
		const char *ak = util_json_str(p, "access_key");

		if (ak == NULL)
			util_snprintf(err, errlen, "bad payload: access_key is required");
		else if (bstore_key_revoke(&s, name, ak, err, errlen) == 0)
			rc = (*result = cJSON_CreateObject()) != NULL ? 0 : -2;
	} else if (strcmp(kind, "bucket.delete") == 0) {
		flag = cJSON_GetObjectItemCaseSensitive(p, "force");
		rc = bstore_bucket_delete(&s, name, cJSON_IsTrue(flag), err, errlen);
		if (rc == 1) {
			*result = conflict_result();
			util_snprintf(err, errlen, "bucket is not empty");
			rc = -1;
		} else if (rc == 0 && (rc = bucket_edge(c, p, false, err, errlen)) == 0) {
			rc = (*result = cJSON_CreateObject()) != NULL ? 0 : -2;
		}
	} else if (strcmp(kind, "bucket.public") == 0) {
		flag = cJSON_GetObjectItemCaseSensitive(p, "public");
		if (!cJSON_IsBool(flag))
			util_snprintf(err, errlen, "bad payload: public must be a boolean");
		else if (bstore_bucket_public(&s, name, cJSON_IsTrue(flag), err, errlen) == 0 &&
		    bucket_edge(c, p, cJSON_IsTrue(flag), err, errlen) == 0)
			rc = (*result = cJSON_CreateObject()) != NULL ? 0 : -2;
	} else if (strcmp(kind, "bucket.objects") == 0) {
		rc = bucket_objects(&s, name, p, result, err, errlen);
	} else {
		util_snprintf(err, errlen, "unknown job kind %.40s", kind);
		util_sanitize(err, 0);
	}
	if (rc == -2) {
		util_snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	sodium_memzero(&k, sizeof(k));
	return rc;
}

/* -------------------------------------------------- objstore.provision */

static size_t
fwrite_discard(char *p, size_t size, size_t n, void *ud)
{
	return size * n;
}

struct os_ctx {
	struct app_job   *j;
	struct app_spec   s;
	cJSON            *env;
	struct app_redact red;
	struct app_io     io;
	struct xfer       x;
	struct arena      a;
	char              name[96];   /* lnchr-objstore-<store_id> */
	char              cmd[256];
	const char       *password;
	const char       *health_path;
	int               port;
};

static bool
health_path_bad(const char *p)
{
	return p[0] != '/' || strlen(p) > 200 || strpbrk(p, " \t\r\n\"'\\") != NULL;
}

/* The payload into c's container spec.  0, or -1 (error set). */
static int
os_parse(struct os_ctx *c)
{
	const cJSON *p = c->j->payload, *port = cJSON_GetObjectItemCaseSensitive(p, "port");
	const char *id = util_json_str(p, "store_id"), *vol = util_json_str(p, "volume_id");
	const char *user = util_json_str(p, "root_user");
	const char *path = util_json_str(p, "data_path"), *cmd = util_json_str(p, "start_command");
	int64_t pn = OBJSTORE_PORT_DEFAULT;

	c->password = util_json_str(p, "root_password");
	c->health_path = util_json_str(p, "health_path");
	if (c->health_path == NULL)
		c->health_path = "/minio/health/live";
	if (id == NULL || !text_word_ok(id, APP_ID_MAX - 1, "-_") ||
	    util_snprintf(c->name, sizeof(c->name), OBJSTORE_NAME_PREFIX "%s", id) < 0)
		return app_job_fail(c->j, &c->red, "bad payload: store_id must be an id");
	/* "volume" (lnchr-vol-<id> or the id) is read too, as buckets-api first wrote it. */
	if (vol == NULL && (vol = util_json_str(p, "volume")) != NULL &&
	    strncmp(vol, VOL_PREFIX, strlen(VOL_PREFIX)) == 0)
		vol += strlen(VOL_PREFIX);
	if (vol == NULL || !text_word_ok(vol, APP_ID_MAX - 1, "-_"))
		return app_job_fail(c->j, &c->red, "bad payload: volume_id must be an id");
	if (util_json_str(p, "image") == NULL)
		return app_job_fail(c->j, &c->red, "bad payload: image is required");
	if (user == NULL || c->password == NULL || strlen(c->password) < 8 || strlen(c->password) > 128)
		return app_job_fail(c->j, &c->red, "bad payload: root_user and root_password "
		    "(8..128 characters, from the claim) are required");
	if (port != NULL && text_json_i64(port, 1, 65535, &pn) != 0)
		return app_job_fail(c->j, &c->red, "bad payload: port must be 1..65535");
	if (path == NULL)
		path = "/data";
	if (path[0] != '/' || strlen(path) > 200 || strpbrk(path, "'\"\\$`;&| \n") != NULL)
		return app_job_fail(c->j, &c->red, "bad payload: data_path must be an absolute path");
	if (health_path_bad(c->health_path))
		return app_job_fail(c->j, &c->red, "bad payload: health_path must be a path");
	c->port = (int)pn;
	if (cmd == NULL && util_snprintf(c->cmd, sizeof(c->cmd), "exec minio server %s --address :%d",
	    path, c->port) >= 0)
		cmd = c->cmd;
	if ((c->env = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(c->env, "MINIO_ROOT_USER", user) == NULL ||
	    cJSON_AddStringToObject(c->env, "MINIO_ROOT_PASSWORD", c->password) == NULL)
		return app_job_fail(c->j, &c->red, "out of memory");
	memset(&c->s, 0, sizeof(c->s));
	util_snprintf(c->s.objstore_id, sizeof(c->s.objstore_id), "%s", id);
	c->s.name = c->name;
	c->s.app_type = "worker";
	c->s.replicas = 1;
	c->s.restart_policy = "always";
	c->s.start_command = cmd;
	c->s.exposed_port = c->port;
	c->s.publish_db = true;
	c->s.host_ip = c->j->conf->database_host_ip[0] ? c->j->conf->database_host_ip : NULL;
	c->s.env = c->env;
	c->s.src = APP_SRC_IMAGE;
	c->s.image = util_json_str(p, "image");
	util_snprintf(c->s.vols[0].volume_id, sizeof(c->s.vols[0].volume_id), "%s", vol);
	c->s.vols[0].mount_path = path;
	c->s.nvols = 1;
	return 0;
}

/* Our container: 0 with *doc, 1 when there is none, -1 (error set). */
static int
os_find(struct os_ctx *c, cJSON **doc)
{
	char        err[1024];
	const char *m, *id;
	int         rc = ctr_inspect(&c->x, &c->a, c->name, CTR_TIMEOUT_MS, doc, err, sizeof(err));

	if (rc < 0)
		return app_job_fail(c->j, &c->red, "%s", err);
	if (rc == 1)
		return 1;
	m = ctr_label(*doc, "launcher.managed");
	id = ctr_label(*doc, "launcher.objstore");
	if (m == NULL || strcmp(m, "1") != 0 || id == NULL || strcmp(id, c->s.objstore_id) != 0)
		return app_job_fail(c->j, &c->red, "container %s exists but does not carry launcher's "
		                    "labels for this store: left alone", c->name);
	return 0;
}

/*
 * Until the store answers 200 on its health path at endpoint, the
 * container exits, or OBJSTORE_READY_S pass.  0, or -1 (error set).
 */
static int
os_ready(struct os_ctx *c, const char *id, const char *endpoint)
{
	char url[700];
	CURL *h = curl_easy_init();
	time_t end = time(NULL) + OBJSTORE_READY_S;
	long status = 0;

	if (h == NULL || util_snprintf(url, sizeof(url), "%s%s", endpoint, c->health_path) < 0) {
		curl_easy_cleanup(h);
		return app_job_fail(c->j, &c->red, "out of memory");
	}
	for (;;) {
		cJSON *doc;
		char err[512];
		struct timespec ts = {0, OBJSTORE_READY_POLL_MS * 1000000L};

		curl_easy_reset(h);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fwrite_discard);
		if (curl_easy_perform(h) == CURLE_OK &&
		    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200)
			break;
		if (ctr_inspect(&c->x, &c->a, id, CTR_TIMEOUT_MS, &doc, err, sizeof(err)) != 0 ||
		    !ctr_running(doc)) {
			curl_easy_cleanup(h);
			return app_job_fail(c->j, &c->red, "container %s stopped before its store answered", c->name);
		}
		if (time(NULL) >= end) {
			curl_easy_cleanup(h);
			return app_job_fail(c->j, &c->red, "the store did not answer 200 on %s within %d s (last status "
			    "%ld)", c->health_path, OBJSTORE_READY_S, status);
		}
		nanosleep(&ts, NULL);
	}
	curl_easy_cleanup(h);
	return 0;
}

/* Made (image, data volume, container) and started; id gets the container. */
static int
os_create(struct os_ctx *c, char *id, size_t idlen)
{
	struct image_out im;
	char warning[VOL_WARNING_MAX], err[4096];

	if (image_ensure(&c->x, &c->a, c->s.image, &c->io, &im, err, sizeof(err)) != 0)
		return app_job_fail(c->j, &c->red, "%s", err);
	if (vol_ensure(&c->x, &c->a, &c->s, &c->s.vols[0], warning, sizeof(warning), err,
	    sizeof(err)) != 0)
		return app_job_fail(c->j, &c->red, "%s", err);
	app_say(&c->io, "volume %s%s ready for %s%s%s", VOL_PREFIX, c->s.vols[0].volume_id,
	    c->s.vols[0].mount_path, warning[0] ? ": " : "", warning);
	if (ctr_create(&c->x, &c->a, &c->s, im.image_id, c->name, 0, id, idlen, err, sizeof(err)) != 0)
		return app_job_fail(c->j, &c->red, "%s", err);
	return 0;
}

int
objstore_provision_run(struct app_job *j)
{
	struct os_ctx c;
	cJSON *doc = NULL;
	char id[128] = "", err[1024], endpoint[160];
	const char *host;
	bool created = false;
	int rc = -1, port, found;

	memset(&c, 0, sizeof(c));
	c.j = j;
	j->error[0] = '\0';
	if (os_parse(&c) != 0) {
		cJSON_Delete(c.env);
		return -1;
	}
	app_redact_add(&c.red, c.password);
	c.io.emit = j->emit;
	c.io.ud = j->ud;
	c.io.red = &c.red;
	xfer_init(&c.x, j->conf, NULL);
	arena_init(&c.a, 65536);
	if ((found = os_find(&c, &doc)) < 0)
		goto out;
	if (found == 0) {
		util_snprintf(id, sizeof(id), "%s", ctr_id(doc));
		app_say(&c.io, "container %s exists%s", c.name, ctr_running(doc) ? " and runs" : "");
	} else {
		app_say(&c.io, "object store: creating container %s", c.name);
		if (os_create(&c, id, sizeof(id)) != 0)
			goto out;
		created = true;
	}
	if ((found != 0 || !ctr_running(doc)) && ctr_action(&c.x, &c.a, id, "start", err, sizeof(err)) != 0) {
		app_job_fail(c.j, &c.red, "%s", err);
		goto out;
	}
	if (ctr_inspect(&c.x, &c.a, id, CTR_TIMEOUT_MS, &doc, err, sizeof(err)) != 0) {
		app_job_fail(c.j, &c.red, "container %s after its start: %s", c.name, err);
		goto out;
	}
	if ((port = ctr_host_port(doc, c.port)) <= 0) {
		app_job_fail(c.j, &c.red, "container %s runs but the engine published no host port", c.name);
		goto out;
	}
	host = c.s.host_ip != NULL && strcmp(c.s.host_ip, "0.0.0.0") != 0 ? c.s.host_ip : "127.0.0.1";
	util_snprintf(endpoint, sizeof(endpoint), "http://%s:%d", host, port);
	if (os_ready(&c, id, endpoint) != 0)
		goto out;
	if ((j->result = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(j->result, "endpoint", endpoint) == NULL ||
	    cJSON_AddStringToObject(j->result, "container_id", ctr_id(doc)) == NULL) {
		app_job_fail(c.j, &c.red, "out of memory");
		goto out;
	}
	app_say(&c.io, "object store %s answers at %s", c.name, endpoint);
	rc = 0;
out:
	if (rc != 0 && created && id[0] != '\0') {
		char keep[RUNNER_MAX_ERROR];

		util_snprintf(keep, sizeof(keep), "%s", j->error);
		if (ctr_remove(&c.x, &c.a, id, err, sizeof(err)) == 0)
			app_say(&c.io, "removed container %s", c.name);
		util_snprintf(j->error, j->errlen, "%s", keep);
	}
	if (rc != 0) {
		cJSON_Delete(j->result);
		j->result = NULL;
	}
	xfer_cleanup(&c.x);
	arena_free(&c.a);
	app_redact_free(&c.red);
	db_env_free(c.env);   /* zeroes the root password first */
	return rc;
}
