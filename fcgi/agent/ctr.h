/*
 * ctr.h - containers through the Engine API, as the app jobs and the
 * instance/log reporter use them: list by label, inspect, create with the
 * plane's labels, start/stop/restart/remove, logs, and the "instance"
 * JSON both report.
 *
 * Every function takes the caller's xfer (its own engine handle) and arena
 * (answers live there); errors come back as one line in err, never with
 * env values (the caller redacts engine messages that could echo them).
 */
#ifndef LAUNCHER_AGENT_CTR_H
#define LAUNCHER_AGENT_CTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../core/arena.h"
#include "appspec.h"
#include "xfer.h"

#define CTR_TIMEOUT_MS   30000L
#define CTR_STOP_SECONDS 10

/*
 * GET /containers/json?all=1 with label filters ("k=v" strings, n of
 * them; launcher.managed=1 is always added).  *out is the answer's array,
 * freed with the arena.  0 or -1 (err).
 */
int    ctr_list(struct xfer *x, struct arena *a, const char *const *labels, size_t n,
    long timeout_ms, cJSON **out, char *err, size_t errlen);
/* GET /containers/<id>/json into *out (freed with the arena); 0, -1 (err), 1 = no such container. */
int    ctr_inspect(struct xfer *x, struct arena *a, const char *id, long timeout_ms, cJSON **out,
    char *err, size_t errlen);

/* POST /containers/<id>/<action>[?t=10] for start, stop, restart; 0 or -1 (err). */
int    ctr_action(struct xfer *x, struct arena *a, const char *id, const char *action, char *err,
    size_t errlen);
/* DELETE /containers/<id>?force=1 (never v=1: volumes stay); 0 or -1. */
int    ctr_remove(struct xfer *x, struct arena *a, const char *id, char *err, size_t errlen);

/*
 * The engine network of a project, lnchr-net-<project_id>: a bridge
 * labelled launcher.managed=1, launcher.tenant, launcher.project, created
 * with Options isolate=true (Podman/netavark: no traffic to or from other
 * isolated networks; Docker isolates bridges by default).  Every container
 * of a project (its applications and its databases) is created on it, so
 * that a database is reachable by its alias from its project's
 * applications and from nothing else.
 */
#define CTR_NET_PREFIX "lnchr-net-"
/* lnchr-net-<project_id>; 0, or -1 when project_id is not a plane id. */
int    ctr_network_name(const char *project_id, char *out, size_t outlen);
/*
 * Makes sure the project's network exists and is ours (created when
 * absent).  0, or -1 (err: e.g. a network of that name without our labels).
 */
int    ctr_network_ensure(struct xfer *x, struct arena *a, const char *tenant_id,
    const char *project_id, char *err, size_t errlen);
/*
 * The Linux bridge of a project network, named by the agent when it creates
 * the network (Options com.docker.network.bridge.name, which Docker and
 * Podman's compat API both take as the bridge's interface name):
 * "lnchr" + 10 lower-hex digits of SHA-256(engine "\n" project_id
 * ["\n" attempt]), 15 bytes, the kernel's limit.  engine is the engine
 * socket's path: two engines of one host (two installations, or the test
 * suite's stacks side by side) never listen on one path, so their bridges
 * get names of their own.  Left to itself Podman picks the first podmanN
 * that neither its own networks nor the host's interfaces of the moment
 * use, and a network whose bridge is not up yet (no container) is
 * invisible to the other engines: two of them gave two networks one
 * bridge, and the second one's containers had no gateway.  attempt 0 is
 * the name; 1.. the next candidates, when the engine says a name is taken
 * by another of its networks.  0, or -1 (project_id not a plane id, or
 * outlen < CTR_BRIDGE_LEN + 1).
 */
#define CTR_BRIDGE_PREFIX "lnchr"
#define CTR_BRIDGE_LEN    15
int    ctr_bridge_name(const char *engine, const char *project_id, unsigned attempt, char *out,
    size_t outlen);

/*
 * Removes the project's network when no container is attached to it any
 * more (after the removal of an application or a database); the engine
 * refuses while one is, which is not an error here.  Says what happened
 * in note (may be "").
 */
void   ctr_network_prune(struct xfer *x, struct arena *a, const char *tenant_id,
    const char *project_id, char *note, size_t notelen);

/*
 * Runs cmd (a JSON array of strings) in the running container id through
 * the engine's exec API, with env (an array of "K=V" strings, or NULL)
 * added to the container's own.  out (outlen) gets stdout and stderr as
 * they came, sanitized and terminated; *truncated when cut.  *exit_code is
 * the command's status, or -1 when it is unknown (timed out after
 * timeout_ms, still running).  0 when the engine ran it (whatever its
 * status), -1 (err) when it refused.
 */
int    ctr_exec(struct xfer *x, struct arena *a, const char *id, const cJSON *cmd,
    const cJSON *env, long timeout_ms, char *out, size_t outlen, int *exit_code,
    bool *truncated, bool *timed_out, char *err, size_t errlen);
/*
 * The exec's creation alone (POST /containers/<id>/exec): cmd, env (an
 * array of "K=V", or NULL; wiped from the request text after it left)
 * and flags: CTR_EXEC_TTY a terminal (TERM=xterm) with stdin attached,
 * CTR_EXEC_STDIN stdin attached without one (the output then comes
 * multiplexed, 8-byte frame headers).  The exec's id into eid.  0 or -1
 * (err).  ctr_exec runs on it; terminal sessions (term.c) and the backup
 * streams (backup.c) attach to it with ctr_exec_attach.
 */
#define CTR_EXEC_TTY   1u
#define CTR_EXEC_STDIN 2u
int    ctr_exec_create(struct xfer *x, struct arena *a, const char *id, const cJSON *cmd,
    const cJSON *env, unsigned flags, char *eid, size_t eidlen, char *err, size_t errlen);
/*
 * POST /exec/<eid>/start on a connection of its own to the engine socket,
 * hijacked (Docker's "Upgrade: tcp"; Podman's compatible API answers the
 * same): after the answer's headers the socket carries the command's
 * input one way and its output the other (raw with tty, else frames).
 * shutdown(fd, SHUT_WR) ends the command's input (both engines pass the
 * half-close on as the end of stdin).  tty starts the terminal at 80x24.
 * Output that came with the answer goes to early (earlylen bytes at most;
 * *early_got says how many).  Returns the socket (caller closes), or -1
 * (err) when the engine did not attach within setup_ms.
 */
int    ctr_exec_attach(const char *engine_socket, const char *eid, bool tty, long setup_ms,
    unsigned char *early, size_t earlylen, size_t *early_got, char *err, size_t errlen);
/*
 * The exec's status once its stream ended (the engine records it a moment
 * later: asked again every 50 ms, up to 5 s).  Its exit code, or -1 when
 * unknown.
 */
int    ctr_exec_wait(struct xfer *x, struct arena *a, const char *eid);

/*
 * POST /containers/create for one replica of s running image_id, named
 * name, labelled for s, its exposed port published on 127.0.0.1:host_port
 * (0: the engine picks); id (size idlen) gets the new id.  0 or -1 (err).
 */
int    ctr_create(struct xfer *x, struct arena *a, const struct app_spec *s, const char *image_id,
    const char *name, int host_port, char *id, size_t idlen, char *err, size_t errlen);
/* The create body (for tests); caller frees.  NULL on OOM. */
cJSON *ctr_create_body(const struct app_spec *s, const char *image_id, int host_port,
    int64_t nofile, int64_t nproc);
/*
 * The host ports published by every container of the engine, ours or not,
 * running or stopped (a stopped one takes its port back when it starts):
 * up to max into ports.  Returns how many, or -1 (err).
 */
int    ctr_published_ports(struct xfer *x, struct arena *a, int *ports, int max, char *err,
    size_t errlen);

/*
 * The last tail lines of the container's output (both streams, in
 * order) into out, one per line.  0 or -1.
 */
int    ctr_logs_tail(struct xfer *x, struct arena *a, const char *id, int tail, char *out,
    size_t outlen);

/* Facts from an inspect document. */
const char *ctr_label(const cJSON *doc, const char *key);	/* NULL when absent */
const char *ctr_state(const cJSON *doc);	/* State.Status in Docker's words, "" */
bool        ctr_running(const cJSON *doc);
int         ctr_host_port(const cJSON *doc, int container_port);	/* 0 = none */
/* The first published loopback port of any container port, 0 = none. */
int         ctr_any_host_port(const cJSON *doc);
const char *ctr_name(const cJSON *doc);			/* without the leading '/' */
const char *ctr_id(const cJSON *doc);

/*
 * The instance object of the job results ({container_id, name,
 * deployment_id, status, health, host_port, started_at, restart_count})
 * or, with for_report, of POST /agent/instances ({container_id, name,
 * app_id, deployment_id, state, health, host_port, started_at,
 * restart_count, exit_code}).  health_override (NULL: the engine's health
 * or "none").  Caller frees; NULL on OOM.
 */
cJSON *ctr_instance(const cJSON *doc, bool for_report, const char *health_override);

/*
 * A container's resource use from GET /containers/<id>/stats?stream=false
 * (&one-shot=true: a single sample, no wait for a second one).
 * cpu_percent as the docker CLI computes it: the container's CPU time
 * delta over the system's, times the online CPUs, times 100.  The delta
 * is against precpu_stats when the engine filled it (system_cpu_usage >
 * 0; Podman's compatible endpoint leaves it zero without stream, Docker's
 * one-shot too), else against *prev (the caller's previous sample of the
 * same container, NULL or zero when none): -1 when neither gives one.
 * *now gets this sample.  memory_bytes: memory_stats.usage minus the page
 * cache (stats.total_inactive_file, inactive_file or cache, whichever the
 * cgroup version gives), -1 when absent.  0, or -1 when the document has
 * no usage at all.
 */
struct ctr_cpu_sample {
	double total, system;	/* cpu_usage.total_usage, system_cpu_usage (ns) */
};

int    ctr_stats_parse(const cJSON *doc, const struct ctr_cpu_sample *prev,
    struct ctr_cpu_sample *now, double *cpu_percent, int64_t *memory_bytes);
/* Asks the engine and parses; 0, or -1 with the engine's answer in err. */
int    ctr_stats(struct xfer *x, struct arena *a, const char *id, long timeout_ms,
    const struct ctr_cpu_sample *prev, struct ctr_cpu_sample *now, double *cpu_percent,
    int64_t *memory_bytes, char *err, size_t errlen);

/* The engine's "message" of an error answer (else "HTTP <status>"), made one safe line. */
void   ctr_engine_msg(const struct xfer_resp *r, char *out, size_t outlen);

/* Percent-encodes s for a query string into the arena. */
char  *ctr_qs_escape(struct arena *a, const char *s);

#endif
