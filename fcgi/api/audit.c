/*
 * audit.c - GET /audit-log: every mutating call, newest last, with the list
 * machinery and filters ?projectId= &actorId= &action= (tenant admins).
 */
#include "api.h"

#include "../core/db.h"
#include "../core/list.h"

DB_STMT st_list = {"audit_list",
    "SELECT a.id, a.actor_type, a.actor_id, a.user_id, a.action, a.resource_type,"
    " a.resource_id, a.project_id, a.request_id, a.ip, a.detail, a.created_at FROM audit_log a"
    " WHERE ($4::uuid IS NULL OR a.project_id = $4::uuid)"
    " AND ($5::uuid IS NULL OR a.actor_id = $5::uuid OR a.user_id = $5::uuid)"
    " AND ($6::text IS NULL OR a.action = $6)" LIST_TAIL("a.")};

static enum err
list(struct req *r)
{
	struct list_page p;
	const char      *project, *actor;
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK ||
	    (e = list_uuid_query(r, "projectId", &project)) != ERR_OK ||
	    (e = list_uuid_query(r, "actorId", &actor)) != ERR_OK)
		return e;
	list_filter(&p, project);
	list_filter(&p, actor);
	list_filter(&p, http_query(r, "action"));
	return list_run(r, &p, &st_list);
}

const struct route api_audit_routes[] = {
	{.methods = HTTP_GET, .pattern = "/audit-log", .fn = list, .scope = SCOPE_ADMIN,
	    .min_role = ROLE_ADMIN},
	{0},
};
