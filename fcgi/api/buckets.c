/*
 * buckets.c - API.md §6 buckets: list, create, read, update (public),
 * delete, the credentials, key rotation, the objects' listing and
 * presigned URLs; each server's object store (PUT/GET
 * /servers/:id/object-store); and the `bucket` provider of environment
 * references (env_refs.c).
 *
 * Everything that talks to the store is a job of the server's agent
 * (bucket.* and objstore.provision, sql/053_buckets.sql;
 * fcgi/core/bucketstore.h is the driver the agent runs): the store, not
 * Launcher, enforces that a bucket's key reaches that bucket alone.  The
 * keys are made by the store; the completion of bucket.create and
 * bucket.rotate seals them into bucket_keys (agent.c), bound to the
 * bucket, and they are opened only for the credentials call (write
 * permission, audited), the references of a deploy or preview, presigning
 * (computed here, no network: core/s3.h s3_presign) and the claim of the
 * bucket's own jobs.
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../core/crypto.h"
#include "../core/db.h"
#include "../core/jobs.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/log.h"
#include "../core/perm.h"
#include "../core/s3.h"
#include "../core/secret.h"
#include "../core/txn.h"
#include "../core/util.h"
#include "../core/worker.h"

/* A public bucket's objects are read through the edge at http://<bucket_hostname>/<key>. */
#define BKT_COLS "b.id, b.project_id, b.environment_id, b.server_id, b.name, b.bucket_name," \
	" b.public, b.status, b.status_reason, s.endpoint, s.region," \
	" CASE WHEN b.public THEN 'http://' || bucket_hostname(b) END AS url, b.created_at, b.updated_at, b.row_version::text AS _version"
#define BKT_FROM " FROM buckets b LEFT JOIN object_stores s ON s.server_id = b.server_id" \
	" AND s.status = 'ready'"

DB_STMT st_bkt_get = {"buckets_get",
    "SELECT " BKT_COLS BKT_FROM " WHERE b.id = $1::uuid"};
DB_STMT st_bkt_project = {"buckets_project",
    "SELECT project_id FROM buckets WHERE id = $1::uuid"};
/* $4 sees all, $5 user, $6 key's project, then ?projectId, ?environmentId, ?status. */
DB_STMT st_bkt_list = {"buckets_list",
    "SELECT " BKT_COLS BKT_FROM
    " WHERE ($4::boolean OR EXISTS (SELECT 1 FROM project_members m"
    " WHERE m.project_id = b.project_id AND m.user_id = $5::uuid))"
    " AND ($6::uuid IS NULL OR b.project_id = $6::uuid)"
    " AND ($7::uuid IS NULL OR b.project_id = $7::uuid)"
    " AND ($8::uuid IS NULL OR b.environment_id = $8::uuid)"
    " AND ($9::text IS NULL OR b.status = $9)" LIST_TAIL("b.")};
DB_STMT st_bkt_create = {"buckets_create",
    "SELECT api_bucket_create($1::uuid, $2::uuid, $3::jsonb, $4::jsonb, $5, $6::uuid) AS id"};
DB_STMT st_bkt_update = {"buckets_update",
    "UPDATE buckets b" DB_PATCH("b", "public")
    " FROM (SELECT public FROM buckets WHERE id = $1::uuid) o"
    " WHERE b.id = $1::uuid AND ($3::bigint IS NULL OR b.row_version = $3::bigint)"
    " RETURNING b.status, b.public IS DISTINCT FROM o.public AS changed, b.public"};
DB_STMT st_bkt_job = {"buckets_job",
    "SELECT bucket_job($1::uuid, $2, $3::jsonb, $4::uuid) AS job_id"};
DB_STMT st_bkt_deleting = {"buckets_deleting",
    "UPDATE buckets SET status = 'deleting', status_reason = NULL WHERE id = $1::uuid"
    " AND status = 'ready' AND ($2::bigint IS NULL OR row_version = $2::bigint) RETURNING id"};
DB_STMT st_bkt_drop = {"buckets_drop",
    "DELETE FROM buckets WHERE id = $1::uuid AND status IN ('provisioning', 'failed')"
    " AND ($2::bigint IS NULL OR row_version = $2::bigint) RETURNING id"};
/* What the handlers work with, the active key included: never answered as it is. */
DB_STMT st_bkt_row = {"buckets_row",
    "SELECT b.id, b.project_id, b.environment_id, b.name, b.bucket_name, b.status,"
    " s.endpoint, s.region, k.access_key, k.secret_sealed"
    " FROM buckets b LEFT JOIN object_stores s ON s.server_id = b.server_id AND s.status = 'ready'"
    " LEFT JOIN bucket_keys k ON k.bucket_id = b.id AND k.state = 'active'"
    " WHERE b.id = $1::uuid"};
DB_STMT st_bkt_ref = {"buckets_ref",
    "SELECT b.id, b.bucket_name, s.endpoint, k.access_key, k.secret_sealed"
    " FROM buckets b JOIN object_stores s ON s.server_id = b.server_id AND s.status = 'ready'"
    " JOIN bucket_keys k ON k.bucket_id = b.id AND k.state = 'active'"
    " WHERE b.project_id = $1::uuid AND b.environment_id = $2::uuid AND b.name = $3"};
DB_STMT st_store_get = {"object_store_get",
    "SELECT id, server_id, driver, mode, endpoint, admin_endpoint, region, admin_access_key,"
    " status, status_reason, container_status, restart_count, created_at, updated_at,"
    " row_version::text AS _version FROM object_stores WHERE server_id = $1::uuid"};
DB_STMT st_store_put = {"object_store_put",
    "SELECT api_object_store_put($1::uuid, $2::uuid, $3::jsonb, $4) AS id"};
DB_STMT st_server_exists = {"object_store_server",
    "SELECT id FROM servers WHERE id = $1::uuid"};

/* The managed store's root password: 40 of [A-Za-z0-9] (~238 bits). */
#define ROOT_PASSWORD_LEN 40
#define ROOT_USER "lnchr-admin"
/* MinIO's S3 port inside its container (the agent publishes it). */
#define MANAGED_STORE_PORT "9000"
/* S3's limit of a presigned URL's life (SigV4: 7 days). */
#define PRESIGN_MAX_SECONDS 604800
#define PRESIGN_DEFAULT_SECONDS 3600
/* S3 keys are at most 1024 bytes. */
#define OBJECT_KEY_MAX 1024
/* ?wait= of a delete and of a listing (job_respond_wait): its bound, defaults. */
#define BKT_WAIT_MAX 300
#define BKT_DELETE_WAIT 60
#define BKT_OBJECTS_WAIT 30

/* ------------------------------------------------------------ names */

/*
 * S3's rules for a bucket name (AWS "Bucket naming rules"): 3 to 63
 * characters of a-z, 0-9, '.' and '-', beginning and ending with a letter
 * or digit, no "..", not shaped like an IPv4 address, not the reserved
 * prefixes and suffixes.  The store's own name adds a prefix and is cut at
 * 63 (sql/053), so the user's name passing these rules is what matters.
 */
static const char *
check_bucket_name(const cJSON *v)
{
	const char *s = v->valuestring;
	size_t      n = strlen(s);
	int         dots = 0;
	bool        digits_only = true;

	for (const char *p = s; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			return "must be lowercase (S3 bucket names have no capital letters)";
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			return "may contain only a-z, 0-9, '.' and '-'";
		if (*p == '.')
			dots++;
		else if (!(*p >= '0' && *p <= '9'))
			digits_only = false;
	}
	if (n < 3 || n > 63)
		return "must be 3 to 63 characters long";
	if (s[0] == '.' || s[0] == '-' || s[n - 1] == '.' || s[n - 1] == '-')
		return "must begin and end with a letter or a digit";
	if (strstr(s, "..") != NULL)
		return "must not contain two adjacent periods";
	if (dots == 3 && digits_only)
		return "must not be formatted as an IP address";
	if (strncmp(s, "xn--", 4) == 0 || strncmp(s, "sthree-", 7) == 0)
		return "must not begin with xn-- or sthree- (reserved by S3)";
	if ((n > 8 && strcmp(s + n - 8, "-s3alias") == 0) ||
	    (n > 7 && strcmp(s + n - 7, "--ol-s3") == 0))
		return "must not end with -s3alias or --ol-s3 (reserved by S3)";
	return NULL;
}

/* ------------------------------------------------------------ fields */

static const struct field create_fields[] = {
	{"project_id", F_UUID, true, false, 0, 0, NULL},
	{"environment_id", F_UUID, false, true, 0, 0, NULL},
	{"server_id", F_UUID, false, true, 0, 0, NULL},
	{"name", F_STRING, true, false, 1, 63, check_bucket_name},
	{"public", F_BOOL, false, false, 0, 0, NULL},
};
enum { C_PROJECT, C_ENV, C_SERVER, C_NAME, C_PUBLIC };

static const struct field update_fields[] = {
	{"public", F_BOOL, false, false, 0, 0, NULL},
};

static const char *const methods[] = {"GET", "PUT", NULL};

static const char *
check_object_key(const cJSON *v)
{
	for (const unsigned char *p = (const unsigned char *)v->valuestring; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "must not contain control characters";
	return NULL;
}

static const struct field presign_fields[] = {
	{"key", F_STRING, true, false, 1, OBJECT_KEY_MAX, check_object_key},
	{"method", F_ENUM, true, false, 0, 0, NULL, .options = methods},
	{"expires_in", F_INT, false, false, 1, PRESIGN_MAX_SECONDS, NULL},
};

static const char *const drivers[] = {"rgw", "minio", NULL};

/* http(s)://host[:port], nothing after (path-style S3 endpoints). */
static const char *
check_endpoint(const cJSON *v)
{
	const char *s = v->valuestring, *h;

	if (strncmp(s, "http://", 7) == 0)
		h = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		h = s + 8;
	else
		return "must be http://host[:port] or https://host[:port]";
	if (*h == '\0' || strpbrk(h, "/?#@ \t\r\n") != NULL)
		return "must be http(s)://host[:port] with no path, query or user";
	return NULL;
}

static const char *
check_region(const cJSON *v)
{
	for (const char *p = v->valuestring; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return "may contain only a-z, 0-9 and '-'";
	return NULL;
}

static const struct field store_fields[] = {
	{"driver", F_ENUM, true, false, 0, 0, NULL, .options = drivers},
	{"endpoint", F_STRING, true, false, 8, 255, check_endpoint},
	{"admin_endpoint", F_STRING, false, true, 8, 255, check_endpoint},
	{"region", F_STRING, false, true, 1, 32, check_region},
	{"admin_access_key", F_STRING, true, false, 1, 128, NULL},
	{"admin_secret_key", F_STRING, true, false, 1, 256, NULL},
};
enum { S_DRIVER, S_ENDPOINT, S_ADMIN_ENDPOINT, S_REGION, S_ACCESS, S_SECRET };

/* ------------------------------------------------------------ rows */

static const char *
bucket_project(struct req *r)
{
	return db_project_of(r, &st_bkt_project, "bucket");
}

static enum err
respond(struct req *r, const char *id, int status)
{
	return db_respond_object(r, &st_bkt_get, "bucket not found", id, status);
}

cJSON *
buckets_object(struct req *r, const char *id)
{
	PGresult *res;

	return db_get_object(r, &st_bkt_get, &res, "bucket not found", id) == ERR_OK ?
	    json_row(res, 0) : NULL;
}

/* The row of :id with its active key (never answered). */
static enum err
load(struct req *r, PGresult **res)
{
	return db_get_object(r, &st_bkt_row, res, "bucket not found", http_param(r, "id"));
}

/* The secret of the active key of bucket id (arena, wiped at reset), or NULL (logged). */
static char *
key_open(struct req *r, const char *id, const char *sealed)
{
	const char *p = secret_bound_purpose(r, SECRET_BUCKET_KEY, id);
	char       *sk = p ? secret_open(r, p, sealed, NULL) : NULL;

	if (sk == NULL)
		log_error("the key of bucket %s does not decrypt (altered or moved)", id);
	return sk;
}

/* A row that has an active key and a ready store; else 409 saying why. */
static enum err
usable(struct req *r, PGresult *row)
{
	if (strcmp(db_get(row, 0, "status"), "ready") != 0 || db_isnull(row, 0, "access_key") ||
	    db_isnull(row, 0, "endpoint"))
		return http_error(r, ERR_CONFLICT, arena_printf(r->a, "the bucket is %s; retry when "
		    "it is ready", db_get(row, 0, "status")));
	return ERR_OK;
}

/* Queues kind on bucket id with extra (JSON text or NULL); *job its id. */
static enum err
queue(struct req *r, const char *id, const char *kind, const char *extra, const char **job)
{
	PGresult *res;
	enum err  e;

	if ((e = db_run(r, &st_bkt_job, &res, id, kind, extra, r->who.user_id)) != ERR_OK)
		return e;
	*job = arena_strdup(r->a, db_get(res, 0, "job_id"));
	return ERR_OK;
}

int
buckets_ref(const struct env_refs_ctx *c, const char *name, const char *prop, char **out,
    char **why)
{
	PGresult *res;
	char     *sk;

	if (c->environment_id == NULL ||
	    db_run(c->r, &st_bkt_ref, &res, c->project_id, c->environment_id, name) != ERR_OK) {
		*why = strdup("the bucket cannot be read right now");
		return -1;
	}
	if (PQntuples(res) != 1)
		return 1;
	if (strcmp(prop, "secret_key") != 0) {
		*out = strdup(db_get(res, 0, strcmp(prop, "endpoint") == 0 ? "endpoint" :
		    strcmp(prop, "access_key") == 0 ? "access_key" : "bucket_name"));
		return *out != NULL ? 0 : -1;
	}
	if ((sk = key_open(c->r, db_get(res, 0, "id"), db_get(res, 0, "secret_sealed"))) == NULL) {
		*why = strdup("the stored key of this bucket cannot be decrypted");
		return -1;
	}
	*out = strdup(sk);
	return *out != NULL ? 0 : -1;
}

/* ------------------------------------------------------------ handlers */

static enum err
list(struct req *r)
{
	const char      *project, *env, *status = http_query(r, "status");
	struct list_page p;
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK ||
	    (e = list_uuid_query(r, "projectId", &project)) != ERR_OK ||
	    (e = list_uuid_query(r, "environmentId", &env)) != ERR_OK)
		return e;
	list_filter_visible(&p, r);
	list_filter(&p, project);
	list_filter(&p, env);
	list_filter(&p, status && *status ? status : NULL);
	return list_run(r, &p, &st_bkt_list);
}

enum err
buckets_create(struct req *r, const char *project_id, const char *body, const char *name,
    const char *prefix, const char **id)
{
	char        nid[37], sid[37], pw[ROOT_PASSWORD_LEN + 1];
	const char *purpose, *sealed, *store;
	PGresult   *res;
	cJSON      *o;
	char       *text;
	enum err    e;

	crypto_uuid_new(nid);
	crypto_uuid_new(sid);
	(void)crypto_token(pw, sizeof(pw), "", ROOT_PASSWORD_LEN);
	purpose = secret_bound_purpose(r, SECRET_BUCKET_STORE, sid);
	sealed = purpose ? secret_seal(r, purpose, pw, strlen(pw)) : NULL;
	sodium_memzero(pw, sizeof(pw));
	if (sealed == NULL || (o = cJSON_CreateObject()) == NULL)
		return ERR_INTERNAL;
	cJSON_AddStringToObject(o, "id", sid);
	cJSON_AddStringToObject(o, "root_user", ROOT_USER);
	cJSON_AddStringToObject(o, "image", r->w->cfg->object_store_image);
	cJSON_AddStringToObject(o, "port", MANAGED_STORE_PORT);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (text == NULL)
		return ERR_INTERNAL;
	store = arena_strdup(r->a, text);
	cJSON_free(text);
	e = db_run(r, &st_bkt_create, &res, nid, project_id, body, store, sealed, r->who.user_id);
	if (e == ERR_CONFLICT)
		return http_error_field(r, e, db_message(r, arena_printf(r->a, "a bucket named %s "
		    "already exists in this project", name)), arena_printf(r->a, "%sname", prefix),
		    "is taken in this project");
	if (e != ERR_OK)
		return e;
	*id = arena_strdup(r->a, nid);
	return ERR_OK;
}

static enum err
create(struct req *r)
{
	struct field_val v[sizeof(create_fields) / sizeof(*create_fields)];
	const char      *body, *id;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, create_fields, v)) != ERR_OK ||
	    (e = perm_project(r, v[C_PROJECT].s, CAP_WRITE)) != ERR_OK)
		return e;
	if ((body = JSON_GIVEN(r, create_fields)) == NULL)
		return ERR_INTERNAL;
	if ((e = buckets_create(r, r->who.project_id, body, v[C_NAME].s, "", &id)) != ERR_OK)
		return e;
	return respond(r, id, 201);
}

static enum err
get(struct req *r)
{
	return respond(r, http_param(r, "id"), 200);
}

/* public: the store's bucket policy follows (bucket.public) once it is ready. */
static enum err
update(struct req *r)
{
	struct field_val v[sizeof(update_fields) / sizeof(*update_fields)];
	const char      *id = http_param(r, "id"), *version, *body, *job;
	PGresult        *res;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, update_fields, v)) != ERR_OK)
		return e;
	if ((body = JSON_GIVEN(r, update_fields)) == NULL)
		return ERR_INTERNAL;
	if ((e = db_run(r, &st_bkt_update, &res, id, body, version)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_changed(r, "bucket");
	if (db_get(res, 0, "changed")[0] == 't' && strcmp(db_get(res, 0, "status"), "ready") == 0 &&
	    (e = queue(r, id, "bucket.public", arena_printf(r->a, "{\"public\": %s}",
	    db_get(res, 0, "public")[0] == 't' ? "true" : "false"), &job)) != ERR_OK)
		return e;
	return respond(r, id, 200);
}

/* ?name=true|false (absent: false); 400 naming it otherwise. */
static enum err
bool_query(struct req *r, const char *name, bool *out)
{
	const char *v = http_query(r, name);

	*out = v != NULL && strcmp(v, "true") == 0;
	if (v != NULL && *v && strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
		return http_field_error(r, "invalid query parameter", name, "must be true or false");
	return ERR_OK;
}

/* ?wait=<seconds> (0..BKT_WAIT_MAX; absent: dflt); 400 naming it otherwise. */
static enum err
wait_query(struct req *r, int dflt, int *out)
{
	const char *w = http_query(r, "wait");
	int64_t     v = dflt;

	if (w != NULL && util_parse_i64(w, 0, BKT_WAIT_MAX, &v) != 0)
		return http_field_error(r, "invalid query parameter", "wait",
		    "must be an integer from 0 to 300 (seconds)");
	*out = (int)v;
	return ERR_OK;
}

/*
 * A ready bucket: its store decides (bucket.delete): a non-empty one
 * without ?force=true is 409 CONFLICT from the job, force deletes every
 * object first; the job's success deletes the row.  The answer waits for
 * the job (job_respond_wait: launcher-ws waits, not this worker): 200
 * {success, data: {}} once deleted, the job's 409 when not empty, 202 with
 * the job past ?wait=<seconds> (0..300, default BKT_DELETE_WAIT; 0: at
 * once).  A bucket the store never made (provisioning, failed) goes at
 * once: 204.  Referenced by applications' env: 409 naming them.
 */
static enum err
del(struct req *r)
{
	const char *id = http_param(r, "id"), *version, *users, *job;
	bool        force;
	int         wait;
	PGresult   *row, *res;
	enum err    e;

	if ((e = wait_query(r, BKT_DELETE_WAIT, &wait)) != ERR_OK ||
	    (e = bool_query(r, "force", &force)) != ERR_OK || (e = http_if_match(r, &version)) !=
	    ERR_OK || (e = load(r, &row)) != ERR_OK ||
	    (e = env_refs_users(r, db_get(row, 0, "environment_id"), "buckets",
	    db_get(row, 0, "name"), &users, NULL)) != ERR_OK)
		return e;
	if (users != NULL)
		return http_error(r, ERR_CONFLICT, arena_printf(r->a, "bucket %s is referenced by the "
		    "environment variables of: %s; remove those references first",
		    db_get(row, 0, "name"), users));
	if (strcmp(db_get(row, 0, "status"), "ready") != 0) {
		if ((e = db_run(r, &st_bkt_drop, &res, id, version)) != ERR_OK)
			return e;
		if (PQntuples(res) == 1)
			return http_no_content(r);
		return http_error(r, ERR_CONFLICT, "the bucket is being deleted");
	}
	if ((e = db_run(r, &st_bkt_deleting, &res, id, version)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_changed(r, "bucket");
	if ((e = queue(r, id, "bucket.delete", force ? "{\"force\": true}" : "{\"force\": false}",
	    &job)) != ERR_OK)
		return e;
	return job_respond_wait(r, job, wait, 200);
}

/* {endpoint, access_key, secret_key, bucket_name, region}: write
 * permission, and audited (which bucket, which fields; never a value). */
static enum err
credentials(struct req *r)
{
	PGresult *row;
	cJSON    *d;
	char     *sk;
	enum err  e;

	if ((e = load(r, &row)) != ERR_OK || (e = usable(r, row)) != ERR_OK)
		return e;
	if ((sk = key_open(r, db_get(row, 0, "id"), db_get(row, 0, "secret_sealed"))) == NULL)
		return http_error(r, ERR_CONFLICT, "the stored key of this bucket cannot be decrypted; "
		    "rotate it");
	if ((e = txn_audit(r, "bucket.reveal", "bucket", db_get(row, 0, "id"),
	    "{\"fields\": [\"access_key\", \"secret_key\"]}")) != ERR_OK)
		return e;
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "endpoint", db_get(row, 0, "endpoint"));
	cJSON_AddStringToObject(d, "access_key", db_get(row, 0, "access_key"));
	cJSON_AddStringToObject(d, "secret_key", sk);
	cJSON_AddStringToObject(d, "bucket_name", db_get(row, 0, "bucket_name"));
	cJSON_AddStringToObject(d, "region", db_get(row, 0, "region"));
	return http_respond_json(r, 200, d, NULL);
}

/*
 * A new key (bucket.rotate); the one it replaces stays valid until each
 * application whose env references the bucket now has deployed again
 * (sql/053: revoke_after), or goes at once with ?immediate=true or when
 * none does.  202 with the job; 409 while another bucket.rotate of the
 * bucket is queued or running.
 */
static enum err
rotate(struct req *r)
{
	const char *apps = "[]", *users, *job;
	bool        immediate;
	PGresult   *row;
	enum err    e;

	if ((e = bool_query(r, "immediate", &immediate)) != ERR_OK || (e = load(r, &row)) != ERR_OK ||
	    (e = usable(r, row)) != ERR_OK)
		return e;
	if (!immediate && (e = env_refs_users(r, db_get(row, 0, "environment_id"), "buckets",
	    db_get(row, 0, "name"), &users, &apps)) != ERR_OK)
		return e;
	e = queue(r, db_get(row, 0, "id"), "bucket.rotate", arena_printf(r->a,
	    "{\"immediate\": %s, \"revoke_after\": %s}", immediate ? "true" : "false", apps), &job);
	if (e == ERR_CONFLICT)
		return http_error(r, e, db_message(r, "a key rotation of this bucket is already queued"
		    " or running"));
	if (e != ERR_OK)
		return e;
	return job_respond_queued(r, job);
}

/*
 * A page of the bucket's objects, listed by its agent with the bucket's
 * own key (bucket.objects): ?prefix=, ?limit= (1..200) and ?cursor= (a
 * next_cursor of this list: list.c's signed cursor over prefix and the
 * last key, made by the job's completion).  The answer waits for the job
 * (job_respond_wait): 200 {objects: [{key, size, etag, last_modified}],
 * truncated, next_cursor}, or 202 with the job past ?wait=<seconds>
 * (0..300, default BKT_OBJECTS_WAIT; 0: at once), whose result is that.
 */
static enum err
objects(struct req *r)
{
	const char *prefix = http_query(r, "prefix"), *cursor, *after = NULL, *nl, *job;
	int64_t     limit;
	int         wait;
	PGresult   *row;
	cJSON      *o;
	char       *text;
	enum err    e;

	if ((e = wait_query(r, BKT_OBJECTS_WAIT, &wait)) != ERR_OK)
		return e;
	if (prefix == NULL)
		prefix = "";
	if (strlen(prefix) > OBJECT_KEY_MAX || !json_utf8_ok(prefix))
		return http_field_error(r, "invalid query parameter", "prefix",
		    "must be UTF-8 of at most 1024 bytes");
	if ((e = http_limit(r, &limit)) != ERR_OK || (e = list_cursor_read(r, &cursor)) != ERR_OK ||
	    (e = load(r, &row)) != ERR_OK || (e = usable(r, row)) != ERR_OK)
		return e;
	if (cursor != NULL) {
		if ((nl = strchr(cursor, '\n')) == NULL ||
		    strncmp(cursor, prefix, (size_t)(nl - cursor)) != 0 ||
		    strlen(prefix) != (size_t)(nl - cursor))
			return http_field_error(r, "invalid query parameter", "cursor",
			    "is not a cursor of this list (another prefix)");
		after = nl + 1;
	}
	if ((o = cJSON_CreateObject()) == NULL)
		return ERR_INTERNAL;
	cJSON_AddStringToObject(o, "prefix", prefix);
	if (after != NULL)
		cJSON_AddStringToObject(o, "start_after", after);
	cJSON_AddNumberToObject(o, "limit", (double)limit);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (text == NULL)
		return ERR_INTERNAL;
	arena_defer(r->a, cJSON_free, text);
	if ((e = queue(r, db_get(row, 0, "id"), "bucket.objects", text, &job)) != ERR_OK)
		return e;
	return job_respond_wait(r, job, wait, 200);
}

/*
 * {key, method: GET|PUT, expires_in (1..604800, default 3600)} -> {url,
 * method, expires_at}: a SigV4 query-signed URL made with the bucket's own
 * key, here (no network).  A PUT URL writes: it needs write permission.
 */
static enum err
presign(struct req *r)
{
	struct field_val v[sizeof(presign_fields) / sizeof(*presign_fields)];
	char             url[4096], at[32];
	long             secs;
	time_t           now = time(NULL), until;
	struct tm        tm;
	PGresult        *row;
	cJSON           *d;
	char            *sk;
	int              rc;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, presign_fields, v)) != ERR_OK)
		return e;
	if (strcmp(v[1].s, "PUT") == 0 && !perm_allows(r, CAP_WRITE))
		return http_error(r, ERR_FORBIDDEN, "a presigned PUT writes into the bucket: it needs "
		    "write permission on the project");
	if ((e = load(r, &row)) != ERR_OK || (e = usable(r, row)) != ERR_OK)
		return e;
	if ((sk = key_open(r, db_get(row, 0, "id"), db_get(row, 0, "secret_sealed"))) == NULL)
		return http_error(r, ERR_CONFLICT, "the stored key of this bucket cannot be decrypted; "
		    "rotate it");
	secs = v[2].present ? (long)v[2].i : PRESIGN_DEFAULT_SECONDS;
	rc = s3_presign(v[1].s, db_get(row, 0, "endpoint"), db_get(row, 0, "region"),
	    db_get(row, 0, "bucket_name"), v[0].s, db_get(row, 0, "access_key"), sk, secs, now, url,
	    sizeof(url));
	if (rc != 0)
		return http_field_error(r, "invalid request body", "key",
		    "cannot be signed (too long once encoded)");
	until = now + secs;
	if (gmtime_r(&until, &tm) == NULL || strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return ERR_INTERNAL;
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "url", url);
	cJSON_AddStringToObject(d, "method", v[1].s);
	cJSON_AddStringToObject(d, "expires_at", at);
	sodium_memzero(url, sizeof(url));
	return http_respond_json(r, 200, d, NULL);
}

/* ------------------------------------------------------------ object stores */

static enum err
store_get(struct req *r)
{
	return db_respond_object(r, &st_store_get, "this server has no object store",
	    http_param(r, "id"), 200);
}

/*
 * An external store for the server (tenant admins): its admin key sealed
 * bound to the store; the agent reaches admin_endpoint (default: endpoint)
 * with it, and applications, clients and presigned URLs use endpoint.
 */
static enum err
store_put(struct req *r)
{
	struct field_val v[sizeof(store_fields) / sizeof(*store_fields)];
	const char      *server = http_param(r, "id"), *body, *purpose, *sealed;
	char             sid[37];
	PGresult        *res;
	enum err         e;

	if ((e = db_get_object(r, &st_server_exists, &res, "server not found", server)) != ERR_OK ||
	    (e = http_read_json(r, true)) != ERR_OK || (e = JSON_FIELDS(r, store_fields, v)) != ERR_OK)
		return e;
	crypto_uuid_new(sid);
	purpose = secret_bound_purpose(r, SECRET_BUCKET_STORE, sid);
	if (purpose == NULL || (sealed = secret_seal(r, purpose, v[S_SECRET].s,
	    strlen(v[S_SECRET].s))) == NULL)
		return ERR_INTERNAL;
	/* The body's secret never reaches SQL (the fields before it), only the sealed copy. */
	if ((body = json_given(r, store_fields, S_SECRET)) == NULL)
		return ERR_INTERNAL;
	if ((e = db_run(r, &st_store_put, &res, server, sid, body, sealed)) != ERR_OK)
		return e;
	return db_respond_object(r, &st_store_get, "this server has no object store", server, 200);
}

#define BKT_ROUTE(m, p, f, c, a) {.methods = (m), .pattern = (p), .fn = (f), .cap = (c), \
	.audit = (a), .project_of = bucket_project}

const struct route api_bucket_routes[] = {
	{.methods = HTTP_GET, .pattern = "/buckets", .fn = list},
	{.methods = HTTP_POST, .pattern = "/buckets", .fn = create, .audit = "bucket.create"},
	BKT_ROUTE(HTTP_GET, "/buckets/:id", get, CAP_READ, NULL),
	BKT_ROUTE(HTTP_PUT, "/buckets/:id", update, CAP_WRITE, "bucket.update"),
	BKT_ROUTE(HTTP_DELETE, "/buckets/:id", del, CAP_WRITE, "bucket.delete"),
	/* Write, as revealing env values: the answer is the credentials. */
	BKT_ROUTE(HTTP_GET, "/buckets/:id/credentials", credentials, CAP_WRITE, NULL),
	BKT_ROUTE(HTTP_POST, "/buckets/:id/rotate-credentials", rotate, CAP_WRITE,
	    "bucket.rotate_credentials"),
	BKT_ROUTE(HTTP_GET, "/buckets/:id/objects", objects, CAP_READ, NULL),
	/* Read for a GET URL; the handler asks write for a PUT one. */
	/* No idempotent replay: the answer is a bearer URL (valid up to 7 days)
	 * that must not be stored, and a new one is as good as a replayed one. */
	{.methods = HTTP_POST, .pattern = "/buckets/:id/presign", .fn = presign, .cap = CAP_READ,
	    .scope = SCOPE_READ, .audit = "bucket.presign", .project_of = bucket_project,
	    .flags = ROUTE_NO_IDEMPOTENCY},
	/* Tenant admins: the answer names the store's admin endpoint and key. */
	{.methods = HTTP_GET, .pattern = "/servers/:id/object-store", .fn = store_get,
	    .min_role = ROLE_ADMIN},
	{.methods = HTTP_PUT, .pattern = "/servers/:id/object-store", .fn = store_put,
	    .min_role = ROLE_ADMIN, .audit = "server.object_store"},
	{0},
};
