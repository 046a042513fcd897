/*
 * jobs.c - job creation and the job resource (see jobs.h).
 */
#include "jobs.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "crypto.h"
#include "db.h"
#include "json.h"
#include "log.h"
#include "perm.h"
#include "secret.h"
#include "util.h"
#include "worker.h"

static const char *const exec_shown[] = {"exit_code", "output", "instance", "truncated",
    "timed_out", NULL};
/* A registry's v2 login (registries.c, the agent's registry.c). */
static const char *const registry_test_shown[] = {"ok", "reason", "message", "auth", "http_status",
    "url", NULL};

/* A backup destination's probe: objstore_test's {ok, steps} (core/objstore.h). */
static const char *const dest_test_shown[] = {"ok", "steps", NULL};
/* A backup's upload and read-back (the agent's backup.c); the backup row has them too. */
static const char *const backup_run_shown[] = {"object_key", "size_bytes", "sha256", "verified_at",
    NULL};
/* A restore: what was streamed back and the safety backup made before it. */
static const char *const restore_shown[] = {"restored", "size_bytes", "sha256", "safety", NULL};
static const char *const import_shown[] = {"imported_bytes", NULL};
/* A function's answer to POST /functions/:id/invoke (the agent's fn.c). */
static const char *const fn_invoke_shown[] = {"status", "body", "duration_ms", "invocation", NULL};

/* A page of a bucket's objects (buckets.c; next_cursor added by the completion, agent.c). */
static const char *const bucket_objects_shown[] = {"objects", "truncated", "next_cursor", NULL};

static const char *const git_test_shown[] = {"login", "name", "api_url", NULL};
static const char *const git_repos_shown[] = {"repositories", "next_cursor", NULL};
static const char *const git_branches_shown[] = {"repository", "branches", "truncated", NULL};
static const char *const git_hook_shown[] = {"action", "repository", "hook_id", "url", NULL};

/*
 * Reading a job needs what queuing it needed: exec runs commands in the
 * application's containers, which can print its environment, so it needs
 * the capability that reveals env values (write, applications.c); other
 * kinds are deploy actions and show no result.  Tenant-level checks
 * (registry.test, git.*) belong to no project: tenant admins read them
 * (jobs.c of the API); registry.test's result holds no secret, git.*'s what
 * a provider's token can see (git_providers.c).
 */
static const struct job_kind kinds[] = {
	{"app.exec", CAP_WRITE, true, exec_shown},
	{"registry.test", CAP_READ, false, registry_test_shown},
	{"git.test", CAP_READ, false, git_test_shown},
	{"git.repositories", CAP_READ, false, git_repos_shown},
	{"git.branches", CAP_READ, false, git_branches_shown},
	{"git.hook", CAP_READ, false, git_hook_shown},
	/* A destination's probe (backups.c, tenant admins; no secret). */
	{"backup.dest_test", CAP_READ, false, dest_test_shown},
	/* A manual backup needed deploy, a restore or an import write (backups.c). */
	{"backup.run", CAP_DEPLOY, false, backup_run_shown},
	{"backup.restore", CAP_WRITE, false, restore_shown},
	{"db.import", CAP_WRITE, false, import_shown},
	/* Its session's target needed write (a shell reads the env); no result. */
	{"terminal.open", CAP_WRITE, false, NULL},
	/* An invocation needed deploy (functions.c); its answer is the function's. */
	{"fn.invoke", CAP_DEPLOY, false, fn_invoke_shown},
	/* A bucket's new key (sql/053 moves it into bucket_keys, sealed): never shown. */
	{"bucket.create", CAP_WRITE, true, NULL},
	{"bucket.rotate", CAP_WRITE, true, NULL},
	{"bucket.objects", CAP_READ, false, bucket_objects_shown},
	{NULL, CAP_DEPLOY, false, NULL},
};

DB_STMT st_create = {"jobs_create",
    "SELECT job_enqueue(current_tenant(), $1::uuid, $2::uuid, $3, $4::jsonb, $5::uuid) AS id"};
/* Finished results are shown until finished_at + $2 seconds. */
DB_STMT st_read = {"jobs_read",
    "SELECT j.id, j.kind, j.status, j.project_id, j.payload->>'app_id' AS application_id,"
    " j.created_at, j.started_at, j.finished_at, j.error,"
    " j.finished_at + make_interval(secs => $2::int) AS result_expires_at,"
    " j.result AS _result, j.result_sealed AS _result_sealed,"
    " coalesce(j.finished_at + make_interval(secs => $2::int) <= now(), false) AS _expired"
    " FROM jobs j WHERE j.id = $1::uuid"};

enum err
job_create(struct req *r, const char *server_id, const char *project_id, const char *kind,
    const char *payload, const char **id)
{
	PGresult *res;
	enum err  e;

	e = db_run(r, &st_create, &res, server_id, project_id, kind, payload, r->who.user_id);
	if (e != ERR_OK)
		return e;
	*id = arena_strdup(r->a, db_get(res, 0, "id"));
	return ERR_OK;
}

const struct job_kind *
job_kind(const char *kind)
{
	const struct job_kind *k = kinds;

	for (; k->kind != NULL; k++)
		if (kind != NULL && strcmp(k->kind, kind) == 0)
			break;
	return k;
}

const char *
job_url(struct req *r, const char *id)
{
	return arena_printf(r->a, "/%s/api/v1/jobs/%s", r->tenant_ref ? r->tenant_ref :
	    r->who.tenant_id, id);
}

/*
 * The whole stored result of the job row res (opened when the kind seals
 * it) as text in the arena, or NULL when there is none.  ERR_INTERNAL when
 * a sealed result does not open (logged).
 */
static enum err
result_text(struct req *r, PGresult *res, const struct job_kind *k, const char **out)
{
	size_t len;

	*out = NULL;
	if (!k->sealed)
		*out = db_isnull(res, 0, "_result") ? NULL : db_get(res, 0, "_result");
	else if (!db_isnull(res, 0, "_result_sealed") &&
	    (*out = secret_open(r, SECRET_JOB_RESULT, db_get(res, 0, "_result_sealed"), &len)) ==
	    NULL) {
		log_error("the sealed result of job %s does not open", db_get(res, 0, "id"));
		return ERR_INTERNAL;
	}
	return ERR_OK;
}

/* The kind's shown fields of the stored (or unsealed) result; NULL if none. */
static enum err
result_of(struct req *r, PGresult *res, const struct job_kind *k, cJSON **out)
{
	const char *text;
	cJSON      *all;
	enum err    e;

	*out = NULL;
	if (k->shown == NULL || strcmp(db_get(res, 0, "_expired"), "t") == 0)
		return ERR_OK;
	if ((e = result_text(r, res, k, &text)) != ERR_OK)
		return e;
	if (text == NULL || (all = cJSON_Parse(text)) == NULL)
		return ERR_OK;
	*out = cJSON_CreateObject();
	for (const char *const *f = k->shown; *f; f++) {
		cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(all, *f);

		cJSON_AddItemToObject(*out, *f, v ? v : cJSON_CreateNull());
	}
	cJSON_Delete(all);
	return ERR_OK;
}

/* The job row of id in the request's tenant (RLS); *res has 0 rows if none. */
static enum err
load(struct req *r, const char *id, PGresult **res)
{
	return db_run(r, &st_read, res, id, arena_printf(r->a, "%lld",
	    (long long)r->w->cfg->job_result_retention_seconds));
}

enum err
job_read(struct req *r, const char *id, cJSON **out, const char **project,
    const struct job_kind **kind)
{
	PGresult *res;
	cJSON    *result;
	enum err  e;

	*out = NULL;
	*project = NULL;
	*kind = NULL;
	if (!util_is_uuid(id))
		return ERR_OK;
	e = load(r, id, &res);
	if (e != ERR_OK || PQntuples(res) != 1)
		return e;
	*kind = job_kind(db_get(res, 0, "kind"));
	if ((e = result_of(r, res, *kind, &result)) != ERR_OK)
		return e;
	*out = json_row(res, 0);
	if (!(*kind)->sealed)
		cJSON_DeleteItemFromObjectCaseSensitive(*out, "result_expires_at");
	cJSON_AddItemToObject(*out, "result", result ? result : cJSON_CreateNull());
	cJSON_AddStringToObject(*out, "url", job_url(r, id));
	if (!db_isnull(res, 0, "project_id"))
		*project = arena_strdup(r->a, db_get(res, 0, "project_id"));
	return ERR_OK;
}

enum err
job_respond_queued_with(struct req *r, const char *id, const char *name, cJSON *extra)
{
	const struct job_kind *k;
	const char            *project;
	cJSON                 *o, *d;
	enum err               e;

	if ((e = job_read(r, id, &o, &project, &k)) != ERR_OK || o == NULL) {
		cJSON_Delete(extra);
		return e != ERR_OK ? e : ERR_INTERNAL;
	}
	http_add_header(r, "Location", job_url(r, id));
	d = cJSON_CreateObject();
	cJSON_AddItemToObject(d, "job", o);
	if (extra != NULL)
		cJSON_AddItemToObject(d, name, extra);
	return http_respond_json(r, 202, d, NULL);
}

enum err
job_respond_queued(struct req *r, const char *id)
{
	return job_respond_queued_with(r, id, NULL, NULL);
}

/* Where nginx hands a waited call to launcher-ws (conf/nginx/locations.conf.in). */
#define WAIT_LOCATION "/.lnchr-wait/"

/*
 * The waited call's first answer is the 202 of job_respond_queued plus
 * X-Accel-Redirect: nginx follows the header (the body is dropped), an
 * idempotent replay (which keeps status and body, not headers) and a
 * client without nginx in front get the 202, and so does a sub-request.
 */
/* What a wait leaves of its credential, for the hand-back's request. */
#define WAIT_CREDENTIAL_MARGIN_S 30

/* A service key's seconds left ($1 its id): no row when it never expires. */
DB_STMT st_key_left = {"jobs_key_left",
    "SELECT floor(extract(epoch FROM expires_at - now()))::bigint AS left_s"
    " FROM service_keys WHERE id = $1::uuid AND expires_at IS NOT NULL"};

/*
 * The seconds the call's credential stays valid, or INT64_MAX when it never
 * expires (a service key without expires_at); 0 when it cannot be told.
 * The hand-back (/.lnchr-job/) authenticates with the same credential:
 * a wait that outlives it would answer 401, and the client never saw the
 * job's id (nginx drops the 202's body when it follows X-Accel-Redirect).
 */
static int64_t
credential_left(struct req *r)
{
	struct jwt_claims c;
	const char       *h;
	PGresult         *res;
	int64_t           left;

	if (r->who.key_id != NULL) {
		if (db_run(r, &st_key_left, &res, r->who.key_id) != ERR_OK)
			return 0;
		if (PQntuples(res) != 1)
			return INT64_MAX;
		return util_parse_i64(db_get(res, 0, "left_s"), INT64_MIN, INT64_MAX, &left) == 0 ?
		    left : 0;
	}
	/* A JWT session (core/auth.c took it from the same header). */
	h = http_header(r, "authorization");
	if (r->who.jti == NULL || h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	for (h += 7; *h == ' '; h++)
		;
	if (crypto_jwt_verify(&r->w->keys, r->w->cfg->jwt_issuer, h, (int64_t)time(NULL), &c) != 0)
		return 0;
	return c.exp - (int64_t)time(NULL);
}

enum err
job_respond_wait(struct req *r, const char *id, int timeout_s, int ok_status)
{
	if (timeout_s > JOB_WAIT_MAX_SECONDS)
		timeout_s = JOB_WAIT_MAX_SECONDS;
	if (timeout_s > 0 && !r->sub) {
		int64_t left = credential_left(r) - WAIT_CREDENTIAL_MARGIN_S;

		if (left < timeout_s)
			timeout_s = left > 0 ? (int)left : 0;
	}
	if (ok_status < 200 || ok_status > 299)
		ok_status = 200;
	/* The tenant as the call's URL names it: the answer's URLs name it so too. */
	if (timeout_s > 0 && !r->sub && util_is_uuid(id) && r->who.tenant_id != NULL)
		http_add_header(r, "X-Accel-Redirect", arena_printf(r->a, WAIT_LOCATION "%s/%s?t=%d&ok=%d",
		    r->tenant_ref ? r->tenant_ref : r->who.tenant_id, id, timeout_s, ok_status));
	return job_respond_queued(r, id);
}

/* result.error of a failed job when it is a whole HTTP error: {code, message, status}. */
static bool
http_error_of(const cJSON *result, const char **code, const char **message, int *status)
{
	const cJSON *er = cJSON_GetObjectItemCaseSensitive(result, "error");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(er, "code");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(er, "message");
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(er, "status");
	size_t       n;

	if (!cJSON_IsString(c) || !cJSON_IsString(m) || !cJSON_IsNumber(s) ||
	    s->valuedouble < 400 || s->valuedouble > 599 || s->valuedouble != (int)s->valuedouble)
		return false;
	n = strlen(c->valuestring);
	if (n == 0 || n > 64 || strspn(c->valuestring, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != n ||
	    !(c->valuestring[0] >= 'A' && c->valuestring[0] <= 'Z') || strlen(m->valuestring) > 4096)
		return false;
	*code = c->valuestring;
	*message = m->valuestring;
	*status = (int)s->valuedouble;
	return true;
}

enum err
job_respond_outcome(struct req *r, const char *id, int ok_status)
{
	const struct job_kind *k;
	const char            *status, *text, *code, *message;
	PGresult              *res;
	cJSON                 *data, *all;
	int                    http_status;
	enum err               e;

	if (!util_is_uuid(id))
		return http_error(r, ERR_NOT_FOUND, "job not found");
	if ((e = load(r, id, &res)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_NOT_FOUND, "job not found");
	status = db_get(res, 0, "status");
	if (strcmp(status, "queued") == 0 || strcmp(status, "running") == 0)
		return job_respond_queued(r, id);
	k = job_kind(db_get(res, 0, "kind"));
	if (strcmp(status, "succeeded") == 0) {
		if ((e = result_of(r, res, k, &data)) != ERR_OK)
			return e;
		return http_respond_json(r, ok_status >= 200 && ok_status <= 299 ? ok_status : 200,
		    data ? data : cJSON_CreateObject(), NULL);
	}
	if (strcmp(status, "failed") == 0) {
		if ((e = result_text(r, res, k, &text)) != ERR_OK)
			return e;
		if (text != NULL && (all = cJSON_Parse(text)) != NULL) {
			arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, all);
			if (http_error_of(all, &code, &message, &http_status))
				return http_error_as(r, http_status, code, message);
		}
	}
	message = !db_isnull(res, 0, "error") && db_get(res, 0, "error")[0] != '\0' ?
	    db_get(res, 0, "error") : strcmp(status, "cancelled") == 0 ? "the job was cancelled" :
	    "the job failed";
	return http_error_as(r, 502, "JOB_FAILED", message);
}
