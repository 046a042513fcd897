/*
 * databases.c - API.md §5 managed databases: list, create, read, update,
 * delete, the lifecycle actions (start, stop, restart, rotate-password),
 * the credentials (connection), logs and the terminal session; and the
 * `db` provider of environment references (env_refs.c).
 *
 * Every change of a database's container is a job for its server's agent
 * (db.* kinds, sql/023_databases.sql), whose payload comes from the row
 * and the configuration's image table (core/dbimages.h: type x version ->
 * image, port, data path, readiness argv, env names, client argv).  The password is made
 * here (libsodium), sealed bound to the database's id, and opened only for
 * the connection call (write permission, audited), the references of a
 * deploy or preview, and the claim of the database's own jobs (agent.c).
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../core/crypto.h"
#include "../core/db.h"
#include "../core/dbimages.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/log.h"
#include "../core/perm.h"
#include "../core/resolve.h"
#include "../core/secret.h"
#include "../core/txn.h"
#include "../core/util.h"
#include "../core/worker.h"
#include "apps_common.h"
#include "env_vars.h"

#define DB_COLS "d.id, d.project_id, d.environment_id, d.server_id, d.name, d.type, d.version," \
	" d.status, d.status_reason, d.pending_action, d.internal_host, d.port, d.public," \
	" d.public_port, d.pitr_enabled, d.pitr_destination_id, d.restored_from_id, d.volume_id, d.cpu_limit::float8 AS cpu_limit," \
	" d.memory_limit, jsonb_build_object('cpu_percent', d.cpu_percent, 'memory_bytes'," \
	" d.memory_bytes, 'restart_count', d.restart_count, 'at', to_char(d.stats_at AT TIME ZONE" \
	" 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')) AS stats, d.created_at, d.updated_at," \
	" d.row_version::text AS _version"

DB_STMT st_db_get = {"databases_get",
    "SELECT " DB_COLS " FROM databases d WHERE d.id = $1::uuid"};
DB_STMT st_db_project = {"databases_project",
    "SELECT project_id FROM databases WHERE id = $1::uuid"};
/* What the handlers work with, secrets included: never answered as it is. */
DB_STMT st_db_row = {"databases_row",
    "SELECT id, project_id, environment_id, name, type, version, status, pending_action,"
    " pending_password_sealed IS NOT NULL AS rotating, password_sealed, internal_host, port,"
    " db_user, db_name FROM databases WHERE id = $1::uuid"};
/* $4 sees all, $5 user, $6 key's project, then ?projectId, ?environmentId, ?type, ?status. */
DB_STMT st_db_list = {"databases_list",
    "SELECT " DB_COLS " FROM databases d"
    " WHERE ($4::boolean OR EXISTS (SELECT 1 FROM project_members m"
    " WHERE m.project_id = d.project_id AND m.user_id = $5::uuid))"
    " AND ($6::uuid IS NULL OR d.project_id = $6::uuid)"
    " AND ($7::uuid IS NULL OR d.project_id = $7::uuid)"
    " AND ($8::uuid IS NULL OR d.environment_id = $8::uuid)"
    " AND ($9::text IS NULL OR d.type = $9)"
    " AND ($10::text IS NULL OR d.status = $10)" LIST_TAIL("d.")};
DB_STMT st_db_create = {"databases_create",
    "SELECT api_database_new($1::uuid, $2::uuid, $3::jsonb, $4::jsonb, $5, $6::uuid) AS id"};
/* $2 = the given fields as a JSON object: only those change; recreate
 * when the container's own settings did. */
DB_STMT st_db_update = {"databases_update",
    "UPDATE databases d" DB_PATCH("d", "public, cpu_limit, memory_limit, pitr_enabled,"
    " pitr_destination_id")
    " FROM (SELECT public, cpu_limit, memory_limit, pitr_enabled, pitr_destination_id"
    " FROM databases WHERE id = $1::uuid) o"
    " WHERE d.id = $1::uuid AND ($3::bigint IS NULL OR d.row_version = $3::bigint)"
    " RETURNING d.status, d.pending_action, (d.public, d.cpu_limit, d.memory_limit,"
    " d.pitr_enabled, d.pitr_destination_id) IS DISTINCT FROM"
    " (o.public, o.cpu_limit, o.memory_limit, o.pitr_enabled, o.pitr_destination_id) AS recreate"};
DB_STMT st_db_job = {"databases_job",
    "SELECT database_job($1::uuid, $2, $3::jsonb, $4, $5::uuid) AS job_id"};
DB_STMT st_db_delete = {"databases_delete",
    "SELECT api_database_delete($1::uuid, $2::bigint, $3::boolean) AS deleted"};
DB_STMT st_db_rotate = {"databases_rotate",
    "UPDATE databases SET pending_password_sealed = $2 WHERE id = $1::uuid"
    " AND pending_password_sealed IS NULL RETURNING id"};
DB_STMT st_db_ref = {"databases_ref",
    "SELECT id, type, internal_host, port, db_user, db_name, password_sealed FROM databases"
    " WHERE project_id = $1::uuid AND environment_id = $2::uuid AND name = $3"};
/*
 * GET /databases/:id/instances: its one container in the shape of
 * applications' instances (sql/024: the figures of the last report; the
 * id is the database's, health is the readiness probe's verdict folded
 * into status; no deployment).  Empty until a container was created.
 */
DB_STMT st_db_instances = {"databases_instances",
    "SELECT d.id, d.container_id, d.name, d.server_id, NULL::uuid AS deployment_id,"
    " CASE WHEN d.status IN ('running', 'crashed') THEN d.status"
    " WHEN d.status = 'stopped' THEN 'exited' ELSE d.status END AS status, 'none' AS health,"
    " d.public_port AS host_port, NULL::timestamptz AS started_at, d.restart_count,"
    " NULL::integer AS exit_code, d.cpu_percent, d.memory_bytes,"
    " coalesce(d.stats_at, d.updated_at) AS updated_at"
    " FROM databases d WHERE d.id = $1::uuid AND d.container_id IS NOT NULL"};
DB_STMT st_db_logs = {"databases_logs", RUNTIME_LOGS_SQL("database_id")};

/* 32 characters of [A-Za-z0-9]: ~190 bits, and nothing to escape in a URL. */
#define PASSWORD_LEN 32

static const char *const types[] = {"postgres", "mysql", "redis", "mongodb", "clickhouse", NULL};

/* ------------------------------------------------------------ images */

/*
 * The line of type and version (NULL: the type's default) of the image
 * table (core/dbimages.h, the pool's w->dbimages) as the JSON object the
 * SQL functions read {type, version, image, port, data_path, readiness,
 * env_names, client, pitr_archive_timeout (the plane's configuration)},
 * in the arena; NULL when the table has no such line.  *known (may be
 * NULL) gets the type's versions for a message.
 */
const char *
databases_image_spec(struct req *r, const char *type, const char *version, const char **known)
{
	const struct dbimages *t = r->w->dbimages;
	const struct dbimage  *m = t ? dbimages_find(t, type, version) : NULL;
	char                   list[256] = "";
	cJSON                 *o, *client;
	char                  *s;

	if (known != NULL) {
		if (t != NULL)
			(void)dbimages_versions(t, type, list, sizeof(list));
		*known = arena_strdup(r->a, list);
	}
	if (m == NULL)
		return NULL;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", m->type);
	cJSON_AddStringToObject(o, "version", m->version);
	cJSON_AddNumberToObject(o, "pitr_archive_timeout",
	    (double)r->w->cfg->pitr_archive_timeout_seconds);
	client = cJSON_AddArrayToObject(o, "client");
	for (char **w = m->client; client != NULL && *w != NULL; w++)
		cJSON_AddItemToArray(client, cJSON_CreateString(*w));
	s = dbimage_payload(m, o) == 0 ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	if (s == NULL)
		return NULL;
	arena_defer(r->a, cJSON_free, s);
	return s;
}

/* ------------------------------------------------------------ credentials */

/* A new password of PASSWORD_LEN characters into out (PASSWORD_LEN + 1). */
static void
password_new(char *out)
{
	(void)crypto_token(out, PASSWORD_LEN + 1, "", PASSWORD_LEN);	/* [A-Za-z0-9] */
}

/* The password sealed for database id (arena), or NULL. */
static const char *
password_seal(struct req *r, const char *id, const char *pw)
{
	const char *p = secret_bound_purpose(r, SECRET_DB_PASSWORD, id);

	return p ? secret_seal(r, p, pw, strlen(pw)) : NULL;
}

/* The password of database id (arena, wiped at reset), or NULL (logged). */
static char *
password_open(struct req *r, const char *id, const char *sealed)
{
	const char *p = secret_bound_purpose(r, SECRET_DB_PASSWORD, id);
	char       *pw = p ? secret_open(r, p, sealed, NULL) : NULL;

	if (pw == NULL)
		log_error("the password of database %s does not decrypt (altered or moved)", id);
	return pw;
}

const char *
databases_password_copy(struct req *r, const char *from_id, const char *sealed, const char *to_id)
{
	char       *pw = password_open(r, from_id, sealed);

	return pw != NULL ? password_seal(r, to_id, pw) : NULL;
}

/* What a database is reached by: the row's parts and the opened password. */
struct db_conn_info {
	const char *type, *host, *port, *user, *password, *name;
};

/*
 * The connection URL of c (malloc'd; NULL when out of memory).  ClickHouse
 * is reached over its HTTP interface (the table's port, 8123): an http://
 * URL, as its clients and applications (Plausible) take it.
 */
static char *
conn_url(const struct db_conn_info *c)
{
	char *s = NULL;
	int   rc;

	if (strcmp(c->type, "redis") == 0)
		rc = asprintf(&s, "redis://:%s@%s:%s/%s", c->password, c->host, c->port, c->name);
	else if (strcmp(c->type, "clickhouse") == 0)
		rc = asprintf(&s, "http://%s:%s@%s:%s/%s", c->user, c->password, c->host, c->port, c->name);
	else
		rc = asprintf(&s, "%s://%s:%s@%s:%s/%s%s", c->type, c->user, c->password, c->host,
		    c->port, c->name, strcmp(c->type, "mongodb") == 0 ? "?authSource=admin" : "");
	return rc < 0 ? NULL : s;
}

/* Property prop of c (malloc'd), one of the reference properties. */
static char *
conn_prop(const struct db_conn_info *c, const char *prop)
{
	if (strcmp(prop, "url") == 0)
		return conn_url(c);
	return strdup(strcmp(prop, "host") == 0 ? c->host : strcmp(prop, "port") == 0 ? c->port :
	    strcmp(prop, "user") == 0 ? c->user : strcmp(prop, "password") == 0 ? c->password :
	    c->name);
}

static void
conn_fill(PGresult *res, struct db_conn_info *c, char *password)
{
	c->type = db_get(res, 0, "type");
	c->host = db_get(res, 0, "internal_host");
	c->port = db_get(res, 0, "port");
	c->user = db_get(res, 0, "db_user");
	c->name = db_get(res, 0, "db_name");
	c->password = password;
}

int
databases_ref(const struct env_refs_ctx *c, const char *name, const char *prop, char **out,
    char **why)
{
	struct db_conn_info info;
	PGresult           *res;
	char               *pw;

	if (c->environment_id == NULL ||
	    db_run(c->r, &st_db_ref, &res, c->project_id, c->environment_id, name) != ERR_OK) {
		*why = strdup("the database cannot be read right now");
		return -1;
	}
	if (PQntuples(res) != 1)
		return 1;
	if ((pw = password_open(c->r, db_get(res, 0, "id"), db_get(res, 0, "password_sealed"))) ==
	    NULL) {
		*why = strdup("the stored password of this database cannot be decrypted");
		return -1;
	}
	conn_fill(res, &info, pw);
	*out = conn_prop(&info, prop);
	return *out != NULL ? 0 : -1;
}

/* ------------------------------------------------------------ fields */

/* 6 MiB as applications (the engine's floor); CPUs as applications. */
#define DB_LIMIT_FIELDS \
	{"public", F_BOOL, false, false, 0, 0, NULL}, \
	{"cpu_limit", F_NUMBER, false, true, 0, 256, NULL}, \
	{"memory_limit", F_INT, false, true, 6291456, (int64_t)1 << 50, NULL}, \
	{"pitr_enabled", F_BOOL, false, false, 0, 0, NULL}, \
	{"version", F_STRING, false, false, 1, 32, NULL}, \
	{"pitr_destination_id", F_UUID, false, true, 0, 0, NULL}

static const struct field create_fields[] = {
	DB_LIMIT_FIELDS,
	{"project_id", F_UUID, true, false, 0, 0, NULL},
	{"environment_id", F_UUID, false, true, 0, 0, NULL},
	{"server_id", F_UUID, false, true, 0, 0, NULL},
	{"name", F_STRING, true, false, 1, 48, json_check_slug},
	{"type", F_ENUM, true, false, 0, 0, NULL, .options = types},
};
enum { C_PUBLIC, C_CPU, C_MEMORY, C_PITR, C_VERSION, C_PITR_DEST, C_PROJECT, C_ENV, C_SERVER, C_NAME, C_TYPE };

static const struct field update_fields[] = {
	DB_LIMIT_FIELDS,
};

/* project_of for /databases/:id routes (the router checks the cap). */
static const char *
database_project(struct req *r)
{
	return db_project_of(r, &st_db_project, "database");
}

static enum err
respond(struct req *r, const char *id, int status)
{
	return db_respond_object(r, &st_db_get, "database not found", id, status);
}

const char *
databases_project_of(struct req *r)
{
	return database_project(r);
}

/* The row of :id (secrets included; never answered). */
static enum err
load(struct req *r, PGresult **res)
{
	return db_get_object(r, &st_db_row, res, "database not found", http_param(r, "id"));
}

/* The image line of the row, or 409 when the configuration dropped it. */
static enum err
row_image(struct req *r, PGresult *res, const char **spec)
{
	*spec = databases_image_spec(r, db_get(res, 0, "type"), db_get(res, 0, "version"), NULL);
	if (*spec == NULL)
		return http_error(r, ERR_CONFLICT, arena_printf(r->a, "the image table no longer "
		    "lists %s %s; add it back to the configuration", db_get(res, 0, "type"),
		    db_get(res, 0, "version")));
	return ERR_OK;
}

/* Queues kind on the row's database, pending shown meanwhile. */
static enum err
queue(struct req *r, PGresult *row, const char *kind, const char *pending)
{
	const char *spec;
	PGresult   *res;
	enum err    e;

	if ((e = row_image(r, row, &spec)) != ERR_OK)
		return e;
	return db_run(r, &st_db_job, &res, db_get(row, 0, "id"), kind, spec, pending,
	    r->who.user_id);
}

/* ------------------------------------------------------------ handlers */

static enum err
list(struct req *r)
{
	const char      *project, *env, *type = http_query(r, "type"), *status = http_query(r, "status");
	struct list_page p;
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK ||
	    (e = list_uuid_query(r, "projectId", &project)) != ERR_OK ||
	    (e = list_uuid_query(r, "environmentId", &env)) != ERR_OK)
		return e;
	list_filter_visible(&p, r);
	list_filter(&p, project);
	list_filter(&p, env);
	list_filter(&p, type && *type ? type : NULL);
	list_filter(&p, status && *status ? status : NULL);
	return list_run(r, &p, &st_db_list);
}

/*
 * Seals a new password for a new id and runs api_database_create with
 * body (the create fields given) and spec (image_spec); *id (arena) the
 * new database.  A name taken answers 409.
 */
static enum err
create_row(struct req *r, const char *project, const char *body, const char *spec,
    const char *name, const char **id)
{
	char      nid[37], pw[PASSWORD_LEN + 1];
	const char *sealed;
	PGresult *res;
	enum err  e;

	crypto_uuid_new(nid);
	password_new(pw);
	sealed = password_seal(r, nid, pw);
	sodium_memzero(pw, sizeof(pw));
	if (sealed == NULL)
		return ERR_INTERNAL;
	e = db_run(r, &st_db_create, &res, nid, project, body, spec, sealed, r->who.user_id);
	if (e == ERR_CONFLICT)
		return http_error(r, e, db_message(r, arena_printf(r->a, "name: a database named %s "
		    "already exists in this environment", name)));
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
	if ((e = databases_create(r, r->who.project_id, body, v[C_TYPE].s,
	    v[C_VERSION].present ? v[C_VERSION].s : NULL, v[C_NAME].s, "", &id)) != ERR_OK)
		return e;
	return respond(r, id, 201);
}

enum err
databases_create(struct req *r, const char *project_id, const char *body, const char *type,
    const char *version, const char *name, const char *prefix, const char **id)
{
	const char *known, *spec = databases_image_spec(r, type, version, &known);

	if (spec == NULL && version == NULL)
		return http_field_error(r, "invalid request body", arena_printf(r->a, "%stype",
		    prefix), arena_printf(r->a, "the image table has no version of %s", type));
	if (spec == NULL)
		return http_field_error(r, "invalid request body", arena_printf(r->a, "%sversion",
		    prefix), arena_printf(r->a, "no image for %s %s in the image table (known: %s)",
		    type, version, *known ? known : "none"));
	return create_row(r, project_id, body, spec, name, id);
}

cJSON *
databases_object(struct req *r, const char *id)
{
	PGresult *res;

	return db_get_object(r, &st_db_get, &res, "database not found", id) == ERR_OK ?
	    json_row(res, 0) : NULL;
}

enum err
databases_create_like(struct req *r, const char *project_id, const char *environment_id,
    const char *server_id, const char *type, const char *version, const char *name,
    const char **id)
{
	const char *spec = databases_image_spec(r, type, version, NULL), *body;
	cJSON      *o;
	char       *text;

	if (spec == NULL)
		return http_error(r, ERR_CONFLICT, arena_printf(r->a, "the image table no longer "
		    "lists %s %s; add it back to the configuration", type, version));
	if ((o = cJSON_CreateObject()) == NULL)
		return ERR_INTERNAL;
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddStringToObject(o, "version", version);
	if (environment_id != NULL)
		cJSON_AddStringToObject(o, "environment_id", environment_id);
	if (server_id != NULL)
		cJSON_AddStringToObject(o, "server_id", server_id);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (text == NULL)
		return ERR_INTERNAL;
	body = arena_strdup(r->a, text);
	cJSON_free(text);
	return create_row(r, project_id, body, spec, name, id);
}

enum err
databases_respond(struct req *r, const char *id, int status)
{
	return respond(r, id, status);
}

static enum err
get(struct req *r)
{
	return respond(r, http_param(r, "id"), 200);
}

#define VERSION_CHANGE "a major-version change needs the Backups issue's upgrade path"

/*
 * Limits and `public` apply to the container: a running database is
 * restarted with them (db.restart recreates its container from the
 * payload, data kept); a stopped one gets them when it starts.
 */
static enum err
update(struct req *r)
{
	struct field_val v[sizeof(update_fields) / sizeof(*update_fields)];
	const char      *id = http_param(r, "id"), *version, *body, *status;
	PGresult        *row, *res;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, update_fields, v)) != ERR_OK || (e = load(r, &row)) != ERR_OK)
		return e;
	if (v[C_VERSION].present && strcmp(v[C_VERSION].s, db_get(row, 0, "version")) != 0)
		return http_field_error(r, "invalid request body", "version", VERSION_CHANGE);
	if ((body = JSON_GIVEN(r, update_fields)) == NULL)
		return ERR_INTERNAL;
	if ((e = db_run(r, &st_db_update, &res, id, body, version)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_changed(r, "database");
	status = db_get(res, 0, "status");
	if (db_get(res, 0, "recreate")[0] == 't' && (strcmp(status, "running") == 0 ||
	    strcmp(status, "crashed") == 0) && db_isnull(res, 0, "pending_action") &&
	    (e = queue(r, row, "db.restart", "restart")) != ERR_OK)
		return e;
	return respond(r, id, 200);
}

/*
 * 204 once the row is gone; db.remove (queued by the row's delete
 * trigger) removes the container.  ?delete_data=true deletes the data
 * volume too, else it stays (a volume of the project, GET /volumes).
 */
static enum err
del(struct req *r)
{
	const char *data = http_query(r, "delete_data"), *users;
	PGresult   *row;
	enum err    e;

	if (data != NULL && *data && strcmp(data, "true") != 0 && strcmp(data, "false") != 0)
		return http_field_error(r, "invalid query parameter", "delete_data",
		    "must be true or false");
	if ((e = load(r, &row)) != ERR_OK ||
	    (e = env_refs_users(r, db_get(row, 0, "environment_id"), "databases",
	    db_get(row, 0, "name"), &users, NULL)) != ERR_OK)
		return e;
	if (users != NULL)
		return http_error(r, ERR_CONFLICT, arena_printf(r->a, "database %s is referenced by "
		    "the environment variables of: %s; remove those references first",
		    db_get(row, 0, "name"), users));
	return db_delete(r, &st_db_delete, "database",
	    data != NULL && strcmp(data, "true") == 0 ? "true" : "false");
}

/* A job on a database that is not busy; 409 while one runs or provisions. */
static enum err
action(struct req *r, const char *kind, const char *pending)
{
	const char *status;
	PGresult   *row;
	enum err    e;

	if ((e = load(r, &row)) != ERR_OK)
		return e;
	status = db_get(row, 0, "status");
	if (!db_isnull(row, 0, "pending_action") || strcmp(status, "provisioning") == 0 ||
	    strcmp(status, "restoring") == 0)
		return http_error(r, ERR_CONFLICT, arena_printf(r->a, "the database is %s; retry when "
		    "it is done", db_isnull(row, 0, "pending_action") ? status :
		    arena_printf(r->a, "busy (%s)", db_get(row, 0, "pending_action"))));
	if ((e = queue(r, row, kind, pending)) != ERR_OK)
		return e;
	return respond(r, http_param(r, "id"), 200);
}

static enum err
start(struct req *r)
{
	return action(r, "db.start", "start");
}

static enum err
stop(struct req *r)
{
	return action(r, "db.stop", "stop");
}

static enum err
restart(struct req *r)
{
	return action(r, "db.restart", "restart");
}

/*
 * The new password is sealed into pending_password_sealed and applied
 * inside the running engine by the agent (db.rotate_password, whose claim
 * carries both); the job's success makes it the password, a failure drops
 * it.  Applications get it at their next deploy.
 */
static enum err
rotate_password(struct req *r)
{
	const char *id = http_param(r, "id"), *sealed;
	char        pw[PASSWORD_LEN + 1];
	PGresult   *row, *res;
	enum err    e;

	if ((e = load(r, &row)) != ERR_OK)
		return e;
	if (strcmp(db_get(row, 0, "status"), "running") != 0 || !db_isnull(row, 0, "pending_action"))
		return http_error(r, ERR_CONFLICT, "the password is changed inside the running engine: "
		    "the database must be running with no action in progress");
	password_new(pw);
	sealed = password_seal(r, id, pw);
	sodium_memzero(pw, sizeof(pw));
	if (sealed == NULL)
		return ERR_INTERNAL;
	if ((e = db_run(r, &st_db_rotate, &res, id, sealed)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_CONFLICT, "a password rotation is already in progress");
	if ((e = queue(r, row, "db.rotate_password", "rotate_password")) != ERR_OK)
		return e;
	return respond(r, id, 200);
}

/* {url, host, port, user, password, name}: write permission, and audited
 * (which database, which fields; never a value). */
static enum err
connection(struct req *r)
{
	struct db_conn_info c;
	PGresult           *row;
	cJSON              *d;
	char               *pw, *url;
	int64_t             port;
	enum err            e;

	if ((e = load(r, &row)) != ERR_OK)
		return e;
	if (util_parse_i64(db_get(row, 0, "port"), 1, 65535, &port) != 0)
		return ERR_INTERNAL;
	if ((pw = password_open(r, db_get(row, 0, "id"), db_get(row, 0, "password_sealed"))) == NULL)
		return http_error(r, ERR_CONFLICT, "the stored password of this database cannot be "
		    "decrypted; rotate it");
	conn_fill(row, &c, pw);
	if ((url = conn_url(&c)) == NULL)
		return ERR_INTERNAL;
	if ((e = txn_audit(r, "database.reveal", "database", db_get(row, 0, "id"),
	    "{\"fields\": [\"url\", \"host\", \"port\", \"user\", \"password\", \"name\"]}")) !=
	    ERR_OK) {
		sodium_memzero(url, strlen(url));
		free(url);
		return e;
	}
	d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "url", url);
	cJSON_AddStringToObject(d, "host", c.host);
	cJSON_AddNumberToObject(d, "port", (double)port);
	cJSON_AddStringToObject(d, "user", c.user);
	cJSON_AddStringToObject(d, "password", c.password);
	cJSON_AddStringToObject(d, "name", c.name);
	sodium_memzero(url, strlen(url));
	free(url);
	return http_respond_json(r, 200, d, NULL);
}

static enum err
instances(struct req *r)
{
	PGresult *res;
	enum err  e;

	if ((e = db_get_object(r, &st_db_get, &res, "database not found", http_param(r, "id"))) !=
	    ERR_OK || (e = db_run(r, &st_db_instances, &res, http_param(r, "id"))) != ERR_OK)
		return e;
	return http_respond_json(r, 200, json_rows(res), NULL);
}

static enum err
logs(struct req *r)
{
	return runtime_logs_answer(r, &st_db_logs);
}

/*
 * A terminal session for /ws/terminal/:sessionId (terminals.c): the
 * engine's client of the image table in the database's container; the
 * claim of its terminal.open job sets the table's password variable to the
 * current password in the exec's env (never argv, never stored with the
 * session).
 */
static enum err
terminal(struct req *r)
{
	const char *spec;
	PGresult   *row;
	cJSON      *s;
	char       *client, *pwenv;
	enum err    e;

	if ((e = load(r, &row)) != ERR_OK)
		return e;
	if (strcmp(db_get(row, 0, "status"), "running") != 0)
		return http_error(r, ERR_CONFLICT, "the database is not running");
	if ((e = row_image(r, row, &spec)) != ERR_OK)
		return e;
	s = cJSON_Parse(spec);
	client = s ? cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(s, "client")) : NULL;
	pwenv = s ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(s, "env_names"), "password")) : NULL;
	pwenv = pwenv ? arena_strdup(r->a, pwenv) : NULL;
	cJSON_Delete(s);
	if (client == NULL || pwenv == NULL) {
		cJSON_free(client);
		return ERR_INTERNAL;
	}
	arena_defer(r->a, cJSON_free, client);
	return terminal_open(r, "database", client, pwenv);
}

#define DB_ROUTE(m, p, f, c, a) {.methods = (m), .pattern = (p), .fn = (f), .cap = (c), \
	.audit = (a), .project_of = database_project}

const struct route api_database_routes[] = {
	{.methods = HTTP_GET, .pattern = "/databases", .fn = list},
	{.methods = HTTP_POST, .pattern = "/databases", .fn = create, .audit = "database.create"},
	DB_ROUTE(HTTP_GET, "/databases/:id", get, CAP_READ, NULL),
	DB_ROUTE(HTTP_PUT, "/databases/:id", update, CAP_WRITE, "database.update"),
	DB_ROUTE(HTTP_DELETE, "/databases/:id", del, CAP_WRITE, "database.delete"),
	DB_ROUTE(HTTP_POST, "/databases/:id/start", start, CAP_DEPLOY, "database.start"),
	DB_ROUTE(HTTP_POST, "/databases/:id/stop", stop, CAP_DEPLOY, "database.stop"),
	DB_ROUTE(HTTP_POST, "/databases/:id/restart", restart, CAP_DEPLOY, "database.restart"),
	DB_ROUTE(HTTP_POST, "/databases/:id/rotate-password", rotate_password, CAP_WRITE,
	    "database.rotate_password"),
	/* Write, as revealing env values: the answer is the credentials. */
	DB_ROUTE(HTTP_GET, "/databases/:id/connection", connection, CAP_WRITE, NULL),
	DB_ROUTE(HTTP_GET, "/databases/:id/instances", instances, CAP_READ, NULL),
	DB_ROUTE(HTTP_GET, "/databases/:id/logs", logs, CAP_DEPLOY, NULL),
	DB_ROUTE(HTTP_POST, "/databases/:id/terminal", terminal, CAP_WRITE, "database.terminal"),
	{0},
};
