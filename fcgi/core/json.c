/*
 * json.c - body field tables and PGresult rows as JSON (see json.h).
 */
#include "json.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

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
			json_detail(details, f->name, msg);
		else if (v != NULL && !cJSON_IsNull(v)) {
			out[i].present = true;
			out[i].node = v;
		}
	}
	if (cJSON_GetArraySize(details) > 0)
		return http_error_details(r, "invalid request body", details);
	cJSON_Delete(details);
	return ERR_OK;
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
	cJSON *o = cJSON_CreateObject();
	int    nf = PQnfields(res);

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
		switch (PQftype(res, c)) {
		case OID_BOOL:
			item = cJSON_CreateBool(v[0] == 't');
			break;
		case OID_INT2:
		case OID_INT4:
		case OID_INT8:
		case OID_FLOAT8:
		case OID_NUMERIC:
			item = cJSON_CreateRaw(v);
			break;
		case OID_JSON:
		case OID_JSONB:
			item = cJSON_Parse(v);
			if (item == NULL)
				item = cJSON_CreateNull();
			break;
		case OID_TIMESTAMPTZ:
			item = ts_json(v);
			break;
		default:
			item = cJSON_CreateString(v);
		}
		cJSON_AddItemToObject(o, name, item);
	}
	return o;
}

cJSON *
json_rows(PGresult *res)
{
	cJSON *a = cJSON_CreateArray();

	for (int i = 0; i < PQntuples(res); i++)
		cJSON_AddItemToArray(a, json_row(res, i));
	return a;
}
