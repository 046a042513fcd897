/*
 * json.c - body field tables and PGresult rows as JSON (see json.h).
 */
#include "json.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

#include "buf.h"
#include "http.h"
#include "util.h"

/* PostgreSQL type OIDs we render specially. */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_JSON 114
#define OID_JSONB 3802
#define OID_TIMESTAMPTZ 1184
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

const char *
json_check_slug(const cJSON *v)
{
	return util_is_slug(v->valuestring) ? NULL :
	    "must be 1 to 63 of a-z, 0-9 and '-', not starting or ending with '-'";
}

void
json_detail(cJSON *details, const char *field, const char *message)
{
	cJSON *it = cJSON_CreateObject();

	cJSON_AddStringToObject(it, "field", field);
	cJSON_AddStringToObject(it, "message", message);
	cJSON_AddItemToArray(details, it);
}

bool
json_is_time(const char *s)
{
	/* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	size_t            i;

	for (i = 0; shape[i]; i++) {
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) :
		    (shape[i] == 'T' ? (s[i] != 'T' && s[i] != 't') : s[i] != shape[i]))
			return false;
	}
	s += i;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	}
	if (*s == 'Z' || *s == 'z')
		return s[1] == '\0';
	if ((*s == '+' || *s == '-') && isdigit((unsigned char)s[1]) &&
	    isdigit((unsigned char)s[2]) && s[3] == ':' && isdigit((unsigned char)s[4]) &&
	    isdigit((unsigned char)s[5]) && s[6] == '\0')
		return true;
	return false;
}

static const char *
check_one(const struct field *f, const cJSON *v, struct field_val *o)
{
	switch (f->type) {
	case F_STRING:
	case F_UUID:
	case F_EMAIL:
	case F_TIME: {
		size_t n;

		if (!cJSON_IsString(v))
			return "must be a string";
		n = strlen(v->valuestring);
		/* Embedded NULs would be cut by PostgreSQL: refuse them. */
		if (f->type == F_STRING) {
			if ((int64_t)n < f->min)
				return f->min <= 1 ? "must not be empty" : "is too short";
			if (f->max > 0 && (int64_t)n > f->max)
				return "is too long";
		} else if (f->type == F_UUID && !util_is_uuid(v->valuestring))
			return "must be a UUID";
		else if (f->type == F_EMAIL && !util_is_email(v->valuestring))
			return "must be an e-mail address";
		else if (f->type == F_TIME && !json_is_time(v->valuestring))
			return "must be an RFC 3339 timestamp";
		o->s = v->valuestring;
		return NULL;
	}
	case F_INT:
		if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
		    v->valuedouble < (double)f->min || v->valuedouble > (double)f->max)
			return "must be an integer in range";
		o->i = (int64_t)v->valuedouble;
		return NULL;
	case F_NUMBER:
		if (!cJSON_IsNumber(v) || v->valuedouble < (double)f->min ||
		    v->valuedouble > (double)f->max)
			return "must be a number in range";
		return NULL;
	case F_BOOL:
		if (!cJSON_IsBool(v))
			return "must be a boolean";
		o->b = cJSON_IsTrue(v);
		return NULL;
	case F_STRINGS: {
		int n;

		if (!cJSON_IsArray(v))
			return "must be an array of strings";
		n = cJSON_GetArraySize(v);
		if (n < f->min || (f->max > 0 && n > f->max))
			return "has a wrong number of items";
		for (const cJSON *it = v->child; it; it = it->next)
			if (!cJSON_IsString(it))
				return "must be an array of strings";
		return NULL;
	}
	case F_OBJECT:
		if (!cJSON_IsObject(v))
			return "must be an object";
		return NULL;
	}
	return "unsupported field type";
}

enum err
json_fields(struct req *r, const struct field *fields, size_t n, struct field_val *out)
{
	return json_fields_prefixed(r, "", fields, n, out);
}

enum err
json_fields_prefixed(struct req *r, const char *prefix, const struct field *fields, size_t n,
    struct field_val *out)
{
	cJSON *details = cJSON_CreateArray();

	for (size_t i = 0; i < n; i++) {
		const struct field *f = &fields[i];
		const cJSON        *v = r->json ?
		    cJSON_GetObjectItemCaseSensitive(r->json, f->name) : NULL;
		const char         *msg = NULL;

		memset(&out[i], 0, sizeof(out[i]));
		if (v == NULL) {
			if (f->required)
				msg = "is required";
		} else if (cJSON_IsNull(v)) {
			out[i].null = true;
			if (!f->nullable)
				msg = f->required ? "is required" : "must not be null";
		} else if ((msg = check_one(f, v, &out[i])) == NULL &&
		    f->check != NULL) {
			msg = f->check(v);
		}
		if (msg != NULL)
			json_detail(details, *prefix ? arena_printf(r->a, "%s%s", prefix, f->name) :
			    f->name, msg);
		else if (v != NULL && !cJSON_IsNull(v)) {
			out[i].present = true;
			out[i].node = v;
		}
	}
	if (cJSON_GetArraySize(details) > 0)
		return req_fail_details(r, "invalid request body", details);
	cJSON_Delete(details);
	return ERR_OK;
}

enum col_kind { COL_STRING, COL_BOOL, COL_NUMBER, COL_JSON, COL_TIME };

/* How a column of this type appears in JSON (one rule for both writers). */
static enum col_kind
col_kind(Oid type)
{
	switch (type) {
	case OID_BOOL:
		return COL_BOOL;
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
	case OID_FLOAT8:
	case OID_NUMERIC:
		return COL_NUMBER;
	case OID_JSON:
	case OID_JSONB:
		return COL_JSON;
	case OID_TIMESTAMPTZ:
		return COL_TIME;
	default:
		return COL_STRING;
	}
}

/* "2024-01-15 10:30:00.123+00" (session TimeZone UTC) -> "2024-01-15T10:30:00Z" */
static cJSON *
ts_json(const char *v)
{
	char   out[32];
	size_t n = strlen(v);

	if (n < 19 || n >= sizeof(out))
		return cJSON_CreateString(v);
	memcpy(out, v, 19);
	out[10] = 'T';
	out[19] = 'Z';
	out[20] = '\0';
	return cJSON_CreateString(out);
}

cJSON *
json_row(PGresult *res, int row)
{
	cJSON *o;
	int    nf = PQnfields(res), jcol = PQfnumber(res, "_json");

	if (jcol >= 0 && (o = cJSON_Parse(PQgetvalue(res, row, jcol))) != NULL)
		return o;
	o = cJSON_CreateObject();

	for (int c = 0; c < nf; c++) {
		const char *name = PQfname(res, c), *v;
		cJSON      *item;

		if (name[0] == '_')
			continue;
		if (PQgetisnull(res, row, c)) {
			cJSON_AddNullToObject(o, name);
			continue;
		}
		v = PQgetvalue(res, row, c);
		switch (col_kind(PQftype(res, c))) {
		case COL_BOOL:
			item = cJSON_CreateBool(v[0] == 't');
			break;
		case COL_NUMBER:
			item = cJSON_CreateRaw(v);
			break;
		case COL_JSON:
			item = cJSON_Parse(v);
			if (item == NULL)
				item = cJSON_CreateNull();
			break;
		case COL_TIME:
			item = ts_json(v);
			break;
		default:
			item = cJSON_CreateString(v);
		}
		cJSON_AddItemToObject(o, name, item);
	}
	return o;
}

/* Which bytes a JSON string cannot hold as they are: controls, '"', '\\'. */
static const unsigned char needs_escape[256] = {
	[0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1,
	[0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1,
	[0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
	[0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1,
	[0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, ['"'] = 1, ['\\'] = 1,
};

/*
 * Writes s[0..n) as a JSON string at p, which has room for 6 * n + 2
 * bytes (every byte escaped, plus the quotes); returns the end.
 */
static char *
put_string(char *p, const char *s, size_t n)
{
	static const char hx[] = "0123456789abcdef";

	*p++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!needs_escape[c]) {
			*p++ = (char)c;
			continue;
		}
		*p++ = '\\';
		if (c == '"' || c == '\\')
			*p++ = (char)c;
		else if (c == '\n')
			*p++ = 'n';
		else {
			*p++ = 'u';
			*p++ = '0';
			*p++ = '0';
			*p++ = hx[c >> 4];
			*p++ = hx[c & 15];
		}
	}
	*p++ = '"';
	return p;
}

void
json_write_string(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	char  *p = buf_reserve(b, 6 * n + 2);

	if (p != NULL)
		buf_commit(b, put_string(p, s, n));
}

/* One column's key ("name":) and kind, computed once per result. */
struct json_col {
	const char   *key;
	size_t        keylen;
	enum col_kind kind;
	bool          skip;
};

/*
 * One row as a JSON object.  Room for the whole row is reserved once (the
 * worst case: every value byte escaped), then filled without further
 * checks: a list of 200 rows is thousands of values.
 */
static void
write_row(struct buf *b, PGresult *res, int row, const struct json_col *cols, int nf)
{
	size_t need = 2;
	char  *p, *start;

	for (int c = 0; c < nf; c++)
		if (!cols[c].skip)
			need += cols[c].keylen + 1 + 6 * (size_t)PQgetlength(res, row, c) + 8;
	if ((p = start = buf_reserve(b, need)) == NULL)
		return;
	*p++ = '{';
	for (int c = 0; c < nf; c++) {
		const char *v;
		size_t      n;

		if (cols[c].skip)
			continue;
		if (p != start + 1)
			*p++ = ',';
		memcpy(p, cols[c].key, cols[c].keylen);
		p += cols[c].keylen;
		if (PQgetisnull(res, row, c)) {
			memcpy(p, "null", 4);
			p += 4;
			continue;
		}
		v = PQgetvalue(res, row, c);
		n = (size_t)PQgetlength(res, row, c);
		switch (cols[c].kind) {
		case COL_BOOL:
			if (v[0] == 't') {
				memcpy(p, "true", 4);
				p += 4;
			} else {
				memcpy(p, "false", 5);
				p += 5;
			}
			break;
		case COL_NUMBER:
		case COL_JSON:	/* PostgreSQL's json/jsonb text is valid JSON */
			memcpy(p, v, n);
			p += n;
			break;
		case COL_TIME:
			/* "2024-01-15 10:30:00[.123]+00" (session TimeZone UTC) */
			if (n >= 19) {
				*p++ = '"';
				memcpy(p, v, 10);
				p[10] = 'T';
				memcpy(p + 11, v + 11, 8);
				memcpy(p + 19, "Z\"", 2);
				p += 21;
			} else
				p = put_string(p, v, n);
			break;
		default:
			p = put_string(p, v, n);
		}
	}
	*p++ = '}';
	buf_commit(b, p);
}

void
json_write_rows(struct buf *b, PGresult *res, int first, int count)
{
	int              nf = PQnfields(res), jcol = PQfnumber(res, "_json");
	struct json_col *cols;

	if (jcol >= 0) {
		/* Objects kept rendered in their rows (json.h). */
		for (int i = first; i < first + count && i < PQntuples(res); i++) {
			if (i > first)
				buf_add(b, ",", 1);
			buf_add(b, PQgetvalue(res, i, jcol), (size_t)PQgetlength(res, i, jcol));
		}
		return;
	}
	cols = arena_alloc(b->a, (size_t)(nf > 0 ? nf : 1) * sizeof(*cols));

	for (int c = 0; c < nf; c++) {
		const char *name = PQfname(res, c);
		struct buf  k;

		cols[c].skip = name[0] == '_';
		cols[c].kind = col_kind(PQftype(res, c));
		buf_init(&k, b->a, 64, 4096);
		json_write_string(&k, name);
		buf_add(&k, ":", 1);
		cols[c].key = k.data;
		cols[c].keylen = k.len;
	}
	for (int i = first; i < first + count && i < PQntuples(res); i++) {
		if (i > first)
			buf_add(b, ",", 1);
		write_row(b, res, i, cols, nf);
	}
}

cJSON *
json_rows(PGresult *res)
{
	cJSON *a = cJSON_CreateArray();

	for (int i = 0; i < PQntuples(res); i++)
		cJSON_AddItemToArray(a, json_row(res, i));
	return a;
}
