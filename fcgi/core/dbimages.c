/*
 * dbimages.c - the one parser of the managed databases' image table
 * (database_images_file); format and contracts in dbimages.h.
 */
#include "dbimages.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define COLS       10
#define LINE_MAX_  4096		/* bytes of one line, as config.c */
#define WORDS_MAX  (COLS + 2 * DBIMAGES_ARGV_MAX)
#define FILE_MAX   (1 << 20)	/* a table is a few KB; refuse anything absurd */

enum col { C_TYPE, C_VERSION, C_IMAGE, C_PORT, C_PATH, C_EUSER, C_EPASS, C_EDB, C_READY, C_CLIENT };

static const char *const col_name[COLS] = {
	"type", "version", "image", "port", "data path", "user env", "password env",
	"database env", "readiness argv", "client argv",
};

/* The API's types (API.md §5); a table row of another type is a typo. */
static const char *const types[] = {"postgres", "mysql", "redis", "mongodb", "clickhouse"};

/* One line split into columns of words; the words live in buf. */
struct split {
	char   buf[2 * LINE_MAX_];
	char  *word[WORDS_MAX];
	int    col[WORDS_MAX];
	int    nw;
	int    ncols;
};

/*
 * Splits line (NUL-terminated, no newline) into s; 0, or -1 with the
 * reason in why.  Shell-like quoting as dbimages.h says; an unquoted '|'
 * ends a column.
 */
static int
split_line(const char *line, struct split *s, char *why, size_t whylen)
{
	const char *p = line;
	size_t      o = 0;
	bool        inword = false;
	int         col = 0;

	s->nw = 0;
	for (;;) {
		char c = *p;

		if (c == '\0' || c == '|' || isspace((unsigned char)c)) {
			if (inword) {
				s->buf[o++] = '\0';
				inword = false;
			}
			if (c == '\0')
				break;
			if (c == '|' && ++col >= COLS) {
				util_snprintf(why, whylen, "more than %d columns", COLS);
				return -1;
			}
			p++;
			continue;
		}
		if (!inword) {
			if (s->nw >= WORDS_MAX) {
				util_snprintf(why, whylen, "too many words");
				return -1;
			}
			s->word[s->nw] = s->buf + o;
			s->col[s->nw++] = col;
			inword = true;
		}
		if (c == '\'') {
			for (p++; *p != '\0' && *p != '\''; p++)
				s->buf[o++] = *p;
			if (*p == '\0') {
				util_snprintf(why, whylen, "unterminated ' quote in the %s", col_name[col]);
				return -1;
			}
			p++;
		} else if (c == '"') {
			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				s->buf[o++] = *p;
			}
			if (*p == '\0') {
				util_snprintf(why, whylen, "unterminated \" quote in the %s", col_name[col]);
				return -1;
			}
			p++;
		} else if (c == '\\') {
			if (p[1] == '\0') {
				util_snprintf(why, whylen, "a backslash ends the line");
				return -1;
			}
			s->buf[o++] = p[1];
			p += 2;
		} else {
			s->buf[o++] = c;
			p++;
		}
	}
	s->ncols = col + 1;
	return 0;
}

static bool
charset(const char *s, size_t maxlen, const char *extra)
{
	size_t n = strlen(s);

	if (n == 0 || n > maxlen || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr(extra, s[i]) == NULL)
			return false;
	return true;
}

static bool
valid_env(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

static bool
valid_path(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > 255 || s[0] != '/' || strstr(s, "/../") != NULL ||
	    (n >= 3 && strcmp(s + n - 3, "/..") == 0))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)s[i]) || s[i] == ':' || s[i] == ',')
			return false;	/* ':' and ',' would break a mount spec */
	return true;
}

static void
argv_free(char **v)
{
	if (v == NULL)
		return;
	for (char **p = v; *p != NULL; p++)
		free(*p);
	free(v);
}

static void
row_free(struct dbimage *d)
{
	free(d->type);
	free(d->version);
	free(d->image);
	free(d->data_path);
	free(d->env_user);
	free(d->env_password);
	free(d->env_database);
	argv_free(d->readiness);
	argv_free(d->client);
	memset(d, 0, sizeof(*d));
}

void
dbimages_free(struct dbimages *t)
{
	for (size_t i = 0; i < t->n; i++)
		row_free(&t->rows[i]);
	free(t->rows);
	t->rows = NULL;
	t->n = 0;
}

/* The words of column c as a NULL-terminated copy; NULL when out of memory. */
static char **
argv_of(const struct split *s, int c)
{
	char **v;
	int    n = 0;

	for (int i = 0; i < s->nw; i++)
		n += s->col[i] == c;
	if ((v = calloc((size_t)n + 1, sizeof(*v))) == NULL)
		return NULL;
	n = 0;
	for (int i = 0; i < s->nw; i++)
		if (s->col[i] == c && (v[n++] = strdup(s->word[i])) == NULL) {
			argv_free(v);
			return NULL;
		}
	return v;
}

/*
 * One split line into *d; 0, or -1 with the reason in why (*d then holds
 * what was copied so far: row_free it).
 */
static int
row_from(const struct split *s, const struct dbimages *t, struct dbimage *d, char *why,
    size_t whylen)
{
	const char *one[COLS] = {0};
	int         count[COLS] = {0};
	int64_t     port;
	bool        known = false;

	if (s->ncols != COLS) {
		util_snprintf(why, whylen, "%d columns, expected %d (%s | ... | %s)", s->ncols, COLS,
		    col_name[0], col_name[COLS - 1]);
		return -1;
	}
	for (int i = 0; i < s->nw; i++)
		if (count[s->col[i]]++ == 0)
			one[s->col[i]] = s->word[i];
	for (int c = 0; c < COLS; c++) {
		if (count[c] == 0) {
			util_snprintf(why, whylen, "the %s is empty", col_name[c]);
			return -1;
		}
		if (c < C_READY && count[c] != 1) {
			util_snprintf(why, whylen, "the %s must be one word", col_name[c]);
			return -1;
		}
		if (c >= C_READY && count[c] > DBIMAGES_ARGV_MAX) {
			util_snprintf(why, whylen, "the %s has more than %d words", col_name[c],
			    DBIMAGES_ARGV_MAX);
			return -1;
		}
	}
	for (size_t i = 0; i < sizeof(types) / sizeof(*types); i++)
		known = known || strcmp(one[C_TYPE], types[i]) == 0;
	if (!known) {
		util_snprintf(why, whylen, "unknown type '%.32s' (postgres, mysql, redis, mongodb or clickhouse)",
		    one[C_TYPE]);
		return -1;
	}
	if (!charset(one[C_VERSION], 32, "._-")) {
		util_snprintf(why, whylen, "bad version '%.40s'", one[C_VERSION]);
		return -1;
	}
	if (dbimages_find(t, one[C_TYPE], one[C_VERSION]) != NULL) {
		util_snprintf(why, whylen, "%s %s is listed twice", one[C_TYPE], one[C_VERSION]);
		return -1;
	}
	if (!charset(one[C_IMAGE], 255, "._-/:@")) {
		util_snprintf(why, whylen, "bad image '%.64s'", one[C_IMAGE]);
		return -1;
	}
	if (util_parse_i64(one[C_PORT], 1, 65535, &port) != 0) {
		util_snprintf(why, whylen, "bad port '%.16s' (1-65535)", one[C_PORT]);
		return -1;
	}
	if (!valid_path(one[C_PATH])) {
		util_snprintf(why, whylen, "bad data path '%.64s' (absolute, no ':' ',' '..' or space)",
		    one[C_PATH]);
		return -1;
	}
	for (int c = C_EUSER; c <= C_EDB; c++) {
		if (strcmp(one[c], "-") == 0 && c != C_EPASS) {
			one[c] = NULL;
			continue;
		}
		if (!valid_env(one[c])) {
			util_snprintf(why, whylen, "bad %s '%.64s'%s", col_name[c], one[c],
			    c == C_EPASS ? " (required)" : " (a name, or - for none)");
			return -1;
		}
		for (int o = C_EUSER; o < c; o++)
			if (one[o] != NULL && strcmp(one[o], one[c]) == 0) {
				util_snprintf(why, whylen, "the %s repeats the %s", col_name[c], col_name[o]);
				return -1;
			}
	}
	d->port = (int)port;
	if ((d->type = strdup(one[C_TYPE])) == NULL || (d->version = strdup(one[C_VERSION])) == NULL ||
	    (d->image = strdup(one[C_IMAGE])) == NULL || (d->data_path = strdup(one[C_PATH])) == NULL ||
	    (d->env_password = strdup(one[C_EPASS])) == NULL ||
	    (one[C_EUSER] != NULL && (d->env_user = strdup(one[C_EUSER])) == NULL) ||
	    (one[C_EDB] != NULL && (d->env_database = strdup(one[C_EDB])) == NULL) ||
	    (d->readiness = argv_of(s, C_READY)) == NULL || (d->client = argv_of(s, C_CLIENT)) == NULL) {
		util_snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

int
dbimages_parse(struct dbimages *t, const char *text, size_t len, const char *name, char *err,
    size_t errlen)
{
	struct split *s;
	char          line[LINE_MAX_ + 1], why[256];
	size_t        pos = 0;
	int           lineno = 0, rc = -1;

	memset(t, 0, sizeof(*t));
	if (memchr(text, '\0', len) != NULL) {
		util_snprintf(err, errlen, "%s: holds a NUL byte", name);
		return -1;
	}
	if ((s = malloc(sizeof(*s))) == NULL ||
	    (t->rows = calloc(DBIMAGES_MAX, sizeof(*t->rows))) == NULL) {
		util_snprintf(err, errlen, "%s: out of memory", name);
		goto out;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t      n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
		char       *p;

		lineno++;
		if (n > LINE_MAX_) {
			util_snprintf(err, errlen, "%s:%d: line too long", name, lineno);
			goto out;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;
		p = util_trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		if (t->n >= DBIMAGES_MAX) {
			util_snprintf(err, errlen, "%s:%d: more than %d rows", name, lineno, DBIMAGES_MAX);
			goto out;
		}
		why[0] = '\0';
		if (split_line(p, s, why, sizeof(why)) != 0 ||
		    row_from(s, t, &t->rows[t->n], why, sizeof(why)) != 0) {
			row_free(&t->rows[t->n]);
			util_snprintf(err, errlen, "%s:%d: %s", name, lineno, why);
			goto out;
		}
		t->n++;
	}
	rc = 0;
out:
	free(s);
	if (rc != 0)
		dbimages_free(t);
	return rc;
}

int
dbimages_load(struct dbimages *t, const char *path, char *err, size_t errlen)
{
	FILE  *f;
	char  *text;
	size_t n;
	int    rc;

	memset(t, 0, sizeof(*t));
	if ((f = fopen(path, "r")) == NULL) {
		util_snprintf(err, errlen, "%s: cannot open", path);
		return -1;
	}
	if ((text = malloc(FILE_MAX + 1)) == NULL) {
		fclose(f);
		util_snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	n = fread(text, 1, FILE_MAX + 1, f);
	if (ferror(f) || n > FILE_MAX) {
		util_snprintf(err, errlen, "%s: %s", path, ferror(f) ? "read error" : "larger than 1 MiB");
		rc = -1;
	} else {
		rc = dbimages_parse(t, text, n, path, err, errlen);
	}
	fclose(f);
	free(text);
	return rc;
}

const struct dbimage *
dbimages_find(const struct dbimages *t, const char *type, const char *version)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->rows[i].type, type) == 0 &&
		    (version == NULL || strcmp(t->rows[i].version, version) == 0))
			return &t->rows[i];
	return NULL;
}

int
dbimages_versions(const struct dbimages *t, const char *type, char *out, size_t outlen)
{
	size_t n = 0;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	for (size_t i = 0; i < t->n; i++) {
		int w;

		if (strcmp(t->rows[i].type, type) != 0)
			continue;
		w = snprintf(out + n, outlen - n, "%s%s", n > 0 ? ", " : "", t->rows[i].version);
		if (w < 0 || (size_t)w >= outlen - n) {
			out[n] = '\0';
			return -1;
		}
		n += (size_t)w;
	}
	return 0;
}

int
dbimages_has_type(const struct dbimages *t, const char *type)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->rows[i].type, type) == 0)
			return 1;
	return 0;
}

static cJSON *
add_name(cJSON *obj, const char *key, const char *v)
{
	return v != NULL ? cJSON_AddStringToObject(obj, key, v) : cJSON_AddNullToObject(obj, key);
}

int
dbimage_payload(const struct dbimage *d, cJSON *obj)
{
	cJSON *ready, *names;

	if (cJSON_AddStringToObject(obj, "image", d->image) == NULL ||
	    cJSON_AddNumberToObject(obj, "port", d->port) == NULL ||
	    cJSON_AddStringToObject(obj, "data_path", d->data_path) == NULL ||
	    (ready = cJSON_AddArrayToObject(obj, "readiness")) == NULL ||
	    (names = cJSON_AddObjectToObject(obj, "env_names")) == NULL)
		return -1;
	for (char **p = d->readiness; *p != NULL; p++) {
		cJSON *w = cJSON_CreateString(*p);

		if (w == NULL || !cJSON_AddItemToArray(ready, w)) {
			cJSON_Delete(w);
			return -1;
		}
	}
	if (add_name(names, "user", d->env_user) == NULL ||
	    add_name(names, "password", d->env_password) == NULL ||
	    add_name(names, "database", d->env_database) == NULL)
		return -1;
	return 0;
}
