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
	F_OBJECT,
};

struct field {
	const char     *name;
	enum field_type type;
	bool            required;
	bool            nullable;
	int64_t         min, max;
	/* Optional extra check; returns NULL or the message. */
	const char   *(*check)(const cJSON *v);
};

struct field_val {
	bool         present;	/* given and not null */
	bool         null;	/* given as null */
	const char  *s;
	int64_t      i;
	bool         b;
	const cJSON *node;
};

/* Validates r->json against fields (n of them) into out[n]. */
enum err json_fields(struct req *r, const struct field *fields, size_t n,
    struct field_val *out);
#define JSON_FIELDS(r, tbl, out) json_fields((r), (tbl), sizeof(tbl) / sizeof(*(tbl)), (out))
/* The same for a nested object (r->json), naming fields "<prefix><name>". */
enum err json_fields_prefixed(struct req *r, const char *prefix, const struct field *fields,
    size_t n, struct field_val *out);

/* Field checks shared by sections: a slug name ([a-z0-9-], 1..63). */
const char *json_check_slug(const cJSON *v);

/* Builds a details array item {field, message}. */
void json_detail(cJSON *details, const char *field, const char *message);

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
/* A JSON string literal with escapes. */
void json_write_string(struct buf *b, const char *s);

/* RFC 3339 check (what PostgreSQL's timestamptz input will also accept). */
bool json_is_time(const char *s);

#endif
