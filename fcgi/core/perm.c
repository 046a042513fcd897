/*
 * perm.c - the project permission table and its one check (see perm.h).
 */
#include "perm.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "util.h"

static const struct {
	const char *name;
	enum prole  min_role;	/* least project role */
	unsigned    scope;	/* key scope needed */
} cap_table[CAP__COUNT] = {
	[CAP_NONE]   = {"none", PROLE_NONE, 0},
	[CAP_READ]   = {"read", PROLE_VIEWER, SCOPE_READ},
	[CAP_DEPLOY] = {"deploy", PROLE_MEMBER, SCOPE_DEPLOY},
	[CAP_WRITE]  = {"write", PROLE_ADMIN, SCOPE_WRITE},
	[CAP_OWN]    = {"own", PROLE_OWNER, SCOPE_ADMIN},
};

static const char *const prole_names[] = {"", "viewer", "member", "admin", "owner"};

enum prole
perm_prole_parse(const char *s)
{
	for (int i = PROLE_VIEWER; i <= PROLE_OWNER; i++)
		if (s != NULL && strcmp(s, prole_names[i]) == 0)
			return (enum prole)i;
	return PROLE_NONE;
}

const char *
perm_prole_name(enum prole p)
{
	return (unsigned)p <= PROLE_OWNER ? prole_names[p] : "";
}

const char *
perm_cap_name(enum cap c)
{
	return (unsigned)c < CAP__COUNT ? cap_table[c].name : "?";
}

unsigned
perm_cap_scope(enum cap c)
{
	return (unsigned)c < CAP__COUNT ? cap_table[c].scope : SCOPE_ALL;
}

DB_STMT st_membership = {"perm_membership",
    "SELECT p.id, m.role FROM projects p"
    " LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = $2::uuid"
    " WHERE p.id = $1::uuid"};

/* 404 naming what the URL named: the project, or the resource in it. */
static enum err
not_found(struct req *r)
{
	return req_fail(r, ERR_NOT_FOUND, r->resource ?
	    arena_printf(r->a, "%s not found", r->resource) : "project not found");
}

/* Tenant superadmins and admins act as owners of every project (perm.h). */
static enum prole
acting_role(const struct req *r, enum prole membership)
{
	return r->who.role >= ROLE_ADMIN ? PROLE_OWNER : membership;
}

enum prole
perm_my_role(const struct req *r, enum prole membership)
{
	enum prole role = acting_role(r, membership), held = PROLE_NONE;

	/* The capabilities in order of their roles: the key's scopes reach
	 * the role of the last one they all allow. */
	for (int c = CAP_READ; c < CAP__COUNT; c++) {
		if ((r->who.scopes & cap_table[c].scope) != cap_table[c].scope)
			break;
		held = cap_table[c].min_role;
	}
	return role < held ? role : held;
}

enum err
perm_project(struct req *r, const char *project_id, enum cap cap)
{
	PGresult  *res;
	enum prole role;
	enum err   e;

	if (project_id == NULL || !util_is_uuid(project_id) ||
	    (r->who.key_project_id != NULL && strcasecmp(project_id, r->who.key_project_id) != 0))
		return not_found(r);
	if ((e = db_run(r, &st_membership, &res, project_id, r->who.user_id)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return not_found(r);
	role = acting_role(r, perm_prole_parse(db_get(res, 0, "role")));
	if (role == PROLE_NONE)
		return not_found(r);
	r->who.project_id = arena_strdup(r->a, db_get(res, 0, "id"));
	r->who.project_role = role;
	if (role < cap_table[cap].min_role)
		return req_fail(r, ERR_FORBIDDEN, "insufficient project permissions");
	if ((r->who.scopes & cap_table[cap].scope) != cap_table[cap].scope)
		return req_fail(r, ERR_FORBIDDEN, "the service key lacks the scope this call needs");
	return ERR_OK;
}

bool
perm_allows(const struct req *r, enum cap cap)
{
	return r->who.project_id != NULL && r->who.project_role >= (int)cap_table[cap].min_role &&
	    (r->who.scopes & cap_table[cap].scope) == cap_table[cap].scope;
}

bool
perm_host_escape(const struct req *r)
{
	return r->who.role == ROLE_SUPERADMIN && (r->who.key_id == NULL ||
	    ((r->who.scopes & SCOPE_ADMIN) != 0 && r->who.key_project_id == NULL));
}

bool
perm_can_create_project(struct req *r)
{
	return r->who.key_project_id == NULL && (r->who.scopes & SCOPE_WRITE) != 0;
}

void
perm_print(void)
{
	for (int c = CAP_READ; c < CAP__COUNT; c++) {
		printf("cap %s min_role %s scopes", cap_table[c].name,
		    prole_names[cap_table[c].min_role]);
		if (cap_table[c].scope & SCOPE_READ)
			printf(" read");
		if (cap_table[c].scope & SCOPE_WRITE)
			printf(" write");
		if (cap_table[c].scope & SCOPE_DEPLOY)
			printf(" deploy");
		if (cap_table[c].scope & SCOPE_ADMIN)
			printf(" admin");
		printf("\n");
	}
}
