/*
 * json.c - body field tables and PGresult rows as JSON (see json.h).
 */
#include "json.h"

#include <ctype.h>
#include <math.h>
#include <string.h>
#include <time.h>

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
json_given(struct req *r, const struct field *f, size_t n)
{
	cJSON *o = cJSON_CreateObject();
	char  *s;

	for (size_t i = 0; i < n; i++) {
		cJSON *it = cJSON_GetObjectItemCaseSensitive(r->json, f[i].name);

		if (it != NULL)
			cJSON_AddItemToObject(o, f[i].name, cJSON_Duplicate(it, true));
	}
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (s == NULL)
		return NULL;
	arena_defer(r->a, cJSON_free, s);
	return s;
}

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

static int
digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

bool
json_time_epoch(const char *s, double *out)
{
	/* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), a date of the calendar */
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	static const int  mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char       *t = s, *frac = NULL;
	size_t            i;
	int               y, mo, d, h, mi, sec, off = 0, dim;
	struct tm         tm;

	for (i = 0; shape[i]; i++) {
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) :
		    (shape[i] == 'T' ? (s[i] != 'T' && s[i] != 't') : s[i] != shape[i]))
			return false;
	}
	s += i;
	if (*s == '.') {
		frac = s;
		s++;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	}
	if (*s == 'Z' || *s == 'z') {
		if (s[1] != '\0')
			return false;
	} else if ((*s == '+' || *s == '-') && isdigit((unsigned char)s[1]) &&
	    isdigit((unsigned char)s[2]) && s[3] == ':' && isdigit((unsigned char)s[4]) &&
	    isdigit((unsigned char)s[5]) && s[6] == '\0') {
		if (digits(s + 1, 2) > 15 || digits(s + 4, 2) > 59)
			return false;
		off = (digits(s + 1, 2) * 60 + digits(s + 4, 2)) * 60 * (*s == '-' ? -1 : 1);
	} else
		return false;
	y = digits(t, 4);
	mo = digits(t + 5, 2);
	d = digits(t + 8, 2);
	h = digits(t + 11, 2);
	mi = digits(t + 14, 2);
	sec = digits(t + 17, 2);
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60)
		return false;
	dim = mdays[mo - 1] + (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
	if (d > dim)
		return false;
	if (out != NULL) {
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = sec;
		*out = (double)timegm(&tm) - off;
		for (double scale = 0.1; frac != NULL && isdigit((unsigned char)*++frac); scale /= 10)
			*out += (*frac - '0') * scale;
	}
	return true;
}

bool
json_is_time(const char *s)
{
	return json_time_epoch(s, NULL);
}

static void check_fields(struct req *r, const char *prefix, const cJSON *obj,
    const struct field *fields, size_t n, struct field_val *out, cJSON *details);

/* "must be one of a, b or c" for an F_ENUM. */
static const char *
enum_message(struct req *r, const char *const *o)
{
	const char *m = "must be one of ";

	for (size_t i = 0; o[i]; i++)
		m = arena_printf(r->a, "%s%s%s", m, i == 0 ? "" : o[i + 1] ? ", " : " or ", o[i]);
	return m;
}

/* The detail name of a nested field: prefix + name (+ "[i]" or ".KEY"). */
static const char *
sub_name(struct req *r, const char *prefix, const struct field *f)
{
	if (f->flags & FIELD_BODY)
		return prefix;
	return *prefix ? arena_printf(r->a, "%s%s", prefix, f->name) : f->name;
}

/*
 * Checks v against f (v given, not null).  Returns NULL or the message for
 * the field itself; problems inside a nested object, array or map are
 * added to details under their own names (and NULL is returned).
 */
static const char *
check_one(struct req *r, const char *name, const struct field *f, const cJSON *v,
    struct field_val *o, cJSON *details)
{
	switch (f->type) {
	case F_STRING:
	case F_UUID:
	case F_EMAIL:
	case F_TIME:
	case F_ENUM: {
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
		else if (f->type == F_ENUM) {
			size_t i;

			for (i = 0; f->options[i] && strcmp(f->options[i], v->valuestring) != 0; i++)
				;
			if (f->options[i] == NULL)
				return enum_message(r, f->options);
		}
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
	case F_STRINGS:
	case F_UUIDS:
	case F_ARRAY: {
		const char *want = f->type == F_STRINGS ? "must be an array of strings" :
		    f->type == F_UUIDS ? "must be an array of UUIDs" : "must be an array of objects";
		int         n, i = 0;

		if (!cJSON_IsArray(v))
			return want;
		n = cJSON_GetArraySize(v);
		if (n < f->min || (f->max > 0 && n > f->max))
			return f->max > 0 ? arena_printf(r->a, "must have %lld to %lld items",
			    (long long)f->min, (long long)f->max) : "has a wrong number of items";
		for (const cJSON *it = v->child; it; it = it->next, i++) {
			if (f->type == F_STRINGS && !cJSON_IsString(it))
				return want;
			if (f->type == F_UUIDS && !(cJSON_IsString(it) && util_is_uuid(it->valuestring)))
				return want;
			if (f->type == F_ARRAY) {
				if (!cJSON_IsObject(it))
					json_detail(details, arena_printf(r->a, "%s[%d]", name, i),
					    "must be an object");
				else {
					int         before = cJSON_GetArraySize(details);
					const char *m, *sub = NULL;

					check_fields(r, arena_printf(r->a, "%s[%d].", name, i), it,
					    f->sub, f->nsub, NULL, details);
					if (f->item_check != NULL &&
					    cJSON_GetArraySize(details) == before &&
					    (m = f->item_check(it, v, &sub)) != NULL)
						json_detail(details, sub ? arena_printf(r->a,
						    "%s[%d].%s", name, i, sub) :
						    arena_printf(r->a, "%s[%d]", name, i), m);
				}
			}
		}
		return NULL;
	}
	case F_OBJECT:
		if (!cJSON_IsObject(v))
			return "must be an object";
		if (f->sub != NULL)
			check_fields(r, arena_printf(r->a, "%s.", name), v, f->sub, f->nsub, NULL,
			    details);
		return NULL;
	case F_MAP: {
		const char *pre = (f->flags & FIELD_BODY) ? "" : arena_printf(r->a, "%s.", name);
		int         n;

		if (!cJSON_IsObject(v))
			return "must be an object";
		n = cJSON_GetArraySize(v);
		if (n < f->min || (f->max > 0 && n > f->max))
			return arena_printf(r->a, "must have at most %lld entries", (long long)f->max);
		for (const cJSON *it = v->child; it; it = it->next) {
			const char      *kname = arena_printf(r->a, "%s%s", pre, it->string);
			const char      *m = f->key_check ? f->key_check(it->string) : NULL;
			struct field_val ignored;

			if (m == NULL) {
				if (cJSON_IsNull(it))
					m = f->sub[0].nullable ? NULL : "must not be null";
				else if ((m = check_one(r, kname, &f->sub[0], it, &ignored,
				    details)) == NULL && f->sub[0].check != NULL)
					m = f->sub[0].check(it);
			}
			if (m != NULL)
				json_detail(details, kname, m);
		}
		return NULL;
	}
	}
	return "unsupported field type";
}

/* Checks the fields of obj (NULL = none given); out may be NULL. */
static void
check_fields(struct req *r, const char *prefix, const cJSON *obj, const struct field *fields,
    size_t n, struct field_val *out, cJSON *details)
{
	for (size_t i = 0; i < n; i++) {
		const struct field *f = &fields[i];
		const char         *name = sub_name(r, prefix, f);
		const cJSON        *v = (f->flags & FIELD_BODY) ? obj :
		    obj ? cJSON_GetObjectItemCaseSensitive(obj, f->name) : NULL;
		struct field_val    one, *o = out ? &out[i] : &one;
		const char         *msg = NULL;
		int                 before = cJSON_GetArraySize(details);

		memset(o, 0, sizeof(*o));
		if (v == NULL) {
			if (f->required)
				msg = "is required";
		} else if (cJSON_IsNull(v)) {
			o->null = true;
			if (!f->nullable)
				msg = f->required ? "is required" : "must not be null";
		} else if ((msg = check_one(r, name, f, v, o, details)) == NULL &&
		    cJSON_GetArraySize(details) == before && f->check != NULL) {
			msg = f->check(v);
		}
		if (msg != NULL)
			json_detail(details, (f->flags & FIELD_BODY) ? f->name : name, msg);
		else if (v != NULL && !cJSON_IsNull(v) && cJSON_GetArraySize(details) == before) {
			o->present = true;
			o->node = v;
		}
	}
}

enum err
json_fields_rule(struct req *r, const struct field *fields, size_t n, struct field_val *out,
    field_rule rule)
{
	return json_fields_at(r, "", r->json, fields, n, out, rule);
}

enum err
json_fields_at(struct req *r, const char *prefix, const cJSON *obj, const struct field *fields,
    size_t n, struct field_val *out, field_rule rule)
{
	cJSON *details = cJSON_CreateArray(), *ruled, *it;

	check_fields(r, prefix, obj, fields, n, out, details);
	if (rule != NULL && cJSON_GetArraySize(details) == 0) {
		/* The rule names fields as the table does: the prefix goes on. */
		ruled = cJSON_CreateArray();
		rule(r, out, ruled);
		while ((it = cJSON_DetachItemFromArray(ruled, 0)) != NULL) {
			const char *f = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it,
			    "field"));

			if (*prefix && f != NULL)
				cJSON_SetValuestring(cJSON_GetObjectItemCaseSensitive(it, "field"),
				    arena_printf(r->a, "%s%s", prefix, f));
			cJSON_AddItemToArray(details, it);
		}
		cJSON_Delete(ruled);
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
	json_write_rows_with(b, res, first, count, NULL);
}

/* Puts m's member of row last in the object just written (ends with '}'). */
static void
add_member(struct buf *b, PGresult *res, int row, const struct json_member *m)
{
	const char *v;

	if (m == NULL || (v = m->fn(m->ctx, res, row)) == NULL || b->overflow || b->len < 2 ||
	    b->data[b->len - 1] != '}')
		return;
	b->len--;
	if (b->data[b->len - 1] != '{')
		buf_add(b, ",", 1);
	buf_adds(b, v);
	buf_add(b, "}", 1);
}

void
json_write_rows_with(struct buf *b, PGresult *res, int first, int count,
    const struct json_member *m)
{
	int              nf = PQnfields(res), jcol = PQfnumber(res, "_json");
	struct json_col *cols;

	if (jcol >= 0) {
		/* Objects kept rendered in their rows (json.h). */
		for (int i = first; i < first + count && i < PQntuples(res); i++) {
			if (i > first)
				buf_add(b, ",", 1);
			buf_add(b, PQgetvalue(res, i, jcol), (size_t)PQgetlength(res, i, jcol));
			add_member(b, res, i, m);
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
		add_member(b, res, i, m);
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

/* ------------------------------------------------ strings of a body */

bool
json_utf8_ok(const char *text)
{
	const unsigned char *s = (const unsigned char *)text;

	while (*s) {
		unsigned char c = *s;
		int           n;
		uint32_t      cp, min;

		if (c < 0x80) {
			s++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			n = 1, cp = c & 0x1f, min = 0x80;
		else if ((c & 0xf0) == 0xe0)
			n = 2, cp = c & 0x0f, min = 0x800;
		else if ((c & 0xf8) == 0xf0)
			n = 3, cp = c & 0x07, min = 0x10000;
		else
			return false;
		for (int i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

struct str_walk {
	struct arena *a;
	const char   *raw, *end;	/* the body's text, scanned in step with the tree */
	cJSON        *details;
	int           bad;
};

/*
 * The next string token of the raw text (keys and values alike, in
 * document order, which is cJSON's order of items): true when it holds a
 * \u0000 escape, which cJSON decodes into a NUL that ends the C string.
 */
static bool
next_token_has_nul(struct str_walk *w)
{
	bool nul = false;

	while (w->raw < w->end && *w->raw != '"')
		w->raw++;
	for (w->raw++; w->raw < w->end && *w->raw != '"'; w->raw++) {
		if (*w->raw != '\\')
			continue;
		w->raw++;
		if (w->end - w->raw >= 5 && memcmp(w->raw, "u0000", 5) == 0)
			nul = true;
	}
	w->raw++;
	return nul;
}

static void
walk_report(struct str_walk *w, const char *field, const char *message)
{
	if (w->bad++ < 20)
		json_detail(w->details, field[0] ? field : "(body)", message);
}

static void
walk_strings(struct str_walk *w, const cJSON *node, const char *path)
{
	int i = 0;

	for (const cJSON *it = node->child; it != NULL; it = it->next, i++) {
		const char *p = path;

		if (cJSON_IsObject(node)) {
			if (next_token_has_nul(w))
				walk_report(w, path, "a key holds a NUL character (\\u0000)");
			else if (!json_utf8_ok(it->string))
				walk_report(w, path, "a key is not valid UTF-8");
			else
				p = path[0] ? arena_printf(w->a, "%s.%s", path, it->string) :
				    it->string;
		} else
			p = arena_printf(w->a, "%s[%d]", path, i);
		if (cJSON_IsString(it)) {
			if (next_token_has_nul(w))
				walk_report(w, p, "must not contain a NUL character (\\u0000)");
			else if (!json_utf8_ok(it->valuestring))
				walk_report(w, p, "must be valid UTF-8");
		} else if (cJSON_IsArray(it) || cJSON_IsObject(it))
			walk_strings(w, it, p);
	}
}

cJSON *
json_bad_strings(struct arena *a, const char *raw, size_t len, const cJSON *root)
{
	struct str_walk w = {a, raw, raw + len, cJSON_CreateArray(), 0};

	/* Nothing to find: no escape that could be \u0000, no byte above 0x7f. */
	if (memmem(raw, len, "\\u0000", 6) == NULL) {
		size_t i = 0;

		while (i < len && (unsigned char)raw[i] < 0x80)
			i++;
		if (i == len) {
			cJSON_Delete(w.details);
			return NULL;
		}
	}
	if (cJSON_IsObject(root) || cJSON_IsArray(root))
		walk_strings(&w, root, "");
	if (w.bad == 0) {
		cJSON_Delete(w.details);
		return NULL;
	}
	return w.details;
}
