/*
 * backups.c - API.md §12 backups: the tenant's backup destinations (list,
 * create, read, update, delete, test), the backups (list, read), manual
 * backups of databases and volumes, restores (into the resource, into a new
 * database, from a path of a destination) and the upload of an SQL dump
 * into a database (import).
 *
 * Destinations belong to the tenant, as registries do: everyone signed in
 * reads them, tenant admins manage and test them.  Their keys are
 * write-only: sealed (SECRET_BACKUP_DESTINATION, bound to the id) on the
 * way in, never answered (has_credentials, access_key_hint); they reach an
 * agent only in the claim of a job that needs them (agent.c).  Backups
 * belong to the project of their resource: read to list, deploy for a
 * manual backup, write to restore or import.  Every action is a job; the
 * rules (which backup may be restored, what a finished job does to its
 * backup and database) are the database's (sql/035_backups.sql).
 *
 * Import (README "Backups: the API"): nginx writes the body to a file under
 * <imports_dir>/tmp (its own location and size limit) and passes its path;
 * the handler checks its size, renames it to <imports_dir>/<upload id> and
 * queues db.import, whose agent fetches it through GET /agent/imports/:jobId
 * (agent.c, X-Accel-Redirect) and checks its first bytes (agent/backup.c).
 */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "../core/crypto.h"
#include "../core/db.h"
#include "../core/jobs.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/log.h"
#include "../core/objstore.h"
#include "../core/perm.h"
#include "../core/secret.h"
#include "../core/util.h"
#include "../core/worker.h"

/* ------------------------------------------------------------ SQL */

#define DEST_COLS "x.id, x.name, x.provider, x.bucket, x.region, x.endpoint, x.account_id," \
	" x.jurisdiction, x.path, x.url_style, x.credentials_sealed IS NOT NULL AS has_credentials," \
	" x.access_key_hint, x.created_at, x.updated_at, x.row_version::text AS _version"

DB_STMT st_dest_list = {"backup_dest_list",
    "SELECT " DEST_COLS " FROM backup_destinations x WHERE true" LIST_TAIL("x.")};
DB_STMT st_dest_get = {"backup_dest_get",
    "SELECT " DEST_COLS " FROM backup_destinations x WHERE x.id = $1::uuid"};
/* What an update's check merges the body into (no secret). */
DB_STMT st_dest_row = {"backup_dest_row",
    "SELECT jsonb_strip_nulls(backup_destination_payload(x)) AS dest,"
    " x.credentials_sealed IS NOT NULL AS has_credentials FROM backup_destinations x"
    " WHERE x.id = $1::uuid"};
DB_STMT st_dest_create = {"backup_dest_create",
    "INSERT INTO backup_destinations (id, name, provider, bucket, region, endpoint, account_id,"
    " jurisdiction, path, url_style, credentials_sealed, access_key_hint)"
    " VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($10, CASE WHEN $3 IN ('s3', 'r2',"
    " 'backblaze') THEN 'virtual' ELSE 'path' END), $11, $12) RETURNING id"};
/* $2 = the given fields as a JSON object (keys as credentials_sealed, access_key_hint). */
DB_STMT st_dest_update = {"backup_dest_update",
    "UPDATE backup_destinations x" DB_PATCH("x", "name, provider, bucket, region, endpoint,"
    " account_id, jurisdiction, path, url_style, credentials_sealed, access_key_hint")
    " WHERE id = $1::uuid AND ($3::bigint IS NULL OR row_version = $3::bigint) RETURNING id"};
DB_STMT st_dest_delete = {"backup_dest_delete",
    "SELECT delete_unless_used('backup_destinations', $1::uuid, $2::bigint, 'backup destination',"
    " 'backup_destination_used_by', 'backup destination %s still serves %s; delete or move them"
    " first') AS deleted"};
DB_STMT st_dest_test = {"backup_dest_test",
    "SELECT check_server($2::uuid) AS server_id, jsonb_build_object('destination',"
    " backup_destination_payload(x), 'tenant_id', x.tenant_id) AS payload"
    " FROM backup_destinations x WHERE x.id = $1::uuid"};

#define BACKUP_COLS "b.id, b.project_id, b.server_id, b.resource_type, b.resource_id," \
	" b.resource_name, b.engine, b.engine_version, b.format, b.schedule_id, b.destination_id," \
	" b.trigger, b.status, b.object_key, b.size_bytes, b.sha256, b.error, b.job_id," \
	" b.started_at, b.finished_at, b.verified_at, b.created_at"

DB_STMT st_backup_get = {"backups_get",
    "SELECT " BACKUP_COLS " FROM backups b WHERE b.id = $1::uuid"};
DB_STMT st_backup_project = {"backups_project",
    "SELECT project_id FROM backups WHERE id = $1::uuid"};
/* $4 sees all, $5 user, $6 key's project, then ?resourceId, ?status, ?projectId, ?resourceType. */
DB_STMT st_backup_list = {"backups_list",
    "SELECT " BACKUP_COLS " FROM backups b"
    " WHERE ($4::boolean OR EXISTS (SELECT 1 FROM project_members m"
    " WHERE m.project_id = b.project_id AND m.user_id = $5::uuid))"
    " AND ($6::uuid IS NULL OR b.project_id = $6::uuid)"
    " AND ($7::uuid IS NULL OR b.resource_id = $7::uuid)"
    " AND ($8::text IS NULL OR b.status = $8)"
    " AND ($9::uuid IS NULL OR b.project_id = $9::uuid)"
    " AND ($10::text IS NULL OR b.resource_type = $10)" LIST_TAIL("b.")};
/* The new backup's id (its row and job: st_backup_job, a later statement that sees them). */
DB_STMT st_backup_queue = {"backups_queue",
    "SELECT backup_queue($1, $2::uuid, coalesce($3::uuid, backup_default_destination($1,"
    " $2::uuid)), NULL, 'manual', $4::uuid) AS id"};
DB_STMT st_backup_job = {"backups_job",
    "SELECT job_id FROM backups WHERE id = $1::uuid"};
DB_STMT st_db_project = {"backups_db_project",
    "SELECT project_id FROM databases WHERE id = $1::uuid"};
DB_STMT st_vol_project = {"backups_vol_project",
    "SELECT project_id FROM volumes WHERE id = $1::uuid"};
/* The target of a restore: its database (NULL when gone); a new database
 * goes to the database's server, else the one that made the backup (a
 * local destination's objects are there). */
DB_STMT st_restore_target = {"backups_restore_target",
    "SELECT b.id, b.resource_type, b.resource_id, b.project_id, b.engine, b.engine_version,"
    " d.id AS database_id, d.environment_id, coalesce(d.server_id, b.server_id) AS server_id,"
    " v.id AS volume_id"
    " FROM backups b LEFT JOIN databases d ON d.id = b.resource_id AND b.resource_type = 'database'"
    " LEFT JOIN volumes v ON v.id = b.resource_id AND b.resource_type = 'volume'"
    " WHERE b.id = $1::uuid"};
DB_STMT st_restore = {"backups_restore",
    "SELECT backup_restore_queue($1, $2::uuid, backup_restore_fields($3::uuid), $4::uuid) AS job_id"};
DB_STMT st_restore_new = {"backups_restore_new",
    "SELECT backup_restore_new($1::uuid, backup_restore_fields($2::uuid)) AS job_id"};
DB_STMT st_restore_path = {"backups_restore_path",
    "SELECT backup_restore_queue('database', d.id, backup_path_fields($2::uuid, $3,"
    " coalesce($4, (SELECT format FROM backup_format(d.type)))), $5::uuid) AS job_id"
    " FROM databases d WHERE d.id = $1::uuid"};
DB_STMT st_import = {"backups_import",
    "SELECT db_import_queue($1::uuid, $2::uuid, $3::bigint, $4::uuid) AS job_id"};
DB_STMT st_db_type = {"backups_db_type",
    "SELECT type, status FROM databases WHERE id = $1::uuid"};

#define DEST_NAME_TAKEN "name: a backup destination with this name already exists"

static const char *const providers[] = {"s3", "r2", "backblaze", "minio", "custom", "local", NULL};
static const char *const url_styles[] = {"path", "virtual", NULL};
static const char *const statuses[] = {"pending", "running", "verifying", "succeeded", "failed",
    NULL};
static const char *const resource_types[] = {"database", "volume", "bucket", NULL};
static const char *const formats[] = {"pg_dump", "mariadb-dump", "redis-rdb", NULL};

/* ------------------------------------------------------------ destinations */

static const char *
check_dest_name(const cJSON *v)
{
	for (const char *p = v->valuestring; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == ' ' || *p == '.' ||
		    *p == '_' || *p == '-'))
			return "must be 1 to 64 of a-z 0-9 space . _ -";
	return NULL;
}

/* An object key of restore-from-path: [A-Za-z0-9._/-], relative, no ".."
 * segment.  (A destination's path is the object store layer's to check.) */
static const char *
check_object_key(const cJSON *v)
{
	const char *s = v->valuestring;

	if (s[0] == '/')
		return "must be relative (no leading /)";
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '/' || *p == '-'))
			return "may hold only A-Z a-z 0-9 . _ / -";
	for (const char *p = s; p != NULL; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (strncmp(p, "..", 2) == 0 && (p[2] == '/' || p[2] == '\0'))
			return "must not contain a .. segment";
	}
	return NULL;
}

#define DEST_FIELDS(req) \
	{"name", F_STRING, req, false, 1, 64, check_dest_name}, \
	{"provider", F_ENUM, req, false, 0, 0, NULL, .options = providers}, \
	{"bucket", F_STRING, false, true, 3, 63, NULL}, \
	{"region", F_STRING, false, true, 1, 64, NULL}, \
	{"endpoint", F_STRING, false, true, 1, 2048, NULL}, \
	{"account_id", F_STRING, false, true, 1, 64, NULL}, \
	{"jurisdiction", F_STRING, false, true, 2, 8, NULL}, \
	{"path", F_STRING, false, true, 1, 512, NULL}, \
	{"url_style", F_ENUM, false, true, 0, 0, NULL, .options = url_styles}, \
	{"access_key", F_STRING, false, true, 1, 256, NULL}, \
	{"secret_key", F_STRING, false, true, 1, 1024, NULL}

static const struct field create_fields[] = {DEST_FIELDS(true)};
static const struct field update_fields[] = {DEST_FIELDS(false)};
enum { D_NAME, D_PROVIDER, D_BUCKET, D_REGION, D_ENDPOINT, D_ACCOUNT, D_JURIS, D_PATH, D_STYLE,
	D_ACCESS, D_SECRET };

/*
 * The provider's rules over the merged destination m (the stored one and
 * the body's fields; keys present when given or stored): the object store
 * layer's own check (core/objstore.h), then the keys: both or none, none
 * for local, both for the others.
 */
static void
dest_rules(const cJSON *m, cJSON *details)
{
	const char *msg = NULL, *field = objstore_dest_check(m, &msg);
	const cJSON *prov = cJSON_GetObjectItemCaseSensitive(m, "provider");
	bool         local = cJSON_IsString(prov) && strcmp(prov->valuestring, "local") == 0;
	bool         ak = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(m, "access_key"));
	bool         sk = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(m, "secret_key"));

	if (field != NULL)
		json_detail(details, field, msg ? msg : "is not valid for this provider");
	if (local && (ak || sk))
		json_detail(details, ak ? "access_key" : "secret_key",
		    "a local destination takes no keys");
	else if (!local && !ak && (field == NULL || strcmp(field, "access_key") != 0))
		json_detail(details, "access_key", "is required for this provider");
	else if (!local && !sk && (field == NULL || strcmp(field, "secret_key") != 0))
		json_detail(details, "secret_key", "is required for this provider");
	if (local && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(m, "bucket")) &&
	    (field == NULL || strcmp(field, "bucket") != 0))
		json_detail(details, "bucket", "a local destination has no bucket (use path)");
}

static void
create_rule(struct req *r, const struct field_val *v, cJSON *details)
{
	(void)v;
	dest_rules(r->json, details);
}

/* The keys sealed for destination id, and the hint (last 4 of the access key). */
static enum err
seal_keys(struct req *r, const char *id, const char *ak, const char *sk, const char **sealed,
    const char **hint)
{
	const char *purpose = secret_bound_purpose(r, SECRET_BACKUP_DESTINATION, id);
	cJSON      *o = cJSON_CreateObject();
	char       *text;
	size_t      n = strlen(ak);

	*sealed = NULL;
	if (purpose == NULL || o == NULL) {
		cJSON_Delete(o);
		return ERR_INTERNAL;
	}
	cJSON_AddStringToObject(o, "access_key", ak);
	cJSON_AddStringToObject(o, "secret_key", sk);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (text == NULL)
		return ERR_INTERNAL;
	*sealed = secret_seal(r, purpose, text, strlen(text));
	sodium_memzero(text, strlen(text));
	cJSON_free(text);
	*hint = arena_strdup(r->a, n > 4 ? ak + n - 4 : ak);
	return *sealed != NULL && *hint != NULL ? ERR_OK : ERR_INTERNAL;
}

static enum err
dest_respond(struct req *r, const char *id, int status)
{
	return db_respond_object(r, &st_dest_get, "backup destination not found", id, status);
}

static enum err
dest_list(struct req *r)
{
	return list_all(r, &st_dest_list);
}

static enum err
dest_create(struct req *r)
{
	struct field_val v[sizeof(create_fields) / sizeof(*create_fields)];
	const char      *sealed = NULL, *hint = NULL;
	char             id[37];
	PGresult        *res;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS_RULE(r, create_fields, v, create_rule)) != ERR_OK)
		return e;
	crypto_uuid_new(id);
	if (v[D_ACCESS].present &&
	    (e = seal_keys(r, id, v[D_ACCESS].s, v[D_SECRET].s, &sealed, &hint)) != ERR_OK)
		return e;
	e = db_run(r, &st_dest_create, &res, id, v[D_NAME].s, v[D_PROVIDER].s, v[D_BUCKET].s,
	    v[D_REGION].s, v[D_ENDPOINT].s, v[D_ACCOUNT].s, v[D_JURIS].s, v[D_PATH].s, v[D_STYLE].s,
	    sealed, hint);
	if (e == ERR_CONFLICT)
		return http_error(r, e, DEST_NAME_TAKEN);
	if (e != ERR_OK)
		return e;
	return dest_respond(r, id, 201);
}

static enum err
dest_get(struct req *r)
{
	return dest_respond(r, http_param(r, "id"), 200);
}

/*
 * The update's $2: the given fields but the keys, which go sealed into
 * credentials_sealed with their hint (both given: new keys; both null: no
 * keys); and the merged destination for the provider's rules.
 */
static enum err
dest_patch(struct req *r, const char *id, const struct field_val *v, const char **patch)
{
	const char *given = JSON_GIVEN(r, update_fields), *sealed, *hint;
	PGresult   *res;
	cJSON      *p, *m, *details;
	char       *text;
	enum err    e;

	if (given == NULL)
		return ERR_INTERNAL;
	if ((e = db_get_object(r, &st_dest_row, &res, "backup destination not found", id)) != ERR_OK)
		return e;
	m = cJSON_Parse(db_get(res, 0, "dest"));
	p = cJSON_Parse(given);
	if (m == NULL || p == NULL) {
		cJSON_Delete(m);
		cJSON_Delete(p);
		return ERR_INTERNAL;
	}
	if (strcmp(db_get(res, 0, "has_credentials"), "t") == 0 && !v[D_ACCESS].null) {
		/* The stored keys count as given for the rules. */
		cJSON_AddStringToObject(m, "access_key", "stored");
		cJSON_AddStringToObject(m, "secret_key", "stored");
	}
	for (const cJSON *it = p->child; it; it = it->next) {
		cJSON_DeleteItemFromObjectCaseSensitive(m, it->string);
		if (!cJSON_IsNull(it))
			cJSON_AddItemToObject(m, it->string, cJSON_Duplicate(it, true));
	}
	details = cJSON_CreateArray();
	if (v[D_ACCESS].present != v[D_SECRET].present || v[D_ACCESS].null != v[D_SECRET].null)
		json_detail(details, v[D_ACCESS].present || v[D_ACCESS].null ? "secret_key" :
		    "access_key", "access_key and secret_key change together");
	else
		dest_rules(m, details);
	cJSON_Delete(m);
	if (cJSON_GetArraySize(details) > 0) {
		cJSON_Delete(p);
		return http_error_details(r, "invalid request body", details);
	}
	cJSON_Delete(details);
	cJSON_DeleteItemFromObjectCaseSensitive(p, "access_key");
	cJSON_DeleteItemFromObjectCaseSensitive(p, "secret_key");
	if (v[D_ACCESS].present) {
		if ((e = seal_keys(r, id, v[D_ACCESS].s, v[D_SECRET].s, &sealed, &hint)) != ERR_OK) {
			cJSON_Delete(p);
			return e;
		}
		cJSON_AddStringToObject(p, "credentials_sealed", sealed);
		cJSON_AddStringToObject(p, "access_key_hint", hint);
	} else if (v[D_ACCESS].null) {
		cJSON_AddNullToObject(p, "credentials_sealed");
		cJSON_AddNullToObject(p, "access_key_hint");
	}
	text = cJSON_PrintUnformatted(p);
	cJSON_Delete(p);
	if (text == NULL)
		return ERR_INTERNAL;
	*patch = arena_strdup(r->a, text);
	cJSON_free(text);
	return *patch ? ERR_OK : ERR_INTERNAL;
}

static const struct db_update dest_update_spec = {&st_dest_update, &st_dest_get,
    "backup destination", "backup destination not found", DEST_NAME_TAKEN};

static enum err
dest_update(struct req *r)
{
	struct field_val v[sizeof(update_fields) / sizeof(*update_fields)];
	const char      *version, *id = http_param(r, "id"), *patch = NULL;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, update_fields, v)) != ERR_OK ||
	    (e = dest_patch(r, id, v, &patch)) != ERR_OK)
		return e;
	if ((e = db_update(r, &dest_update_spec, id, patch, version)) != ERR_OK)
		return e;
	return dest_respond(r, id, 200);
}

static enum err
dest_delete(struct req *r)
{
	enum err e = db_delete(r, &st_dest_delete, "backup destination", NULL);

	if (e == ERR_CONFLICT)
		return http_error(r, e, db_message(r, "schedules or backups use the destination"));
	return e == ERR_NOT_FOUND ? http_error(r, e, "backup destination not found") : e;
}

static const struct field test_fields[] = {
	{"server_id", F_UUID, false, true, 0, 0, NULL},
};

/*
 * Queues backup.dest_test on check_server() (the body's server_id, else
 * the tenant's most recently seen online server) and answers 202 with the
 * job: the agent writes, reads back and deletes a probe object and reports
 * objstore_test's {ok, steps}.  The payload has no key (the claim adds them).
 */
static enum err
dest_test(struct req *r)
{
	struct field_val v[1] = {{0}};
	const char      *job;
	PGresult        *res;
	enum err         e;

	if ((e = http_read_json(r, false)) != ERR_OK ||
	    (r->json != NULL && (e = JSON_FIELDS(r, test_fields, v)) != ERR_OK))
		return e;
	if ((e = db_run(r, &st_dest_test, &res, http_param(r, "id"), v[0].s)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_NOT_FOUND, "backup destination not found");
	if ((e = job_create(r, db_get(res, 0, "server_id"), NULL, "backup.dest_test",
	    db_get(res, 0, "payload"), &job)) != ERR_OK)
		return e;
	return job_respond_queued(r, job);
}

/* ------------------------------------------------------------ backups */

static const char *
backup_project(struct req *r)
{
	return db_project_of(r, &st_backup_project, "backup");
}

static const char *
database_project(struct req *r)
{
	return db_project_of(r, &st_db_project, "database");
}

static const char *
volume_project(struct req *r)
{
	return db_project_of(r, &st_vol_project, "volume");
}

/* The list, with resource (NULL: ?resourceId) and the caller's visibility. */
static enum err
list_backups(struct req *r, const char *resource)
{
	const char      *status = http_query(r, "status"), *type = http_query(r, "resourceType");
	const char      *project = NULL;
	struct list_page p;
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK ||
	    (resource == NULL && (e = list_uuid_query(r, "resourceId", &resource)) != ERR_OK) ||
	    (e = list_uuid_query(r, "projectId", &project)) != ERR_OK)
		return e;
	status = status && *status ? status : NULL;
	type = type && *type ? type : NULL;
	for (const char *const *s = statuses; status != NULL; s++)
		if (*s == NULL)
			return http_field_error(r, "invalid query", "status",
			    "must be pending, running, verifying, succeeded or failed");
		else if (strcmp(*s, status) == 0)
			break;
	for (const char *const *s = resource_types; type != NULL; s++)
		if (*s == NULL)
			return http_field_error(r, "invalid query", "resourceType",
			    "must be database, volume or bucket");
		else if (strcmp(*s, type) == 0)
			break;
	/* A resource's own list: the router admitted the caller to its project. */
	list_filter(&p, r->who.role >= ROLE_ADMIN || r->who.project_id ? "true" : "false");
	list_filter(&p, r->who.user_id);
	list_filter(&p, r->who.key_project_id);
	list_filter(&p, resource);
	list_filter(&p, status);
	list_filter(&p, project);
	list_filter(&p, type);
	return list_run(r, &p, &st_backup_list);
}

static enum err
backups_list(struct req *r)
{
	return list_backups(r, NULL);
}

static enum err
resource_backups(struct req *r)
{
	return list_backups(r, http_param(r, "id"));
}

static enum err
backup_get(struct req *r)
{
	return db_respond_object(r, &st_backup_get, "backup not found", http_param(r, "id"), 200);
}

static const struct field manual_fields[] = {
	{"destination_id", F_UUID, false, true, 0, 0, NULL},
};

/* POST /databases/:id/backups, /volumes/:id/backups: 202 {job, backup}. */
static enum err
manual_backup(struct req *r, const char *type)
{
	struct field_val v[1] = {{0}};
	PGresult        *res;
	const char      *backup, *job;
	cJSON           *b;
	enum err         e;

	if ((e = http_read_json(r, false)) != ERR_OK ||
	    (r->json != NULL && (e = JSON_FIELDS(r, manual_fields, v)) != ERR_OK))
		return e;
	if ((e = db_run(r, &st_backup_queue, &res, type, http_param(r, "id"), v[0].s,
	    r->who.user_id)) != ERR_OK)
		return e;
	backup = arena_strdup(r->a, db_get(res, 0, "id"));
	if ((e = db_run(r, &st_backup_job, &res, backup)) != ERR_OK)
		return e;
	job = arena_strdup(r->a, db_get(res, 0, "job_id"));
	if ((e = db_run(r, &st_backup_get, &res, backup)) != ERR_OK)
		return e;
	b = json_row(res, 0);
	return job_respond_queued_with(r, job, "backup", b);
}

static enum err
database_backup(struct req *r)
{
	return manual_backup(r, "database");
}

static enum err
volume_backup(struct req *r)
{
	return manual_backup(r, "volume");
}

/*
 * Restores backup (a row of st_restore_target) into a new database
 * new_name (201 with it) or into its own resource (202 with the job).
 */
static enum err
restore(struct req *r, PGresult *t, const char *new_name)
{
	const char *backup = db_get(t, 0, "id"), *type = db_get(t, 0, "resource_type"), *id;
	PGresult   *res;
	enum err    e;

	if (strcmp(type, "bucket") == 0)
		return http_error(r, ERR_BAD_REQUEST, "buckets are not available yet");
	if (new_name != NULL && strcmp(type, "database") != 0)
		return http_field_error(r, "invalid request body", "new_name",
		    "only a database backup restores into a new resource");
	if (new_name != NULL) {
		if ((e = databases_create_like(r, db_get(t, 0, "project_id"),
		    db_isnull(t, 0, "environment_id") ? NULL : db_get(t, 0, "environment_id"),
		    db_isnull(t, 0, "server_id") ? NULL : db_get(t, 0, "server_id"),
		    db_get(t, 0, "engine"), db_get(t, 0, "engine_version"), new_name, &id)) != ERR_OK)
			return e;
		if ((e = db_run(r, &st_restore_new, &res, id, backup)) != ERR_OK)
			return e;
		return databases_respond(r, id, 201);
	}
	if (db_isnull(t, 0, strcmp(type, "database") == 0 ? "database_id" : "volume_id"))
		return http_error(r, ERR_CONFLICT, arena_printf(r->a, "the %s of this backup no longer "
		    "exists%s", type, strcmp(type, "database") == 0 ?
		    "; restore it into a new database (new_name)" : ""));
	if ((e = db_run(r, &st_restore, &res, type, db_get(t, 0, "resource_id"), backup,
	    r->who.user_id)) != ERR_OK)
		return e;
	return job_respond_queued(r, arena_strdup(r->a, db_get(res, 0, "job_id")));
}

static const struct field restore_fields[] = {
	{"backup_id", F_UUID, true, false, 0, 0, NULL},
	{"new_name", F_STRING, false, true, 1, 48, json_check_slug},
};

/* POST /databases/:id/restore {backup_id, new_name?}: a backup of this database. */
static enum err
database_restore(struct req *r)
{
	struct field_val v[2];
	PGresult        *t;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK || (e = JSON_FIELDS(r, restore_fields, v)) != ERR_OK)
		return e;
	if ((e = db_get_object(r, &st_restore_target, &t, "backup not found", v[0].s)) != ERR_OK)
		return e;
	if (strcmp(db_get(t, 0, "resource_type"), "database") != 0 ||
	    strcmp(db_get(t, 0, "resource_id"), http_param(r, "id")) != 0)
		return http_field_error(r, "invalid request body", "backup_id",
		    "is not a backup of this database");
	return restore(r, t, v[1].s);
}

static const struct field restore_by_id_fields[] = {
	{"new_name", F_STRING, false, true, 1, 48, json_check_slug},
};

/* POST /backups/{database|volume|bucket}/:id/restore {new_name?}. */
static enum err
restore_by_id(struct req *r, const char *type)
{
	struct field_val v[1] = {{0}};
	PGresult        *t;
	enum err         e;

	if ((e = http_read_json(r, false)) != ERR_OK ||
	    (r->json != NULL && (e = JSON_FIELDS(r, restore_by_id_fields, v)) != ERR_OK))
		return e;
	if (strcmp(type, "bucket") == 0)
		return http_error(r, ERR_BAD_REQUEST, "buckets are not available yet");
	if ((e = db_get_object(r, &st_restore_target, &t, "backup not found",
	    http_param(r, "id"))) != ERR_OK)
		return e;
	if (strcmp(db_get(t, 0, "resource_type"), type) != 0)
		return http_error(r, ERR_NOT_FOUND, arena_printf(r->a, "no %s backup with this id", type));
	return restore(r, t, v[0].s);
}

static enum err
restore_database_backup(struct req *r)
{
	return restore_by_id(r, "database");
}

static enum err
restore_volume_backup(struct req *r)
{
	return restore_by_id(r, "volume");
}

static enum err
restore_bucket_backup(struct req *r)
{
	return restore_by_id(r, "bucket");
}

static const struct field path_fields[] = {
	{"destination_id", F_UUID, true, false, 0, 0, NULL},
	{"path", F_STRING, true, false, 1, 1024, check_object_key},
	{"format", F_ENUM, false, true, 0, 0, NULL, .options = formats},
};

/* POST /databases/:id/restore-from-path {destination_id, path, format?}. */
static enum err
restore_from_path(struct req *r)
{
	struct field_val v[3];
	PGresult        *res;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK || (e = JSON_FIELDS(r, path_fields, v)) != ERR_OK)
		return e;
	/* Any object of a tenant-wide destination, another project's dumps
	 * included: the tenant's admins only (project write is not enough). */
	if (r->who.role < ROLE_ADMIN || r->who.key_project_id != NULL)
		return http_error(r, ERR_FORBIDDEN, "restore-from-path reads any object of a "
		    "tenant-wide destination: tenant admins only");
	if ((e = db_run(r, &st_restore_path, &res, http_param(r, "id"), v[0].s, v[1].s, v[2].s,
	    r->who.user_id)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_NOT_FOUND, "database not found");
	return job_respond_queued(r, arena_strdup(r->a, db_get(res, 0, "job_id")));
}

/* ------------------------------------------------------------ import */

const char *
backups_import_file(struct req *r, const char *upload_id)
{
	if (upload_id == NULL || !util_is_uuid(upload_id))
		return NULL;
	return arena_printf(r->a, "%s/%s", r->w->cfg->imports_dir, upload_id);
}

/* The content types an SQL dump may come as. */
static bool
import_ctype_ok(const char *ct)
{
	static const char *const ok[] = {"application/sql", "text/plain", "application/octet-stream",
	    NULL};

	if (ct == NULL || *ct == '\0')
		return true;
	for (const char *const *o = ok; *o; o++)
		if (strncasecmp(ct, *o, strlen(*o)) == 0 &&
		    (ct[strlen(*o)] == '\0' || ct[strlen(*o)] == ';'))
			return true;
	return false;
}

/*
 * POST /databases/:id/import: nginx wrote the body to the file named by
 * the FastCGI param LNCHR_BODY_FILE (under <imports_dir>/tmp, its import
 * location only) and passes no body.  Checks the database, the file's
 * type and size (lstat: nginx writes it 0600 for its own user, and the
 * pool needs no read of it; the agent checks its first bytes before the
 * engine's client sees any), queues db.import, then renames the file into
 * <imports_dir>/<upload id> (a failed rename rolls the job back).  A
 * refused file is removed by nginx (client_body_in_file_only clean).
 */
static enum err
import(struct req *r)
{
	const char *file = http_env(r, "LNCHR_BODY_FILE"), *staged;
	const char *tmpdir = arena_printf(r->a, "%s/tmp/", r->w->cfg->imports_dir);
	char        upload[37];
	struct stat st;
	PGresult   *res;
	enum err    e;

	if ((e = db_get_object(r, &st_db_type, &res, "database not found", http_param(r, "id"))) !=
	    ERR_OK)
		return e;
	if (strcmp(db_get(res, 0, "type"), "mongodb") == 0)
		return http_error(r, ERR_CONFLICT, "a mongodb database cannot import an SQL dump");
	if (!import_ctype_ok(http_env(r, "CONTENT_TYPE")))
		return http_error(r, ERR_UNSUPPORTED_MEDIA_TYPE,
		    "an import is the dump itself: Content-Type application/sql, text/plain or "
		    "application/octet-stream");
	if (file == NULL || *file == '\0' || strncmp(file, tmpdir, strlen(tmpdir)) != 0 ||
	    strstr(file, "/..") != NULL)
		return http_error(r, ERR_BAD_REQUEST, "the upload reached the server without its file "
		    "(the import location of nginx is not configured)");
	errno = 0;
	if (lstat(file, &st) != 0 || !S_ISREG(st.st_mode)) {
		log_error("import: %s: %s", file, errno ? strerror(errno) : "not a regular file");
		return http_error(r, ERR_BAD_REQUEST, "the upload cannot be read");
	}
	if (st.st_size > r->w->cfg->import_max_bytes)
		return http_error(r, ERR_PAYLOAD_TOO_LARGE, arena_printf(r->a, "an import may be at most "
		    "%lld bytes", (long long)r->w->cfg->import_max_bytes));
	if (st.st_size == 0)
		return http_field_error(r, "invalid request body", "body", "is empty");
	crypto_uuid_new(upload);
	if ((e = db_run(r, &st_import, &res, http_param(r, "id"), upload,
	    arena_printf(r->a, "%lld", (long long)st.st_size), r->who.user_id)) != ERR_OK)
		return e;
	if ((staged = backups_import_file(r, upload)) == NULL || rename(file, staged) != 0) {
		log_error("import: rename %s into %s: %s", file, r->w->cfg->imports_dir,
		    strerror(errno));
		return ERR_INTERNAL;
	}
	return job_respond_queued(r, arena_strdup(r->a, db_get(res, 0, "job_id")));
}

/* ------------------------------------------------------------ routes */

#define DEST_PATH "/settings/backup-destinations"
#define ON(m, p, f, c, a, of) {.methods = (m), .pattern = (p), .fn = (f), .cap = (c), \
	.audit = (a), .project_of = (of)}

const struct route api_backup_routes[] = {
	{.methods = HTTP_GET, .pattern = DEST_PATH, .fn = dest_list},
	{.methods = HTTP_POST, .pattern = DEST_PATH, .fn = dest_create, .min_role = ROLE_ADMIN,
	    .audit = "backup_destination.create"},
	{.methods = HTTP_GET, .pattern = DEST_PATH "/:id", .fn = dest_get},
	{.methods = HTTP_PUT, .pattern = DEST_PATH "/:id", .fn = dest_update,
	    .min_role = ROLE_ADMIN, .audit = "backup_destination.update"},
	{.methods = HTTP_DELETE, .pattern = DEST_PATH "/:id", .fn = dest_delete,
	    .min_role = ROLE_ADMIN, .audit = "backup_destination.delete"},
	{.methods = HTTP_POST, .pattern = DEST_PATH "/:id/test", .fn = dest_test,
	    .min_role = ROLE_ADMIN, .audit = "backup_destination.test"},
	{.methods = HTTP_GET, .pattern = "/backups", .fn = backups_list},
	ON(HTTP_GET, "/backups/:id", backup_get, CAP_READ, NULL, backup_project),
	ON(HTTP_POST, "/backups/database/:id/restore", restore_database_backup, CAP_WRITE,
	    "backup.restore", backup_project),
	ON(HTTP_POST, "/backups/volume/:id/restore", restore_volume_backup, CAP_WRITE,
	    "backup.restore", backup_project),
	ON(HTTP_POST, "/backups/bucket/:id/restore", restore_bucket_backup, CAP_WRITE,
	    "backup.restore", backup_project),
	ON(HTTP_GET, "/databases/:id/backups", resource_backups, CAP_READ, NULL, database_project),
	ON(HTTP_POST, "/databases/:id/backups", database_backup, CAP_DEPLOY, "database.backup",
	    database_project),
	ON(HTTP_POST, "/databases/:id/restore", database_restore, CAP_WRITE, "database.restore",
	    database_project),
	ON(HTTP_POST, "/databases/:id/restore-from-path", restore_from_path, CAP_WRITE,
	    "database.restore", database_project),
	{.methods = HTTP_POST, .pattern = "/databases/:id/import", .fn = import, .cap = CAP_WRITE,
	    .audit = "database.import", .project_of = database_project,
	    .flags = ROUTE_NO_IDEMPOTENCY},
	ON(HTTP_GET, "/volumes/:id/backups", resource_backups, CAP_READ, NULL, volume_project),
	ON(HTTP_POST, "/volumes/:id/backups", volume_backup, CAP_DEPLOY, "volume.backup",
	    volume_project),
	{0},
};
