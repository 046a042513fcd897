/* test_perm.c - the project permission table: every capability against
 * every project role and key scope, written out here as the API document
 * states it (static/openapi.json, "Projects and permissions"), so that a
 * change to perm.c's table fails until the two agree again. */
#include <string.h>

#include "core/perm.h"
#include "core/util.h"
#include "unit.h"

int
main(void)
{
	/* allowed[role][cap] with every scope (a JWT session) */
	static const bool allowed[PROLE_OWNER + 1][CAP__COUNT] = {
		/*                 none   read   deploy write  own */
		[PROLE_NONE]   = {true, false, false, false, false},
		[PROLE_VIEWER] = {true, true, false, false, false},
		[PROLE_MEMBER] = {true, true, true, false, false},
		[PROLE_ADMIN]  = {true, true, true, true, false},
		[PROLE_OWNER]  = {true, true, true, true, true},
	};
	/* the key scope each capability needs */
	static const unsigned scope[CAP__COUNT] = {
		[CAP_NONE] = 0, [CAP_READ] = SCOPE_READ, [CAP_DEPLOY] = SCOPE_DEPLOY,
		[CAP_WRITE] = SCOPE_WRITE, [CAP_OWN] = SCOPE_ADMIN,
	};
	static const char *const roles[] = {"", "viewer", "member", "admin", "owner"};
	struct req r;
	char       name[96];

	for (int c = CAP_NONE; c < CAP__COUNT; c++) {
		CHECK(perm_cap_scope((enum cap)c) == scope[c], perm_cap_name((enum cap)c));
		for (int p = PROLE_NONE; p <= PROLE_OWNER; p++) {
			/* every scope combination: allowed iff the role is enough and
			 * the scopes hold the capability's scope */
			for (unsigned s = 0; s <= SCOPE_ALL; s++) {
				bool want = allowed[p][c] && (s & scope[c]) == scope[c];

				memset(&r, 0, sizeof(r));
				r.who.project_id = "550e8400-e29b-41d4-a716-446655440000";
				r.who.project_role = p;
				r.who.scopes = s;
				(void)util_snprintf(name, sizeof(name), "cap %s role %s scopes 0x%x",
				    perm_cap_name((enum cap)c), roles[p], s);
				CHECK(perm_allows(&r, (enum cap)c) == want, name);
			}
		}
		/* not admitted to a project (perm_project not run): nothing */
		memset(&r, 0, sizeof(r));
		r.who.project_role = PROLE_OWNER;
		r.who.scopes = SCOPE_ALL;
		CHECK(!perm_allows(&r, (enum cap)c), "no project admitted");
	}
	/* an unknown capability needs every scope (fails closed) */
	CHECK(perm_cap_scope(CAP__COUNT) == SCOPE_ALL, "unknown cap: all scopes");
	CHECK(strcmp(perm_cap_name(CAP__COUNT), "?") == 0, "unknown cap name");
	/* role names round-trip; anything else is no role */
	for (int p = PROLE_VIEWER; p <= PROLE_OWNER; p++) {
		CHECK(perm_prole_parse(roles[p]) == (enum prole)p, roles[p]);
		CHECK(strcmp(perm_prole_name((enum prole)p), roles[p]) == 0, roles[p]);
	}
	CHECK(perm_prole_parse("Owner") == PROLE_NONE, "role names are case-sensitive");
	CHECK(perm_prole_parse("superadmin") == PROLE_NONE, "a tenant role is not a project role");
	CHECK(perm_prole_parse("") == PROLE_NONE, "empty role");
	CHECK(perm_prole_parse(NULL) == PROLE_NONE, "NULL role");
	CHECK(strcmp(perm_prole_name((enum prole)9), "") == 0, "out-of-range role name");
	return unit_done("perm");
}
