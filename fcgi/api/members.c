/*
 * members.c - API.md §2 project members and invites, and the public
 * POST /auth/accept-invite.  Exactly one owner per project: the owner is
 * neither removed nor demoted here, only replaced through /transfer.
 */
#include "api.h"

#include <string.h>

#include <sodium.h>

#include "../core/auth.h"
#include "../core/crypto.h"
#include "../core/db.h"
#include "../core/json.h"
#include "../core/list.h"
#include "../core/log.h"
#include "../core/mail.h"
#include "../core/perm.h"
#include "../core/util.h"
#include "../core/worker.h"
#include "users_common.h"

#define MEMBER_COLS "m.id, m.project_id, m.user_id, u.email, u.first_name, u.last_name," \
	" m.role, m.created_at, m.updated_at, m.row_version::text AS _version"
#define INVITE_COLS "i.id, i.project_id, i.email, i.role, i.created_by, i.expires_at, i.created_at"

DB_STMT st_members = {"members_list",
    "SELECT " MEMBER_COLS " FROM project_members m JOIN users u ON u.id = m.user_id"
    " WHERE m.project_id = $4::uuid" LIST_TAIL("m.")};
DB_STMT st_member_get = {"members_get",
    "SELECT " MEMBER_COLS " FROM project_members m JOIN users u ON u.id = m.user_id"
    " WHERE m.id = $1::uuid AND m.project_id = $2::uuid"};
DB_STMT st_member_add = {"members_add",
    "INSERT INTO project_members (project_id, user_id, role)"
    " SELECT $1::uuid, u.id, $3 FROM users u WHERE u.id = $2::uuid AND u.active RETURNING id"};
DB_STMT st_member_role = {"members_role",
    "UPDATE project_members SET role = $3 WHERE id = $1::uuid AND project_id = $2::uuid"
    " AND role <> 'owner' AND ($4::bigint IS NULL OR row_version = $4::bigint) RETURNING id"};
DB_STMT st_member_del = {"members_delete",
    "DELETE FROM project_members WHERE id = $1::uuid AND project_id = $2::uuid"
    " AND role <> 'owner' AND ($3::bigint IS NULL OR row_version = $3::bigint) RETURNING id"};
DB_STMT st_member_state = {"members_state",
    "SELECT role, row_version::text AS version FROM project_members"
    " WHERE id = $1::uuid AND project_id = $2::uuid"};
DB_STMT st_invites = {"invites_list",
    "SELECT " INVITE_COLS " FROM project_invites i WHERE i.project_id = $4::uuid"
    " AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now()" LIST_TAIL("i.")};
DB_STMT st_invite_replace = {"invites_replace",
    "UPDATE project_invites SET revoked_at = now() WHERE project_id = $1::uuid"
    " AND email = lower($2) AND accepted_at IS NULL AND revoked_at IS NULL"};
DB_STMT st_invite_member = {"invites_is_member",
    "SELECT 1 FROM project_members m JOIN users u ON u.id = m.user_id"
    " WHERE m.project_id = $1::uuid AND u.email = lower($2)"};
DB_STMT st_invite_add = {"invites_add",
    "INSERT INTO project_invites AS i (project_id, email, role, token_hash, created_by, expires_at)"
    " VALUES ($1::uuid, lower($2), $3, $4::bytea, $5::uuid, now() + interval '7 days')"
    " RETURNING " INVITE_COLS ", (SELECT name FROM projects WHERE id = $1::uuid) AS _project"};
DB_STMT st_invite_revoke = {"invites_revoke",
    "UPDATE project_invites SET revoked_at = now() WHERE id = $1::uuid AND project_id = $2::uuid"
    " AND accepted_at IS NULL AND revoked_at IS NULL RETURNING id"};
/* accept-invite: single use is decided by this one UPDATE. */
DB_STMT st_invite_take = {"invites_take",
    "UPDATE project_invites SET accepted_at = now() WHERE token_hash = $1::bytea"
    " AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()"
    " RETURNING project_id, email, role"};
DB_STMT st_invite_why = {"invites_why",
    "SELECT expires_at <= now() AS expired FROM project_invites WHERE token_hash = $1::bytea"
    " AND accepted_at IS NULL AND revoked_at IS NULL"};
DB_STMT st_user_by_email = {"invites_user",
    "SELECT " USER_COLS " FROM users WHERE email = lower($1)"};
DB_STMT st_user_new = {"invites_user_new",
    "INSERT INTO users (email, first_name, last_name, role, password_hash, must_reset_password)"
    " VALUES (lower($1), $2, $3, 'user', $4::text, $4::text IS NULL) RETURNING " USER_COLS};
DB_STMT st_join = {"invites_join",
    "INSERT INTO project_members (project_id, user_id, role) VALUES ($1::uuid, $2::uuid, $3)"
    " ON CONFLICT (project_id, user_id) DO NOTHING"};

static const char *
check_member_role(const cJSON *v)
{
	const char *s = v->valuestring;

	return strcmp(s, "admin") == 0 || strcmp(s, "member") == 0 || strcmp(s, "viewer") == 0 ?
	    NULL : "must be one of admin, member, viewer";
}

static enum err
bad_field(struct req *r, const char *field, const char *msg)
{
	return http_field_error(r, "invalid request body", field, msg);
}

static enum err
respond_member(struct req *r, const char *id, int status)
{
	PGresult *res;
	enum err  e;

	if ((e = db_get_object(r, &st_member_get, &res, "member not found", id,
	    r->who.project_id)) != ERR_OK)
		return e;
	return http_respond_row(r, status, res, 0);
}

static enum err
members(struct req *r)
{
	struct list_page p;
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK)
		return e;
	list_filter(&p, r->who.project_id);
	return list_run(r, &p, &st_members);
}

static const struct field add_fields[] = {
	{"user_id", F_UUID, true, false, 0, 0, NULL},
	{"role", F_STRING, true, false, 1, 16, check_member_role},
};

static enum err
member_add(struct req *r)
{
	struct field_val v[2];
	PGresult        *res;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, add_fields, v)) != ERR_OK)
		return e;
	e = db_run(r, &st_member_add, &res, r->who.project_id, v[0].s, v[1].s);
	if (e == ERR_CONFLICT)
		return http_error(r, e, "the user is already a member of this project");
	if (e != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return bad_field(r, "user_id", "no active user with this id in the tenant");
	return respond_member(r, db_get(res, 0, "id"), 201);
}

/* Why a member update matched nothing: 404, 409 (owner) or 412. */
static enum err
member_refused(struct req *r, const char *id)
{
	PGresult *res;
	enum err  e;

	if ((e = db_run(r, &st_member_state, &res, id, r->who.project_id)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_NOT_FOUND, "member not found");
	if (strcmp(db_get(res, 0, "role"), "owner") == 0)
		return http_error(r, ERR_CONFLICT,
		    "the owner can be neither removed nor demoted: transfer ownership first");
	return http_changed(r, "member");
}

static const struct field role_fields[] = {
	{"role", F_STRING, true, false, 1, 16, check_member_role},
};

static enum err
member_update(struct req *r)
{
	const char      *id = http_param(r, "memberId"), *version;
	struct field_val v[1];
	PGresult        *res;
	enum err         e;

	if ((e = http_if_match(r, &version)) != ERR_OK ||
	    (e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, role_fields, v)) != ERR_OK)
		return e;
	if ((e = db_run(r, &st_member_role, &res, id, r->who.project_id, v[0].s, version)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return member_refused(r, id);
	return respond_member(r, id, 200);
}

static enum err
member_remove(struct req *r)
{
	const char *id = http_param(r, "memberId"), *version;
	PGresult   *res;
	enum err    e;

	if ((e = http_if_match(r, &version)) != ERR_OK)
		return e;
	if ((e = db_run(r, &st_member_del, &res, id, r->who.project_id, version)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return member_refused(r, id);
	return http_no_content(r);
}

static enum err
invites(struct req *r)
{
	struct list_page p;
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK)
		return e;
	list_filter(&p, r->who.project_id);
	return list_run(r, &p, &st_invites);
}

struct invite_mail {
	char *to, *subject, *body;
};

static void
send_invite(struct worker *w, void *arg)
{
	struct invite_mail *m = arg;

	(void)mail_send(w->cfg, m->to, m->subject, m->body);
	sodium_memzero(m->body, strlen(m->body));
}

static const struct field invite_fields[] = {
	{"email", F_EMAIL, true, false, 0, 0, NULL},
	{"role", F_STRING, true, false, 1, 16, check_member_role},
};

static enum err
invite_create(struct req *r)
{
	struct field_val    v[2];
	struct invite_mail *m;
	PGresult           *res;
	char                token[64];
	enum err            e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, invite_fields, v)) != ERR_OK)
		return e;
	if ((e = db_run(r, &st_invite_member, &res, r->who.project_id, v[0].s)) != ERR_OK)
		return e;
	if (PQntuples(res) > 0)
		return http_error(r, ERR_CONFLICT, "this address already belongs to a member");
	/* A re-invite replaces the pending one (same transaction). */
	if ((e = db_run(r, &st_invite_replace, NULL, r->who.project_id, v[0].s)) != ERR_OK)
		return e;
	if (crypto_token(token, sizeof(token), "lnchr_inv_", 40) != 0)
		return ERR_INTERNAL;
	e = db_run(r, &st_invite_add, &res, r->who.project_id, v[0].s, v[1].s,
	    auth_key_hash_hex(r, "invite", token), r->who.user_id);
	if (e != ERR_OK) {
		sodium_memzero(token, sizeof(token));
		return e;
	}
	m = arena_alloc(r->a, sizeof(*m));
	m->to = arena_strdup(r->a, db_get(res, 0, "email"));
	m->subject = arena_printf(r->a, "You are invited to the project %s on Launcher",
	    db_get(res, 0, "_project"));
	/* The link opens the dashboard's accept-invite page (a hash route): the
	 * token travels in the fragment, which browsers never send, so it is in
	 * no access log. */
	m->body = arena_printf(r->a,
	    "You have been invited to join the project %s as %s.\r\n\r\n"
	    "Accept the invitation: %s/#/accept-invite?tenant=%s&token=%s\r\n\r\n"
	    "Or through the API:\r\n  POST %s/%s/api/v1/auth/accept-invite\r\n"
	    "  {\"token\": \"%s\", \"first_name\": \"...\", \"last_name\": \"...\", \"password\": \"...\"}\r\n\r\n"
	    "The invitation is valid for 7 days and can be used once.\r\n",
	    db_get(res, 0, "_project"), v[1].s, r->w->cfg->public_url, r->tenant_ref, token,
	    r->w->cfg->public_url, r->tenant_ref, token);
	sodium_memzero(token, sizeof(token));
	http_after(r, send_invite, m);
	return http_respond_row(r, 201, res, 0);
}

static enum err
invite_revoke(struct req *r)
{
	const char *id = http_param(r, "inviteId");
	PGresult   *res;
	enum err    e;

	if ((e = db_run(r, &st_invite_revoke, &res, id, r->who.project_id)) != ERR_OK)
		return e;
	if (PQntuples(res) != 1)
		return http_error(r, ERR_NOT_FOUND, "invite not found");
	return http_no_content(r);
}

static const struct field accept_fields[] = {
	{"token", F_STRING, true, false, 1, 128, NULL},
	{"password", F_STRING, false, true, PASSWORD_MIN, PASSWORD_MAX, NULL},
	{"first_name", F_STRING, false, false, 0, 100, NULL},
	{"last_name", F_STRING, false, false, 0, 100, NULL},
};

/*
 * POST /auth/accept-invite (no auth): the token proves the address.  An
 * existing account of that address is linked; otherwise one is created
 * (tenant role user; password optional, then set-initial-password).
 */
static enum err
accept_invite(struct req *r)
{
	struct field_val v[4];
	PGresult        *inv, *user, *why;
	const char      *hash, *pw_hash = NULL;
	enum err         e;

	if ((e = http_read_json(r, true)) != ERR_OK ||
	    (e = JSON_FIELDS(r, accept_fields, v)) != ERR_OK)
		return e;
	hash = auth_key_hash_hex(r, "invite", v[0].s);
	if ((e = db_begin(r)) != ERR_OK)
		return e;
	if ((e = db_run(r, &st_invite_take, &inv, hash)) != ERR_OK)
		goto fail;
	if (PQntuples(inv) != 1) {
		if ((e = db_run(r, &st_invite_why, &why, hash)) != ERR_OK)
			goto fail;
		db_rollback(r);
		if (PQntuples(why) == 1 && db_get(why, 0, "expired")[0] == 't')
			return bad_field(r, "token", "the invitation has expired");
		return http_error(r, ERR_NOT_FOUND, "invitation not found (used, revoked or unknown)");
	}
	if ((e = db_run(r, &st_user_by_email, &user, db_get(inv, 0, "email"))) != ERR_OK)
		goto fail;
	if (PQntuples(user) == 1 && db_get(user, 0, "active")[0] != 't') {
		db_rollback(r);
		return http_error(r, ERR_FORBIDDEN, "the account of this address is deactivated");
	}
	if (PQntuples(user) != 1) {
		if (v[1].present) {
			char *out = arena_alloc(r->a, crypto_pwhash_STRBYTES);

			if (crypto_password_hash(v[1].s, r->w->cfg->password_hash_cost, out,
			    crypto_pwhash_STRBYTES) != 0) {
				e = ERR_INTERNAL;
				goto fail;
			}
			pw_hash = out;
		}
		e = db_run(r, &st_user_new, &user, db_get(inv, 0, "email"),
		    v[2].present ? v[2].s : "", v[3].present ? v[3].s : "", pw_hash);
		if (e != ERR_OK)
			goto fail;
	}
	e = db_run(r, &st_join, NULL, db_get(inv, 0, "project_id"), db_get(user, 0, "id"),
	    db_get(inv, 0, "role"));
	if (e != ERR_OK || (e = db_commit(r)) != ERR_OK)
		goto fail;
	return auth_issue(r, 200, user, 0);
fail:
	db_rollback(r);
	return e;
}

const struct route api_member_routes[] = {
	{.methods = HTTP_GET, .pattern = "/projects/:id/members", .fn = members, .cap = CAP_READ},
	{.methods = HTTP_POST, .pattern = "/projects/:id/members", .fn = member_add,
	    .cap = CAP_WRITE, .audit = "project.member.add"},
	{.methods = HTTP_PUT, .pattern = "/projects/:id/members/:memberId", .fn = member_update,
	    .cap = CAP_WRITE, .audit = "project.member.update"},
	{.methods = HTTP_DELETE, .pattern = "/projects/:id/members/:memberId", .fn = member_remove,
	    .cap = CAP_WRITE, .audit = "project.member.remove"},
	{.methods = HTTP_GET, .pattern = "/projects/:id/invites", .fn = invites, .cap = CAP_WRITE},
	{.methods = HTTP_POST, .pattern = "/projects/:id/invites", .fn = invite_create,
	    .cap = CAP_WRITE, .audit = "project.invite.create"},
	{.methods = HTTP_DELETE, .pattern = "/projects/:id/invites/:inviteId", .fn = invite_revoke,
	    .cap = CAP_WRITE, .audit = "project.invite.revoke"},
	{.methods = HTTP_POST, .pattern = "/auth/accept-invite", .fn = accept_invite,
	    .flags = ROUTE_PUBLIC},
	{0},
};
