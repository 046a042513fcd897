/*
 * json.h - declared body fields and result rows as JSON.
 *
 * A handler declares its body as a table of struct field; json_fields()
 * checks every field before the handler's logic runs and returns
 * ERR_BAD_REQUEST with error.details listing every bad field at once
 * (req_fail_details: the router answers it).  Unknown fields are
 * ignored (API.md §0).
 */
#ifndef LAUNCHER_JSON_H
#define LAUNCHER_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include "err.h"

struct req;

enum field_type {
	F_STRING,	/* min/max = length in bytes */
	F_INT,		/* min/max = value */
	F_NUMBER,	/* any JSON number; min/max = value */
	F_BOOL,
	F_UUID,
	F_EMAIL,
	F_TIME,		/* RFC 3339 */
	F_STRINGS,	/* array of strings; min/max = count */
	F_OBJECT,	/* an object; with sub, its fields are checked too ("name.field") */
	F_ENUM,		/* a string among options (NULL-terminated) */
	F_ARRAY,	/* array of objects, each checked against sub ("name[i].field");
			 * min/max = count */
	F_UUIDS,	/* array of UUID strings; min/max = count */
	F_MAP,		/* object of name -> value: keys pass key_check, each value is
			 * checked against sub[0] ("name.KEY"); min/max = count */
};

/* Field flags. */
enum {
	/* The field is the body itself (an F_MAP body: PUT /env); its details
	 * name the keys alone, its count errors name the field. */
	FIELD_BODY = 1 << 0,
};

struct field {
	const char     *name;
	enum field_type type;
	bool            required;
	bool            nullable;
	int64_t         min, max;
	/* Optional extra check; returns NULL or the message. */
	const char   *(*check)(const cJSON *v);
	/* F_ENUM: the allowed strings, NULL-terminated. */
	const char *const  *options;
	/* F_OBJECT, F_ARRAY: the fields of the object / of each item;
	 * F_MAP: sub[0] checks each value (its name is not used). */
	const struct field *sub;
	size_t              nsub;
	/* F_ARRAY: each object item whose own fields passed, with the whole
	 * array (rules across items); NULL or the message for "name[i]", or for
	 * "name[i].<*sub>" when it sets *sub. */
	const char        *(*item_check)(const cJSON *item, const cJSON *array,
	    const char **sub);
	/* F_MAP: each key; returns NULL or the message. */
	const char        *(*key_check)(const char *key);
	unsigned            flags;
};

/* sub and nsub of a nested table. */
#define FIELD_SUB(tbl) .sub = (tbl), .nsub = sizeof(tbl) / sizeof(*(tbl))

struct field_val {
	bool         present;	/* given and not null */
	bool         null;	/* given as null */
	const char  *s;
	int64_t      i;
	bool         b;
	const cJSON *node;
};

/*
 * A rule across fields, run after every field passed its own checks (so v
 * holds valid values): adds a json_detail for each violation.
 */
typedef void (*field_rule)(struct req *r, const struct field_val *v, cJSON *details);

/*
 * Validates r->json against fields (n of them) into out[n], nested tables
 * included, then runs rule (may be NULL) if every field passed.  Every
 * problem of the body is reported at once: 400 with error.details.
 */
enum err json_fields_rule(struct req *r, const struct field *fields, size_t n,
    struct field_val *out, field_rule rule);
/*
 * The same for obj (a body or an object inside one, NULL = nothing given),
 * every detail named prefix + field ("applications.web." for an
 * application of a template), the rule's too.
 */
enum err json_fields_at(struct req *r, const char *prefix, const cJSON *obj,
    const struct field *fields, size_t n, struct field_val *out, field_rule rule);
#define json_fields(r, fields, n, out) json_fields_rule((r), (fields), (n), (out), NULL)
#define JSON_FIELDS(r, tbl, out) json_fields_rule((r), (tbl), sizeof(tbl) / sizeof(*(tbl)), \
	(out), NULL)
#define JSON_FIELDS_RULE(r, tbl, out, rule) json_fields_rule((r), (tbl), \
	sizeof(tbl) / sizeof(*(tbl)), (out), (rule))
/*
 * The fields of table f (n of them) that r->json gives, null included, as
 * JSON object text in the request's arena (NULL when out of memory): the
 * $2 of a DB_PATCH (db.h) or the body an SQL create function reads, with
 * no field the table does not declare.
 */
const char *json_given(struct req *r, const struct field *f, size_t n);
#define JSON_GIVEN(r, tbl) json_given((r), (tbl), sizeof(tbl) / sizeof(*(tbl)))
/* Field checks shared by sections: a slug name ([a-z0-9-], 1..63). */
const char *json_check_slug(const cJSON *v);

/* Builds a details array item {field, message}. */
void json_detail(cJSON *details, const char *field, const char *message);

/* Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF):
 * what a query parameter needs before it goes into JSON or the database. */
bool json_utf8_ok(const char *s);

struct arena;
/*
 * Every string of a parsed body, keys included, at any depth, checked
 * against raw[0..len), the text root was parsed from: a \u0000 escape
 * (cJSON would cut the string there) or bytes that are not UTF-8 (stored,
 * they later break the JSON the API writes).  NULL when all are fine,
 * else a details array naming each bad one ("env.KEY", "volumes[1].name";
 * a bad key names its object), which the caller owns.
 */
cJSON *json_bad_strings(struct arena *a, const char *raw, size_t len, const cJSON *root);

/*
 * One row as an object: column names become keys; bool, integer and json
 * columns keep their JSON types, timestamptz becomes RFC 3339 UTC with Z,
 * NULL becomes null, everything else a string.  Columns whose name starts
 * with '_' are internal and skipped.  A result with a column `_json` holds
 * objects its rows keep rendered (sql/011_project_json.sql): that column
 * is the object, here and in json_write_rows.
 */
cJSON *json_row(PGresult *res, int row);
/* All rows as an array. */
cJSON *json_rows(PGresult *res);

struct buf;
/* Rows first..first+count-1 as json_row objects, comma-separated, as text. */
void json_write_rows(struct buf *b, PGresult *res, int first, int count);
/*
 * A member the caller adds to each row's object: the text `"key":value`
 * (valid JSON, e.g. built with json_write_string), or NULL for none.
 * Used for a field that depends on who asks (a project's my_role), which
 * a row kept rendered in the database cannot hold.
 */
struct json_member {
	const char *(*fn)(void *ctx, PGresult *res, int row);
	void        *ctx;
};
/* json_write_rows, with m's member (m may be NULL) last in each object. */
void json_write_rows_with(struct buf *b, PGresult *res, int first, int count,
    const struct json_member *m);
/* A JSON string literal with escapes. */
void json_write_string(struct buf *b, const char *s);

/* RFC 3339 check (what PostgreSQL's timestamptz input will also accept). */
bool json_is_time(const char *s);
/* An RFC 3339 time (json_is_time: a real calendar date, an offset of at most
 * 15:59) as epoch seconds in *out (when not NULL); false if it is not one. */
bool json_time_epoch(const char *s, double *out);

#endif
