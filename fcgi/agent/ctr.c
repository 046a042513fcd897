/*
 * ctr.c - container operations over the Engine API (see ctr.h).
 */
#include "ctr.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../core/compose.h"
#include "../core/util.h"
#include "engine.h"
#include "netfw.h"
#include "runner.h"
#include "text.h"
#include "timefmt.h"
#include "volume.h"

char *
ctr_qs_escape(struct arena *a, const char *s)
{
	size_t n = strlen(s);
	char  *out = arena_alloc(a, n * 3 + 1);

	if (out == NULL || util_pct_encode(out, n * 3 + 1, s, n, NULL) < 0)
		return NULL;
	return out;
}

static void
json_free(void *p)
{
	cJSON_Delete(p);
}

/* Parses an answer body into a cJSON freed with the arena; NULL if not JSON. */
static cJSON *
parse_in(struct arena *a, const char *body)
{
	cJSON *doc = cJSON_Parse(body);

	if (doc != NULL)
		arena_defer(a, json_free, doc);
	return doc;
}

void
ctr_engine_msg(const struct xfer_resp *r, char *out, size_t outlen)
{
	cJSON       *doc = cJSON_Parse(r->body);
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "message");

	if (cJSON_IsString(m))
		(void)util_snprintf(out, outlen, "%s", m->valuestring);
	else
		(void)util_snprintf(out, outlen, "HTTP %ld", r->status);
	cJSON_Delete(doc);
	text_truncate(out, outlen > 600 ? 600 : outlen - 1);
	util_sanitize(out, 0);
}

/* GET path, a container list: *out gets it (arena).  0 or -1 (err). */
static int
list_at(struct xfer *x, struct arena *a, const char *path, long timeout_ms, cJSON **out,
    char *err, size_t errlen)
{
	struct xfer_resp r;
	cJSON           *doc;
	char             msg[700];

	if (xfer_engine(x, a, path, timeout_ms, &r) != 0) {
		util_snprintf(err, errlen, "listing containers: %s", r.err);
		return -1;
	}
	if (r.status != 200) {
		ctr_engine_msg(&r, msg, sizeof(msg));
		util_snprintf(err, errlen, "listing containers: %s", msg);
		return -1;
	}
	if (!cJSON_IsArray(doc = parse_in(a, r.body))) {
		util_snprintf(err, errlen, "listing containers: the engine's answer is not a list");
		return -1;
	}
	*out = doc;
	return 0;
}

int
ctr_list(struct xfer *x, struct arena *a, const char *const *labels, size_t n, long timeout_ms,
    cJSON **out, char *err, size_t errlen)
{
	cJSON *f = cJSON_CreateObject(), *arr;
	char  *text, *path;

	*out = NULL;
	if (f == NULL)
		goto nomem;
	arena_defer(a, json_free, f);
	if ((arr = cJSON_AddArrayToObject(f, "label")) == NULL)
		goto nomem;
	cJSON_AddItemToArray(arr, cJSON_CreateString("launcher.managed=1"));
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(labels[i]));
	if ((text = cJSON_PrintUnformatted(f)) == NULL)
		goto nomem;
	path = arena_printf(a, ENGINE_API "/containers/json?all=1&filters=%s",
	    ctr_qs_escape(a, text));
	cJSON_free(text);
	return list_at(x, a, path, timeout_ms, out, err, errlen);
nomem:
	util_snprintf(err, errlen, "out of memory");
	return -1;
}

int
ctr_published_ports(struct xfer *x, struct arena *a, int *ports, int max, char *err,
    size_t errlen)
{
	const cJSON *c, *p;
	cJSON       *doc;
	int          n = 0;

	if (list_at(x, a, ENGINE_API "/containers/json?all=1", CTR_TIMEOUT_MS, &doc, err, errlen) != 0)
		return -1;
	cJSON_ArrayForEach(c, doc) {
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(c, "Ports")) {
			const cJSON *pub = cJSON_GetObjectItemCaseSensitive(p, "PublicPort");

			if (cJSON_IsNumber(pub) && pub->valueint > 0 && n < max)
				ports[n++] = pub->valueint;
		}
	}
	return n;
}

int
ctr_inspect(struct xfer *x, struct arena *a, const char *id, long timeout_ms, cJSON **out,
    char *err, size_t errlen)
{
	struct xfer_resp r;
	char             msg[700];

	*out = NULL;
	if (xfer_engine(x, a, arena_printf(a, ENGINE_API "/containers/%s/json", ctr_qs_escape(a, id)),
	    timeout_ms, &r) != 0) {
		util_snprintf(err, errlen, "inspecting container %.12s: %s", id, r.err);
		return -1;
	}
	if (r.status == 404)
		return 1;
	if (r.status != 200) {
		ctr_engine_msg(&r, msg, sizeof(msg));
		util_snprintf(err, errlen, "inspecting container %.12s: %s", id, msg);
		return -1;
	}
	if (!cJSON_IsObject(*out = parse_in(a, r.body))) {
		util_snprintf(err, errlen, "inspecting container %.12s: not JSON", id);
		return -1;
	}
	return 0;
}

static double
num(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b != NULL)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* The docker CLI's formula; -1 without a usable delta. */
static double
cpu_delta(double pre, double psys, double cur, double sys, double cpus)
{
	double pct;

	if (pre < 0 || psys <= 0 || cur < pre || sys <= psys)
		return -1;
	pct = (cur - pre) / (sys - psys) * cpus * 100.0;
	return pct > cpus * 100.0 ? cpus * 100.0 : pct;
}

int
ctr_stats_parse(const cJSON *doc, const struct ctr_cpu_sample *prev, struct ctr_cpu_sample *now,
    double *cpu_percent, int64_t *memory_bytes)
{
	const cJSON *cs = cJSON_GetObjectItemCaseSensitive(doc, "cpu_stats");
	const cJSON *ps = cJSON_GetObjectItemCaseSensitive(doc, "precpu_stats");
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(doc, "memory_stats");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(ms, "stats");
	double       cur = num(cs, "cpu_usage", "total_usage"), sys = num(cs, "system_cpu_usage", NULL);
	double       cpus = num(cs, "online_cpus", NULL), usage = num(ms, "usage", NULL), cache;
	const cJSON *per = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(cs, "cpu_usage"), "percpu_usage");

	*cpu_percent = -1;
	*memory_bytes = -1;
	now->total = cur;
	now->system = sys;
	if (cpus <= 0 && cJSON_IsArray(per))
		cpus = cJSON_GetArraySize(per);
	if (cpus <= 0)
		cpus = 1;
	if (cur >= 0 && sys > 0) {
		*cpu_percent = cpu_delta(num(ps, "cpu_usage", "total_usage"),
		    num(ps, "system_cpu_usage", NULL), cur, sys, cpus);
		if (*cpu_percent < 0 && prev != NULL)
			*cpu_percent = cpu_delta(prev->total, prev->system, cur, sys, cpus);
	}
	if (usage >= 0) {
		/* The docker CLI: cgroup v1 total_inactive_file, v2 inactive_file. */
		if ((cache = num(st, "total_inactive_file", NULL)) < 0 &&
		    (cache = num(st, "inactive_file", NULL)) < 0)
			cache = num(st, "cache", NULL);
		*memory_bytes = (int64_t)(cache >= 0 && cache < usage ? usage - cache : usage);
	}
	return *memory_bytes < 0 && (cur < 0 || sys <= 0) ? -1 : 0;
}

int
ctr_stats(struct xfer *x, struct arena *a, const char *id, long timeout_ms,
    const struct ctr_cpu_sample *prev, struct ctr_cpu_sample *now, double *cpu_percent,
    int64_t *memory_bytes, char *err, size_t errlen)
{
	struct xfer_resp r;
	const cJSON     *doc;
	char             msg[700];

	*cpu_percent = -1;
	*memory_bytes = -1;
	now->total = now->system = -1;
	if (xfer_engine(x, a, arena_printf(a, ENGINE_API "/containers/%s/stats?stream=false&"
	    "one-shot=true", ctr_qs_escape(a, id)), timeout_ms, &r) != 0) {
		util_snprintf(err, errlen, "stats of container %.12s: %s", id, r.err);
		return -1;
	}
	if (r.status != 200) {
		ctr_engine_msg(&r, msg, sizeof(msg));
		util_snprintf(err, errlen, "stats of container %.12s: HTTP %ld: %s", id,
		    (long)r.status, msg);
		return -1;
	}
	if (!cJSON_IsObject(doc = parse_in(a, r.body)) ||
	    ctr_stats_parse(doc, prev, now, cpu_percent, memory_bytes) != 0) {
		util_snprintf(err, errlen, "stats of container %.12s: no usage in %.200s", id, r.body);
		return -1;
	}
	return 0;
}

/*
 * The agent's isolation chains made current (netfw.h) after any change of
 * the project networks or their containers: writes only what differs; a
 * failure is logged there and shown by the network_isolation diagnostic,
 * and the next report cycle tries again.
 */
static void
fw_resync(struct xfer *x, struct arena *a)
{
	bool changed;

	if (x->conf != NULL)
		(void)netfw_sync(x, a, x->conf->firewall_chain, &changed, NULL, 0);
}

int
ctr_action(struct xfer *x, struct arena *a, const char *id, const char *action, char *err,
    size_t errlen)
{
	struct xfer_resp r;
	char             msg[700];
	bool             timed = strcmp(action, "stop") == 0 || strcmp(action, "restart") == 0;
	const char      *path = arena_printf(a, ENGINE_API "/containers/%s/%s%s", ctr_qs_escape(a, id),
	    action, timed ? "?t=" "10" : "");

	/* Stops wait up to t=10 s for the process, then the engine kills it. */
	if (xfer_engine_call(x, a, "POST", path, NULL, CTR_TIMEOUT_MS + CTR_STOP_SECONDS * 1000L,
	    &r) != 0) {
		util_snprintf(err, errlen, "%s container %.12s: %s", action, id, r.err);
		return -1;
	}
	/* 304: already started / already stopped. */
	if (r.status != 204 && r.status != 200 && r.status != 304) {
		ctr_engine_msg(&r, msg, sizeof(msg));
		util_snprintf(err, errlen, "%s container %.12s: %s", action, id, msg);
		return -1;
	}
	if (timed)	/* the engine tore the container's network down */
		fw_resync(x, a);
	return 0;
}

int
ctr_remove(struct xfer *x, struct arena *a, const char *id, char *err, size_t errlen)
{
	struct xfer_resp r;
	char             msg[700];

	if (xfer_engine_call(x, a, "DELETE", arena_printf(a, ENGINE_API "/containers/%s?force=1",
	    ctr_qs_escape(a, id)), NULL, CTR_TIMEOUT_MS + CTR_STOP_SECONDS * 1000L, &r) != 0) {
		util_snprintf(err, errlen, "removing container %.12s: %s", id, r.err);
		return -1;
	}
	if (r.status != 204 && r.status != 200 && r.status != 404) {
		ctr_engine_msg(&r, msg, sizeof(msg));
		util_snprintf(err, errlen, "removing container %.12s: %s", id, msg);
		return -1;
	}
	fw_resync(x, a);
	return 0;
}

/* min(hard limit, cap): runc refuses rlimits above the service's hard limits. */
static int64_t
limit_below(int res, int64_t cap)
{
	struct rlimit rl;

	if (getrlimit(res, &rl) != 0 || rl.rlim_max == RLIM_INFINITY || (int64_t)rl.rlim_max > cap)
		return cap;
	return (int64_t)rl.rlim_max;
}

static cJSON *
ulimit(const char *name, int64_t v)
{
	cJSON *u = cJSON_CreateObject();

	cJSON_AddStringToObject(u, "Name", name);
	cJSON_AddNumberToObject(u, "Soft", (double)v);
	cJSON_AddNumberToObject(u, "Hard", (double)v);
	return u;
}

/*
 * A compose service's additions to HostConfig: extra_hosts and cap_drop
 * (anyone's), and the members a superadmin's compose file set ("host",
 * checked by the plane: Privileged, NetworkMode, CapAdd, Devices, PidMode,
 * IpcMode, UsernsMode, SecurityOpt, Sysctls, Binds: compose_host_member_ok,
 * nothing else), which replace ours;
 * a NetworkMode of theirs takes the container off the project network.
 */
static void
service_host_config(const struct app_service *v, cJSON *b, cJSON *hc)
{
	const cJSON *it;

	if (v->extra_hosts != NULL)
		cJSON_AddItemToObject(hc, "ExtraHosts", cJSON_Duplicate(v->extra_hosts, true));
	if (v->cap_drop != NULL)
		cJSON_AddItemToObject(hc, "CapDrop", cJSON_Duplicate(v->cap_drop, true));
	cJSON_ArrayForEach(it, v->host) {
		if (!compose_host_member_ok(it->string))
			continue;	/* appspec.c refuses such a job; never ours to replace */
		cJSON_DeleteItemFromObjectCaseSensitive(hc, it->string);
		cJSON_AddItemToObject(hc, it->string, cJSON_Duplicate(it, true));
		if (strcmp(it->string, "NetworkMode") == 0)
			cJSON_DeleteItemFromObjectCaseSensitive(b, "NetworkingConfig");
	}
}

/* A database's or the object store's container: no PORT, no edge, its port
 * published only when asked (publish_db). */
static bool
infra(const struct app_spec *s)
{
	return s->database_id[0] != '\0' || s->objstore_id[0] != '\0';
}

cJSON *
ctr_create_body(const struct app_spec *s, const char *image_id, int host_port, int64_t nofile,
    int64_t nproc)
{
	cJSON       *b = cJSON_CreateObject(), *env, *labels, *hc, *rp, *ul;
	const cJSON *it;
	char         kv[16384], port[32], net[96];

	if (b == NULL)
		return NULL;
	cJSON_AddStringToObject(b, "Image", image_id);
	env = cJSON_AddArrayToObject(b, "Env");
	cJSON_ArrayForEach(it, s->env) {
		const char *key = it->string;

		/* A compose release's env is "<service>.<KEY>": this service's only. */
		if (s->svc != NULL) {
			size_t n = strlen(s->svc->name);

			if (strncmp(key, s->svc->name, n) != 0 || key[n] != '.')
				continue;
			key += n + 1;
		}
		if (s->exposed_port > 0 && !infra(s) && strcmp(key, "PORT") == 0)
			continue;	/* ours below: the port binding depends on it */
		if (cJSON_IsString(it) &&
		    util_snprintf(kv, sizeof(kv), "%s=%s", key, it->valuestring) >= 0)
			cJSON_AddItemToArray(env, cJSON_CreateString(kv));
		else if (cJSON_IsString(it)) {
			char *big = malloc(strlen(key) + strlen(it->valuestring) + 2);

			if (big != NULL) {
				memcpy(big, key, strlen(key));
				big[strlen(key)] = '=';
				memcpy(big + strlen(key) + 1, it->valuestring, strlen(it->valuestring) + 1);
				cJSON_AddItemToArray(env, cJSON_CreateString(big));
				free(big);
			}
		}
	}
	if (s->exposed_port > 0 && !infra(s)) {
		util_snprintf(kv, sizeof(kv), "PORT=%d", s->exposed_port);
		cJSON_AddItemToArray(env, cJSON_CreateString(kv));
	}
	labels = cJSON_AddObjectToObject(b, "Labels");
	cJSON_AddStringToObject(labels, "launcher.managed", "1");
	cJSON_AddStringToObject(labels, "launcher.tenant", s->tenant_id);
	cJSON_AddStringToObject(labels, "launcher.project", s->project_id);
	if (s->database_id[0] != '\0')
		cJSON_AddStringToObject(labels, "launcher.database", s->database_id);
	else if (s->objstore_id[0] != '\0')
		cJSON_AddStringToObject(labels, "launcher.objstore", s->objstore_id);
	else {
		cJSON_AddStringToObject(labels, "launcher.app", s->app_id);
		cJSON_AddStringToObject(labels, "launcher.deployment", s->deployment_id);
		if (s->function)
			cJSON_AddStringToObject(labels, "launcher.function", s->app_id);
	}
	if (s->svc != NULL) {
		cJSON_AddStringToObject(labels, "launcher.service", s->svc->name);
		cJSON_ArrayForEach(it, s->svc->labels) {
			if (strncmp(it->string, "launcher.", 9) != 0)
				cJSON_AddStringToObject(labels, it->string, it->valuestring);
		}
		if (s->svc->command != NULL)
			cJSON_AddItemToObject(b, "Cmd", cJSON_Duplicate(s->svc->command, true));
		if (s->svc->entrypoint != NULL)
			cJSON_AddItemToObject(b, "Entrypoint", cJSON_Duplicate(s->svc->entrypoint, true));
		if (s->svc->working_dir != NULL)
			cJSON_AddStringToObject(b, "WorkingDir", s->svc->working_dir);
		if (s->svc->user != NULL)
			cJSON_AddStringToObject(b, "User", s->svc->user);
	}
	if (s->start_command != NULL) {
		cJSON *cmd = cJSON_AddArrayToObject(b, "Cmd");

		cJSON_AddItemToArray(cmd, cJSON_CreateString("/bin/sh"));
		cJSON_AddItemToArray(cmd, cJSON_CreateString("-c"));
		cJSON_AddItemToArray(cmd, cJSON_CreateString(s->start_command));
	}
	/* Podman 4.3 stores 0 without it: a stop would SIGKILL at once. */
	cJSON_AddNumberToObject(b, "StopTimeout", CTR_STOP_SECONDS);
	hc = cJSON_AddObjectToObject(b, "HostConfig");
	if (s->project_id[0] != '\0' && ctr_network_name(s->project_id, net, sizeof(net)) == 0) {
		cJSON *ep = cJSON_AddObjectToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(b,
		    "NetworkingConfig"), "EndpointsConfig"), net);

		cJSON_AddStringToObject(hc, "NetworkMode", net);
		if (s->net_alias != NULL || s->svc != NULL)
			cJSON_AddItemToArray(cJSON_AddArrayToObject(ep, "Aliases"),
			    cJSON_CreateString(s->svc != NULL ? s->svc->name : s->net_alias));
	}
	if (s->exposed_port > 0) {
		util_snprintf(port, sizeof(port), "%d/tcp", s->exposed_port);
		cJSON_AddObjectToObject(cJSON_AddObjectToObject(b, "ExposedPorts"), port);
	}
	/* A database's port is published only when it is public (db.h). */
	if (s->exposed_port > 0 && (!infra(s) || s->publish_db)) {
		cJSON *pb, *arr, *bind;

		pb = cJSON_AddObjectToObject(hc, "PortBindings");
		arr = cJSON_AddArrayToObject(pb, port);
		bind = cJSON_CreateObject();
		cJSON_AddStringToObject(bind, "HostIp", s->host_ip != NULL ? s->host_ip : "127.0.0.1");
		if (host_port > 0)
			util_snprintf(port, sizeof(port), "%d", host_port);
		else
			port[0] = '\0';	/* the engine picks */
		cJSON_AddStringToObject(bind, "HostPort", port);
		cJSON_AddItemToArray(arr, bind);
	}
	rp = cJSON_AddObjectToObject(hc, "RestartPolicy");
	cJSON_AddStringToObject(rp, "Name", s->restart_policy);
	if (strcmp(s->restart_policy, "on-failure") == 0)
		cJSON_AddNumberToObject(rp, "MaximumRetryCount", 5);
	if (s->cpu_limit > 0)
		cJSON_AddNumberToObject(hc, "NanoCpus", (double)(int64_t)(s->cpu_limit * 1e9));
	if (s->memory_limit > 0)
		cJSON_AddNumberToObject(hc, "Memory", (double)s->memory_limit);
	/* Named engine volumes (volume.h names them), and a host path only
	 * where the agent chose it (bind_source, pitr.c). */
	if (s->nvols > 0 || s->bind_source != NULL) {
		cJSON *mounts = cJSON_AddArrayToObject(hc, "Mounts");
		char   vname[VOL_NAME_MAX];

		for (int i = 0; i < s->nvols; i++) {
			cJSON *m = cJSON_CreateObject();

			if (m == NULL || vol_engine_name(s->vols[i].volume_id, vname, sizeof(vname)) != 0) {
				cJSON_Delete(m);
				cJSON_Delete(b);
				return NULL;
			}
			cJSON_AddStringToObject(m, "Type", "volume");
			cJSON_AddStringToObject(m, "Source", vname);
			cJSON_AddStringToObject(m, "Target", s->vols[i].mount_path);
			cJSON_AddBoolToObject(m, "ReadOnly", s->vols[i].read_only);
			cJSON_AddItemToArray(mounts, m);
		}
		if (s->bind_source != NULL && s->bind_target != NULL) {
			cJSON *m = cJSON_CreateObject();

			cJSON_AddStringToObject(m, "Type", "bind");
			cJSON_AddStringToObject(m, "Source", s->bind_source);
			cJSON_AddStringToObject(m, "Target", s->bind_target);
			cJSON_AddBoolToObject(m, "ReadOnly", false);
			cJSON_AddItemToArray(mounts, m);
		}
	}
	ul = cJSON_AddArrayToObject(hc, "Ulimits");
	cJSON_AddItemToArray(ul, ulimit("nofile", nofile));
	cJSON_AddItemToArray(ul, ulimit("nproc", nproc));
	if (s->svc != NULL)
		service_host_config(s->svc, b, hc);
	return b;
}

int
ctr_create(struct xfer *x, struct arena *a, const struct app_spec *s, const char *image_id,
    const char *name, int host_port, char *id, size_t idlen, char *err, size_t errlen)
{
	struct xfer_resp r;
	cJSON           *b = ctr_create_body(s, image_id, host_port,
	    limit_below(RLIMIT_NOFILE, 65536), limit_below(RLIMIT_NPROC, 4096));
	const cJSON     *cid;
	char            *text = b != NULL ? cJSON_PrintUnformatted(b) : NULL;
	char             msg[700];
	int              rc;

	cJSON_Delete(b);
	if (text == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = xfer_engine_call(x, a, "POST", arena_printf(a, ENGINE_API "/containers/create?name=%s",
	    ctr_qs_escape(a, name)), text, CTR_TIMEOUT_MS, &r);
	explicit_bzero(text, strlen(text));	/* it held the env */
	cJSON_free(text);
	if (rc != 0) {
		util_snprintf(err, errlen, "creating container %s: %s", name, r.err);
		return -1;
	}
	if (r.status != 201 && r.status != 200) {
		ctr_engine_msg(&r, msg, sizeof(msg));
		util_snprintf(err, errlen, "creating container %s: %s", name, msg);
		return -1;
	}
	cid = cJSON_GetObjectItemCaseSensitive(parse_in(a, r.body), "Id");
	if (!cJSON_IsString(cid) || util_snprintf(id, idlen, "%s", cid->valuestring) < 0) {
		util_snprintf(err, errlen, "creating container %s: no id in the answer", name);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ networks */

int
ctr_network_name(const char *project_id, char *out, size_t outlen)
{
	if (project_id == NULL || !text_word_ok(project_id, APP_ID_MAX - 1, "-_"))
		return -1;
	return util_snprintf(out, outlen, CTR_NET_PREFIX "%s", project_id) < 0 ? -1 : 0;
}

static bool
net_is_ours(const cJSON *doc, const char *tenant_id, const char *project_id)
{
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(doc, "Labels");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(l, "launcher.managed");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(l, "launcher.tenant");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(l, "launcher.project");

	return cJSON_IsString(m) && strcmp(m->valuestring, "1") == 0 && cJSON_IsString(t) &&
	    strcmp(t->valuestring, tenant_id) == 0 && cJSON_IsString(p) &&
	    strcmp(p->valuestring, project_id) == 0;
}

/* GET /networks/<name>: 0 ours, 1 absent, -1 (err). */
static int
net_check(struct xfer *x, struct arena *a, const char *name, const char *tenant_id,
    const char *project_id, char *err, size_t errlen)
{
	struct xfer_resp r;
	char             msg[700];

	if (xfer_engine(x, a, arena_printf(a, ENGINE_API "/networks/%s", ctr_qs_escape(a, name)),
	    CTR_TIMEOUT_MS, &r) != 0) {
		util_snprintf(err, errlen, "network %s: %s", name, r.err);
		return -1;
	}
	if (r.status == 404)
		return 1;
	if (r.status != 200) {
		ctr_engine_msg(&r, msg, sizeof(msg));
		util_snprintf(err, errlen, "network %s: %s", name, msg);
		return -1;
	}
	if (!net_is_ours(parse_in(a, r.body), tenant_id, project_id)) {
		util_snprintf(err, errlen, "engine network %s exists but does not carry launcher's "
		    "labels for this project: not using it (rename or remove it on the server)", name);
		return -1;
	}
	return 0;
}

int
ctr_bridge_name(const char *engine, const char *project_id, unsigned attempt, char *out,
    size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int  mdlen = 0;
	char          hex[2 * EVP_MAX_MD_SIZE + 1], in[AGENT_STR_MAX + APP_ID_MAX + 16];
	int           n;

	if (project_id == NULL || !text_word_ok(project_id, APP_ID_MAX - 1, "-_") ||
	    outlen < CTR_BRIDGE_LEN + 1)
		return -1;
	n = attempt == 0 ? util_snprintf(in, sizeof(in), "%s\n%s", engine, project_id) :
	    util_snprintf(in, sizeof(in), "%s\n%s\n%u", engine, project_id, attempt);
	if (n < 0 || EVP_Digest(in, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1)
		return -1;
	util_hex(hex, md, mdlen);
	return util_snprintf(out, outlen, CTR_BRIDGE_PREFIX "%.*s",
	    CTR_BRIDGE_LEN - (int)strlen(CTR_BRIDGE_PREFIX), hex) < 0 ? -1 : 0;
}

/* The POST /networks/create body (malloc'd text), or NULL. */
static char *
net_create_body(const char *name, const char *bridge, const char *tenant_id,
    const char *project_id)
{
	cJSON *b, *labels, *opts;
	char  *text;

	if ((b = cJSON_CreateObject()) == NULL)
		return NULL;
	cJSON_AddStringToObject(b, "Name", name);
	cJSON_AddStringToObject(b, "Driver", "bridge");
	cJSON_AddBoolToObject(b, "CheckDuplicate", 1);
	labels = cJSON_AddObjectToObject(b, "Labels");
	cJSON_AddStringToObject(labels, "launcher.managed", "1");
	cJSON_AddStringToObject(labels, "launcher.tenant", tenant_id);
	cJSON_AddStringToObject(labels, "launcher.project", project_id);
	opts = cJSON_AddObjectToObject(b, "Options");
	cJSON_AddStringToObject(opts, "isolate", "true");
	cJSON_AddStringToObject(opts, "com.docker.network.bridge.name", bridge);
	text = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	return text;
}

/* Candidates tried when the engine says a bridge name is another network's. */
#define CTR_BRIDGE_ATTEMPTS 4

int
ctr_network_ensure(struct xfer *x, struct arena *a, const char *tenant_id,
    const char *project_id, char *err, size_t errlen)
{
	struct xfer_resp r;
	char             name[96], bridge[CTR_BRIDGE_LEN + 1], msg[700], *text;
	int              rc;

	if (ctr_network_name(project_id, name, sizeof(name)) != 0 || tenant_id == NULL ||
	    tenant_id[0] == '\0') {
		util_snprintf(err, errlen, "bad project or tenant id for the project network");
		return -1;
	}
	if ((rc = net_check(x, a, name, tenant_id, project_id, err, errlen)) <= 0) {
		if (rc == 0)
			fw_resync(x, a);	/* before a container of it starts */
		return rc;
	}
	for (unsigned attempt = 0;; attempt++) {
		if (ctr_bridge_name(x->conf != NULL ? x->conf->engine_socket : "", project_id, attempt,
		    bridge, sizeof(bridge)) != 0 ||
		    (text = net_create_body(name, bridge, tenant_id, project_id)) == NULL) {
			util_snprintf(err, errlen, "creating network %s: out of memory", name);
			return -1;
		}
		rc = xfer_engine_call(x, a, "POST", ENGINE_API "/networks/create", text, CTR_TIMEOUT_MS,
		    &r);
		cJSON_free(text);
		if (rc != 0) {
			util_snprintf(err, errlen, "creating network %s: %s", name, r.err);
			return -1;
		}
		if (r.status == 201 || r.status == 200 || (r.status == 409 &&	/* made meanwhile: ours? */
		    net_check(x, a, name, tenant_id, project_id, err, errlen) == 0)) {
			fw_resync(x, a);
			return 0;
		}
		if (r.status == 409)
			return -1;
		ctr_engine_msg(&r, msg, sizeof(msg));
		/* Podman: "bridge name <name> already in use" (another of its networks). */
		if (attempt + 1 < CTR_BRIDGE_ATTEMPTS && strstr(msg, bridge) != NULL &&
		    strstr(msg, "in use") != NULL)
			continue;
		util_snprintf(err, errlen, "creating network %s: %s", name, msg);
		return -1;
	}
}

void
ctr_network_prune(struct xfer *x, struct arena *a, const char *tenant_id, const char *project_id,
    char *note, size_t notelen)
{
	struct xfer_resp r;
	const char      *label;
	cJSON           *list;
	char             name[96], err[512];

	note[0] = '\0';
	if (ctr_network_name(project_id, name, sizeof(name)) != 0 ||
	    net_check(x, a, name, tenant_id, project_id, err, sizeof(err)) != 0)
		return;	/* none, or not ours */
	/* Any container of the project, running or not, keeps it. */
	label = arena_printf(a, "launcher.project=%s", project_id);
	if (ctr_list(x, a, &label, 1, CTR_TIMEOUT_MS, &list, err, sizeof(err)) != 0 ||
	    cJSON_GetArraySize(list) > 0)
		return;
	if (xfer_engine_call(x, a, "DELETE", arena_printf(a, ENGINE_API "/networks/%s",
	    ctr_qs_escape(a, name)), NULL, CTR_TIMEOUT_MS, &r) == 0 &&
	    (r.status == 204 || r.status == 200)) {
		util_snprintf(note, notelen, "network %s removed (no container of the project left)",
		    name);
		fw_resync(x, a);
	}
}

/* ---------------------------------------------------------------- exec */

#define EXEC_RAW_MAX (256 * 1024)

struct raw {
	char  *p;
	size_t len;
	bool   over;
};

static int
raw_add(void *ud, const char *p, size_t n)
{
	struct raw *r = ud;

	if (r->len + n > EXEC_RAW_MAX) {
		r->over = true;
		n = EXEC_RAW_MAX - r->len;
	}
	memcpy(r->p + r->len, p, n);
	r->len += n;
	return 0;
}

int
ctr_exec_create(struct xfer *x, struct arena *a, const char *id, const cJSON *cmd,
    const cJSON *env, unsigned flags, char *eid, size_t eidlen, char *err, size_t errlen)
{
	bool             tty = (flags & CTR_EXEC_TTY) != 0;
	struct xfer_resp r;
	cJSON           *body, *e;
	const cJSON     *got;
	char            *text, msg[700];
	int              rc;

	if ((body = cJSON_CreateObject()) == NULL)
		goto nomem;
	cJSON_AddBoolToObject(body, "AttachStdout", 1);
	cJSON_AddBoolToObject(body, "AttachStderr", 1);
	cJSON_AddBoolToObject(body, "AttachStdin", tty || (flags & CTR_EXEC_STDIN) != 0);
	cJSON_AddBoolToObject(body, "Tty", tty);
	cJSON_AddItemToObject(body, "Cmd", cJSON_Duplicate(cmd, 1));
	if (tty || env != NULL) {
		e = cJSON_AddArrayToObject(body, "Env");
		if (tty)
			cJSON_AddItemToArray(e, cJSON_CreateString("TERM=xterm"));
		for (const cJSON *it = env != NULL ? env->child : NULL; it; it = it->next)
			cJSON_AddItemToArray(e, cJSON_Duplicate(it, 1));
	}
	text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	if (text == NULL)
		goto nomem;
	rc = xfer_engine_call(x, a, "POST", arena_printf(a, ENGINE_API "/containers/%s/exec",
	    ctr_qs_escape(a, id)), text, CTR_TIMEOUT_MS, &r);
	explicit_bzero(text, strlen(text));	/* Env may hold credentials */
	cJSON_free(text);
	if (rc != 0) {
		util_snprintf(err, errlen, "exec in %.12s: %s", id, r.err);
		return -1;
	}
	if (r.status != 201) {
		ctr_engine_msg(&r, msg, sizeof(msg));
		util_snprintf(err, errlen, "exec in %.12s: %s", id, msg);
		return -1;
	}
	got = cJSON_GetObjectItemCaseSensitive(parse_in(a, r.body), "Id");
	if (!cJSON_IsString(got) || util_snprintf(eid, eidlen, "%s", got->valuestring) < 0) {
		util_snprintf(err, errlen, "exec in %.12s: no exec id", id);
		return -1;
	}
	return 0;
nomem:
	util_snprintf(err, errlen, "out of memory");
	return -1;
}

int
ctr_exec(struct xfer *x, struct arena *a, const char *id, const cJSON *cmd, const cJSON *env,
    long timeout_ms, char *out, size_t outlen, int *exit_code, bool *truncated, bool *timed_out,
    char *err, size_t errlen)
{
	struct xfer_resp r;
	struct raw       raw = {0};
	cJSON           *doc;
	const cJSON     *ec, *running;
	char             eidbuf[128];
	int              rc;

	out[0] = '\0';
	*exit_code = -1;
	*truncated = *timed_out = false;
	if (ctr_exec_create(x, a, id, cmd, env, 0, eidbuf, sizeof(eidbuf), err, errlen) != 0)
		return -1;
	if ((raw.p = malloc(EXEC_RAW_MAX)) == NULL)
		goto nomem;
	rc = xfer_engine_stream(x, "POST", arena_printf(a, ENGINE_API "/exec/%s/start", eidbuf), NULL,
	    -1, "{\"Detach\":false,\"Tty\":false}", raw_add, &raw, timeout_ms, &r);
	if (rc != 0 && strstr(r.err, "imed out") != NULL)
		*timed_out = true;
	else if (rc != 0 || (r.status != 200 && r.status != 101)) {
		free(raw.p);
		util_snprintf(err, errlen, "exec in %.12s: %s", id, rc != 0 ? r.err : "start refused");
		return -1;
	}
	app_demux_all(raw.p, raw.len, out, outlen, truncated);
	free(raw.p);
	*truncated = *truncated || raw.over;
	util_sanitize(out, 1);
	if (*timed_out)
		return 0;
	if (xfer_engine(x, a, arena_printf(a, ENGINE_API "/exec/%s/json", eidbuf), CTR_TIMEOUT_MS,
	    &r) == 0 && r.status == 200) {
		doc = parse_in(a, r.body);
		ec = cJSON_GetObjectItemCaseSensitive(doc, "ExitCode");
		running = cJSON_GetObjectItemCaseSensitive(doc, "Running");
		if (cJSON_IsNumber(ec) && !cJSON_IsTrue(running))
			*exit_code = (int)ec->valuedouble;
	}
	return 0;
nomem:
	util_snprintf(err, errlen, "out of memory");
	return -1;
}

/* A plain connection to the engine's unix socket; -1 (err). */
static int
engine_dial(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int                fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		util_snprintf(err, errlen, "engine socket path too long");
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		util_snprintf(err, errlen, "engine socket %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int
ctr_exec_attach(const char *engine_socket, const char *eid, bool tty, long setup_ms,
    unsigned char *early, size_t earlylen, size_t *early_got, char *err, size_t errlen)
{
	/* A size from the start, until a terminal's client says its own
	 * (without one the exec's terminal is 0x0, and a pager takes every
	 * line for a full screen): Podman reads h and w, Docker ConsoleSize. */
	static const char body_tty[] = "{\"Detach\":false,\"Tty\":true,\"h\":24,\"w\":80,"
	    "\"ConsoleSize\":[24,80]}";
	static const char body_raw[] = "{\"Detach\":false,\"Tty\":false}";
	const char       *body = tty ? body_tty : body_raw;
	char              req[512], *end;
	size_t            got = 0;
	int               fd, n;
	int64_t           deadline = timefmt_mono_ms() + setup_ms;

	*early_got = 0;
	if (earlylen < 64) {
		util_snprintf(err, errlen, "exec attach: buffer too small");
		return -1;
	}
	if ((fd = engine_dial(engine_socket, err, errlen)) < 0)
		return -1;
	n = util_snprintf(req, sizeof(req), "POST " ENGINE_API "/exec/%s/start HTTP/1.1\r\n"
	    "Host: engine\r\nContent-Type: application/json\r\nConnection: Upgrade\r\n"
	    "Upgrade: tcp\r\nContent-Length: %zu\r\n\r\n%s", eid, strlen(body), body);
	if (n < 0 || runner_write_all(fd, req, (size_t)n) != 0) {
		util_snprintf(err, errlen, "cannot start the exec");
		close(fd);
		return -1;
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t       r;

		early[got] = '\0';
		if ((end = strstr((char *)early, "\r\n\r\n")) != NULL)
			break;
		if (got >= earlylen - 1 || timefmt_mono_ms() >= deadline ||
		    poll(&p, 1, (int)(deadline - timefmt_mono_ms())) <= 0 ||
		    (r = read(fd, early + got, earlylen - 1 - got)) <= 0) {
			util_snprintf(err, errlen, "the engine did not attach the exec");
			close(fd);
			return -1;
		}
		got += (size_t)r;
	}
	if (strncmp((char *)early, "HTTP/1.1 101", 12) != 0 &&
	    strncmp((char *)early, "HTTP/1.1 200", 12) != 0) {
		util_snprintf(err, errlen, "the engine refused to attach the exec: %.40s",
		    (char *)early);
		close(fd);
		return -1;
	}
	end += 4;
	*early_got = got - (size_t)((unsigned char *)end - early);
	memmove(early, end, *early_got);
	return fd;
}

int
ctr_exec_wait(struct xfer *x, struct arena *a, const char *eid)
{
	struct xfer_resp r;

	/* The stream ends a moment before the engine records the status. */
	for (int i = 0; i < 100; i++) {
		cJSON       *doc;
		const cJSON *ec, *running;

		if (xfer_engine(x, a, arena_printf(a, ENGINE_API "/exec/%s/json", eid), 10000, &r) != 0 ||
		    r.status != 200)
			return -1;
		doc = parse_in(a, r.body);
		ec = cJSON_GetObjectItemCaseSensitive(doc, "ExitCode");
		running = cJSON_GetObjectItemCaseSensitive(doc, "Running");
		if (cJSON_IsNumber(ec) && !cJSON_IsTrue(running))
			return (int)ec->valuedouble;
		nanosleep(&(struct timespec){.tv_nsec = 50 * 1000000L}, NULL);
	}
	return -1;
}

struct tail_acc {
	char  *out;
	size_t len, used;
};

static void
tail_line(void *ud, int stream, const char *line, size_t n)
{
	struct tail_acc *t = ud;

	(void)stream;
	if (t->used + n + 2 > t->len)
		return;
	memcpy(t->out + t->used, line, n);
	t->used += n;
	t->out[t->used++] = '\n';
	t->out[t->used] = '\0';
}

int
ctr_logs_tail(struct xfer *x, struct arena *a, const char *id, int tail, char *out,
    size_t outlen)
{
	struct xfer_resp r;
	struct tail_acc  t = {.out = out, .len = outlen};

	out[0] = '\0';
	if (xfer_engine(x, a, arena_printf(a, ENGINE_API "/containers/%s/logs?stdout=1&stderr=1&tail=%d",
	    ctr_qs_escape(a, id), tail), 10000L, &r) != 0 || r.status != 200)
		return -1;
	app_demux_lines(r.body, r.len, 1024, tail_line, &t);
	if (t.used > 0 && out[t.used - 1] == '\n')
		out[--t.used] = '\0';
	return 0;
}

/* ------------------------------------------------------------ inspect */

static const cJSON *
member(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	return b != NULL ? cJSON_GetObjectItemCaseSensitive(v, b) : v;
}

const char *
ctr_label(const cJSON *doc, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(member(doc, "Config", "Labels"), key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *
ctr_state(const cJSON *doc)
{
	const cJSON *v = member(doc, "State", "Status");

	if (!cJSON_IsString(v))
		return "";
	/* Podman's own states in Docker's words: "stopped" is an exited
	 * container whose clean-up has not run yet, "configured" one that was
	 * never started. */
	if (strcmp(v->valuestring, "stopped") == 0)
		return "exited";
	if (strcmp(v->valuestring, "configured") == 0)
		return "created";
	return v->valuestring;
}

bool
ctr_running(const cJSON *doc)
{
	return strcmp(ctr_state(doc), "running") == 0;
}

static int
port_of(const cJSON *binds)
{
	const cJSON *b;
	int64_t      p;

	cJSON_ArrayForEach(b, binds) {
		const cJSON *hp = cJSON_GetObjectItemCaseSensitive(b, "HostPort");

		if (cJSON_IsString(hp) && util_parse_i64(hp->valuestring, 1, 65535, &p) == 0)
			return (int)p;
	}
	return 0;
}

int
ctr_host_port(const cJSON *doc, int container_port)
{
	char key[32];

	util_snprintf(key, sizeof(key), "%d/tcp", container_port);
	return port_of(cJSON_GetObjectItemCaseSensitive(member(doc, "NetworkSettings", "Ports"), key));
}

int
ctr_any_host_port(const cJSON *doc)
{
	const cJSON *p;
	int          n;

	cJSON_ArrayForEach(p, member(doc, "NetworkSettings", "Ports")) {
		if ((n = port_of(p)) > 0)
			return n;
	}
	return 0;
}

const char *
ctr_name(const cJSON *doc)
{
	const cJSON *v = member(doc, "Name", NULL);

	if (!cJSON_IsString(v))
		return "";
	return v->valuestring[0] == '/' ? v->valuestring + 1 : v->valuestring;
}

const char *
ctr_id(const cJSON *doc)
{
	const cJSON *v = member(doc, "Id", NULL);

	return cJSON_IsString(v) ? v->valuestring : "";
}

/* started_at as RFC 3339, or NULL for "never" (year 1, Go's zero time). */
static cJSON *
started_at(const cJSON *doc)
{
	const cJSON  *v = member(doc, "State", "StartedAt");
	struct app_ts ts;
	size_t        off;
	char          out[48];

	if (!cJSON_IsString(v) || app_log_ts(v->valuestring, strlen(v->valuestring), &ts, &off) != 0 ||
	    ts.sec <= 0 || app_ts_rfc3339(ts, out, sizeof(out)) != 0)
		return cJSON_CreateNull();
	return cJSON_CreateString(out);
}

cJSON *
ctr_instance(const cJSON *doc, bool for_report, const char *health_override)
{
	cJSON       *o = cJSON_CreateObject();
	const cJSON *h = member(member(doc, "State", "Health"), "Status", NULL);
	const cJSON *rc = member(doc, "RestartCount", NULL);
	const cJSON *ec = member(doc, "State", "ExitCode");
	const char  *health = "none", *dep = ctr_label(doc, "launcher.deployment");
	const char  *app = ctr_label(doc, "launcher.app");
	int          port = ctr_any_host_port(doc);

	if (o == NULL)
		return NULL;
	if (health_override != NULL)
		health = health_override;
	else if (cJSON_IsString(h) && (strcmp(h->valuestring, "healthy") == 0 ||
	    strcmp(h->valuestring, "unhealthy") == 0 || strcmp(h->valuestring, "starting") == 0))
		health = h->valuestring;
	cJSON_AddStringToObject(o, "container_id", ctr_id(doc));
	cJSON_AddStringToObject(o, "name", ctr_name(doc));
	/* A database's container is named by database_id instead (db.h), the
	 * managed object store's by objstore_id (bucket.h). */
	if (for_report && ctr_label(doc, "launcher.database") != NULL)
		cJSON_AddStringToObject(o, "database_id", ctr_label(doc, "launcher.database"));
	else if (for_report && ctr_label(doc, "launcher.objstore") != NULL)
		cJSON_AddStringToObject(o, "objstore_id", ctr_label(doc, "launcher.objstore"));
	else if (for_report)
		cJSON_AddStringToObject(o, "app_id", app != NULL ? app : "");
	cJSON_AddStringToObject(o, "deployment_id", dep != NULL ? dep : "");
	if (for_report)
		cJSON_AddStringToObject(o, "state", ctr_state(doc)[0] ? ctr_state(doc) : "unknown");
	else
		cJSON_AddStringToObject(o, "status", ctr_running(doc) ? "running" :
		    ctr_state(doc)[0] ? ctr_state(doc) : "unknown");
	cJSON_AddStringToObject(o, "health", health);
	if (port > 0)
		cJSON_AddNumberToObject(o, "host_port", port);
	else
		cJSON_AddNullToObject(o, "host_port");
	cJSON_AddItemToObject(o, "started_at", started_at(doc));
	cJSON_AddNumberToObject(o, "restart_count", cJSON_IsNumber(rc) && rc->valuedouble >= 0 ?
	    (double)(int64_t)rc->valuedouble : 0);
	if (for_report) {
		if (!ctr_running(doc) && cJSON_IsNumber(ec) &&
		    strcmp(ctr_state(doc), "created") != 0)
			cJSON_AddNumberToObject(o, "exit_code", (double)(int64_t)ec->valuedouble);
		else
			cJSON_AddNullToObject(o, "exit_code");
	}
	return o;
}
