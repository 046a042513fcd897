/*
 * jobs.c - job creation and the job resource (see jobs.h).
 */
#include "jobs.h"

#include <string.h>

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

/* The kind's shown fields of the stored (or unsealed) result; NULL if none. */
static enum err
result_of(struct req *r, PGresult *res, const struct job_kind *k, cJSON **out)
{
	const char *text;
	size_t      len;
	cJSON      *all;

	*out = NULL;
	if (k->shown == NULL || strcmp(db_get(res, 0, "_expired"), "t") == 0)
		return ERR_OK;
	if (!k->sealed)
		text = db_isnull(res, 0, "_result") ? NULL : db_get(res, 0, "_result");
	else if (db_isnull(res, 0, "_result_sealed"))
		text = NULL;
	else if ((text = secret_open(r, SECRET_JOB_RESULT, db_get(res, 0, "_result_sealed"),
	    &len)) == NULL) {
		log_error("the sealed result of job %s does not open", db_get(res, 0, "id"));
		return ERR_INTERNAL;
	}
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
	e = db_run(r, &st_read, &res, id, arena_printf(r->a, "%lld",
	    (long long)r->w->cfg->job_result_retention_seconds));
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
