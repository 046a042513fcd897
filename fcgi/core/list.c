/*
 * list.c - limit, signed keyset cursors and the list response (list.h).
 *
 * A cursor is base64url("<created_at>|<id>") "." base64url(MAC), the MAC a
 * keyed hash over tenant, path and payload: it cannot be forged, altered,
 * or carried to another list or tenant.
 */
#include "list.h"

#include <string.h>

#include <sodium.h>

#include "buf.h"
#include "crypto.h"
#include "json.h"
#include "util.h"
#include "worker.h"

#define MAC_BYTES 16

static void
cursor_mac_at(struct req *r, const char *path, const char *payload, unsigned char mac[MAC_BYTES])
{
	unsigned char full[CRYPTO_HASH_BYTES];
	const char   *m = arena_printf(r->a, "%s\n%s\n%s", r->who.tenant_id ? r->who.tenant_id : "",
	    path, payload);

	crypto_keyed_hash(&r->w->keys, "list-cursor", m, strlen(m), full);
	memcpy(mac, full, MAC_BYTES);
}

static void
cursor_mac(struct req *r, const char *payload, unsigned char mac[MAC_BYTES])
{
	cursor_mac_at(r, r->path, payload, mac);
}

static char *
b64(struct req *r, const unsigned char *bin, size_t n)
{
	size_t len = sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char  *out = arena_alloc(r->a, len);

	sodium_bin2base64(out, len, bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

static enum err
bad_cursor(struct req *r)
{
	return http_field_error(r, "invalid query parameter", "cursor", "is not a cursor of this list");
}

/* Params 1..3 of the first page of p->limit rows. */
static void
first_page(struct req *r, struct list_page *p)
{
	p->params[0] = arena_printf(r->a, "%lld", (long long)p->limit + 1);
	p->params[1] = "-infinity";
	p->params[2] = "00000000-0000-0000-0000-000000000000";
	p->n = 3;
}

enum err
list_cursor_read(struct req *r, const char **payload_out)
{
	const char   *c = http_query(r, "cursor"), *dot;
	unsigned char mac[MAC_BYTES], want[MAC_BYTES], payload[1200];
	size_t        ml, pl;

	*payload_out = NULL;
	if (c == NULL || *c == '\0')
		return ERR_OK;
	if (strlen(c) > 1700 || (dot = strchr(c, '.')) == NULL)
		return bad_cursor(r);
	if (sodium_base642bin(payload, sizeof(payload) - 1, c, (size_t)(dot - c), NULL, &pl, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    sodium_base642bin(mac, sizeof(mac), dot + 1, strlen(dot + 1), NULL, &ml, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || ml != MAC_BYTES)
		return bad_cursor(r);
	payload[pl] = '\0';
	if (memchr(payload, '\0', pl) != NULL)
		return bad_cursor(r);
	cursor_mac(r, (char *)payload, want);
	if (sodium_memcmp(mac, want, MAC_BYTES) != 0)
		return bad_cursor(r);
	*payload_out = arena_strndup(r->a, (char *)payload, pl);
	return ERR_OK;
}

const char *
list_cursor_new(struct req *r, const char *path, const char *payload)
{
	unsigned char mac[MAC_BYTES];

	cursor_mac_at(r, path, payload, mac);
	return arena_printf(r->a, "%s.%s", b64(r, (const unsigned char *)payload, strlen(payload)),
	    b64(r, mac, MAC_BYTES));
}

enum err
list_begin(struct req *r, struct list_page *p)
{
	const char *c = http_query(r, "cursor"), *payload, *bar;
	enum err    e;

	memset(p, 0, sizeof(*p));
	if ((e = http_limit(r, &p->limit)) != ERR_OK)
		return e;
	first_page(r, p);
	if (c != NULL && strlen(c) > 300)
		return bad_cursor(r);
	if ((e = list_cursor_read(r, &payload)) != ERR_OK || payload == NULL)
		return e;
	if ((bar = strchr(payload, '|')) == NULL || !util_is_uuid(bar + 1))
		return bad_cursor(r);
	p->params[1] = arena_strndup(r->a, payload, (size_t)(bar - payload));
	p->params[2] = arena_strdup(r->a, bar + 1);
	return ERR_OK;
}

void
list_filter(struct list_page *p, const char *value)
{
	if (p->n < 3 + LIST_MAX_FILTERS)
		p->params[p->n++] = value;
}

void
list_filter_visible(struct list_page *p, const struct req *r)
{
	list_filter(p, r->who.role >= ROLE_ADMIN ? "true" : "false");
	list_filter(p, r->who.user_id);
	list_filter(p, r->who.key_project_id);
}

static enum err
respond(struct req *r, struct list_page *p, PGresult *res)
{
	struct buf b;
	int        rows, shown;

	rows = PQntuples(res);
	shown = rows < p->limit ? rows : (int)p->limit;
	/* Lists are written straight to text: no JSON tree for 200 rows. */
	buf_init(&b, r->a, 65536, (size_t)64 << 20);
	buf_adds(&b, "{\"success\":true,\"data\":[");
	if (p->head != NULL && *p->head != '\0') {
		buf_adds(&b, p->head);
		if (shown > 0)
			buf_adds(&b, ",");
	}
	json_write_rows_with(&b, res, 0, shown, p->member);
	buf_adds(&b, "],\"meta\":{\"next_cursor\":");
	if (rows > p->limit) {
		/* The last row shown: its exact created_at (microseconds) and id. */
		const char   *payload = PQfnumber(res, "_cursor") >= 0 ?
		    db_get(res, (int)p->limit - 1, "_cursor") :
		    arena_printf(r->a, "%s|%s", db_get(res, (int)p->limit - 1, "created_at"),
		    db_get(res, (int)p->limit - 1, "id"));

		json_write_string(&b, list_cursor_new(r, r->path, payload));
	} else
		buf_adds(&b, "null");
	buf_adds(&b, "}}");
	if (!buf_ok(&b))
		return ERR_INTERNAL;
	return http_respond_raw(r, 200, "application/json", b.data, b.len);
}

enum err
list_run(struct req *r, struct list_page *p, const struct db_stmt *st)
{
	PGresult *res;
	enum err  e;

	if ((e = db_exec(r, st, p->n, p->params, &res)) != ERR_OK)
		return e;
	return respond(r, p, res);
}

bool
list_prefetch(struct req *r, const struct db_stmt *st, struct db_call *call)
{
	const char       *c = http_query(r, "cursor");
	struct list_page *p = arena_alloc(r->a, sizeof(*p));

	memset(p, 0, sizeof(*p));
	if ((c != NULL && *c != '\0') || !http_limit_ok(r, &p->limit))
		return false;
	first_page(r, p);
	list_filter(p, NULL);	/* the token: auth.c fills it */
	call->st = st;
	call->n = p->n;
	call->params = p->params;
	return true;
}

bool
list_prefetched(struct req *r, struct list_page *p, enum err *e)
{
	const char *const *q = r->prefetch_params;

	if (r->prefetched == NULL || q == NULL || p->n != 3)
		return false;
	for (int i = 0; i < 3; i++)
		if (strcmp(q[i], p->params[i]) != 0)
			return false;
	*e = respond(r, p, r->prefetched);
	return true;
}

enum err
list_all(struct req *r, const struct db_stmt *st)
{
	struct list_page p;
	enum err         e;

	if ((e = list_begin(r, &p)) != ERR_OK)
		return e;
	return list_run(r, &p, st);
}

enum err
list_uuid_query(struct req *r, const char *name, const char **out)
{
	const char *v = http_query(r, name);

	*out = NULL;
	if (v == NULL || *v == '\0')
		return ERR_OK;
	if (!util_is_uuid(v)) {
		return http_field_error(r, "invalid query parameter", name, "must be a UUID");
	}
	*out = v;
	return ERR_OK;
}
