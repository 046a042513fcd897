/*
 * mcp.c - API.md §23: the Model Context Protocol endpoint for AI agents,
 * POST /{tenant}/mcp (nginx rewrites it to /mcp below /api/v1 and marks it
 * LNCHR_MCP: conf/nginx/locations.conf.in), the Streamable HTTP transport
 * answering application/json (no server-initiated stream: GET and DELETE
 * are 405), stateless (no Mcp-Session-Id).
 *
 * Credentials exactly as the REST API's (x-lnchr-key, or a JWT): the router
 * authenticates the POST itself (any key scope may connect), and every
 * tool, resource and prompt runs the REST routes it needs as sub-requests
 * (http_sub_init) through router_dispatch with the same credentials: the
 * same handlers, key scopes, project binding, permission table, txn_run
 * and audit.  The route runs without a transaction of its own
 * (ROUTE_SUBREQUESTS); nothing here reads or writes the database itself.
 *
 * The tools are ONE table (tools[] below): name, description, method and
 * route, where each input property goes (path parameter, query parameter,
 * body field) with its JSON Schema, and whether the tool is destructive.
 * `launcher-fcgi --mcp-tools` prints it; tests/api/test_mcp.py checks it
 * against static/openapi.json.  README "MCP endpoint" gives the decisions.
 */
#include "api.h"

#include <stdio.h>
#include <string.h>

#include "../core/buf.h"
#include "../core/json.h"
#include "../core/log.h"
#include "../core/perm.h"
#include "../core/util.h"

#ifndef LAUNCHER_VERSION
#define LAUNCHER_VERSION "0.0.0"
#endif

/* What initialize agrees to and the MCP-Protocol-Version header may name,
 * newest first (the SDK 1.32 clients send the first). */
static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};
/* A request without the header is of this version (the transport spec's
 * rule); it is the one of ours that has JSON-RPC batches (2025-03-26 added
 * them, 2025-06-18 removed them). */
#define MCP_BATCH_VERSION "2025-03-26"
/* Messages in one batch: each tool call is a whole API request. */
#define MCP_BATCH_MAX 32
/* Lines of a log that a prompt quotes (the newest). */
#define PROMPT_LOG_LINES 80
/* Lines of a log that a resource reads (the newest), and the most text of
 * a log that a resource or a prompt shows (its newest whole lines). */
#define RESOURCE_LOG_LINES 200
#define LOG_TEXT_MAX ((size_t)256 << 10)
/*
 * The budget of one MCP request (a batch included): API calls, and bytes
 * of their answers held (each is copied and parsed, and kept until the
 * request ends).  Beyond it a sub-request is not run: a tool gets the
 * API's 429 as a tool error, a resource or a prompt a JSON-RPC -32603.
 */
#define MCP_MAX_SUBREQUESTS 64
#define MCP_MAX_HELD_BYTES ((size_t)8 << 20)
#define BUDGET_MESSAGE "this MCP request has used its budget (64 API calls, 8 MiB of answers): " \
	"send the rest in another request"

enum {
	RPC_PARSE = -32700,
	RPC_INVALID = -32600,
	RPC_METHOD = -32601,
	RPC_PARAMS = -32602,
	RPC_INTERNAL = -32603,
	RPC_API = -32001,	/* an API error behind a resource or a prompt (data: its code) */
	RPC_NO_RESOURCE = -32002,	/* the spec's "resource not found" */
};

/* ------------------------------------------------------------ the tool table */

enum mcp_in { IN_PATH, IN_QUERY, IN_BODY };

struct mcp_arg {
	const char *prop;	/* the input property */
	enum mcp_in in;
	const char *name;	/* the route's :param, the query parameter or the body field */
	bool        required;
	const char *schema;	/* the property's JSON Schema (JSON text) */
};

enum mcp_flags {
	/* Changes or removes something that a user may not get back: refused
	 * unless the call says confirm: true (an extra boolean input). */
	MCP_DESTRUCTIVE = 1 << 0,
};

#define MCP_MAX_ARGS 24

struct mcp_tool {
	const char      *name, *title, *description;
	enum http_method method;
	const char      *route;	/* below /api/v1, as in the route table */
	/* A GET route with the same parameters that answers the values too,
	 * used instead when the caller's key has the admin scope (env vars). */
	const char      *values_route;
	unsigned         flags;
	struct mcp_arg   args[MCP_MAX_ARGS];	/* ends at prop == NULL */
};

#define S_UUID(d)  "{\"type\":\"string\",\"format\":\"uuid\",\"description\":\"" d "\"}"
#define S_STR(d)   "{\"type\":\"string\",\"description\":\"" d "\"}"
#define S_INT(lo, hi, d) "{\"type\":\"integer\",\"minimum\":" #lo ",\"maximum\":" #hi \
	",\"description\":\"" d "\"}"
#define S_BOOL(d)  "{\"type\":\"boolean\",\"description\":\"" d "\"}"
#define S_ENUM(list, d) "{\"type\":\"string\",\"enum\":[" list "],\"description\":\"" d "\"}"
#define S_MAP(d)   "{\"type\":\"object\",\"additionalProperties\":{\"type\":[\"string\",\"null\"]}," \
	"\"description\":\"" d "\"}"
#define S_STRS(d)  "{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"description\":\"" d "\"}"

#define PATH_ID(prop, what) {prop, IN_PATH, "id", true, S_UUID("The " what "'s id.")}
#define QUERY(prop, name, schema) {prop, IN_QUERY, name, false, schema}
#define BODY(prop, req, schema) {prop, IN_BODY, prop, req, schema}
#define LIMIT QUERY("limit", "limit", S_INT(1, 200, "Page size (default 50)."))
#define CURSOR QUERY("cursor", "cursor", S_STR("meta.next_cursor of the previous page."))
#define Q_PROJECT(what) QUERY("project_id", "projectId", S_UUID("Only " what " of this project."))

#define APP_STATUSES "\"created\",\"deploying\",\"running\",\"stopped\",\"failed\",\"crashed\""
#define DEP_STATUSES "\"queued\",\"building\",\"deploying\",\"succeeded\",\"failed\"," \
	"\"cancelled\",\"superseded\""
#define ENV_SCOPES "\"project\",\"environment\",\"application\""

static const struct mcp_tool tools[] = {
	{"list_projects", "List projects",
	    "The projects the caller can see (a project-bound key: its project), oldest first.",
	    HTTP_GET, "/projects", NULL, 0, {LIMIT, CURSOR}},
	{"get_project", "Get a project",
	    "A project with its environments.",
	    HTTP_GET, "/projects/:id", NULL, 0, {PATH_ID("project_id", "project")}},
	{"list_applications", "List applications",
	    "Applications with their status, image or repository, domains and current deployment.",
	    HTTP_GET, "/applications", NULL, 0, {Q_PROJECT("applications"),
	    QUERY("environment_id", "environmentId", S_UUID("Only applications of this environment.")),
	    QUERY("server_id", "serverId", S_UUID("Only applications on this server.")),
	    QUERY("status", "status", S_ENUM(APP_STATUSES, "Only applications in this status.")),
	    LIMIT, CURSOR}},
	{"get_application", "Get an application",
	    "An application's settings and state (status, current deployment, domains, default_url).",
	    HTTP_GET, "/applications/:id", NULL, 0, {PATH_ID("application_id", "application")}},
	{"create_application", "Create an application",
	    "Creates an application in a project (not deployed yet: call deploy_application). "
	    "docker_image needs image_url, git needs repository_url.",
	    HTTP_POST, "/applications", NULL, 0, {
	    BODY("project_id", true, S_UUID("The project.")),
	    BODY("name", true, S_STR("Name, unique in the project's environment ([a-z0-9-]).")),
	    BODY("source_type", true, S_ENUM("\"docker_image\",\"git\",\"docker_compose\"",
		"Where the code comes from.")),
	    BODY("image_url", false, S_STR("The image (docker_image).")),
	    BODY("repository_url", false, S_STR("The git repository (git).")),
	    BODY("branch", false, S_STR("The git branch (default main).")),
	    BODY("dockerfile_path", false, S_STR("The Dockerfile (git; default Dockerfile).")),
	    BODY("compose", false, S_STR("The docker-compose YAML text (docker_compose).")),
	    BODY("app_type", false, S_ENUM("\"web\",\"worker\",\"api\"", "Kind of application.")),
	    BODY("environment_id", false, S_UUID("The environment (default: the project's default).")),
	    BODY("server_id", false, S_UUID("The server (default: the project's or the only one).")),
	    BODY("exposed_port", false, S_INT(1, 65535, "The port the container listens on (web).")),
	    BODY("replicas", false, S_INT(0, 50, "Instances (default 1).")),
	    BODY("env", false, S_MAP("Environment variables of the application {KEY: value}.")),
	    BODY("healthcheck_path", false, S_STR("HTTP path that answers 2xx when healthy.")),
	    BODY("healthcheck_timeout_seconds", false, S_INT(1, 3600,
		"How long a new release may take to become healthy.")),
	    BODY("start_command", false, S_STR("Command that replaces the image's.")),
	    BODY("restart_policy", false, S_ENUM("\"always\",\"on-failure\",\"unless-stopped\",\"no\"",
		"Restart policy (default always).")),
	    BODY("cpu_limit", false, "{\"type\":[\"number\",\"string\"],\"description\":"
		"\"CPU cores, e.g. 0.5.\"}"),
	    BODY("memory_limit", false, "{\"type\":[\"integer\",\"string\"],\"description\":"
		"\"Bytes, or e.g. 512M.\"}")}},
	{"deploy_application", "Deploy an application",
	    "Queues a deployment of the application's current settings; returns the deployment "
	    "(poll get_deployment until succeeded or failed).",
	    HTTP_POST, "/applications/:id/deploy", NULL, 0, {PATH_ID("application_id", "application"),
	    BODY("image_url", false, S_STR("Deploy this image (docker_image; it becomes the application's).")),
	    BODY("commit_sha", false, S_STR("Build this commit (git).")),
	    BODY("branch", false, S_STR("Build this branch (git)."))}},
	{"restart_application", "Restart an application",
	    "Restarts the application's instances (a job for its server's agent).",
	    HTTP_POST, "/applications/:id/restart", NULL, 0, {PATH_ID("application_id", "application")}},
	{"scale_application", "Scale an application",
	    "Sets the number of instances.",
	    HTTP_POST, "/applications/:id/scale", NULL, 0, {PATH_ID("application_id", "application"),
	    BODY("replicas", true, S_INT(0, 50, "Instances wanted."))}},
	{"rollback_application", "Roll an application back",
	    "Re-applies an earlier release (default: the previous successful deployment); returns the "
	    "new deployment.",
	    HTTP_POST, "/applications/:id/rollback", NULL, 0, {PATH_ID("application_id", "application"),
	    BODY("deployment_id", false, S_UUID("The deployment whose release to re-apply."))}},
	{"stop_application", "Stop an application",
	    "Stops every instance: the application stops serving. Destructive: needs confirm: true.",
	    HTTP_POST, "/applications/:id/stop", NULL, MCP_DESTRUCTIVE,
	    {PATH_ID("application_id", "application")}},
	{"delete_application", "Delete an application",
	    "Deletes the application, its containers and routes (volumes are kept). Destructive: "
	    "needs confirm: true.",
	    HTTP_DELETE, "/applications/:id", NULL, MCP_DESTRUCTIVE,
	    {PATH_ID("application_id", "application")}},
	{"list_deployments", "List deployments",
	    "Deployments with status, trigger, image and error, oldest first.",
	    HTTP_GET, "/deployments", NULL, 0, {Q_PROJECT("deployments"),
	    QUERY("application_id", "applicationId", S_UUID("Only deployments of this application.")),
	    QUERY("status", "status", S_ENUM(DEP_STATUSES, "Only deployments in this status.")),
	    LIMIT, CURSOR}},
	{"get_deployment", "Get a deployment",
	    "A deployment: status, image, strategy, error, timings.",
	    HTTP_GET, "/deployments/:id", NULL, 0, {PATH_ID("deployment_id", "deployment")}},
	{"get_deployment_logs", "Get a deployment's logs",
	    "The build and release log lines of a deployment.",
	    HTTP_GET, "/deployments/:id/logs", NULL, 0, {PATH_ID("deployment_id", "deployment"),
	    QUERY("tail", "tail", S_INT(1, 10000, "Only the newest lines (default: all)."))}},
	{"get_runtime_logs", "Get an application's runtime logs",
	    "What the application's containers printed (the newest lines, oldest first).",
	    HTTP_GET, "/applications/:id/runtime-logs", NULL, 0, {
	    PATH_ID("application_id", "application"),
	    QUERY("since", "since", S_STR("Lines at or after this RFC 3339 time.")),
	    QUERY("until", "until", S_STR("Lines before this RFC 3339 time.")),
	    QUERY("limit", "limit", S_INT(1, 200, "The newest lines to return (default 50).")),
	    QUERY("instance", "instance", S_STR("Only this instance (id, name or container id).")),
	    QUERY("stream", "stream", S_ENUM("\"stdout\",\"stderr\"", "Only this stream.")),
	    QUERY("q", "q", S_STR("Only lines containing this text."))}},
	{"list_databases", "List databases",
	    "Managed databases with type, version, status and internal host.",
	    HTTP_GET, "/databases", NULL, 0, {Q_PROJECT("databases"),
	    QUERY("environment_id", "environmentId", S_UUID("Only databases of this environment.")),
	    LIMIT, CURSOR}},
	{"get_database", "Get a database",
	    "A managed database (no password: the REST API's connection endpoint shows it).",
	    HTTP_GET, "/databases/:id", NULL, 0, {PATH_ID("database_id", "database")}},
	{"list_env_vars", "List environment variables",
	    "The variables of a scope: keys only, unless the key has the admin scope (then the "
	    "values of the non-secret ones too).",
	    HTTP_GET, "/env-vars", "/env-vars/values", 0, {
	    {"project_id", IN_QUERY, "projectId", true, S_UUID("The project.")},
	    QUERY("scope", "scope", S_ENUM(ENV_SCOPES, "The scope (default project).")),
	    QUERY("scope_id", "scopeId", S_UUID("The environment or application of the scope."))}},
	{"set_env_vars", "Set environment variables",
	    "Creates or updates variables of a scope by key (null deletes one); takes effect on the "
	    "next deploy. Values are not echoed.",
	    HTTP_POST, "/env-vars/bulk", NULL, 0, {
	    BODY("project_id", true, S_UUID("The project.")),
	    BODY("variables", true, S_MAP("{KEY: value}; values may reference ${db.<name>.url} etc.")),
	    BODY("scope", false, S_ENUM(ENV_SCOPES, "The scope (default project).")),
	    BODY("scope_id", false, S_UUID("The environment or application of the scope.")),
	    BODY("prune", false, S_BOOL("Also delete the scope's keys not given."))}},
	{"list_domains", "List domains",
	    "Custom domains with their verification, routing and TLS status.",
	    HTTP_GET, "/domains", NULL, 0, {Q_PROJECT("domains"),
	    QUERY("application_id", "applicationId", S_UUID("Only domains of this application.")),
	    LIMIT, CURSOR}},
	{"add_domain", "Add a domain",
	    "Adds a custom hostname to an application; the answer lists the DNS records to create.",
	    HTTP_POST, "/domains", NULL, 0, {
	    BODY("application_id", true, S_UUID("The application.")),
	    BODY("hostname", true, S_STR("The hostname, e.g. shop.example.com.")),
	    BODY("path_prefix", false, S_STR("Route only this path prefix (default /).")),
	    BODY("project_id", false, S_UUID("The application's project."))}},
	{"list_servers", "List servers",
	    "The servers (agents) of the tenant with their status.",
	    HTTP_GET, "/servers", NULL, 0, {LIMIT, CURSOR}},
	{"get_server_status", "Get a server's status",
	    "Last heartbeat, engine reachability, container counts and resource usage.",
	    HTTP_GET, "/servers/:id/status", NULL, 0, {PATH_ID("server_id", "server")}},
	{"list_issues", "List issues",
	    "Error-tracking issues (grouped exceptions and crashes).",
	    HTTP_GET, "/issues", NULL, 0, {Q_PROJECT("issues"),
	    QUERY("application_id", "applicationId", S_UUID("Only issues of this application.")),
	    QUERY("status", "status", S_ENUM("\"unresolved\",\"resolved\",\"ignored\"",
		"Only issues in this status.")),
	    QUERY("q", "q", S_STR("Only issues whose title or culprit contains this text.")),
	    LIMIT, CURSOR}},
	{"get_issue", "Get an issue",
	    "An issue with its counts, first and last occurrence.",
	    HTTP_GET, "/issues/:id", NULL, 0, {PATH_ID("issue_id", "issue")}},
	{"search", "Search",
	    "Searches every resource kind by name (prefix and typo tolerant), what the caller may see.",
	    HTTP_GET, "/search", NULL, 0, {
	    {"q", IN_QUERY, "q", true, S_STR("The text to search for.")},
	    QUERY("types", "types", S_STR("Comma-separated kinds, e.g. application,database.")),
	    QUERY("project_id", "projectId", S_UUID("Only in this project.")),
	    QUERY("limit", "limit", S_INT(1, 50, "Results (default 20)."))}},
	{"exec_command", "Run a command in an application",
	    "Runs a one-off command in an instance; returns a job: poll get_job until it is "
	    "succeeded or failed, its result holds exit_code and output.",
	    HTTP_POST, "/applications/:id/exec", NULL, 0, {PATH_ID("application_id", "application"),
	    BODY("command", true, S_STRS("The argv, e.g. [\\\"./manage\\\", \\\"migrate\\\"].")),
	    BODY("timeout_seconds", false, S_INT(1, 600, "Deadline of the command (default 300)."))}},
	{"get_job", "Get a job",
	    "A job (exec_command's) with its status and, once finished, its result.",
	    HTTP_GET, "/jobs/:id", NULL, 0, {PATH_ID("job_id", "job")}},
};
#define NTOOLS (sizeof(tools) / sizeof(*tools))

static const struct mcp_tool *
tool_by_name(const char *name)
{
	for (size_t i = 0; i < NTOOLS; i++)
		if (strcmp(tools[i].name, name) == 0)
			return &tools[i];
	return NULL;
}

static const struct mcp_arg *
arg_by_prop(const struct mcp_tool *t, const char *prop)
{
	for (const struct mcp_arg *a = t->args; a->prop; a++)
		if (strcmp(a->prop, prop) == 0)
			return a;
	return NULL;
}

/* The tool's inputSchema (NULL if one of the table's schemas is not JSON). */
static cJSON *
input_schema(const struct mcp_tool *t)
{
	cJSON *s = cJSON_CreateObject(), *props = cJSON_AddObjectToObject(s, "properties");
	cJSON *req = cJSON_CreateArray(), *p;

	cJSON_AddStringToObject(s, "type", "object");
	for (const struct mcp_arg *a = t->args; a->prop; a++) {
		if ((p = cJSON_Parse(a->schema)) == NULL) {
			cJSON_Delete(s);
			cJSON_Delete(req);
			return NULL;
		}
		cJSON_AddItemToObject(props, a->prop, p);
		if (a->required)
			cJSON_AddItemToArray(req, cJSON_CreateString(a->prop));
	}
	if (t->flags & MCP_DESTRUCTIVE) {
		cJSON_AddItemToObject(props, "confirm", cJSON_Parse(S_BOOL(
		    "Must be true: this tool changes or removes something that cannot be got back.")));
		cJSON_AddItemToArray(req, cJSON_CreateString("confirm"));
	}
	cJSON_AddItemToObject(s, "required", req);
	cJSON_AddBoolToObject(s, "additionalProperties", false);
	return s;
}

static cJSON *
tool_object(const struct mcp_tool *t)
{
	cJSON *o = cJSON_CreateObject(), *ann;

	cJSON_AddStringToObject(o, "name", t->name);
	cJSON_AddStringToObject(o, "title", t->title);
	cJSON_AddStringToObject(o, "description", t->description);
	cJSON_AddItemToObject(o, "inputSchema", input_schema(t));
	ann = cJSON_AddObjectToObject(o, "annotations");
	cJSON_AddStringToObject(ann, "title", t->title);
	cJSON_AddBoolToObject(ann, "readOnlyHint", t->method == HTTP_GET);
	cJSON_AddBoolToObject(ann, "destructiveHint", (t->flags & MCP_DESTRUCTIVE) != 0);
	cJSON_AddBoolToObject(ann, "openWorldHint", false);
	return o;
}

/* ------------------------------------------------------------ sub-requests */

/* What this MCP request has spent (mcp_post resets it; a worker serves one
 * request at a time). */
static struct {
	int    calls;	/* sub-requests run */
	size_t held;	/* bytes of their answers */
	int    refused;	/* sub-requests refused for the budget */
} spent;

/*
 * Runs method path?query (body: JSON text or NULL) as a sub-request of r
 * through the router, with r's credentials: its answer is in sub->held.
 * Work its handler deferred until after the answer (http_after) is added
 * to r's.  Beyond the budget it runs nothing: the answer is 429.
 */
static void
subrequest(struct req *r, struct req *sub, enum http_method m, const char *path,
    const struct http_kv *q, size_t nq, const char *body)
{
	bool over = spent.calls >= MCP_MAX_SUBREQUESTS || spent.held > MCP_MAX_HELD_BYTES;

	if (http_sub_init(sub, r, m, path, q, nq, body) == ERR_OK && !over) {
		spent.calls++;
		router_dispatch(sub);
	}
	if (over && !sub->responded) {
		spent.refused++;
		http_error(sub, ERR_TOO_MANY_REQUESTS, BUDGET_MESSAGE);
	}
	if (!sub->responded)
		http_error(sub, ERR_INTERNAL, "internal error");
	if (!over)
		spent.held += sub->held.len;
	if (sub->after_fn != NULL)
		http_after(r, sub->after_fn, sub->after_arg);
	log_set_request_id(r->request_id);
}

/* The sub-request's answer (the envelope), parsed, or NULL (204, not JSON). */
static cJSON *
answer_of(struct req *sub)
{
	cJSON *j;

	if (sub->held.body == NULL || sub->held.len == 0 ||
	    (j = cJSON_ParseWithLength(sub->held.body, sub->held.len)) == NULL)
		return NULL;
	return arena_defer(sub->a, (arena_cleanup_fn)cJSON_Delete, j);
}

/* GET path?query as a sub-request: its data (borrowed from the answer), or
 * NULL with *err the answer's error object (or NULL) and *status. */
static const cJSON *
get_data(struct req *r, const char *path, const struct http_kv *q, size_t nq, const cJSON **err,
    int *status)
{
	struct req sub;
	cJSON     *env;

	subrequest(r, &sub, HTTP_GET, path, q, nq, NULL);
	env = answer_of(&sub);
	*status = sub.held.status;
	*err = env ? cJSON_GetObjectItemCaseSensitive(env, "error") : NULL;
	if (sub.held.status >= 400 || env == NULL)
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(env, "data");
}

/* "CODE: message" of an API error object (or of a status without one). */
static const char *
error_text(struct req *r, const cJSON *err, int status)
{
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
	const cJSON *details = cJSON_GetObjectItemCaseSensitive(err, "details"), *d;
	struct buf   b;

	buf_init(&b, r->a, 256, 64 * 1024);
	buf_adds(&b, cJSON_IsString(code) ? code->valuestring : "INTERNAL_ERROR");
	buf_adds(&b, ": ");
	buf_adds(&b, cJSON_IsString(msg) ? msg->valuestring :
	    arena_printf(r->a, "HTTP status %d", status));
	cJSON_ArrayForEach(d, details) {
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(d, "field");
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(d, "message");

		if (cJSON_IsString(f) && cJSON_IsString(m))
			buf_adds(&b, arena_printf(r->a, "\n- %s: %s", f->valuestring, m->valuestring));
	}
	return buf_ok(&b) ? b.data : "INTERNAL_ERROR: the error is too long to show";
}

/* ------------------------------------------------------------ tool results */

static cJSON *
tool_result(const char *text, cJSON *structured, bool is_error)
{
	cJSON *res = cJSON_CreateObject(), *content = cJSON_AddArrayToObject(res, "content");
	cJSON *t = cJSON_CreateObject();

	cJSON_AddStringToObject(t, "type", "text");
	cJSON_AddStringToObject(t, "text", text);
	cJSON_AddItemToArray(content, t);
	cJSON_AddItemToObject(res, "structuredContent", structured);
	cJSON_AddBoolToObject(res, "isError", is_error);
	return res;
}

/* A tool error that did not come from the API (bad arguments, no confirm). */
static cJSON *
tool_refusal(struct req *r, const char *code, const char *message, cJSON *details)
{
	cJSON *sc = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(sc, "error");

	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", message);
	if (details != NULL)
		cJSON_AddItemToObject(e, "details", details);
	return tool_result(error_text(r, e, 400), sc, true);
}

/*
 * The API's answer as a tool result: structuredContent {status, data, meta}
 * (2xx) or {status, error: {code, message, details}} with isError; the text
 * is the same as JSON, an error's as "CODE: message".
 */
static cJSON *
api_result(struct req *r, struct req *sub)
{
	cJSON *env = answer_of(sub), *sc = cJSON_CreateObject(), *err;
	char  *text;
	cJSON *res;

	cJSON_AddNumberToObject(sc, "status", sub->held.status);
	if (sub->held.status >= 400) {
		err = env ? cJSON_DetachItemFromObjectCaseSensitive(env, "error") : NULL;
		if (err == NULL) {
			err = cJSON_CreateObject();
			cJSON_AddStringToObject(err, "code", "INTERNAL_ERROR");
			cJSON_AddStringToObject(err, "message", "internal error");
		}
		cJSON_AddItemToObject(sc, "error", err);
		return tool_result(error_text(r, err, sub->held.status), sc, true);
	}
	if (env != NULL) {
		cJSON_AddItemToObject(sc, "data", cJSON_DetachItemFromObjectCaseSensitive(env, "data"));
		if (cJSON_HasObjectItem(env, "meta"))
			cJSON_AddItemToObject(sc, "meta",
			    cJSON_DetachItemFromObjectCaseSensitive(env, "meta"));
	}
	if ((text = cJSON_PrintUnformatted(sc)) == NULL) {
		cJSON_Delete(sc);
		return NULL;
	}
	res = tool_result(text, sc, false);
	cJSON_free(text);
	return res;
}

/* A scalar argument as text for a path or query parameter; NULL otherwise. */
static const char *
scalar(struct req *r, const cJSON *v)
{
	if (cJSON_IsString(v))
		return v->valuestring;
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v) ? "true" : "false";
	if (cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble)
		return arena_printf(r->a, "%lld", (long long)v->valuedouble);
	return NULL;
}

/* The route with its :params replaced by the values of vals (same order). */
static const char *
fill_route(struct req *r, const char *route, const char *const *names, const char *const *vals,
    size_t n)
{
	struct buf  b;
	const char *p = route;

	buf_init(&b, r->a, 128, 4096);
	while (*p) {
		const char *end = strchr(p, '/');
		size_t      len = end ? (size_t)(end - p) : strlen(p);

		if (*p == ':') {
			for (size_t i = 0; i < n; i++)
				if (strlen(names[i]) == len - 1 && strncmp(names[i], p + 1, len - 1) == 0)
					buf_adds(&b, vals[i]);
		} else
			buf_add(&b, p, len);
		p += len;
		if (*p == '/') {
			buf_adds(&b, "/");
			p++;
		}
	}
	return buf_ok(&b) ? b.data : NULL;
}

/*
 * tools/call of t with args (an object or NULL): the arguments checked
 * against the table (unknown, missing, not a scalar where a parameter
 * needs one: a tool error naming each), confirm for a destructive tool,
 * then the one sub-request.  A tool result, never NULL but on OOM.
 */
static cJSON *
tool_call(struct req *r, const struct mcp_tool *t, const cJSON *args)
{
	const char     *pnames[MCP_MAX_ARGS], *pvals[MCP_MAX_ARGS], *path, *route = t->route;
	struct http_kv  q[MCP_MAX_ARGS];
	size_t          np = 0, nq = 0;
	cJSON          *body = cJSON_CreateObject(), *bad = cJSON_CreateArray();
	const cJSON    *v, *confirm = cJSON_GetObjectItemCaseSensitive(args, "confirm");
	char           *text = NULL;
	struct req      sub;

	arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, body);
	cJSON_ArrayForEach(v, args)
		if (arg_by_prop(t, v->string) == NULL &&
		    !((t->flags & MCP_DESTRUCTIVE) && strcmp(v->string, "confirm") == 0))
			json_detail(bad, v->string, "unknown argument");
	for (const struct mcp_arg *a = t->args; a->prop; a++) {
		const char *s;

		v = cJSON_GetObjectItemCaseSensitive(args, a->prop);
		if (v == NULL || (cJSON_IsNull(v) && a->in != IN_BODY)) {
			if (a->required)
				json_detail(bad, a->prop, "is required");
			continue;
		}
		if (a->in == IN_BODY) {
			cJSON_AddItemToObject(body, a->name, cJSON_Duplicate(v, true));
			continue;
		}
		if ((s = scalar(r, v)) == NULL)
			json_detail(bad, a->prop, "must be a string");
		else if (a->in == IN_PATH && (router_id_param(a->name) ? !util_is_uuid(s) :
		    (*s == '\0' || strchr(s, '/') != NULL)))
			json_detail(bad, a->prop, "must be an id (a UUID)");
		else if (a->in == IN_PATH) {
			pnames[np] = a->name;
			pvals[np++] = s;
		} else {
			q[nq].name = a->name;
			q[nq++].value = s;
		}
	}
	if (cJSON_GetArraySize(bad) > 0)
		return tool_refusal(r, "BAD_REQUEST", "invalid arguments", bad);
	cJSON_Delete(bad);
	if ((t->flags & MCP_DESTRUCTIVE) && !cJSON_IsTrue(confirm))
		return tool_refusal(r, "CONFIRMATION_REQUIRED", arena_printf(r->a,
		    "%s is destructive: nothing was done; call it again with confirm: true to proceed",
		    t->name), NULL);
	/* Values only for a key that has the admin scope (a JWT has every
	 * scope): the route still decides whether this caller may read them. */
	if (t->values_route != NULL && (r->who.scopes & SCOPE_ADMIN))
		route = t->values_route;
	if ((path = fill_route(r, route, pnames, pvals, np)) == NULL)
		return tool_refusal(r, "BAD_REQUEST", "arguments too long", NULL);
	if (t->method != HTTP_GET && t->method != HTTP_DELETE &&
	    (text = cJSON_PrintUnformatted(body)) == NULL)
		return NULL;
	subrequest(r, &sub, t->method, path, q, nq, text);
	cJSON_free(text);
	/* A caller who may read the keys but not the values: the keys. */
	if (route != t->route && sub.held.status == 403) {
		path = fill_route(r, t->route, pnames, pvals, np);
		subrequest(r, &sub, t->method, path, q, nq, NULL);
	}
	return api_result(r, &sub);
}

/* ------------------------------------------------------------ resources */

static const struct {
	const char *prefix, *suffix;	/* launcher://<prefix><id><suffix> */
	const char *route;		/* the REST route (GET), :id the URI's id */
	const char *name, *title, *description;
	bool        runtime;	/* runtime log lines (instance and stream) */
} kinds[] = {
	{"launcher://deployments/", "/logs", "/deployments/:id/logs", "deployment-logs",
	    "Deployment logs", "The build and release log lines of a deployment.", false},
	{"launcher://applications/", "/runtime-logs", "/applications/:id/runtime-logs",
	    "runtime-logs", "Runtime logs",
	    "The newest 200 lines the application's containers printed.", true},
};
#define NKINDS (sizeof(kinds) / sizeof(*kinds))

/* Log lines (objects with timestamp, message and, for runtime logs,
 * instance and stream) as text, the last `tail` of them (0: all). */
static const char *
log_text(struct req *r, const cJSON *lines, bool runtime, int tail)
{
	int          n = cJSON_GetArraySize(lines), i = 0;
	const cJSON *l;
	struct buf   b;

	buf_init(&b, r->a, 4096, (size_t)8 << 20);
	cJSON_ArrayForEach(l, lines) {
		const cJSON *ts = cJSON_GetObjectItemCaseSensitive(l, "timestamp");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(l, "message");
		const cJSON *inst = cJSON_GetObjectItemCaseSensitive(l, "instance");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(l, "stream");

		if (tail > 0 && i++ < n - tail)
			continue;
		buf_adds(&b, cJSON_IsString(ts) ? ts->valuestring : "-");
		if (runtime)
			buf_adds(&b, arena_printf(r->a, " [%s %s]", cJSON_IsString(inst) ?
			    inst->valuestring : "-", cJSON_IsString(st) ? st->valuestring : "-"));
		buf_adds(&b, " ");
		buf_adds(&b, cJSON_IsString(msg) ? msg->valuestring : "");
		buf_adds(&b, "\n");
	}
	if (!buf_ok(&b))
		return "(the log is too long to show)\n";
	if (b.len > LOG_TEXT_MAX) {
		/* The newest whole lines that fit. */
		const char *cut = memchr(b.data + b.len - LOG_TEXT_MAX, '\n', LOG_TEXT_MAX);

		return arena_printf(r->a, "(older lines cut: the newest %zu KiB follow)\n%s",
		    LOG_TEXT_MAX >> 10, cut ? cut + 1 : "");
	}
	return b.data;
}

/* The kind and id of a resource URI; false if it names none of ours. */
static bool
parse_uri(struct req *r, const char *uri, size_t *kind, const char **id)
{
	for (size_t k = 0; k < NKINDS; k++) {
		size_t pl = strlen(kinds[k].prefix), sl = strlen(kinds[k].suffix), n = strlen(uri);

		if (n > pl + sl && strncmp(uri, kinds[k].prefix, pl) == 0 &&
		    strcmp(uri + n - sl, kinds[k].suffix) == 0) {
			*id = arena_strndup(r->a, uri + pl, n - pl - sl);
			*kind = k;
			return util_is_uuid(*id);
		}
	}
	return false;
}

static cJSON *
rpc_error(int code, const char *message, cJSON *data)
{
	cJSON *e = cJSON_CreateObject();

	cJSON_AddNumberToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", message);
	if (data != NULL)
		cJSON_AddItemToObject(e, "data", data);
	return e;
}

/* A JSON-RPC error for an API error behind a resource or a prompt: 400
 * and 404 are the caller's params, anything else RPC_API; data carries the
 * API's status, code and message. */
static cJSON *
api_rpc_error(struct req *r, const cJSON *err, int status, int not_found)
{
	cJSON *data = cJSON_CreateObject();

	cJSON_AddNumberToObject(data, "status", status);
	if (err != NULL)
		cJSON_AddItemToObject(data, "error", cJSON_Duplicate(err, true));
	return rpc_error(status == 404 ? not_found : status == 400 ? RPC_PARAMS : RPC_API,
	    error_text(r, err, status), data);
}

static cJSON *
resources_read(struct req *r, const cJSON *params, cJSON **error)
{
	const cJSON     *uri = cJSON_GetObjectItemCaseSensitive(params, "uri"), *data, *err;
	const char      *id, *path;
	size_t           k;
	int              status;
	cJSON           *res, *c, *one;
	/* The newest lines: ?limit= of runtime logs, ?tail= of a deployment's. */
	const char      *n = arena_printf(r->a, "%d", RESOURCE_LOG_LINES);
	struct http_kv   limit = {"limit", n}, tail = {"tail", n};

	if (!cJSON_IsString(uri)) {
		*error = rpc_error(RPC_PARAMS, "params.uri must be a string", NULL);
		return NULL;
	}
	if (!parse_uri(r, uri->valuestring, &k, &id)) {
		*error = rpc_error(RPC_NO_RESOURCE, "resource not found", NULL);
		return NULL;
	}
	path = fill_route(r, kinds[k].route, (const char *const[]){"id"}, &id, 1);
	if ((data = get_data(r, path, kinds[k].runtime ? &limit : &tail, 1, &err, &status)) == NULL) {
		*error = api_rpc_error(r, err, status, RPC_NO_RESOURCE);
		return NULL;
	}
	res = cJSON_CreateObject();
	c = cJSON_AddArrayToObject(res, "contents");
	one = cJSON_CreateObject();
	cJSON_AddStringToObject(one, "uri", uri->valuestring);
	cJSON_AddStringToObject(one, "mimeType", "text/plain");
	cJSON_AddStringToObject(one, "text", log_text(r, data, kinds[k].runtime, 0));
	cJSON_AddItemToArray(c, one);
	return res;
}

static cJSON *
resource_entry(const char *uri, const char *name, const char *title, const char *description)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "uri", uri);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "title", title);
	cJSON_AddStringToObject(o, "description", description);
	cJSON_AddStringToObject(o, "mimeType", "text/plain");
	return o;
}

/*
 * resources/list: for each application the caller can see (a page of GET
 * /applications; params.cursor is its cursor), its runtime logs and its
 * current deployment's logs.
 */
static cJSON *
resources_list(struct req *r, const cJSON *params, cJSON **error)
{
	const cJSON   *cursor = cJSON_GetObjectItemCaseSensitive(params, "cursor"), *apps, *a, *err;
	const cJSON   *meta_next = NULL;
	struct http_kv q[2] = {{"limit", "50"}, {"cursor", NULL}};
	int            status;
	cJSON         *res, *list;
	struct req     sub;
	cJSON         *env;

	if (cursor != NULL && !cJSON_IsString(cursor)) {
		*error = rpc_error(RPC_PARAMS, "params.cursor must be a string", NULL);
		return NULL;
	}
	q[1].value = cursor ? cursor->valuestring : NULL;
	subrequest(r, &sub, HTTP_GET, "/applications", q, cursor ? 2 : 1, NULL);
	env = answer_of(&sub);
	status = sub.held.status;
	err = env ? cJSON_GetObjectItemCaseSensitive(env, "error") : NULL;
	if (status >= 400 || env == NULL) {
		*error = api_rpc_error(r, err, status, RPC_PARAMS);
		return NULL;
	}
	apps = cJSON_GetObjectItemCaseSensitive(env, "data");
	meta_next = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(env, "meta"),
	    "next_cursor");
	res = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(res, "resources");
	cJSON_ArrayForEach(a, apps) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(a, "name");
		const cJSON *dep = cJSON_GetObjectItemCaseSensitive(a, "current_deployment_id");
		const char  *n = cJSON_IsString(name) ? name->valuestring : "?";

		if (!cJSON_IsString(id))
			continue;
		cJSON_AddItemToArray(list, resource_entry(arena_printf(r->a,
		    "launcher://applications/%s/runtime-logs", id->valuestring),
		    arena_printf(r->a, "%s runtime logs", n), arena_printf(r->a,
		    "Runtime logs of %s", n), kinds[1].description));
		if (cJSON_IsString(dep))
			cJSON_AddItemToArray(list, resource_entry(arena_printf(r->a,
			    "launcher://deployments/%s/logs", dep->valuestring),
			    arena_printf(r->a, "%s deployment logs", n), arena_printf(r->a,
			    "Logs of the current deployment of %s", n), kinds[0].description));
	}
	if (cJSON_IsString(meta_next))
		cJSON_AddStringToObject(res, "nextCursor", meta_next->valuestring);
	return res;
}

static cJSON *
resource_templates(void)
{
	cJSON *res = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(res, "resourceTemplates");

	for (size_t k = 0; k < NKINDS; k++) {
		cJSON *o = cJSON_CreateObject();
		char   tpl[128];

		util_snprintf(tpl, sizeof(tpl), "%s{id}%s", kinds[k].prefix, kinds[k].suffix);
		cJSON_AddStringToObject(o, "uriTemplate", tpl);
		cJSON_AddStringToObject(o, "name", kinds[k].name);
		cJSON_AddStringToObject(o, "title", kinds[k].title);
		cJSON_AddStringToObject(o, "description", kinds[k].description);
		cJSON_AddStringToObject(o, "mimeType", "text/plain");
		cJSON_AddItemToArray(list, o);
	}
	return res;
}

/* ------------------------------------------------------------ prompts */

static const struct {
	const char *name, *title, *description, *arg, *arg_description;
} prompts[] = {
	{"troubleshoot_application", "Troubleshoot an application",
	    "Assembles an application's configuration, instances, latest deployment log, runtime "
	    "logs, recent events and open issues, and asks what is wrong and how to fix it.",
	    "application_id", "The application's id."},
	{"explain_failed_deployment", "Explain a failed deployment",
	    "Assembles a deployment, its log, its application's configuration and runtime logs "
	    "around it, and asks why it failed and how to fix it.",
	    "deployment_id", "The deployment's id."},
};
#define NPROMPTS (sizeof(prompts) / sizeof(*prompts))

/* Appends a section to b: its heading and the GET's data (JSON, or the
 * log's lines), or why it is not available. */
static void
section(struct req *r, struct buf *b, const char *heading, const char *path,
    const struct http_kv *q, size_t nq, int log)
{
	const cJSON *data, *err;
	int          status;
	char        *s;

	buf_adds(b, arena_printf(r->a, "\n## %s\n", heading));
	if ((data = get_data(r, path, q, nq, &err, &status)) == NULL) {
		buf_adds(b, arena_printf(r->a, "(not available: %s)\n", error_text(r, err, status)));
		return;
	}
	if (log != 0) {
		buf_adds(b, cJSON_GetArraySize(data) == 0 ? "(no lines)\n" : "```\n");
		if (cJSON_GetArraySize(data) > 0) {
			buf_adds(b, log_text(r, data, log == 2, PROMPT_LOG_LINES));
			buf_adds(b, "```\n");
		}
		return;
	}
	if ((s = cJSON_Print(data)) == NULL)
		return;
	buf_adds(b, "```json\n");
	buf_adds(b, s);
	buf_adds(b, "\n```\n");
	cJSON_free(s);
}

static const char *
str_of(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The text of troubleshoot_application for application id; NULL with
 * *error when the application cannot be read. */
static const char *
troubleshoot(struct req *r, const char *id, cJSON **error)
{
	const cJSON   *app, *err;
	int            status;
	struct buf     b;
	struct http_kv tail = {"limit", "100"};
	struct http_kv lines = {"tail", arena_printf(r->a, "%d", PROMPT_LOG_LINES)};
	struct http_kv ev[2] = {{"resourceId", id}, {"limit", "20"}};
	struct http_kv is[3] = {{"applicationId", id}, {"status", "unresolved"}, {"limit", "10"}};
	char          *s;

	if ((app = get_data(r, arena_printf(r->a, "/applications/%s", id), NULL, 0, &err,
	    &status)) == NULL) {
		*error = api_rpc_error(r, err, status, RPC_PARAMS);
		return NULL;
	}
	buf_init(&b, r->a, 16384, (size_t)4 << 20);
	buf_adds(&b, arena_printf(r->a, "Troubleshoot the Launcher application \"%s\" (id %s, "
	    "status %s). Below are its configuration, its instances, its current deployment, the "
	    "log of its latest deployment, its newest runtime log lines, its recent events and its "
	    "open error-tracking issues. Say what is wrong, the most likely cause, and the fix "
	    "(settings to change, commands to run, or a redeploy or rollback); say so if "
	    "everything looks healthy.\n\n## Configuration\n```json\n",
	    str_of(app, "name") ? str_of(app, "name") : "?", id,
	    str_of(app, "status") ? str_of(app, "status") : "?"));
	if ((s = cJSON_Print(app)) != NULL) {
		buf_adds(&b, s);
		cJSON_free(s);
	}
	buf_adds(&b, "\n```\n");
	section(r, &b, "Instances", arena_printf(r->a, "/applications/%s/instances", id), NULL, 0, 0);
	if (str_of(app, "current_deployment_id") != NULL)
		section(r, &b, "Current deployment", arena_printf(r->a, "/deployments/%s",
		    str_of(app, "current_deployment_id")), NULL, 0, 0);
	section(r, &b, "Latest deployment log (newest lines)", arena_printf(r->a,
	    "/applications/%s/build-logs", id), &lines, 1, 1);
	section(r, &b, "Runtime logs (newest lines)", arena_printf(r->a,
	    "/applications/%s/runtime-logs", id), &tail, 1, 2);
	section(r, &b, "Events", "/alerts/events", ev, 2, 0);
	section(r, &b, "Open issues", "/issues", is, 3, 0);
	return buf_ok(&b) ? b.data : "(too much to show)";
}

/* The text of explain_failed_deployment for deployment id. */
static const char *
explain(struct req *r, const char *id, cJSON **error)
{
	const cJSON   *dep, *err;
	const char    *app, *until;
	int            status;
	struct buf     b;
	struct http_kv rt[2] = {{"limit", "100"}, {"until", NULL}};
	struct http_kv lines = {"tail", arena_printf(r->a, "%d", PROMPT_LOG_LINES)};
	struct http_kv ev[2] = {{"resourceId", id}, {"limit", "20"}};
	char          *s;

	if ((dep = get_data(r, arena_printf(r->a, "/deployments/%s", id), NULL, 0, &err,
	    &status)) == NULL) {
		*error = api_rpc_error(r, err, status, RPC_PARAMS);
		return NULL;
	}
	app = str_of(dep, "application_id");
	until = str_of(dep, "finished_at");
	rt[1].value = until;
	buf_init(&b, r->a, 16384, (size_t)4 << 20);
	buf_adds(&b, arena_printf(r->a, "Explain why the Launcher deployment %s failed%s. Below "
	    "are the deployment, its build and release log, its application's configuration, the "
	    "application's runtime log lines up to the deployment's end, and the deployment's "
	    "events. Give the cause in one or two sentences, quote the log lines that show it, "
	    "and say how to fix it (settings, code, image, or a rollback).\n\n"
	    "## Deployment\n```json\n", id,
	    str_of(dep, "status") && strcmp(str_of(dep, "status"), "failed") != 0 ?
	    arena_printf(r->a, " (its status is %s, not failed: explain what happened)",
	    str_of(dep, "status")) : ""));
	if ((s = cJSON_Print(dep)) != NULL) {
		buf_adds(&b, s);
		cJSON_free(s);
	}
	buf_adds(&b, "\n```\n");
	section(r, &b, "Deployment log (newest lines)", arena_printf(r->a, "/deployments/%s/logs",
	    id), &lines, 1, 1);
	if (app != NULL) {
		section(r, &b, "Application", arena_printf(r->a, "/applications/%s", app), NULL, 0, 0);
		section(r, &b, "Runtime logs up to the deployment's end", arena_printf(r->a,
		    "/applications/%s/runtime-logs", app), rt, until ? 2 : 1, 2);
	}
	section(r, &b, "Events", "/alerts/events", ev, 2, 0);
	return buf_ok(&b) ? b.data : "(too much to show)";
}

static cJSON *
prompts_list(void)
{
	cJSON *res = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(res, "prompts");

	for (size_t i = 0; i < NPROMPTS; i++) {
		cJSON *p = cJSON_CreateObject(), *args = cJSON_AddArrayToObject(p, "arguments");
		cJSON *a = cJSON_CreateObject();

		cJSON_AddStringToObject(p, "name", prompts[i].name);
		cJSON_AddStringToObject(p, "title", prompts[i].title);
		cJSON_AddStringToObject(p, "description", prompts[i].description);
		cJSON_AddStringToObject(a, "name", prompts[i].arg);
		cJSON_AddStringToObject(a, "description", prompts[i].arg_description);
		cJSON_AddBoolToObject(a, "required", true);
		cJSON_AddItemToArray(args, a);
		cJSON_AddItemToArray(list, p);
	}
	return res;
}

static cJSON *
prompts_get(struct req *r, const cJSON *params, cJSON **error)
{
	const char  *name = str_of(params, "name"), *text = NULL, *id;
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
	size_t       i;
	cJSON       *res, *msgs, *m, *c;

	for (i = 0; name != NULL && i < NPROMPTS; i++)
		if (strcmp(prompts[i].name, name) == 0)
			break;
	if (name == NULL || i == NPROMPTS) {
		*error = rpc_error(RPC_PARAMS, "unknown prompt", NULL);
		return NULL;
	}
	if ((id = str_of(args, prompts[i].arg)) == NULL || !util_is_uuid(id)) {
		*error = rpc_error(RPC_PARAMS, arena_printf(r->a, "arguments.%s must be an id",
		    prompts[i].arg), NULL);
		return NULL;
	}
	text = i == 0 ? troubleshoot(r, id, error) : explain(r, id, error);
	if (text == NULL)
		return NULL;
	res = cJSON_CreateObject();
	cJSON_AddStringToObject(res, "description", prompts[i].description);
	msgs = cJSON_AddArrayToObject(res, "messages");
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", "user");
	c = cJSON_AddObjectToObject(m, "content");
	cJSON_AddStringToObject(c, "type", "text");
	cJSON_AddStringToObject(c, "text", text);
	cJSON_AddItemToArray(msgs, m);
	return res;
}

/* ------------------------------------------------------------ JSON-RPC */

static cJSON *
initialize(const cJSON *params, cJSON **error)
{
	const char *want = str_of(params, "protocolVersion"), *v = versions[0];
	cJSON      *res, *caps, *info;

	if (want == NULL) {
		*error = rpc_error(RPC_PARAMS, "params.protocolVersion must be a string", NULL);
		return NULL;
	}
	/* The client's version when we speak it, else our newest (the
	 * client then decides whether to go on). */
	for (size_t i = 0; i < sizeof(versions) / sizeof(*versions); i++)
		if (strcmp(want, versions[i]) == 0)
			v = versions[i];
	res = cJSON_CreateObject();
	cJSON_AddStringToObject(res, "protocolVersion", v);
	caps = cJSON_AddObjectToObject(res, "capabilities");
	cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "tools"), "listChanged", false);
	cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "prompts"), "listChanged", false);
	cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "resources"), "listChanged", false);
	info = cJSON_AddObjectToObject(res, "serverInfo");
	cJSON_AddStringToObject(info, "name", "launcher");
	cJSON_AddStringToObject(info, "title", "Launcher");
	cJSON_AddStringToObject(info, "version", LAUNCHER_VERSION);
	cJSON_AddStringToObject(res, "instructions", "Launcher deploys and runs applications, "
	    "databases and domains on the tenant's servers. Each tool is one call of the REST API "
	    "with your key's permissions; deployments and exec are asynchronous (poll "
	    "get_deployment or get_job). Destructive tools need confirm: true.");
	return res;
}

static cJSON *
tools_list(void)
{
	cJSON *res = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(res, "tools");

	for (size_t i = 0; i < NTOOLS; i++)
		cJSON_AddItemToArray(list, tool_object(&tools[i]));
	return res;
}

static cJSON *
tools_call(struct req *r, const cJSON *params, cJSON **error)
{
	const char            *name = str_of(params, "name");
	const cJSON           *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
	const struct mcp_tool *t;
	cJSON                 *res;

	if (name == NULL || (t = tool_by_name(name)) == NULL) {
		*error = rpc_error(RPC_PARAMS, name ? arena_printf(r->a, "unknown tool: %s", name) :
		    "params.name must be a string", NULL);
		return NULL;
	}
	if (args != NULL && !cJSON_IsObject(args) && !cJSON_IsNull(args)) {
		*error = rpc_error(RPC_PARAMS, "params.arguments must be an object", NULL);
		return NULL;
	}
	if ((res = tool_call(r, t, cJSON_IsObject(args) ? args : NULL)) == NULL)
		*error = rpc_error(RPC_INTERNAL, "internal error", NULL);
	return res;
}

static cJSON *
response(const cJSON *id, cJSON *result, cJSON *error)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "jsonrpc", "2.0");
	cJSON_AddItemToObject(o, "id", id ? cJSON_Duplicate(id, false) : cJSON_CreateNull());
	if (error != NULL)
		cJSON_AddItemToObject(o, "error", error);
	else
		cJSON_AddItemToObject(o, "result", result);
	return o;
}

/*
 * One JSON-RPC message: the response to a request, or NULL for a
 * notification or a client's response (nothing to answer).  *invalid is
 * set when msg is not a JSON-RPC message at all (the HTTP answer of a
 * lone message is then 400).
 */
static cJSON *
message(struct req *r, const cJSON *msg, bool in_batch, bool *invalid)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
	const char  *jsonrpc = str_of(msg, "jsonrpc"), *method = str_of(msg, "method");
	cJSON       *result = NULL, *error = NULL;
	int          refused = spent.refused;

	*invalid = true;
	if (!cJSON_IsObject(msg) || jsonrpc == NULL || strcmp(jsonrpc, "2.0") != 0)
		return response(NULL, NULL, rpc_error(RPC_INVALID, "not a JSON-RPC 2.0 message", NULL));
	if (id != NULL && !cJSON_IsString(id) && !(cJSON_IsNumber(id) &&
	    id->valuedouble == (double)(long long)id->valuedouble))
		return response(NULL, NULL, rpc_error(RPC_INVALID,
		    "id must be a string or an integer", NULL));
	if (method == NULL) {
		if (id != NULL && (cJSON_HasObjectItem(msg, "result") ||
		    cJSON_HasObjectItem(msg, "error"))) {
			*invalid = false;	/* a client's response: we never ask anything */
			return NULL;
		}
		return response(id, NULL, rpc_error(RPC_INVALID, "method must be a string", NULL));
	}
	*invalid = false;
	if (id == NULL)
		return NULL;	/* a notification (initialized, cancelled, ...): nothing to do */
	if (params != NULL && !cJSON_IsObject(params))
		return response(id, NULL, rpc_error(RPC_PARAMS, "params must be an object", NULL));
	if (strcmp(method, "initialize") == 0)
		result = in_batch ? (error = rpc_error(RPC_INVALID,
		    "initialize must not be part of a batch", NULL), NULL) : initialize(params, &error);
	else if (strcmp(method, "ping") == 0)
		result = cJSON_CreateObject();
	else if (strcmp(method, "tools/list") == 0)
		result = tools_list();
	else if (strcmp(method, "tools/call") == 0)
		result = tools_call(r, params, &error);
	else if (strcmp(method, "resources/list") == 0)
		result = resources_list(r, params, &error);
	else if (strcmp(method, "resources/templates/list") == 0)
		result = resource_templates();
	else if (strcmp(method, "resources/read") == 0)
		result = resources_read(r, params, &error);
	else if (strcmp(method, "prompts/list") == 0)
		result = prompts_list();
	else if (strcmp(method, "prompts/get") == 0)
		result = prompts_get(r, params, &error);
	else
		error = rpc_error(RPC_METHOD, arena_printf(r->a, "method not found: %s", method), NULL);
	/* A resource or a prompt cut short by the budget: not a partial
	 * answer (a tool's refused call is its tool error, 429). */
	if (spent.refused != refused && strcmp(method, "tools/call") != 0) {
		cJSON_Delete(result);
		cJSON_Delete(error);
		result = NULL;
		error = rpc_error(RPC_INTERNAL, BUDGET_MESSAGE, NULL);
	}
	return response(id, result, error);
}

/* The JSON-RPC answer j (consumed) with HTTP status, or 202 without a
 * body when j is NULL. */
static enum err
rpc_answer(struct req *r, int status, cJSON *j)
{
	char    *s;
	enum err e;

	if (j == NULL)
		return http_respond_raw(r, 202, NULL, NULL, 0);
	s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (s == NULL)
		return ERR_INTERNAL;
	e = http_respond_raw(r, status, "application/json", s, strlen(s));
	cJSON_free(s);
	return e;
}

static enum err
mcp_post(struct req *r)
{
	const char *version = http_header(r, "mcp-protocol-version");
	cJSON      *in, *out, *one, *bad;
	const cJSON *msg;
	bool        known = version == NULL, invalid;
	enum err    e;

	/* One public URL: what nginx's MCP location passes (LNCHR_MCP);
	 * a sub-request never has the marker, so it never comes back here. */
	if (http_env(r, "LNCHR_MCP") == NULL)
		return http_error(r, ERR_NOT_FOUND, "route not found");
	memset(&spent, 0, sizeof(spent));
	for (size_t i = 0; !known && i < sizeof(versions) / sizeof(*versions); i++)
		known = strcmp(version, versions[i]) == 0;
	if (!known)
		return rpc_answer(r, 400, response(NULL, NULL, rpc_error(RPC_INVALID, arena_printf(r->a,
		    "unsupported MCP-Protocol-Version %s (this server speaks %s, %s, %s and %s)",
		    version, versions[0], versions[1], versions[2], versions[3]), NULL)));
	if ((e = http_body(r)) != ERR_OK)
		return e;
	if (!http_content_is_json(r))
		return rpc_answer(r, 415, response(NULL, NULL, rpc_error(RPC_INVALID,
		    "Content-Type must be application/json", NULL)));
	if (memchr(r->body, '\0', r->body_len) != NULL ||
	    (in = cJSON_ParseWithLengthOpts(r->body, r->body_len + 1, NULL, 1)) == NULL)
		return rpc_answer(r, 400, response(NULL, NULL, rpc_error(RPC_PARSE, "parse error",
		    NULL)));
	arena_defer(r->a, (arena_cleanup_fn)cJSON_Delete, in);
	if ((bad = json_bad_strings(r->a, r->body, r->body_len, in)) != NULL) {
		cJSON_Delete(bad);
		return rpc_answer(r, 400, response(NULL, NULL, rpc_error(RPC_PARSE,
		    "parse error: a string holds \\u0000 or bytes that are not UTF-8", NULL)));
	}
	if (!cJSON_IsArray(in)) {
		out = message(r, in, false, &invalid);
		return rpc_answer(r, invalid ? 400 : 200, out);
	}
	if (strcmp(version ? version : MCP_BATCH_VERSION, MCP_BATCH_VERSION) != 0)
		return rpc_answer(r, 400, response(NULL, NULL, rpc_error(RPC_INVALID, arena_printf(r->a,
		    "JSON-RPC batches are not part of protocol version %s", version), NULL)));
	if (cJSON_GetArraySize(in) == 0 || cJSON_GetArraySize(in) > MCP_BATCH_MAX)
		return rpc_answer(r, 400, response(NULL, NULL, rpc_error(RPC_INVALID, arena_printf(r->a,
		    "a batch holds 1 to %d messages", MCP_BATCH_MAX), NULL)));
	out = cJSON_CreateArray();
	cJSON_ArrayForEach(msg, in)
		if ((one = message(r, msg, true, &invalid)) != NULL)
			cJSON_AddItemToArray(out, one);
	if (cJSON_GetArraySize(out) == 0) {
		cJSON_Delete(out);
		out = NULL;
	}
	return rpc_answer(r, 200, out);
}

/* ------------------------------------------------------------ the table, printed */

int
mcp_print_tools(void)
{
	cJSON *all = cJSON_CreateArray();
	char  *s;
	int    rc = 0;

	for (size_t i = 0; i < NTOOLS; i++) {
		const struct mcp_tool *t = &tools[i];
		const struct route    *rt = router_route(t->method, t->route);
		cJSON                 *o = cJSON_CreateObject(), *args, *scopes, *schema;
		unsigned               sc = rt ? router_scope(rt, t->method) : 0;
		static const char *const in_names[] = {"path", "query", "body"};
		static const char *const scope_names[] = {"read", "write", "deploy", "admin"};

		cJSON_AddStringToObject(o, "name", t->name);
		cJSON_AddStringToObject(o, "method", http_method_name(t->method));
		cJSON_AddStringToObject(o, "route", t->route);
		if (t->values_route != NULL)
			cJSON_AddStringToObject(o, "values_route", t->values_route);
		cJSON_AddBoolToObject(o, "destructive", (t->flags & MCP_DESTRUCTIVE) != 0);
		cJSON_AddBoolToObject(o, "routed", rt != NULL);
		scopes = cJSON_AddArrayToObject(o, "scopes");
		for (unsigned b = 0; b < 4; b++)
			if (sc & (1u << b))
				cJSON_AddItemToArray(scopes, cJSON_CreateString(scope_names[b]));
		args = cJSON_AddArrayToObject(o, "args");
		for (const struct mcp_arg *a = t->args; a->prop; a++) {
			cJSON *x = cJSON_CreateObject();

			cJSON_AddStringToObject(x, "prop", a->prop);
			cJSON_AddStringToObject(x, "in", in_names[a->in]);
			cJSON_AddStringToObject(x, "name", a->name);
			cJSON_AddBoolToObject(x, "required", a->required);
			cJSON_AddItemToArray(args, x);
		}
		if ((schema = input_schema(t)) == NULL) {
			fprintf(stderr, "launcher-fcgi: the input schema of tool %s is not JSON\n", t->name);
			rc = 1;
			schema = cJSON_CreateNull();
		}
		cJSON_AddItemToObject(o, "inputSchema", schema);
		if (rt == NULL) {
			fprintf(stderr, "launcher-fcgi: tool %s: no route %s %s\n", t->name,
			    http_method_name(t->method), t->route);
			rc = 1;
		}
		cJSON_AddItemToArray(all, o);
	}
	if ((s = cJSON_Print(all)) != NULL) {
		puts(s);
		cJSON_free(s);
	}
	cJSON_Delete(all);
	return rc;
}

const struct route api_mcp_routes[] = {
	/* Any key scope may connect (ROUTE_SUBREQUESTS: the router checks
	 * none): each tool's own route decides. */
	{.methods = HTTP_POST, .pattern = "/mcp", .fn = mcp_post, .flags = ROUTE_SUBREQUESTS},
	{0},
};
