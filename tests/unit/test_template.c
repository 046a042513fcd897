/* test_template.c - the template checker: every shipped template
 * (conf/templates/) gives its plan in creation order with references
 * rewritten; each kind of error is reported with its field and line; name
 * clashes come from the caller's lookup; sizes and CPU counts convert. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/gallery.h"
#include "core/template.h"
#include "core/util.h"
#include "unit.h"

static const char *const shipped_files[] = {
	"analytics/plausible", "automation/n8n", "cms/ghost", "cms/wordpress", "databases/redis",
	"devtools/gitea", "monitoring/uptime-kuma", "storage/minio",
};

static cJSON *
check(const char *yaml, const struct template_ctx *ctx, cJSON **errors)
{
	return template_check(yaml, strlen(yaml), ctx, errors);
}

/* The names of the plan's resources, "kind:name kind:name ...". */
static const char *
order(const cJSON *plan, char *out, size_t n)
{
	const cJSON *r;
	size_t       used = 0;

	out[0] = '\0';
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(plan, "resources")) {
		int k = snprintf(out + used, n - used, "%s%s:%s", used ? " " : "",
		    cJSON_GetObjectItem(r, "kind")->valuestring,
		    cJSON_GetObjectItem(r, "name")->valuestring);

		if (k < 0 || (size_t)k >= n - used)
			break;
		used += (size_t)k;
	}
	return out;
}

static const cJSON *
resource(const cJSON *plan, const char *name)
{
	const cJSON *r;

	cJSON_ArrayForEach(r, cJSON_GetObjectItem(plan, "resources"))
		if (strcmp(cJSON_GetObjectItem(r, "name")->valuestring, name) == 0)
			return r;
	return NULL;
}

static const char *
env_of(const cJSON *plan, const char *app, const char *key)
{
	const cJSON *r = resource(plan, app), *v;

	if (r == NULL)
		return "";
	v = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "spec"), "env"), key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

/* The error about field (exact path), or NULL. */
static const cJSON *
error_for(const cJSON *errors, const char *field)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, errors)
		if (strcmp(cJSON_GetObjectItem(e, "field")->valuestring, field) == 0)
			return e;
	return NULL;
}

static int
line_of(const cJSON *errors, const char *field)
{
	const cJSON *e = error_for(errors, field);

	return e ? cJSON_GetObjectItem(e, "line")->valueint : -1;
}

static void
shipped(void)
{
	char buf[1024];

	for (size_t i = 0; i < sizeof(shipped_files) / sizeof(*shipped_files); i++) {
		char   file[256], *text = NULL;
		size_t len = 0;
		cJSON *plan, *errors = NULL;

		CHECK(util_snprintf(file, sizeof(file), "conf/templates/%s/template.yaml",
		    shipped_files[i]) > 0, "path");
		CHECK(util_read_file(file, 1 << 20, &text, &len) == 0 && text != NULL, file);
		if (text == NULL)
			continue;
		plan = template_check(text, len, NULL, &errors);
		CHECK(plan != NULL && errors == NULL, file);
		if (errors != NULL) {
			char *s = cJSON_PrintUnformatted(errors);

			printf("%s: %s\n", file, s);
			free(s);
		}
		CHECK(plan == NULL || strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(plan, "metadata"),
		    "name")->valuestring, strrchr(shipped_files[i], '/') + 1) == 0, "metadata.name");
		if (strcmp(shipped_files[i], "automation/n8n") == 0 && plan) {
			const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItem(plan, "variables"), 0);
			const cJSON *spec = cJSON_GetObjectItem(resource(plan, "n8n"), "spec");

			CHECK(strcmp(order(plan, buf, sizeof(buf)), "database:n8n-db database:n8n-redis "
			    "application:n8n application:n8n-worker") == 0, buf);
			CHECK(strcmp(env_of(plan, "n8n", "DB_POSTGRESDB_HOST"), "${db.n8n-db.host}") == 0,
			    "db reference rewritten");
			CHECK(strcmp(env_of(plan, "n8n", "DB_POSTGRESDB_DATABASE"),
			    "${db.n8n-db.name}") == 0, "database -> name");
			CHECK(strcmp(env_of(plan, "n8n", "N8N_ENCRYPTION_KEY"),
			    "${N8N_ENCRYPTION_KEY}") == 0, "variable kept");
			CHECK(v && strcmp(cJSON_GetObjectItem(v, "value")->valuestring, "********") == 0 &&
			    cJSON_GetObjectItem(v, "length")->valueint == 32 &&
			    cJSON_IsTrue(cJSON_GetObjectItem(v, "generate")), "generated secret masked");
			CHECK(cJSON_GetObjectItem(spec, "exposed_port")->valueint == 5678 &&
			    strcmp(cJSON_GetObjectItem(spec, "memory_limit")->valuestring, "1G") == 0 &&
			    strcmp(cJSON_GetObjectItem(spec, "cpu_limit")->valuestring, "1.0") == 0 &&
			    cJSON_GetObjectItem(spec, "replicas")->valueint == 1, "n8n spec");
			CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(resource(plan, "n8n"),
			    "depends_on")) == 2 && cJSON_GetObjectItem(resource(plan, "n8n"),
			    "line")->valueint == 28, "depends_on and line");
			CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(resource(plan, "n8n-worker"),
			    "spec"), "exposed_port") == NULL, "a worker has no port");
		}
		if (strcmp(shipped_files[i], "cms/ghost") == 0 && plan) {
			const cJSON *vols = cJSON_GetObjectItem(cJSON_GetObjectItem(resource(plan, "ghost"),
			    "spec"), "volumes");

			CHECK(strcmp(order(plan, buf, sizeof(buf)), "volume:ghost-content "
			    "database:ghost-db application:ghost") == 0, buf);
			CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(resource(plan, "ghost-content"),
			    "spec"), "size_limit")->valuedouble == 5368709120.0, "size_limit");
			CHECK(cJSON_GetArraySize(vols) == 1 && strcmp(cJSON_GetObjectItem(
			    cJSON_GetArrayItem(vols, 0), "mount_path")->valuestring,
			    "/var/lib/ghost/content") == 0, "mount");
		}
		if (strcmp(shipped_files[i], "storage/minio") == 0 && plan)
			CHECK(strcmp(order(plan, buf, sizeof(buf)), "bucket:data") == 0, buf);
		if (strcmp(shipped_files[i], "analytics/plausible") == 0 && plan)
			CHECK(strcmp(env_of(plan, "plausible", "CLICKHOUSE_DATABASE_URL"),
			    "http://${db.plausible-events.host}:${db.plausible-events.port}/"
			    "plausible_events_db") == 0, "clickhouse references");
		cJSON_Delete(plan);
		cJSON_Delete(errors);
		free(text);
	}
}

#define HEAD "version: \"1.0\"\nmetadata:\n  name: t\n"	/* lines 1-3 */

static void
references(void)
{
	/* the format's README example: upper-case properties */
	static const char yaml[] = HEAD
	    "variables:\n"
	    "  SECRET_KEY: {type: secret, generate: true}\n"
	    "  GREETING: {default: hello}\n"
	    "databases:\n"
	    "  my-db: {type: postgres}\n"
	    "buckets:\n"
	    "  files: {}\n"
	    "applications:\n"
	    "  my-app:\n"
	    "    source_type: docker_image\n"
	    "    image_url: myorg/myapp:latest\n"
	    "    env:\n"
	    "      DATABASE_URL: postgres://${my-db.USER}:${my-db.PASSWORD}@${my-db.HOST}:${my-db.Port}/${my-db.DATABASE}\n"
	    "      S3: ${files.endpoint} ${files.BUCKET_NAME}\n"
	    "      A: ${SECRET_KEY}-${B}\n"
	    "      B: x\n"
	    "      LIT: $${NOT_A_REF} $5\n"
	    "      PORT: 8080\n"
	    "      VERSION: 1.0\n"
	    "      ON: true\n";
	cJSON *errors = NULL, *plan = check(yaml, NULL, &errors);
	const cJSON *v;

	CHECK(plan != NULL, "README example passes");
	CHECK(strcmp(env_of(plan, "my-app", "DATABASE_URL"), "postgres://${db.my-db.user}:"
	    "${db.my-db.password}@${db.my-db.host}:${db.my-db.port}/${db.my-db.name}") == 0,
	    "properties in either case");
	CHECK(strcmp(env_of(plan, "my-app", "S3"), "${bucket.files.endpoint} "
	    "${bucket.files.bucket_name}") == 0, "bucket references");
	CHECK(strcmp(env_of(plan, "my-app", "A"), "${SECRET_KEY}-${B}") == 0,
	    "variable and sibling key kept");
	CHECK(strcmp(env_of(plan, "my-app", "LIT"), "$${NOT_A_REF} $5") == 0, "escape kept");
	CHECK(strcmp(env_of(plan, "my-app", "PORT"), "8080") == 0 &&
	    strcmp(env_of(plan, "my-app", "VERSION"), "1.0") == 0 &&
	    strcmp(env_of(plan, "my-app", "ON"), "true") == 0, "scalars as written");
	v = cJSON_GetArrayItem(cJSON_GetObjectItem(plan, "variables"), 1);
	CHECK(v && strcmp(cJSON_GetObjectItem(v, "value")->valuestring, "hello") == 0 &&
	    !cJSON_IsTrue(cJSON_GetObjectItem(v, "required")), "string default");
	CHECK(strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(resource(plan, "my-app"), "spec"),
	    "app_type")->valuestring, "web") == 0, "app_type defaults to web");
	cJSON_Delete(plan);
	cJSON_Delete(errors);
}

/* One template, one expected error (field and line) per row. */
static const struct bad {
	const char *name, *yaml, *field;
	int         line;
} bad[] = {
	{"unknown top-level field", HEAD "colour: red\n", "colour", 4},
	{"unknown field of an app", HEAD "applications:\n  a:\n    source_type: git\n"
	    "    repository_url: https://x/y.git\n    privileged: true\n",
	    "applications.a.privileged", 8},
	{"unknown field of metadata", HEAD "  author: me\n", "metadata.author", 4},
	{"unknown field of a database", HEAD "databases:\n  d:\n    type: redis\n    size: 3\n",
	    "databases.d.size", 7},
	{"unknown field of a mount", HEAD "volumes:\n  v: {}\napplications:\n  a:\n"
	    "    source_type: docker_image\n    image_url: x\n    volumes:\n"
	    "      - {name: v, mount_path: /d, host: /etc}\n", "applications.a.volumes[0].host", 11},
	{"replicas not a number", HEAD "applications:\n  a:\n    source_type: docker_image\n"
	    "    image_url: x\n    replicas: two\n", "applications.a.replicas", 8},
	{"port not a number", HEAD "applications:\n  a:\n    source_type: docker_image\n"
	    "    image_url: x\n    exposed_ports: [\"http\"]\n", "applications.a.exposed_ports[0]", 8},
	{"port out of range", HEAD "applications:\n  a:\n    source_type: docker_image\n"
	    "    image_url: x\n    exposed_ports:\n      - 70000\n",
	    "applications.a.exposed_ports[0]", 9},
	{"two ports", HEAD "applications:\n  a:\n    source_type: docker_image\n"
	    "    image_url: x\n    exposed_ports: [80, 443]\n", "applications.a.exposed_ports", 8},
	{"exposed_ports not a list", HEAD "applications:\n  a:\n    source_type: docker_image\n"
	    "    image_url: x\n    exposed_ports: 80\n", "applications.a.exposed_ports", 8},
	{"bad app_type", HEAD "applications:\n  a:\n    app_type: cron\n    source_type: docker_image\n"
	    "    image_url: x\n", "applications.a.app_type", 6},
	{"bad source_type", HEAD "applications:\n  a:\n    source_type: tarball\n",
	    "applications.a.source_type", 6},
	{"docker_image without image_url", HEAD "applications:\n  a:\n    source_type: docker_image\n",
	    "applications.a.image_url", 5},
	{"bad database type", HEAD "databases:\n  d:\n    type: oracle\n", "databases.d.type", 6},
	{"database without type", HEAD "databases:\n  d: {version: \"15\"}\n", "databases.d.type", 5},
	{"version 2.0", "version: \"2.0\"\nmetadata:\n  name: t\n", "version", 1},
	{"version missing", "metadata:\n  name: t\n", "version", 1},
	{"metadata.name missing", "version: \"1.0\"\nmetadata:\n  display_name: T\n",
	    "metadata.name", 2},
	{"bad resource name", HEAD "databases:\n  My_DB: {type: redis}\n", "databases.My_DB", 5},
	{"database name too long", HEAD "databases:\n  "
	    "a123456789a123456789a123456789a123456789a12345678: {type: redis}\n",
	    "databases.a123456789a123456789a123456789a123456789a12345678", 5},
	{"name used twice across kinds", HEAD "databases:\n  x: {type: redis}\nvolumes:\n  v: {}\n"
	    "applications:\n  x:\n    source_type: docker_image\n    image_url: i\n",
	    "applications.x", 9},
	{"unknown variable", HEAD "applications:\n  a:\n    source_type: docker_image\n"
	    "    image_url: x\n    env:\n      K: v\n      URL: x${NOPE}\n", "applications.a.env.URL", 10},
	{"unknown resource", HEAD "applications:\n  a:\n    source_type: docker_image\n"
	    "    image_url: x\n    env:\n      H: ${nodb.host}\n", "applications.a.env.H", 9},
	{"unknown property", HEAD "databases:\n  d: {type: mysql}\napplications:\n  a:\n"
	    "    source_type: docker_image\n    image_url: x\n    env:\n      H: ${d.hostname}\n",
	    "applications.a.env.H", 11},
	{"property of an application", HEAD "applications:\n  a:\n    source_type: docker_image\n"
	    "    image_url: x\n    env:\n      H: ${a.host}\n", "applications.a.env.H", 9},
	{"unterminated reference", HEAD "applications:\n  a:\n    source_type: docker_image\n"
	    "    image_url: x\n    env:\n      H: ${X\n", "applications.a.env.H", 9},
	{"depends_on unknown", HEAD "applications:\n  a:\n    source_type: docker_image\n"
	    "    image_url: x\n    depends_on: [db]\n", "applications.a.depends_on[0]", 8},
	{"undeclared volume", HEAD "applications:\n  a:\n    source_type: docker_image\n"
	    "    image_url: x\n    volumes:\n      - name: data\n        mount_path: /data\n",
	    "applications.a.volumes[0].name", 9},
	{"variable length out of range", HEAD "variables:\n  K:\n    type: secret\n"
	    "    generate: true\n    length: 4\n", "variables.K.length", 8},
	{"variable type", HEAD "variables:\n  K:\n    type: password\n", "variables.K.type", 6},
	{"generate not a boolean", HEAD "variables:\n  K:\n    generate: yes please\n",
	    "variables.K.generate", 6},
	{"bad memory", HEAD "applications:\n  a:\n    source_type: docker_image\n"
	    "    image_url: x\n    memory_limit: lots\n", "applications.a.memory_limit", 8},
	{"bad cpu", HEAD "applications:\n  a:\n    source_type: docker_image\n"
	    "    image_url: x\n    cpu_limit: \"-1\"\n", "applications.a.cpu_limit", 8},
	{"env value a list", HEAD "applications:\n  a:\n    source_type: docker_image\n"
	    "    image_url: x\n    env:\n      L: [1, 2]\n", "applications.a.env.L", 9},
	{"YAML syntax", HEAD "applications: [a\n", "yaml", 5},
	{"YAML duplicate key", HEAD "databases:\n  d: {type: redis}\n  d: {type: mysql}\n", "yaml", 6},
	{"not a mapping", "- a\n- b\n", "yaml", 1},
	{"section not a mapping", HEAD "databases: [a, b]\n", "databases", 4},
};

static void
errors_with_lines(void)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		cJSON *errors = NULL, *plan = check(bad[i].yaml, NULL, &errors);
		int    line = line_of(errors, bad[i].field);

		CHECK(plan == NULL && errors != NULL, bad[i].name);
		if (line != bad[i].line) {
			char *s = errors ? cJSON_PrintUnformatted(errors) : NULL;

			printf("%s: want %s at line %d, got %s\n", bad[i].name, bad[i].field,
			    bad[i].line, s ? s : "(none)");
			free(s);
		}
		CHECK(line == bad[i].line, bad[i].name);
		cJSON_Delete(plan);
		cJSON_Delete(errors);
	}
}

static void
every_error_at_once(void)
{
	static const char yaml[] = HEAD
	    "extra: 1\n"                                  /* 4 */
	    "applications:\n"                             /* 5 */
	    "  a:\n"                                      /* 6 */
	    "    source_type: docker_image\n"             /* 7 */
	    "    image_url: x\n"                          /* 8 */
	    "    replicas: two\n"                         /* 9 */
	    "    env:\n"                                  /* 10 */
	    "      X: ${NOPE}\n";                         /* 11 */
	cJSON *errors = NULL, *plan = check(yaml, NULL, &errors);
	const cJSON *e;
	int          last = 0, ok = 1;

	CHECK(plan == NULL && cJSON_GetArraySize(errors) == 3, "three errors");
	cJSON_ArrayForEach(e, errors) {
		int l = cJSON_GetObjectItem(e, "line")->valueint;

		ok &= l >= last && cJSON_GetObjectItem(e, "column")->valueint > 0 &&
		    cJSON_IsString(cJSON_GetObjectItem(e, "message"));
		last = l;
	}
	CHECK(ok, "in the order of the text, with columns and messages");
	CHECK(line_of(errors, "extra") == 4 && line_of(errors, "applications.a.replicas") == 9 &&
	    line_of(errors, "applications.a.env.X") == 11, "each with its line");
	cJSON_Delete(errors);
}

static void
cycles_and_order(void)
{
	static const char cyc[] = HEAD
	    "applications:\n"                                               /* 4 */
	    "  a: {source_type: docker_image, image_url: x, depends_on: [b]}\n"   /* 5 */
	    "  b: {source_type: docker_image, image_url: x, depends_on: [c]}\n"   /* 6 */
	    "  c: {source_type: docker_image, image_url: x, depends_on: [a]}\n"   /* 7 */
	    "  d: {source_type: docker_image, image_url: x}\n";              /* 8 */
	static const char ord[] = HEAD
	    "databases:\n  db: {type: postgres}\n"
	    "applications:\n"
	    "  web: {source_type: docker_image, image_url: x, depends_on: [api, db]}\n"
	    "  api: {source_type: docker_image, image_url: x, depends_on: [worker]}\n"
	    "  worker: {source_type: docker_image, image_url: x}\n"
	    "  other: {source_type: docker_image, image_url: x}\n";
	cJSON       *errors = NULL, *plan = check(cyc, NULL, &errors);
	const cJSON *e = error_for(errors, "applications.a.depends_on[0]");
	char         buf[512];

	CHECK(plan == NULL && cJSON_GetArraySize(errors) == 3, "one error per member of the cycle");
	CHECK(line_of(errors, "applications.a.depends_on[0]") == 5 &&
	    line_of(errors, "applications.b.depends_on[0]") == 6 &&
	    line_of(errors, "applications.c.depends_on[0]") == 7, "each member's line");
	CHECK(e && strstr(cJSON_GetObjectItem(e, "message")->valuestring, "a -> b -> c -> a"),
	    "the way round");
	cJSON_Delete(errors);
	plan = check(ord, NULL, &errors);
	CHECK(plan && strcmp(order(plan, buf, sizeof(buf)), "database:db application:worker "
	    "application:api application:web application:other") == 0, buf);
	cJSON_Delete(plan);
}

static bool
exists(const char *kind, const char *name, void *arg)
{
	(void)arg;
	return (strcmp(kind, "database") == 0 && strcmp(name, "taken") == 0) ||
	    (strcmp(kind, "volume") == 0 && strcmp(name, "data") == 0);
}

static void
clashes(void)
{
	static const char yaml[] = HEAD "databases:\n  taken: {type: redis}\n  data: {type: redis}\n"
	    "volumes:\n  vol: {}\n";
	static const char vol[] = HEAD "volumes:\n  data: {}\n";
	struct template_ctx ctx = {exists, NULL};
	cJSON              *errors = NULL, *plan = check(yaml, &ctx, &errors);

	CHECK(plan == NULL && line_of(errors, "databases.taken") == 5, "existing database");
	CHECK(cJSON_GetArraySize(errors) == 1, "a volume's name does not clash with a database's");
	cJSON_Delete(errors);
	plan = check(vol, &ctx, &errors);
	CHECK(plan == NULL && line_of(errors, "volumes.data") == 5, "existing volume");
	cJSON_Delete(errors);
	plan = check(vol, NULL, &errors);
	CHECK(plan != NULL && errors == NULL, "no lookup, no clash");
	cJSON_Delete(plan);
}

static void
conversions(void)
{
	static const struct { const char *json; int64_t bytes; } sizes[] = {
		{"\"512M\"", 536870912}, {"\"1G\"", 1073741824}, {"\"1Gi\"", 1073741824},
		{"\"256mb\"", 268435456}, {"10737418240", 10737418240LL}, {"\"1.5G\"", 1610612736},
		{"\"12\"", 12}, {"\"G\"", -1}, {"\"1X\"", -1}, {"\"\"", -1}, {"-5", -1}, {"1.5", -1},
		{"\"1GG\"", -1}, {"true", -1},
	};
	static const struct { const char *json; double cpu; } cpus[] = {
		{"\"1.0\"", 1.0}, {"0.25", 0.25}, {"\"0\"", -1}, {"\"abc\"", -1}, {"300", -1},
		{"\"1.0x\"", -1},
	};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
		cJSON  *v = cJSON_Parse(sizes[i].json);
		int64_t n = -1;
		int     rc = template_bytes(v, &n);

		CHECK(sizes[i].bytes < 0 ? rc == -1 : rc == 0 && n == sizes[i].bytes, sizes[i].json);
		cJSON_Delete(v);
	}
	for (size_t i = 0; i < sizeof(cpus) / sizeof(*cpus); i++) {
		cJSON *v = cJSON_Parse(cpus[i].json);
		double d = -1;
		int    rc = template_cpu(v, &d);

		CHECK(cpus[i].cpu < 0 ? rc == -1 : rc == 0 && d == cpus[i].cpu, cpus[i].json);
		cJSON_Delete(v);
	}
}

static void
gallery(void)
{
	struct gallery              g;
	const struct gallery_entry *e;
	char                        err[512] = "", dir[] = "/tmp/test_gallery_XXXXXX";
	char                        path[256], names[512] = "";
	size_t                      used = 0;
	int                         cms = 0;
	FILE                       *f;

	CHECK(gallery_load(&g, "conf/templates", err, sizeof(err)) == 0, err);
	CHECK(g.n == 8, "eight built-ins shipped");
	for (size_t i = 0; i < g.n; i++) {
		int k = snprintf(names + used, sizeof(names) - used, "%s%s", i ? " " : "", g.rows[i].slug);

		if (k > 0 && (size_t)k < sizeof(names) - used)
			used += (size_t)k;
		cms += gallery_matches(&g.rows[i], "CMS", NULL);
	}
	CHECK(strcmp(names, "n8n wordpress redis ghost plausible gitea uptime-kuma minio") == 0,
	    "registry.json's order");
	CHECK(cms == 2, "?tag= in any case");
	e = gallery_find(&g, "plausible");
	CHECK(e && cJSON_IsTrue(cJSON_GetObjectItem(e->object, "builtin")) &&
	    strcmp(cJSON_GetObjectItem(e->object, "id")->valuestring, "plausible") == 0 &&
	    strcmp(cJSON_GetObjectItem(e->object, "category")->valuestring, "Analytics") == 0 &&
	    strcmp(cJSON_GetObjectItem(e->object, "created_at")->valuestring,
	    "2026-02-25T00:00:00Z") == 0, "built-in object");
	CHECK(e && e->readme != NULL && e->len > 100 && strstr(e->yaml, "clickhouse"), "text kept");
	CHECK(e && gallery_matches(e, NULL, "privacy-FRIENDLY") && !gallery_matches(e, "cms", NULL) &&
	    !gallery_matches(e, NULL, "wordpress"), "?q=");
	gallery_free(&g);
	CHECK(gallery_load(&g, "", err, sizeof(err)) == 0 && g.n == 0, "no gallery");

	/* a built-in that fails the checker stops the load with path:line */
	CHECK(mkdtemp(dir) != NULL, "temp dir");
	CHECK(util_snprintf(path, sizeof(path), "%s/cat", dir) > 0 && mkdir(path, 0700) == 0, "cat");
	CHECK(util_snprintf(path, sizeof(path), "%s/cat/bad", dir) > 0 && mkdir(path, 0700) == 0,
	    "slug");
	CHECK(util_snprintf(path, sizeof(path), "%s/cat/bad/template.yaml", dir) > 0 &&
	    (f = fopen(path, "w")) != NULL, "file");
	if (f != NULL) {
		fputs(HEAD "databases:\n  d: {type: oracle}\n", f);
		fclose(f);
	}
	CHECK(gallery_load(&g, dir, err, sizeof(err)) == -1 && strstr(err, "bad/template.yaml:5: "
	    "databases.d.type") != NULL, err);
	unlink(path);
	CHECK(util_snprintf(path, sizeof(path), "%s/cat/bad", dir) > 0 && rmdir(path) == 0, "rm");
	CHECK(util_snprintf(path, sizeof(path), "%s/cat", dir) > 0 && rmdir(path) == 0, "rm");
	CHECK(rmdir(dir) == 0, "rm");
}

int
main(void)
{
	shipped();
	references();
	errors_with_lines();
	every_error_at_once();
	cycles_and_order();
	clashes();
	conversions();
	gallery();
	return unit_done("template");
}
