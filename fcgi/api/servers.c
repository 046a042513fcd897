/*
 * servers.c - API.md §3 servers: CRUD, the agent token (shown once, stored
 * hashed, rotated at once), status, and diagnostics runs (jobs of kind
 * "diagnostics" executed by the agent).  Servers belong to the tenant:
 * everyone signed in may read them; tenant admins manage them.
 */
#include "api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../core/auth.h"
#include "../core/buf.h"
#include "../core/crypto.h"
#include "../core/db.h"
#include "../core/jobs.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/log.h"
#include "../core/util.h"
#include "../core/worker.h"

#define SERVER_COLS "s.id, s.name, s.description, s.host, s.base_domain, s.status," \
	" s.agent_version, s.engine, s.engine_version, s.os, s.cpus, s.memory_bytes, s.disk_bytes," \
	" s.labels, s.heartbeat_interval_seconds, s.last_seen_at, s.created_at, s.updated_at," \
	" s.row_version::text AS _version"

DB_STMT st_list = {"servers_list",
    "SELECT " SERVER_COLS " FROM servers s WHERE true" LIST_TAIL("s.")};
DB_STMT st_get = {"servers_get",
    "SELECT " SERVER_COLS " FROM servers s WHERE s.id = $1::uuid"};
DB_STMT st_create = {"servers_create",
    "INSERT INTO servers (name, description, host, base_domain, labels, heartbeat_interval_seconds,"
    " agent_token_hash) VALUES ($1, coalesce($2, ''), $3, $4, coalesce($5::jsonb, '{}'),"
    " coalesce($6::int, 10), $7::bytea) RETURNING id"};
/* $2 = the given fields as a JSON object: only those change. */
DB_STMT st_update = {"servers_update",
    "UPDATE servers s" DB_PATCH("s", "name, description, host, base_domain, labels,"
    " heartbeat_interval_seconds")
    " WHERE id = $1::uuid AND ($3::bigint IS NULL OR row_version = $3::bigint) RETURNING id"};
DB_STMT st_delete = {"servers_delete",
    "DELETE FROM servers WHERE id = $1::uuid AND ($2::bigint IS NULL OR row_version = $2::bigint)"
    " RETURNING id"};
DB_STMT st_exists = {"servers_exists",
    "SELECT row_version::text AS version FROM servers WHERE id = $1::uuid"};
/* What still runs on a server: jobs now; applications and databases later. */
DB_STMT st_workloads = {"servers_workloads",
    "SELECT count(*) AS n FROM jobs WHERE server_id = $1::uuid AND status IN ('queued', 'running')"};
DB_STMT st_rotate = {"servers_rotate",
    "UPDATE servers SET agent_token_hash = $2::bytea WHERE id = $1::uuid RETURNING id"};
DB_STMT st_status = {"servers_status",
    "SELECT s.id, s.status, s.last_seen_at, s.engine, s.engine_version, s.engine_reachable,"
    " s.heartbeat_interval_seconds, extract(epoch FROM now() - s.last_seen_at)::bigint"
    " AS seconds_since_heartbeat, s.last_heartbeat->'engine'->'containers' AS containers_total,"
    " s.last_heartbeat->'engine'->'containers_running' AS containers_running,"
    " s.last_heartbeat->'host' AS resources,"
    " (SELECT count(*) FROM jobs j WHERE j.server_id = s.id AND j.status = 'queued') AS jobs_queued,"
    " (SELECT count(*) FROM jobs j WHERE j.server_id = s.id AND j.status = 'running') AS jobs_running"
    " FROM servers s WHERE s.id = $1::uuid"};
#define RUN_COLS "j.id, j.server_id, j.status, j.attempts, j.result->'checks' AS checks, j.error," \
	" j.created_at, j.started_at, j.finished_at"
DB_STMT st_run = {"servers_diag_run",
    "SELECT " RUN_COLS " FROM jobs j WHERE j.id = $1::uuid AND j.server_id = $2::uuid"
    " AND j.kind = 'diagnostics'"};

static const char *
check_labels(const cJSON *v)
{
	int n = 0;

	for (const cJSON *it = v->child; it; it = it->next, n++)
		if (!cJSON_IsString(it) || strlen(it->string) > 63 || strlen(it->valuestring) > 255)
			return "must map names (<= 63 bytes) to strings (<= 255 bytes)";
	return n > 64 ? "at most 64 labels" : NULL;
}

static const char *
check_host(const cJSON *v)
{
	for (const char *p = v->valuestring; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '.' || *p == '-' || *p == ':' || *p == '[' || *p == ']'))
			return "must be a host name or an IP address";
	return NULL;
}

/* s as one shell word: as it is when every byte is plain, else between
 * single quotes (each ' written '\''). */
static const char *
sh_word(struct req *r, const char *s)
{
	struct buf b;

	if (*s != '\0' && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._:/@%+=,~-") == strlen(s))
		return s;
	buf_init(&b, r->a, 4 * strlen(s) + 8, 4 * strlen(s) + 8);
	buf_adds(&b, "'");
	for (const char *p = s; *p; p++) {
		if (*p == '\'')
			buf_adds(&b, "'\\''");
		else
			buf_add(&b, p, 1);
	}
	buf_adds(&b, "'");
	return buf_ok(&b) ? b.data : "''";
}

static enum err
respond_server(struct req *r, const char *id, int status, const char *token)
{
	const char *plane = r->w->cfg->public_url;
	PGresult   *res;
	cJSON      *d;
	enum err    e;

	if ((e = db_get_object(r, &st_get, &res, "server not found", id)) != ERR_OK)
		return e;
	if (token == NULL)
		return http_respond_row(r, status, res, 0);
	d = json_row(res, 0);
	cJSON_AddStringToObject(d, "agent_token", token);
	/*
	 * The token reaches the agent through a 0600 file, never an argv:
	 * printf is a shell builtin.  Then the plane's install script
	 * (GET /servers/:id/install-script has the same with the defaults
	 * filled in) downloads the agent from the plane's /agent/ only.
	 */
	cJSON_AddStringToObject(d, "install_command", arena_printf(r->a,
	    "install -d -m 0700 /etc/launcher && (umask 077 && printf '%%s\\n' '%s'"
	    " > /etc/launcher/agent.token) && curl -fsS%s %s/agent/install.sh"
	    " | sh -s -- --plane %s --tenant %s",
	    token, strncmp(plane, "https://", 8) == 0 ? " --proto =https" : "",
	    sh_word(r, plane), sh_word(r, plane), sh_word(r, r->tenant_ref)));
	return http_respond_json(r, status, d, NULL);
}

/* A fresh token into tok (shown once) and its keyed hash. */
static const char *
new_token(struct req *r, char *tok, size_t len)
{
	if (crypto_token(tok, len, "lnchr_at_", 43) != 0)
		return NULL;
	return auth_key_hash_hex(r, "agent-token", tok);
}

static enum err
list(struct req *r)
{
	return list_all(r, &st_list);
}

static const struct field create_fields[] = {
	{"name", F_STRING, true, false, 1, 63, json_check_slug},
	{"description", F_STRING, false, false, 0, 2000, NULL},
	{"host", F_STRING, false, true, 1, 255, check_host},
	{"base_domain", F_STRING, false, true, 1, 253, check_host},
	{"labels", F_OBJECT, false, false, 0, 0, check_labels},
	{"heartbeat_interval_seconds", F_INT, false, false, 1, 3600, NULL},
};

static enum err
create(struct req *r)
{
	struct field_val v[6];
	PGresult        *res;
	char             tok[64], *labels = NULL;
	const char      *hash;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, create_fields, v)) != ERR_OK)
		return e;
	if (v[4].present) {
		labels = cJSON_PrintUnformatted(v[4].node);
		arena_defer(r->a, free, labels);
	}
	if ((hash = new_token(r, tok, sizeof(tok))) == NULL)
		return ERR_INTERNAL;
	e = db_run(r, &st_create, &res, v[0].s, v[1].s, v[2].s, v[3].s, labels,
	    v[5].present ? arena_printf(r->a, "%lld", (long long)v[5].i) : NULL, hash);
	if (e == ERR_CONFLICT)
		e = http_error(r, e, "a server with this name already exists");
	if (e == ERR_OK)
		e = respond_server(r, db_get(res, 0, "id"), 201, tok);
	sodium_memzero(tok, sizeof(tok));
	return e;
}

static enum err
get(struct req *r)
{
	const char *id = http_param(r, "id");

	return respond_server(r, id, 200, NULL);
}


static const struct field update_fields[] = {
	{"name", F_STRING, false, false, 1, 63, json_check_slug},
	{"description", F_STRING, false, false, 0, 2000, NULL},
	{"host", F_STRING, false, true, 1, 255, check_host},
	{"base_domain", F_STRING, false, true, 1, 253, check_host},
	{"labels", F_OBJECT, false, true, 0, 0, check_labels},
	{"heartbeat_interval_seconds", F_INT, false, false, 1, 3600, NULL},
};

static const struct db_update server_update = {&st_update, &st_exists, "server", "server not found",
    "a server with this name already exists"};

static enum err
update(struct req *r)
{
	const char      *id = http_param(r, "id"), *version;
	struct field_val v[6];
	char            *given;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK || (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, update_fields, v)) != ERR_OK)
		return e;
	/* labels: null clears them (the column holds an object). */
	if (v[4].null)
		cJSON_ReplaceItemInObjectCaseSensitive(r->json, "labels", cJSON_CreateObject());
	given = cJSON_PrintUnformatted(r->json);
	arena_defer(r->a, free, given);
	if ((e = db_update(r, &server_update, id, given, version)) != ERR_OK)
		return e;
	return respond_server(r, id, 200, NULL);
}

static enum err
del(struct req *r)
{
	const char *id = http_param(r, "id"), *version, *force = http_query(r, "force");
	PGresult   *res;
	enum err    e;

	if ((e = http_if_match(r, &version)) != ERR_OK)
		return e;
	if (force == NULL || strcmp(force, "true") != 0) {
		if ((e = db_run(r, &st_workloads, &res, id)) != ERR_OK)
			return e;
		if (strcmp(db_get(res, 0, "n"), "0") != 0)
			return http_error(r, ERR_CONFLICT, arena_printf(r->a,
			    "the server still has %s queued or running jobs; retry with ?force=true",
			    db_get(res, 0, "n")));
	}
	e = db_run(r, &st_delete, &res, id, version);
	/* Applications, databases and volumes placed on it keep it (NO ACTION
	 * keys), even with ?force=true: they are not the server's to delete. */
	if (e == ERR_BAD_REQUEST && strstr(db_constraint(r), "_server_id_fkey") != NULL)
		return http_error(r, ERR_CONFLICT, "the server still holds applications, databases, "
		    "volumes or the records of backups it made; delete them or place them elsewhere "
		    "first");
	if (e != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return db_missed(r, &st_exists, id, "server", "server not found");
	return http_no_content(r);
}

static enum err
rotate(struct req *r)
{
	const char *id = http_param(r, "id"), *hash;
	char        tok[64];
	PGresult   *res;
	enum err    e;

	if ((hash = new_token(r, tok, sizeof(tok))) == NULL)
		return ERR_INTERNAL;
	e = db_run(r, &st_rotate, &res, id, hash);
	if (e == ERR_OK && PQntuples(res) != 1)
		e = http_error(r, ERR_NOT_FOUND, "server not found");
	if (e == ERR_OK)
		e = respond_server(r, id, 200, tok);
	sodium_memzero(tok, sizeof(tok));
	return e;
}

/*
 * GET /servers/:id/install-script: the install script nginx serves at
 * /agent/install.sh (agent_dist_dir, read on every request: an upgrade
 * needs no reload), its three default lines plane='', tenant='' and
 * server='' filled in.  No secret in it: the token stays in the file that
 * install_command writes on the server.
 */
static enum err
install_script(struct req *r)
{
	static const char *const keys[] = {"plane", "tenant", "server"};
	const char *id = http_param(r, "id"), *vals[3], *p;
	char        path[CONFIG_STR_MAX + 16], *text = NULL;
	size_t      len = 0;
	int         rc;
	struct buf  b;
	PGresult   *res;
	enum err    e;

	if ((e = db_get_object(r, &st_get, &res, "server not found", id)) != ERR_OK)
		return e;
	vals[0] = r->w->cfg->public_url;
	vals[1] = r->tenant_ref;
	vals[2] = db_get(res, 0, "name");
	rc = util_snprintf(path, sizeof(path), "%s/install.sh", r->w->cfg->agent_dist_dir) < 0 ? -1 :
	    util_read_file(path, 1 << 20, &text, &len);
	if (rc != 0 || text == NULL) {
		log_error("install-script: cannot read %s (agent_dist_dir; make agent-dist): %s", path,
		    rc == 0 ? "absent" : strerror(errno));
		return http_error(r, ERR_INTERNAL, "the agent install script is not installed on the plane");
	}
	arena_defer(r->a, free, text);
	buf_init(&b, r->a, len + 1024, len + 4096);
	p = text;
	for (size_t i = 0; i < 3; i++) {
		const char *at;
		char        line[32];

		if (util_snprintf(line, sizeof(line), "\n%s=''\n", keys[i]) < 0 ||
		    (at = strstr(p, line)) == NULL) {
			log_error("install-script: %s has no %s='' line", path, keys[i]);
			return http_error(r, ERR_INTERNAL, "the agent install script on the plane is not its own");
		}
		/* up to the line's start; its newline stays for the next line */
		buf_add(&b, p, (size_t)(at - p) + 1);
		buf_adds(&b, arena_printf(r->a, "%s=%s", keys[i], sh_word(r, vals[i])));
		p = at + strlen(line) - 1;
	}
	buf_adds(&b, p);
	if (!buf_ok(&b))
		return ERR_INTERNAL;
	return http_respond_raw(r, 200, "text/x-shellscript; charset=utf-8", b.data, b.len);
}

static enum err
status(struct req *r)
{
	const char *id = http_param(r, "id");
	PGresult   *res;
	enum err    e;

	if ((e = db_run(r, &st_status, &res, id)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_NOT_FOUND, "server not found");
	return http_respond_row(r, 200, res, 0);
}

static enum err
diagnostics(struct req *r)
{
	const char *id = http_param(r, "id"), *job;
	PGresult   *res;
	enum err    e;

	if ((e = db_run(r, &st_exists, &res, id)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_NOT_FOUND, "server not found");
	if ((e = job_create(r, id, NULL, "diagnostics", NULL, &job)) != ERR_OK)
		return e;
	if ((e = db_run(r, &st_run, &res, job, id)) != ERR_OK)
		return e;
	return http_respond_row(r, 201, res, 0);
}

static enum err
diagnostics_get(struct req *r)
{
	const char *id = http_param(r, "id"), *run = http_param(r, "runId");
	PGresult   *res;
	enum err    e;

	if ((e = db_run(r, &st_run, &res, run, id)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_NOT_FOUND, "diagnostics run not found");
	return http_respond_row(r, 200, res, 0);
}

const struct route api_server_routes[] = {
	{.methods = HTTP_GET, .pattern = "/servers", .fn = list},
	{.methods = HTTP_POST, .pattern = "/servers", .fn = create, .min_role = ROLE_ADMIN,
	    .flags = ROUTE_SECRET_ANSWER, .audit = "server.create"},
	{.methods = HTTP_GET, .pattern = "/servers/:id", .fn = get},
	{.methods = HTTP_PUT, .pattern = "/servers/:id", .fn = update, .min_role = ROLE_ADMIN,
	    .audit = "server.update"},
	{.methods = HTTP_DELETE, .pattern = "/servers/:id", .fn = del, .min_role = ROLE_ADMIN,
	    .audit = "server.delete"},
	{.methods = HTTP_POST, .pattern = "/servers/:id/agent-token", .fn = rotate,
	    .min_role = ROLE_ADMIN, .scope = SCOPE_ADMIN, .flags = ROUTE_SECRET_ANSWER,
	    .audit = "server.rotate_token"},
	{.methods = HTTP_GET, .pattern = "/servers/:id/status", .fn = status},
	{.methods = HTTP_GET, .pattern = "/servers/:id/install-script", .fn = install_script},
	{.methods = HTTP_POST, .pattern = "/servers/:id/diagnostics", .fn = diagnostics,
	    .min_role = ROLE_ADMIN, .audit = "server.diagnostics"},
	{.methods = HTTP_GET, .pattern = "/servers/:id/diagnostics/:runId", .fn = diagnostics_get},
	{0},
};
