/*
 * template.c - owns the template format: parse (core/yaml.h), check every
 * field at every level, rewrite references, sort resources into creation
 * order (template.h describes the plan).
 *
 * Every error is collected (up to TPL_MAX_ERRORS) with its field path
 * ("applications.n8n.exposed_ports[1]") and the line and column of the key
 * or item it is about, so that a user fixes a template in one round.
 * Memory: one local arena for paths and messages; the plan and the errors
 * are cJSON trees handed to the caller.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"
#include "buf.h"
#include "template.h"
#include "util.h"
#include "yaml.h"

/* Beyond this many errors the rest are not listed: a template that bad
 * (or a hostile one) needs no more detail, and the answer stays small. */
#define TPL_MAX_ERRORS 100
/* Bounds that the REST create routes also hold (applications.c,
 * databases.c, volumes.c); the create path re-checks them at deploy. */
#define TPL_DB_NAME_MAX   48
#define TPL_REPLICAS_MAX  50
#define TPL_LEN_MIN       TEMPLATE_SECRET_MIN
#define TPL_LEN_MAX       TEMPLATE_SECRET_MAX
#define TPL_LEN_DEFAULT   TEMPLATE_SECRET_LEN
#define TPL_MEMORY_MIN    6291456	/* 6 MiB: what the engine accepts */
#define TPL_SIZE_MAX      ((int64_t)1 << 50)
#define TPL_VALUE_MAX     65536

struct tc {
	struct yaml_doc           *doc;
	const struct template_ctx *ctx;
	struct arena               a;
	cJSON                     *errors;
	/* The sections that are mappings (NULL when absent or not one). */
	const cJSON *vars, *dbs, *vols, *bkts, *apps;
};

/* ------------------------------------------------------------ errors */

/* Records an error about node (its line and column; 0 when unknown). */
static void __attribute__((format(printf, 4, 5)))
fail(struct tc *t, const cJSON *node, const char *field, const char *fmt, ...)
{
	va_list ap;
	char    msg[1024];

	if (cJSON_GetArraySize(t->errors) >= TPL_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	yaml_detail(t->errors, t->doc, node, field, msg);
}

static int
error_line(const cJSON *e, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(e, key)->valueint;
}

/* The errors in the order of the text (line, then column; stable). */
static void
sort_errors(struct tc *t)
{
	int     n = cJSON_GetArraySize(t->errors), i = 0;
	cJSON **v = arena_alloc(&t->a, sizeof(*v) * (size_t)(n + 1));

	while (t->errors->child != NULL)
		v[i++] = cJSON_DetachItemViaPointer(t->errors, t->errors->child);
	for (i = 1; i < n; i++) {
		cJSON *e = v[i];
		int    j = i;

		while (j > 0 && (error_line(v[j - 1], "line") > error_line(e, "line") ||
		    (error_line(v[j - 1], "line") == error_line(e, "line") &&
		    error_line(v[j - 1], "column") > error_line(e, "column")))) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = e;
	}
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(t->errors, v[i]);
}

static const char *
path(struct tc *t, const char *prefix, const char *key)
{
	return *prefix ? arena_printf(&t->a, "%s.%s", prefix, key) : key;
}

/* What a node is, for "must be X, not Y". */
static const char *
what(const cJSON *v)
{
	return cJSON_IsString(v) ? "a string" : cJSON_IsNumber(v) ? "a number" :
	    cJSON_IsBool(v) ? "a boolean" : cJSON_IsArray(v) ? "a list" :
	    cJSON_IsObject(v) ? "a mapping" : "empty";
}

/* Every key of obj must be one of keys (NULL-terminated). */
static void
unknown_fields(struct tc *t, const cJSON *obj, const char *prefix, const char *const *keys)
{
	for (const cJSON *m = obj->child; m; m = m->next) {
		size_t i;
		char   allowed[512];
		size_t used = 0;

		for (i = 0; keys[i] && strcmp(keys[i], m->string) != 0; i++)
			;
		if (keys[i] != NULL)
			continue;
		allowed[0] = '\0';
		for (i = 0; keys[i]; i++) {
			int n = snprintf(allowed + used, sizeof(allowed) - used, "%s%s",
			    i ? ", " : "", keys[i]);

			if (n < 0 || (size_t)n >= sizeof(allowed) - used)
				break;
			used += (size_t)n;
		}
		fail(t, m, path(t, prefix, m->string), "unknown field (allowed: %s)", allowed);
	}
}

/* ------------------------------------------------------------ typed fields */

/* obj[key] when it is a string (NULL when absent or null; an error when of
 * another type or longer than max). */
static const cJSON *
get_string(struct tc *t, const cJSON *obj, const char *prefix, const char *key, size_t max,
    bool required)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (v == NULL || cJSON_IsNull(v)) {
		if (required)
			fail(t, v ? v : obj, path(t, prefix, key), "is required");
		return NULL;
	}
	if (!cJSON_IsString(v)) {
		fail(t, v, path(t, prefix, key), "must be a string, not %s", what(v));
		return NULL;
	}
	if (v->valuestring[0] == '\0' || strlen(v->valuestring) > max) {
		fail(t, v, path(t, prefix, key), "must be 1 to %zu bytes", max);
		return NULL;
	}
	return v;
}

/* obj[key] as an integer in [min, max]: 1 (in *out), 0 absent, -1 bad. */
static int
get_int(struct tc *t, const cJSON *obj, const char *prefix, const char *key, int64_t min,
    int64_t max, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
	    v->valuedouble < (double)min || v->valuedouble > (double)max) {
		fail(t, v, path(t, prefix, key), "must be an integer from %lld to %lld, not %s",
		    (long long)min, (long long)max, cJSON_IsNumber(v) ? "this number" : what(v));
		return -1;
	}
	*out = (int64_t)v->valuedouble;
	return 1;
}

/* obj[key] as a boolean: 1, 0 absent, -1 bad. */
static int
get_bool(struct tc *t, const cJSON *obj, const char *prefix, const char *key, bool *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsBool(v)) {
		fail(t, v, path(t, prefix, key), "must be true or false, not %s", what(v));
		return -1;
	}
	*out = cJSON_IsTrue(v);
	return 1;
}

/* obj[key], a string among options (NULL-terminated); NULL when absent or bad. */
static const char *
get_enum(struct tc *t, const cJSON *obj, const char *prefix, const char *key,
    const char *const *options, bool required)
{
	const cJSON *v = get_string(t, obj, prefix, key, 64, required);
	char         list[256];
	size_t       used = 0;

	if (v == NULL)
		return NULL;
	for (size_t i = 0; options[i]; i++)
		if (strcmp(options[i], v->valuestring) == 0)
			return options[i];
	list[0] = '\0';
	for (size_t i = 0; options[i]; i++) {
		int n = snprintf(list + used, sizeof(list) - used, "%s%s", i == 0 ? "" :
		    options[i + 1] ? ", " : " or ", options[i]);

		if (n < 0 || (size_t)n >= sizeof(list) - used)
			break;
		used += (size_t)n;
	}
	fail(t, v, path(t, prefix, key), "must be one of %s, not \"%s\"", list, v->valuestring);
	return NULL;
}

/* The mapping obj[key] (NULL absent, null, or not a mapping: an error). */
static const cJSON *
get_mapping(struct tc *t, const cJSON *obj, const char *prefix, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (v == NULL || cJSON_IsNull(v))
		return NULL;
	if (!cJSON_IsObject(v)) {
		fail(t, v, path(t, prefix, key), "must be a mapping, not %s", what(v));
		return NULL;
	}
	return v;
}

/* The list obj[key] (NULL absent or null; not a list: an error). */
static const cJSON *
get_list(struct tc *t, const cJSON *obj, const char *prefix, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (v == NULL || cJSON_IsNull(v))
		return NULL;
	if (!cJSON_IsArray(v)) {
		fail(t, v, path(t, prefix, key), "must be a list, not %s", what(v));
		return NULL;
	}
	return v;
}

/* The text of a scalar as it was written ("1.0" stays "1.0"; null is
 * empty), NULL for a collection. */
static const char *
scalar_text(const cJSON *v)
{
	if (cJSON_IsNull(v))
		return "";
	return yaml_text(v);
}

int
template_cpu(const cJSON *v, double *out)
{
	double d;

	if (cJSON_IsNumber(v))
		d = v->valuedouble;
	else if (cJSON_IsString(v) && v->valuestring[0] != '\0') {
		char *end;

		d = strtod(v->valuestring, &end);
		if (*end != '\0')
			return -1;
	} else
		return -1;
	if (!(d > 0 && d <= 256))
		return -1;
	*out = d;
	return 0;
}

int
template_bytes(const cJSON *v, int64_t *out)
{
	static const char units[] = "KMGT";
	const char       *s, *u;
	char             *end;
	double            d, mult = 1;

	if (cJSON_IsNumber(v)) {
		if (v->valuedouble != floor(v->valuedouble) || v->valuedouble < 1 ||
		    v->valuedouble > (double)TPL_SIZE_MAX)
			return -1;
		*out = (int64_t)v->valuedouble;
		return 0;
	}
	if (!cJSON_IsString(v) || !(v->valuestring[0] >= '0' && v->valuestring[0] <= '9'))
		return -1;
	s = v->valuestring;
	d = strtod(s, &end);
	if (end == s)
		return -1;
	if (*end != '\0') {
		char c = (char)(*end >= 'a' && *end <= 'z' ? *end - 32 : *end);

		if ((u = strchr(units, c)) == NULL || c == '\0')
			return -1;
		for (const char *k = units; k <= u; k++)
			mult *= 1024;
		end++;
		if (*end == 'i')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end != '\0')
			return -1;
	}
	d = floor(d * mult);
	if (!(d >= 1 && d <= (double)TPL_SIZE_MAX))
		return -1;
	*out = (int64_t)d;
	return 0;
}

/* ------------------------------------------------------------ names */

static const char *const kinds[] = {"volume", "database", "bucket", "application"};
static const char *const sections[] = {"volumes", "databases", "buckets", "applications"};
enum { K_VOL, K_DB, K_BKT, K_APP, K__N };

static const cJSON *
section_of(const struct tc *t, int k)
{
	return k == K_VOL ? t->vols : k == K_DB ? t->dbs : k == K_BKT ? t->bkts : t->apps;
}

/* The kind of the resource named name (K__N: none). */
static int
kind_of(const struct tc *t, const char *name)
{
	for (int k = 0; k < K__N; k++)
		if (section_of(t, k) && cJSON_GetObjectItemCaseSensitive(section_of(t, k), name))
			return k;
	return K__N;
}

/*
 * Resource names: slugs, unique across the kinds (one name space, like the
 * env store's references and the project's containers), and free in the
 * target environment (ctx).
 */
static void
check_names(struct tc *t)
{
	for (int k = 0; k < K__N; k++) {
		const cJSON *sec = section_of(t, k);
		size_t       max = k == K_DB ? TPL_DB_NAME_MAX : 63;

		for (const cJSON *m = sec ? sec->child : NULL; m; m = m->next) {
			const char *field = path(t, sections[k], m->string);
			bool        dup = false;

			if (!util_is_slug(m->string) || strlen(m->string) > max) {
				fail(t, m, field, "names must be 1 to %zu of a-z, 0-9 and '-', "
				    "not starting or ending with '-'", max);
				continue;
			}
			for (int j = 0; j < k && !dup; j++)
				if (section_of(t, j) &&
				    cJSON_GetObjectItemCaseSensitive(section_of(t, j), m->string)) {
					fail(t, m, field, "the name %s is already used by %s.%s",
					    m->string, sections[j], m->string);
					dup = true;
				}
			if (!dup && t->ctx && t->ctx->exists &&
			    t->ctx->exists(kinds[k], m->string, t->ctx->arg))
				fail(t, m, field, "a %s named %s already exists in this environment",
				    kinds[k], m->string);
		}
	}
}

/* ------------------------------------------------------------ references */

static const char *const db_props[] = {"host", "port", "user", "password", "database", "name",
	"url", NULL};
static const char *const bucket_props[] = {"endpoint", "access_key", "secret_key",
	"bucket_name", NULL};

/*
 * One ${...} of an env value (inner: what is between the braces): appends
 * its env store form to out, or records an error and returns false.
 */
static bool
rewrite_ref(struct tc *t, const cJSON *at, const char *field, const char *inner,
    const cJSON *env, struct buf *out)
{
	const char        *dot = strchr(inner, '.');
	const char *const *props;
	char              *name, *prop;
	int                k;
	size_t             i;

	if (dot == NULL) {
		if (!util_env_name_ok(inner)) {
			fail(t, at, field, "${%s}: malformed reference (${VAR} or ${resource.property})",
			    inner);
			return false;
		}
		if ((t->vars && cJSON_GetObjectItemCaseSensitive(t->vars, inner)) ||
		    cJSON_GetObjectItemCaseSensitive(env, inner)) {
			buf_adds(out, "${");
			buf_adds(out, inner);
			buf_adds(out, "}");
			return true;
		}
		fail(t, at, field, "${%s}: no variable %s (neither in variables nor in this env)",
		    inner, inner);
		return false;
	}
	name = arena_strndup(&t->a, inner, (size_t)(dot - inner));
	prop = arena_strdup(&t->a, dot + 1);
	if (!util_is_slug(name) || prop[0] == '\0' || strchr(prop, '.') != NULL) {
		fail(t, at, field, "${%s}: malformed reference (${VAR} or ${resource.property})",
		    inner);
		return false;
	}
	for (char *p = prop; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	k = kind_of(t, name);
	if (k == K__N) {
		fail(t, at, field, "${%s}: no database or bucket named %s in this template", inner,
		    name);
		return false;
	}
	if (k != K_DB && k != K_BKT) {
		fail(t, at, field, "${%s}: %s is %s %s; only databases and buckets have properties",
		    inner, name, k == K_APP ? "an" : "a", kinds[k]);
		return false;
	}
	props = k == K_DB ? db_props : bucket_props;
	for (i = 0; props[i] && strcmp(props[i], prop) != 0; i++)
		;
	if (props[i] == NULL) {
		fail(t, at, field, "${%s}: a %s has no property %s (%s)", inner, kinds[k], prop,
		    k == K_DB ? "host, port, user, password, database or url" :
		    "endpoint, access_key, secret_key or bucket_name");
		return false;
	}
	buf_adds(out, k == K_DB ? "${db." : "${bucket.");
	buf_adds(out, name);
	buf_adds(out, ".");
	buf_adds(out, strcmp(prop, "database") == 0 ? "name" : prop);
	buf_adds(out, "}");
	return true;
}

/* The value s of env key at, references rewritten (NULL after an error). */
static const char *
rewrite_value(struct tc *t, const cJSON *at, const char *field, const char *s,
    const cJSON *env)
{
	struct buf out;
	bool       ok = true;

	buf_init(&out, &t->a, strlen(s) + 64, 4 * TPL_VALUE_MAX);
	while (*s) {
		const char *close;

		if (s[0] == '$' && s[1] == '$' && s[2] == '{') {	/* the escape: literal */
			buf_add(&out, s, 3);
			s += 3;
			continue;
		}
		if (s[0] != '$' || s[1] != '{') {
			buf_add(&out, s, 1);
			s++;
			continue;
		}
		if ((close = strchr(s + 2, '}')) == NULL) {
			fail(t, at, field, "unterminated reference (\"${\" without \"}\"; "
			    "write \"$${\" for a literal)");
			return NULL;
		}
		ok = rewrite_ref(t, at, field, arena_strndup(&t->a, s + 2, (size_t)(close - s - 2)),
		    env, &out) && ok;
		s = close + 1;
	}
	if (!buf_ok(&out)) {
		fail(t, at, field, "is too long");
		return NULL;
	}
	return ok ? out.data : NULL;
}

/* ------------------------------------------------------------ sections */

static const char *const top_keys[] = {"version", "metadata", "variables", "databases", "volumes",
	"buckets", "applications", NULL};
static const char *const metadata_keys[] = {"name", "display_name", "description", "tags", "icon",
	"icon_url", "color", "category", NULL};
static const char *const var_keys[] = {"type", "generate", "length", "default", "description",
	NULL};
static const char *const var_types[] = {"secret", "string", NULL};
static const char *const db_keys[] = {"type", "version", "cpu_limit", "memory_limit", NULL};
static const char *const db_types[] = {"postgres", "mysql", "redis", "mongodb", "clickhouse",
	NULL};
static const char *const vol_keys[] = {"size_limit", NULL};
static const char *const bkt_keys[] = {"bucket_name", "public", NULL};
static const char *const app_keys[] = {"app_type", "source_type", "image_url", "repository_url",
	"branch", "dockerfile_path", "build_context", "compose", "exposed_ports", "replicas",
	"cpu_limit", "memory_limit", "healthcheck_path", "start_command", "restart_policy",
	"icon_url", "color", "depends_on", "volumes", "env", NULL};
static const char *const app_types[] = {"web", "worker", "api", NULL};
static const char *const source_types[] = {"docker_image", "git", "docker_compose", NULL};
static const char *const restart_policies[] = {"always", "on-failure", "unless-stopped", "no",
	NULL};
static const char *const mount_keys[] = {"name", "mount_path", "mode", NULL};
static const char *const mount_modes[] = {"rw", "ro", NULL};

static void
check_metadata(struct tc *t, const cJSON *root, cJSON *plan)
{
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(root, "metadata"), *v, *tags;

	if (md == NULL || cJSON_IsNull(md)) {
		fail(t, md ? md : root, "metadata", "is required (at least metadata.name)");
		return;
	}
	if (!cJSON_IsObject(md)) {
		fail(t, md, "metadata", "must be a mapping, not %s", what(md));
		return;
	}
	unknown_fields(t, md, "metadata", metadata_keys);
	if ((v = get_string(t, md, "metadata", "name", 63, true)) != NULL &&
	    !util_is_slug(v->valuestring))
		fail(t, v, "metadata.name", "must be a slug: 1 to 63 of a-z, 0-9 and '-'");
	get_string(t, md, "metadata", "display_name", 255, false);
	get_string(t, md, "metadata", "description", 4096, false);
	get_string(t, md, "metadata", "icon", 255, false);
	get_string(t, md, "metadata", "icon_url", 2048, false);
	get_string(t, md, "metadata", "color", 32, false);
	get_string(t, md, "metadata", "category", 255, false);
	if ((tags = get_list(t, md, "metadata", "tags")) != NULL) {
		int i = 0;

		for (const cJSON *tag = tags->child; tag; tag = tag->next, i++)
			if (!cJSON_IsString(tag) || tag->valuestring[0] == '\0' ||
			    strlen(tag->valuestring) > 64)
				fail(t, tag, arena_printf(&t->a, "metadata.tags[%d]", i),
				    "must be a string of 1 to 64 bytes");
	}
	cJSON_AddItemToObject(plan, "metadata", cJSON_Duplicate(md, true));
}

static void
check_variables(struct tc *t, cJSON *out)
{
	for (const cJSON *m = t->vars ? t->vars->child : NULL; m; m = m->next) {
		const char  *pre = path(t, "variables", m->string), *type = "string";
		const cJSON *def = NULL, *desc = NULL;
		bool         gen = false;
		int64_t      len = TPL_LEN_DEFAULT;
		int          has_len = 0;
		cJSON       *v;

		if (!util_env_name_ok(m->string))
			fail(t, m, pre, "variable names must match [A-Za-z_][A-Za-z0-9_]*");
		if (cJSON_IsObject(m)) {
			const cJSON *dv;

			unknown_fields(t, m, pre, var_keys);
			type = get_enum(t, m, pre, "type", var_types, false);
			if (type == NULL)
				type = "string";
			get_bool(t, m, pre, "generate", &gen);
			has_len = get_int(t, m, pre, "length", TPL_LEN_MIN, TPL_LEN_MAX, &len);
			desc = get_string(t, m, pre, "description", 4096, false);
			dv = cJSON_GetObjectItemCaseSensitive(m, "default");
			if (dv != NULL && !cJSON_IsNull(dv)) {
				if (cJSON_IsArray(dv) || cJSON_IsObject(dv))
					fail(t, dv, path(t, pre, "default"), "must be a scalar, not %s",
					    what(dv));
				else
					def = dv;
			}
			if (gen && def != NULL)
				fail(t, dv, path(t, pre, "default"),
				    "a generated variable has no default");
			if (has_len == 1 && !gen)
				fail(t, cJSON_GetObjectItemCaseSensitive(m, "length"),
				    path(t, pre, "length"), "applies only with generate: true");
		} else if (!cJSON_IsNull(m)) {
			fail(t, m, pre, "must be a mapping, not %s", what(m));
		}
		if ((v = cJSON_CreateObject()) == NULL)
			continue;
		cJSON_AddStringToObject(v, "name", m->string);
		cJSON_AddStringToObject(v, "type", type);
		cJSON_AddBoolToObject(v, "generate", gen);
		if (gen)
			cJSON_AddNumberToObject(v, "length", (double)len);
		if (desc)
			cJSON_AddStringToObject(v, "description", desc->valuestring);
		else
			cJSON_AddNullToObject(v, "description");
		if (def)
			cJSON_AddStringToObject(v, "default", scalar_text(def));
		else
			cJSON_AddNullToObject(v, "default");
		cJSON_AddBoolToObject(v, "required", !gen && def == NULL);
		if (gen)
			cJSON_AddStringToObject(v, "value", "********");
		else if (def)
			cJSON_AddStringToObject(v, "value", scalar_text(def));
		else
			cJSON_AddNullToObject(v, "value");
		cJSON_AddItemToArray(out, v);
	}
}

/* A resource {kind, name, line, spec} of member m, added to out; its spec. */
static cJSON *
add_resource(struct tc *t, cJSON *out, int k, const cJSON *m)
{
	cJSON *r = cJSON_CreateObject(), *spec;
	int    line = 0, col = 0;

	if (r == NULL)
		return NULL;
	yaml_where(t->doc, m, &line, &col);
	cJSON_AddStringToObject(r, "kind", kinds[k]);
	cJSON_AddStringToObject(r, "name", m->string);
	cJSON_AddNumberToObject(r, "line", line);
	spec = cJSON_AddObjectToObject(r, "spec");
	cJSON_AddItemToArray(out, r);
	return spec;
}

/* A resource's definition: a mapping (null: empty); else an error. */
static bool
definition(struct tc *t, const cJSON *m, const char *pre)
{
	if (cJSON_IsObject(m) || cJSON_IsNull(m))
		return true;
	fail(t, m, pre, "must be a mapping, not %s", what(m));
	return false;
}

/* cpu_limit and memory_limit of obj: checked, copied as written into spec. */
static void
check_limits(struct tc *t, const cJSON *obj, const char *pre, cJSON *spec)
{
	const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(obj, "cpu_limit");
	const cJSON *mem = cJSON_GetObjectItemCaseSensitive(obj, "memory_limit");
	double       d;
	int64_t      n;

	if (cpu && !cJSON_IsNull(cpu)) {
		if (template_cpu(cpu, &d) != 0)
			fail(t, cpu, path(t, pre, "cpu_limit"),
			    "must be a number of CPUs above 0 and at most 256, like \"0.5\"");
		else
			cJSON_AddItemToObject(spec, "cpu_limit", cJSON_Duplicate(cpu, false));
	}
	if (mem && !cJSON_IsNull(mem)) {
		if (template_bytes(mem, &n) != 0 || n < TPL_MEMORY_MIN)
			fail(t, mem, path(t, pre, "memory_limit"),
			    "must be a size of at least 6M, like 512M or 1G");
		else
			cJSON_AddItemToObject(spec, "memory_limit", cJSON_Duplicate(mem, false));
	}
}

static void
check_volumes(struct tc *t, cJSON *out)
{
	for (const cJSON *m = t->vols ? t->vols->child : NULL; m; m = m->next) {
		const char  *pre = path(t, "volumes", m->string);
		const cJSON *sz;
		cJSON       *spec;
		int64_t      n;

		if (!definition(t, m, pre) || (spec = add_resource(t, out, K_VOL, m)) == NULL)
			continue;
		if (!cJSON_IsObject(m))
			continue;
		unknown_fields(t, m, pre, vol_keys);
		sz = cJSON_GetObjectItemCaseSensitive(m, "size_limit");
		if (sz && !cJSON_IsNull(sz)) {
			if (template_bytes(sz, &n) != 0)
				fail(t, sz, path(t, pre, "size_limit"),
				    "must be a size in bytes (or like 10G), at most 1P");
			else
				cJSON_AddNumberToObject(spec, "size_limit", (double)n);
		}
	}
}

static void
check_databases(struct tc *t, cJSON *out)
{
	for (const cJSON *m = t->dbs ? t->dbs->child : NULL; m; m = m->next) {
		const char  *pre = path(t, "databases", m->string), *type;
		const cJSON *ver;
		cJSON       *spec;

		if (!definition(t, m, pre) || (spec = add_resource(t, out, K_DB, m)) == NULL)
			continue;
		if (!cJSON_IsObject(m)) {
			fail(t, m, path(t, pre, "type"), "is required");
			continue;
		}
		unknown_fields(t, m, pre, db_keys);
		if ((type = get_enum(t, m, pre, "type", db_types, true)) != NULL)
			cJSON_AddStringToObject(spec, "type", type);
		ver = cJSON_GetObjectItemCaseSensitive(m, "version");
		if (ver && !cJSON_IsNull(ver)) {
			/* version: 15 reads as a number: its text is the version */
			const char *s = cJSON_IsString(ver) || cJSON_IsNumber(ver) ?
			    scalar_text(ver) : NULL;

			if (s == NULL || s[0] == '\0' || strlen(s) > 32)
				fail(t, ver, path(t, pre, "version"), "must be a version like \"15\"");
			else
				cJSON_AddStringToObject(spec, "version", s);
		}
		check_limits(t, m, pre, spec);
	}
}

/* S3 bucket names: 3 to 63 of a-z, 0-9, '.' and '-'. */
static bool
is_bucket_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 63)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			return false;
	return true;
}

static void
check_buckets(struct tc *t, cJSON *out)
{
	for (const cJSON *m = t->bkts ? t->bkts->child : NULL; m; m = m->next) {
		const char  *pre = path(t, "buckets", m->string);
		const cJSON *bn = NULL;
		bool         pub = false;
		cJSON       *spec;

		if (!definition(t, m, pre) || (spec = add_resource(t, out, K_BKT, m)) == NULL)
			continue;
		if (cJSON_IsObject(m)) {
			unknown_fields(t, m, pre, bkt_keys);
			if ((bn = get_string(t, m, pre, "bucket_name", 63, false)) != NULL &&
			    !is_bucket_name(bn->valuestring)) {
				fail(t, bn, path(t, pre, "bucket_name"),
				    "must be 3 to 63 of a-z, 0-9, '.' and '-'");
				bn = NULL;
			}
			get_bool(t, m, pre, "public", &pub);
		}
		cJSON_AddStringToObject(spec, "bucket_name", bn ? bn->valuestring : m->string);
		cJSON_AddBoolToObject(spec, "public", pub);
	}
}

/* A string field copied into spec when given and passing check (NULL: none). */
static void
copy_string(struct tc *t, const cJSON *obj, const char *pre, const char *key, size_t max,
    bool required, bool (*check)(const char *), const char *want, cJSON *spec)
{
	const cJSON *v = get_string(t, obj, pre, key, max, required);

	if (v == NULL)
		return;
	if (check && !check(v->valuestring)) {
		fail(t, v, path(t, pre, key), "%s", want);
		return;
	}
	cJSON_AddStringToObject(spec, key, v->valuestring);
}

static bool
no_space(const char *s)
{
	return s[0] != '-' && strpbrk(s, " \t\r\n\"'\\") == NULL;
}

static bool
is_abs_path(const char *s)
{
	return s[0] == '/' && strpbrk(s, " \t\r\n") == NULL;
}

static bool
is_http_url(const char *s)
{
	return (strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0) &&
	    strpbrk(s, " \t\r\n") == NULL;
}

static bool
is_color(const char *s)
{
	size_t n = strlen(s);

	if (s[0] != '#' || (n != 4 && n != 7 && n != 9))
		return false;
	return strspn(s + 1, "0123456789abcdefABCDEF") == n - 1;
}

static void
check_ports(struct tc *t, const cJSON *app, const char *pre, cJSON *spec)
{
	const cJSON *ports = get_list(t, app, pre, "exposed_ports");
	int          i = 0, n;

	if (ports == NULL)
		return;
	for (const cJSON *p = ports->child; p; p = p->next, i++)
		if (!cJSON_IsNumber(p) || p->valuedouble != floor(p->valuedouble) ||
		    p->valuedouble < 1 || p->valuedouble > 65535) {
			fail(t, p, arena_printf(&t->a, "%s.exposed_ports[%d]", pre, i),
			    "must be a port number from 1 to 65535, not %s",
			    cJSON_IsNumber(p) ? "this number" : what(p));
			return;
		}
	n = cJSON_GetArraySize(ports);
	if (n > 1)
		fail(t, ports, path(t, pre, "exposed_ports"),
		    "only one port is routed to an application: give one");
	else if (n == 1)
		cJSON_AddNumberToObject(spec, "exposed_port", ports->child->valuedouble);
}

static void
check_mounts(struct tc *t, const cJSON *app, const char *pre, cJSON *spec)
{
	const cJSON *list = get_list(t, app, pre, "volumes");
	cJSON       *out = cJSON_AddArrayToObject(spec, "volumes");
	int          i = 0;

	for (const cJSON *it = list ? list->child : NULL; it; it = it->next, i++) {
		const char  *ipre = arena_printf(&t->a, "%s.volumes[%d]", pre, i), *mode;
		const cJSON *name, *mp;
		cJSON       *o;

		if (!cJSON_IsObject(it)) {
			fail(t, it, ipre, "must be a mapping {name, mount_path}, not %s", what(it));
			continue;
		}
		unknown_fields(t, it, ipre, mount_keys);
		name = get_string(t, it, ipre, "name", 63, true);
		mp = get_string(t, it, ipre, "mount_path", 1024, true);
		mode = get_enum(t, it, ipre, "mode", mount_modes, false);
		if (name && !(t->vols && cJSON_GetObjectItemCaseSensitive(t->vols, name->valuestring))) {
			fail(t, name, path(t, ipre, "name"), "no volume named %s in volumes",
			    name->valuestring);
			name = NULL;
		}
		if (mp && !(is_abs_path(mp->valuestring) && strlen(mp->valuestring) > 1)) {
			fail(t, mp, path(t, ipre, "mount_path"), "must be an absolute path, not /");
			mp = NULL;
		}
		if (name == NULL || mp == NULL || (o = cJSON_CreateObject()) == NULL)
			continue;
		cJSON_AddStringToObject(o, "name", name->valuestring);
		cJSON_AddStringToObject(o, "mount_path", mp->valuestring);
		if (mode)
			cJSON_AddStringToObject(o, "mode", mode);
		cJSON_AddItemToArray(out, o);
	}
}

static void
check_env(struct tc *t, const cJSON *app, const char *pre, cJSON *spec)
{
	const cJSON *env = get_mapping(t, app, pre, "env");
	cJSON       *out = cJSON_AddObjectToObject(spec, "env");

	for (const cJSON *m = env ? env->child : NULL; m; m = m->next) {
		const char *field = path(t, path(t, pre, "env"), m->string), *s, *v;

		if (!util_env_name_ok(m->string)) {
			fail(t, m, field, "keys must match [A-Za-z_][A-Za-z0-9_]*");
			continue;
		}
		if ((s = scalar_text(m)) == NULL) {
			fail(t, m, field, "must be a string, not %s", what(m));
			continue;
		}
		if (strlen(s) > TPL_VALUE_MAX) {
			fail(t, m, field, "must be at most %d bytes", TPL_VALUE_MAX);
			continue;
		}
		if ((v = rewrite_value(t, m, field, s, env)) != NULL)
			cJSON_AddStringToObject(out, m->string, v);
	}
}

/* depends_on of app: names of other resources of the template, into res. */
static void
check_depends(struct tc *t, const cJSON *app, const char *pre, cJSON *res)
{
	const cJSON *list = get_list(t, app, pre, "depends_on");
	cJSON       *out = cJSON_AddArrayToObject(res, "depends_on");
	int          i = 0;

	for (const cJSON *d = list ? list->child : NULL; d; d = d->next, i++) {
		const char *f = arena_printf(&t->a, "%s.depends_on[%d]", pre, i);

		if (!cJSON_IsString(d))
			fail(t, d, f, "must be the name of a resource of this template, not %s", what(d));
		else if (strcmp(d->valuestring, app->string) == 0)
			fail(t, d, f, "an application cannot depend on itself");
		else if (kind_of(t, d->valuestring) == K__N)
			fail(t, d, f, "no resource named %s in this template", d->valuestring);
		else
			cJSON_AddItemToArray(out, cJSON_CreateString(d->valuestring));
	}
}

static void
check_application(struct tc *t, const cJSON *m, cJSON *res)
{
	const char  *pre = path(t, "applications", m->string), *src, *type;
	cJSON       *spec;
	int64_t      n = 1;

	check_depends(t, m, pre, res);
	spec = cJSON_AddObjectToObject(res, "spec");
	unknown_fields(t, m, pre, app_keys);
	type = get_enum(t, m, pre, "app_type", app_types, false);
	cJSON_AddStringToObject(spec, "app_type", type ? type : "web");
	if ((src = get_enum(t, m, pre, "source_type", source_types, true)) != NULL)
		cJSON_AddStringToObject(spec, "source_type", src);
	copy_string(t, m, pre, "image_url", 1024, src && strcmp(src, "docker_image") == 0,
	    no_space, "must be an image reference like registry.example.com/app:tag", spec);
	copy_string(t, m, pre, "repository_url", 2048, src && strcmp(src, "git") == 0,
	    no_space, "must be a repository URL", spec);
	copy_string(t, m, pre, "branch", 255, false, no_space, "must be a git branch name", spec);
	copy_string(t, m, pre, "dockerfile_path", 1024, false, NULL, NULL, spec);
	copy_string(t, m, pre, "build_context", 1024, false, NULL, NULL, spec);
	copy_string(t, m, pre, "compose", 262144, src && strcmp(src, "docker_compose") == 0,
	    NULL, NULL, spec);
	check_ports(t, m, pre, spec);
	if (get_int(t, m, pre, "replicas", 0, TPL_REPLICAS_MAX, &n) >= 0)
		cJSON_AddNumberToObject(spec, "replicas", (double)n);
	check_limits(t, m, pre, spec);
	copy_string(t, m, pre, "healthcheck_path", 1024, false, is_abs_path,
	    "must be a path starting with /", spec);
	copy_string(t, m, pre, "start_command", 4096, false, NULL, NULL, spec);
	if ((type = get_enum(t, m, pre, "restart_policy", restart_policies, false)) != NULL)
		cJSON_AddStringToObject(spec, "restart_policy", type);
	copy_string(t, m, pre, "icon_url", 2048, false, is_http_url,
	    "must be an http:// or https:// URL", spec);
	copy_string(t, m, pre, "color", 9, false, is_color, "must be a hex color like \"#3b82f6\"",
	    spec);
	check_mounts(t, m, pre, spec);
	check_env(t, m, pre, spec);
}

/* ------------------------------------------------------------ ordering */

struct graph {
	int           n;
	const cJSON **app;	/* the members of applications, in order written */
	char         *edge;	/* edge[i * n + j]: app i depends on app j */
};

/* The depends_on item of app i that names app j (for its line), at *pos. */
static const cJSON *
dep_item(const struct graph *g, int i, int j, int *pos)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(g->app[i], "depends_on");
	int          k = 0;

	for (const cJSON *d = cJSON_IsArray(list) ? list->child : NULL; d; d = d->next, k++)
		if (cJSON_IsString(d) && strcmp(d->valuestring, g->app[j]->string) == 0) {
			*pos = k;
			return d;
		}
	*pos = 0;
	return g->app[i];
}

/* An error at app s when it lies on a cycle of the apps not done: the
 * shortest way round (BFS), at its depends_on item that starts it. */
static void
report_cycle(struct tc *t, const struct graph *g, const bool *done, int s)
{
	int        *prev = arena_alloc(&t->a, sizeof(int) * (size_t)g->n);
	int        *queue = arena_alloc(&t->a, sizeof(int) * (size_t)g->n);
	int         head = 0, tail = 0, found = -1, len = 0, pos = 0;
	const char *cyc = g->app[s]->string;

	for (int i = 0; i < g->n; i++)
		prev[i] = -2;
	queue[tail++] = s;
	prev[s] = -1;
	while (head < tail && found < 0) {
		int u = queue[head++];

		for (int v = 0; v < g->n && found < 0; v++) {
			if (!g->edge[u * g->n + v] || done[v])
				continue;
			if (v == s)
				found = u;
			else if (prev[v] == -2) {
				prev[v] = u;
				queue[tail++] = v;
			}
		}
	}
	if (found < 0) {	/* not on a cycle itself: waits behind one */
		fail(t, g->app[s], arena_printf(&t->a, "applications.%s.depends_on",
		    g->app[s]->string), "depends on an application that is part of a cycle");
		return;
	}
	/* s -> ... -> found -> s; prev walks back from found to s */
	for (int u = found; u != -1; u = prev[u])
		queue[len++] = u;
	for (int k = len - 2; k >= 0; k--)
		cyc = arena_printf(&t->a, "%s -> %s", cyc, g->app[queue[k]]->string);
	cyc = arena_printf(&t->a, "%s -> %s", cyc, g->app[s]->string);
	fail(t, dep_item(g, s, len >= 2 ? queue[len - 2] : s, &pos),
	    arena_printf(&t->a, "applications.%s.depends_on[%d]", g->app[s]->string, pos),
	    "dependency cycle: %s", cyc);
}

/*
 * The creation order of the apps into order[] (returns how many): Kahn's
 * algorithm taking the lowest index among the ready ones, so the written
 * order holds wherever depends_on allows.  What is left lies on a cycle
 * (each member gets an error) or behind one.
 */
static int
sort_apps(struct tc *t, const struct graph *g, int *order)
{
	int  *indeg = arena_alloc(&t->a, sizeof(int) * (size_t)g->n);
	bool *done = arena_alloc(&t->a, sizeof(bool) * (size_t)g->n);
	int   placed = 0;

	for (int i = 0; i < g->n; i++) {
		done[i] = false;
		indeg[i] = 0;
		for (int j = 0; j < g->n; j++)
			indeg[i] += g->edge[i * g->n + j];
	}
	for (;;) {
		int pick = -1;

		for (int i = 0; i < g->n && pick < 0; i++)
			if (!done[i] && indeg[i] == 0)
				pick = i;
		if (pick < 0)
			break;
		done[pick] = true;
		order[placed++] = pick;
		for (int i = 0; i < g->n; i++)
			if (g->edge[i * g->n + pick])
				indeg[i]--;
	}
	for (int s = 0; s < g->n; s++)
		if (!done[s])
			report_cycle(t, g, done, s);
	return placed;
}

static void
check_applications(struct tc *t, cJSON *out)
{
	struct graph g = {0};
	cJSON      **res;
	int         *order, placed, i = 0;

	g.n = cJSON_GetArraySize(t->apps);
	if (g.n == 0)
		return;
	g.app = arena_alloc(&t->a, sizeof(*g.app) * (size_t)g.n);
	g.edge = arena_alloc(&t->a, (size_t)g.n * (size_t)g.n);
	memset(g.edge, 0, (size_t)g.n * (size_t)g.n);
	res = arena_alloc(&t->a, sizeof(*res) * (size_t)g.n);
	order = arena_alloc(&t->a, sizeof(int) * (size_t)g.n);
	for (const cJSON *m = t->apps->child; m; m = m->next, i++) {
		cJSON *r = cJSON_CreateObject();
		int    line = 0, col = 0;

		g.app[i] = m;
		res[i] = r;
		if (r == NULL)
			continue;
		yaml_where(t->doc, m, &line, &col);
		cJSON_AddStringToObject(r, "kind", "application");
		cJSON_AddStringToObject(r, "name", m->string);
		cJSON_AddNumberToObject(r, "line", line);
		if (cJSON_IsObject(m))
			check_application(t, m, r);
		else
			fail(t, m, path(t, "applications", m->string), "must be a mapping, not %s",
			    what(m));
	}
	for (i = 0; i < g.n; i++) {
		const cJSON *deps = cJSON_GetObjectItemCaseSensitive(res[i], "depends_on");

		for (const cJSON *d = deps ? deps->child : NULL; d; d = d->next)
			for (int j = 0; j < g.n; j++)
				if (strcmp(g.app[j]->string, d->valuestring) == 0)
					g.edge[i * g.n + j] = 1;
	}
	placed = sort_apps(t, &g, order);
	for (i = 0; i < placed; i++) {
		cJSON_AddItemToArray(out, res[order[i]]);
		res[order[i]] = NULL;
	}
	for (i = 0; i < g.n; i++)
		cJSON_Delete(res[i]);	/* those on a cycle */
}

/* ------------------------------------------------------------ entry */

static const cJSON *
section(struct tc *t, const cJSON *root, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);

	if (v == NULL || cJSON_IsNull(v))
		return NULL;
	if (!cJSON_IsObject(v)) {
		fail(t, v, key, "must be a mapping of name -> definition, not %s", what(v));
		return NULL;
	}
	return v;
}

static void
check_version(struct tc *t, const cJSON *root)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "version");

	if (v == NULL || cJSON_IsNull(v))
		fail(t, v ? v : root, "version", "is required: version: \"1.0\"");
	/* version: 1.0 (a plain scalar, a number) means the same */
	else if (!(cJSON_IsString(v) && strcmp(v->valuestring, "1.0") == 0) &&
	    !(cJSON_IsNumber(v) && v->valuedouble == 1.0))
		fail(t, v, "version", "must be \"1.0\" (the only version of the format)");
}

cJSON *
template_check(const char *yaml, size_t len, const struct template_ctx *ctx, cJSON **errors)
{
	struct tc    t = {.ctx = ctx};
	const cJSON *root;
	cJSON       *plan = NULL, *vars, *res;
	char         err[256];
	int          line = 0, col = 0;

	*errors = cJSON_CreateArray();
	if (*errors == NULL)
		return NULL;
	t.errors = *errors;
	arena_init(&t.a, 8192);
	if (len > TEMPLATE_MAX_BYTES) {
		fail(&t, NULL, "yaml", "a template is at most %d bytes", TEMPLATE_MAX_BYTES);
		goto out;
	}
	if ((t.doc = yaml_parse(yaml, len, err, sizeof(err), &line, &col)) == NULL) {
		yaml_detail_at(t.errors, "yaml", err, line, col);
		goto out;
	}
	root = yaml_root(t.doc);
	if (!cJSON_IsObject(root)) {
		fail(&t, root, "yaml", "a template is a mapping (version, metadata, ...), not %s",
		    what(root));
		goto out;
	}
	if ((plan = cJSON_CreateObject()) == NULL)
		goto out;
	unknown_fields(&t, root, "", top_keys);
	check_version(&t, root);
	check_metadata(&t, root, plan);
	t.vars = section(&t, root, "variables");
	t.dbs = section(&t, root, "databases");
	t.vols = section(&t, root, "volumes");
	t.bkts = section(&t, root, "buckets");
	t.apps = section(&t, root, "applications");
	check_names(&t);
	vars = cJSON_AddArrayToObject(plan, "variables");
	check_variables(&t, vars);
	res = cJSON_AddArrayToObject(plan, "resources");
	check_volumes(&t, res);
	check_databases(&t, res);
	check_buckets(&t, res);
	check_applications(&t, res);
out:
	sort_errors(&t);
	if (t.doc)
		yaml_doc_free(t.doc);
	arena_free(&t.a);
	if (cJSON_GetArraySize(t.errors) > 0 || plan == NULL) {
		cJSON_Delete(plan);
		if (cJSON_GetArraySize(t.errors) == 0) {	/* out of memory */
			cJSON_Delete(t.errors);
			*errors = NULL;
		}
		return NULL;
	}
	cJSON_Delete(t.errors);
	*errors = NULL;
	return plan;
}
