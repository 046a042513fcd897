/*
 * dbimages.h - the image table of managed databases: which engine image
 * serves each type x version, and how the agent runs it (port, data path,
 * readiness command, the env names that carry the credentials, the client
 * of the terminal).  Read once from launcher.conf's database_images_file
 * (conf/database-images.conf) by the pool's master, at start and on every
 * reload; workers inherit it (struct worker's dbimages).  A site points
 * the table at its own registry or mirror by editing the image column.
 *
 * Format: one row per line, ten columns separated by '|':
 *
 *   type | version | image | port | data path | user env | password env |
 *       database env | readiness argv | client argv
 *
 * '#' starts a comment line; blank lines are skipped.  Inside a column,
 * words are split on white space with shell-like quoting: '...' is
 * literal, "..." allows \" and \\, a backslash outside quotes escapes the
 * next character; a quoted '|' does not end the column.  The scalar
 * columns hold exactly one word; an env column holds "-" when the engine
 * has no such credential (Redis: no user, no database name).  The two argv
 * columns are run inside the database container without a shell (so
 * "$X" in them is literal unless the argv itself is "sh -c '...'"):
 *   readiness  exits 0 once the engine accepts connections; it must need
 *              no credential (pg_isready, mysqladmin ping, redis-cli ping)
 *   client     the terminal's command; it reads the credentials from the
 *              row's three env names, which the terminal sets to the
 *              current values (never argv)
 * Refused, with "path:line: reason": a wrong number of columns, an unknown
 * type (postgres|mysql|redis|mongodb|clickhouse), a bad version, image, port, path or
 * env name, a missing password env, an empty argv, a duplicate
 * type x version, more than DBIMAGES_MAX rows.  An empty table is valid
 * (no database can be created).
 */
#ifndef LAUNCHER_DBIMAGES_H
#define LAUNCHER_DBIMAGES_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define DBIMAGES_MAX      64	/* rows of one table */
#define DBIMAGES_ARGV_MAX 32	/* words of one argv column */

struct dbimage {
	char  *type;		/* postgres | mysql | redis | mongodb | clickhouse */
	char  *version;		/* "15", "10.11", "7" ([A-Za-z0-9._-]{1,32}) */
	char  *image;		/* engine image reference */
	int    port;		/* the engine's port inside the container */
	char  *data_path;	/* absolute path the data volume is mounted on */
	char  *env_user;	/* env names; NULL when the engine has none */
	char  *env_password;	/* never NULL */
	char  *env_database;
	char **readiness;	/* NULL-terminated argv, at least one word */
	char **client;		/* NULL-terminated argv, at least one word */
};

struct dbimages {
	struct dbimage *rows;	/* in file order */
	size_t          n;
};

/*
 * Reads path into *t (zeroed first).  0, or -1 with "path:line: reason"
 * (or "path: cannot open") in err and *t empty.  The caller frees *t with
 * dbimages_free.
 */
int  dbimages_load(struct dbimages *t, const char *path, char *err, size_t errlen);
/* The same from a buffer of text; name stands for the path in errors. */
int  dbimages_parse(struct dbimages *t, const char *text, size_t len, const char *name,
	char *err, size_t errlen);
void dbimages_free(struct dbimages *t);
/*
 * The row of type x version, or NULL.  version NULL: the type's default,
 * its first row in the file.
 */
const struct dbimage *dbimages_find(const struct dbimages *t, const char *type,
	const char *version);
/* True when some row has this type (an unknown version vs an unknown type). */
int  dbimages_has_type(const struct dbimages *t, const char *type);
/*
 * The type's versions in file order, ", "-separated, into out (for a 400's
 * message: "one of 15, 16"); "" when none.  0, or -1 when out is too small
 * (out then holds as many whole versions as fit).
 */
int  dbimages_versions(const struct dbimages *t, const char *type, char *out, size_t outlen);
/*
 * Adds the row's part of a db.* job payload to obj: "image", "port",
 * "data_path", "readiness" (array of strings) and "env_names" ({user,
 * password, database}, null where the engine has none).  0 or -1 (out of
 * memory; obj may hold some of the keys).
 */
int  dbimage_payload(const struct dbimage *d, cJSON *obj);

#endif
