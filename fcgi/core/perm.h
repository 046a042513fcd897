/*
 * perm.h - who may do what inside a project: one table, used by the router
 * for every project-scoped route and printed for the permission tests.
 *
 * Tenant superadmins and admins act as owners of every project; tenant
 * users act with their membership role.  A service key acts as its creator,
 * limited by its scopes and, if bound to one project, to that project.
 * A project the caller cannot see is 404; a visible one with too few
 * rights is 403.
 */
#ifndef LAUNCHER_PERM_H
#define LAUNCHER_PERM_H

#include "http.h"

enum cap { CAP_NONE = 0, CAP_READ, CAP_DEPLOY, CAP_WRITE, CAP_OWN, CAP__COUNT };

enum prole { PROLE_NONE = 0, PROLE_VIEWER, PROLE_MEMBER, PROLE_ADMIN, PROLE_OWNER };

enum prole  perm_prole_parse(const char *s);
const char *perm_prole_name(enum prole p);
const char *perm_cap_name(enum cap c);
/* The key scope a capability needs. */
unsigned    perm_cap_scope(enum cap c);

/*
 * Checks that the caller may exercise cap on project_id: ERR_NOT_FOUND or
 * ERR_FORBIDDEN with the message recorded for the router (req_fail); it
 * never answers.  On success sets r->who.project_id and r->who.project_role.
 */
enum err perm_project(struct req *r, const char *project_id, enum cap cap);

/*
 * Whether the caller, already admitted to the project by perm_project(),
 * also holds cap there (e.g. to see secret values on a read route).
 */
bool perm_allows(const struct req *r, enum cap cap);

/*
 * Whether the caller may reach out of the sandbox (compose's host-escape
 * keys, a shell in a service that has them): a superadmin's session, or a
 * superadmin's key with the admin scope bound to no project, as the
 * server terminal asks.
 */
bool perm_host_escape(const struct req *r);

/*
 * The role the caller holds in a project where its membership role is
 * membership (PROLE_NONE: not a member), as the API reports it (a
 * project's my_role): the role perm_project() acts with (tenant admins and
 * superadmins: owner), and for a service key at most the highest role
 * whose every capability its scopes allow (read: viewer, + deploy: member,
 * + write: admin, + admin: owner).  PROLE_NONE when that leaves nothing.
 */
enum prole perm_my_role(const struct req *r, enum prole membership);

/* Project creation: any user, with a write-scoped key not bound to a project. */
bool perm_can_create_project(struct req *r);

/* Prints the capability table (for tests). */
void perm_print(void);

#endif
