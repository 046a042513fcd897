/*
 * launcher_fcgi.c - the FastCGI pool: a master that reads the config once,
 * opens the socket, pre-forks workers and keeps their number; each worker
 * holds one PostgreSQL connection and serves requests statelessly.
 *
 * Signals (master): SIGHUP = re-read the config and the master key ring
 * and replace every worker gracefully (new ones first, old ones finish
 * their request, no request fails); SIGTERM/SIGINT = unlink a unix socket
 * (nginx tries the next server), let workers finish in-flight and queued
 * requests, then exit.  A worker that dies is re-forked (with a
 * short back-off if it keeps dying).
 *
 * The master keeps the privileges it was started with (it reads the
 * root-only key ring again on SIGHUP) and serves no request; each worker
 * drops to `user` as soon as it is forked.  With fcgi_state_file set, the
 * master writes its pid and the size of the key ring every worker holds
 * there, at start and once the last worker of an older ring has exited:
 * launcher-admin rotate-master-key waits for that before it seals anything
 * with a new key (README, Security).
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <fcgiapp.h>
#include <sodium.h>

#include "../api/api.h"
#include "../core/config.h"
#include "../core/db_conn.h"
#include "../core/dbimages.h"
#include "../core/imagemap.h"
#include "../core/log.h"
#include "../core/perm.h"
#include "../core/planestats.h"
#include "../core/router.h"
#include "../core/util.h"
#include "../core/worker.h"

#define MAX_WORKERS 64
_Static_assert(2 * MAX_WORKERS <= PLANESTATS_WORKERS, "a busy flag per worker slot");

/* Every section's table, handed to the router (core/ knows no section). */
static const struct route *const sections[] = {
	api_system_routes,
	api_auth_routes,
	api_service_key_routes,
	api_user_routes,
	api_project_routes,
	api_member_routes,
	api_environment_routes,
	api_audit_routes,
	api_server_routes,
	api_agent_routes,
	api_application_routes,
	api_app_action_routes,
	api_app_env_routes,
	api_env_var_routes,
	api_app_log_routes,
	api_deployment_routes,
	api_job_routes,
	api_volume_routes,
	api_function_routes,
	api_backup_schedule_routes,
	api_database_routes,
	api_bucket_routes,
	api_pitr_routes,
	api_registry_routes,
	api_backup_routes,
	api_git_provider_routes,
	api_webhook_routes,
	api_terminal_routes,
	api_domain_routes,
	api_plane_routes,
	api_monitoring_routes,
	api_traffic_routes,
	api_notification_routes,
	api_alert_routes,
	api_settings_routes,
	api_issue_routes,
	api_search_routes,
	api_error_tracking_routes,
	api_mcp_routes,
	api_template_routes,
	api_template_deploy_routes,
};

/* Signal flags: the only state a handler may touch. */
static volatile sig_atomic_t sig_term, sig_hup, sig_chld;

static void
on_signal(int sig)
{
	if (sig == SIGTERM || sig == SIGINT)
		sig_term = 1;
	else if (sig == SIGHUP)
		sig_hup = 1;
	else if (sig == SIGCHLD)
		sig_chld = 1;
}

static void
set_handler(int sig, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal must interrupt accept() in workers. */
	sa.sa_flags = 0;
	sigaction(sig, &sa, NULL);
}

/* ---- worker ---------------------------------------------------------- */

/*
 * Whether the pool listens on a unix socket.  libfcgi ends each connection
 * with a lingering close (shutdown, then wait for the peer's EOF for up to
 * 2 s): over TCP that keeps unread input from turning into a reset that
 * could cut the answer.  Over a unix socket unread input resets too, so
 * the response writer reads it all first (http.c, drain_input), and the
 * wait would only park the worker until nginx gets round to closing its end, one
 * sleep and wake-up per request.  Measured: the SELECT 1 ceiling went from
 * 9k to 14-18k req/s, /auth/me from 6-6.5k to 7.4-9.6k.
 */
static bool
listens_on_unix(int fd)
{
	struct sockaddr_storage ss;
	socklen_t               len = sizeof(ss);

	return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_UNIX;
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * The request's figures go to the shared segment before FCGX_Finish_r
 * sends the last of the answer: a client that scrapes /metrics after its
 * answer always finds its request counted.  Atomic adds, no lock.
 */
static void
serve_one(struct worker *w, FCGX_Request *fr, bool plain_close)
{
	struct req r;
	uint64_t   t0 = now_us(), trips0 = w->db.conn.round_trips, trips;

	planestats_busy(w->stats, w->stats_slot, 1);
	memset(&r, 0, sizeof(r));
	r.w = w;
	r.a = &w->arena;
	r.fcgi = fr;
	if (http_req_init(&r) == ERR_OK)
		router_dispatch(&r);
	if (!r.responded)
		http_error(&r, ERR_INTERNAL, "internal error");
	trips = w->db.conn.round_trips;
	/* A reconnect during the request started the count again. */
	planestats_record(w->stats, router_index(r.matched), r.method, r.status, now_us() - t0,
	    trips >= trips0 ? trips - trips0 : trips);
	if (plain_close)
		(void)FCGX_Detach(fr);	/* FCGX_Finish_r then closes without lingering */
	FCGX_Finish_r(fr);
	/* The client has its answer; now the deferred work (e.g. e-mail). */
	if (r.after_fn != NULL)
		r.after_fn(w, r.after_arg);
	arena_reset(&w->arena);
	log_set_request_id(NULL);
	planestats_busy(w->stats, w->stats_slot, 0);
}

/*
 * Waits up to timeout_ms for a connection on the worker's socket (poll(),
 * which SIGTERM interrupts), then accepts and serves it with SIGTERM
 * blocked.  Returns poll()'s result: 0 nothing came, < 0 interrupted.
 */
static int
serve_next(struct worker *w, FCGX_Request *fr, const sigset_t *term, bool plain_close,
    int timeout_ms)
{
	struct pollfd p = {.fd = w->listen_fd, .events = POLLIN};
	int           r = poll(&p, 1, timeout_ms);

	if (r <= 0)
		return r;
	sigprocmask(SIG_BLOCK, term, NULL);
	if (FCGX_Accept_r(fr) == 0)
		serve_one(w, fr, plain_close);
	sigprocmask(SIG_UNBLOCK, term, NULL);
	return r;
}

/*
 * ready_fd: the write end of the pipe spawn() waits on; one byte once the
 * privileges are dropped (closed unwritten if they cannot be).
 */
static int
worker_main(const struct config *cfg, const struct crypto_keys *keys,
    const struct dbimages *dbimages, const struct imagemap *imagemap,
    const struct gallery *gallery, int listen_fd, int ready_fd,
    struct planestats *stats, int stats_slot, struct eventquota *quota)
{
	struct worker w;
	FCGX_Request  fr;
	sigset_t      none, term;
	bool          plain_close = listens_on_unix(listen_fd);

	/* Before anything else: no request is ever served with privileges,
	 * and the master counts this process as a worker only after this. */
	if (util_drop_privileges(cfg->user) != 0)
		return 1;
	if (write(ready_fd, "r", 1) != 1)
		return 1;
	close(ready_fd);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);	/* forked with signals blocked */
	set_handler(SIGTERM, on_signal);
	set_handler(SIGINT, SIG_IGN);	/* the master decides on Ctrl-C */
	set_handler(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	memset(&w, 0, sizeof(w));
	w.cfg = cfg;
	w.dbimages = dbimages;
	w.imagemap = imagemap;
	w.gallery = gallery;
	w.listen_fd = listen_fd;
	w.stats = stats;
	w.stats_slot = stats_slot;
	w.quota = quota;
	/* The keys come from the master, which read them with its own
	 * privileges: the key file stays readable by root alone. */
	w.keys = *keys;
	/*
	 * Each request allocates and frees the same few hundred KB (arena
	 * blocks, a list's output buffer, libpq results).  By default glibc
	 * gives the top of the heap back after every request and takes it
	 * again on the next (brk down, brk up, page faults on fresh zeroed
	 * pages: three system calls and dozens of faults per list request).
	 * Keep up to 4 MB of freed heap, and serve blocks below 4 MB from the
	 * heap rather than from mmap, which has the same round trip.
	 */
	(void)mallopt(M_TRIM_THRESHOLD, 4 << 20);
	(void)mallopt(M_MMAP_THRESHOLD, 4 << 20);
	arena_init(&w.arena, 64 * 1024);
	(void)db_ensure(&w);	/* if the database is down, requests get 503 */
	FCGX_InitRequest(&fr, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	/*
	 * Wait for a connection with poll(), which SIGTERM interrupts; then
	 * accept and serve it with SIGTERM blocked, so that no read or write of
	 * the request (FCGX_Accept_r itself reads the FastCGI parameters) can
	 * fail with EINTR: a reload or a stop never costs a request.  The
	 * listening socket is non-blocking: when another worker accepted the
	 * connection first, FCGX_Accept_r returns at once and we wait again.
	 */
	while (!sig_term)
		(void)serve_next(&w, &fr, &term, plain_close, 1000);
	/*
	 * Leaving: the connections nginx already queued on the socket are
	 * served first.  On a stop the master unlinked a unix socket before it
	 * told the workers, so nothing new arrives and the queue only shrinks;
	 * a connection left in it is reset at the last close, which nginx
	 * answers 502 and retries on another server only for an idempotent
	 * request (a POST fails).  Until the socket has been quiet for 20 ms,
	 * at most 2 s: on a reload the new workers share the queue.
	 */
	for (time_t until = time(NULL) + 2; time(NULL) < until;) {
		int r = serve_next(&w, &fr, &term, plain_close, 20);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
	}
	db_close(&w.db);
	arena_free(&w.arena);
	crypto_keys_wipe(&w.keys);
	return 0;
}

/* ---- master ---------------------------------------------------------- */

struct slot {
	pid_t  pid;
	int    gen;
	int    cpu;	/* the CPU it is pinned to, -1 if none */
	time_t started;
};

struct master {
	struct config      cfg;
	bool               ingest;	/* --ingest: the ingest pool (as_ingest) */
	struct crypto_keys keys;	/* read at start and on every reload */
	struct dbimages    dbimages;	/* cfg.database_images_file, likewise */
	struct imagemap    imagemap;	/* cfg.image_mirrors_file, likewise */
	struct gallery     gallery;	/* cfg.templates_dir, likewise */
	const char   *conf_path;
	int           listen_fd;
	int           gen;
	struct slot   slots[2 * MAX_WORKERS];	/* room for a reload overlap */
	int           cpus[CPU_SETSIZE];	/* the CPUs the master may run on */
	int           ncpus;
	int           state_gen;	/* the generation fcgi_state_file was written for */
	/* The shared figures every worker adds to (planestats.h), mapped
	 * before the first fork; its busy flags are indexed by slot. */
	struct planestats *stats;
	/* The ingest quota's counters (eventquota.h), mapped likewise. */
	struct eventquota *quota;
};

/*
 * worker_cpu_affinity = auto: each worker is pinned to one of the CPUs
 * the master may use, the one with the fewest workers of the current
 * generation (so a replaced worker takes its predecessor's CPU).  A
 * worker spends its time waiting on its PostgreSQL backend, and the
 * scheduler then tends to wake that backend on the worker's CPU; left
 * free, the pairs sometimes end up split across CPUs, and every round
 * trip pays a cross-CPU wake-up (make bench measured the JWT case at 10-11k
 * req/s split against 16-17k paired on 2 cores, README Performance).
 */
static int
pick_cpu(struct master *m)
{
	int best = -1, best_n = 0;

	if (strcmp(m->cfg.worker_cpu_affinity, "auto") != 0 || m->ncpus < 2)
		return -1;
	for (int c = 0; c < m->ncpus; c++) {
		int n = 0;

		for (size_t i = 0; i < sizeof(m->slots) / sizeof(*m->slots); i++)
			if (m->slots[i].pid != 0 && m->slots[i].gen == m->gen &&
			    m->slots[i].cpu == m->cpus[c])
				n++;
		if (best < 0 || n < best_n) {
			best = m->cpus[c];
			best_n = n;
		}
	}
	return best;
}

/*
 * The master pins itself to the worker's CPU just around fork(), so the
 * worker inherits the mask and is never seen unpinned (a test reading
 * /proc right after a replacement once saw it between fork() and its own
 * sched_setaffinity()); the master then returns to its own mask.
 */
static bool
pin_around_fork(int cpu, cpu_set_t *saved)
{
	cpu_set_t set;

	if (cpu < 0 || sched_getaffinity(0, sizeof(*saved), saved) != 0)
		return false;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		log_warn("worker_cpu_affinity: cannot pin to CPU %d: %s", cpu, strerror(errno));
		return false;
	}
	return true;
}

static pid_t
spawn(struct master *m)
{
	struct slot *s = NULL;
	pid_t        pid;
	int          cpu;
	cpu_set_t    saved;
	bool         pinned;
	int          err, ready[2];

	for (size_t i = 0; i < sizeof(m->slots) / sizeof(*m->slots); i++)
		if (m->slots[i].pid == 0) {
			s = &m->slots[i];
			break;
		}
	if (s == NULL)
		return -1;
	if (pipe2(ready, O_CLOEXEC) != 0) {
		log_error("pipe failed: %s", strerror(errno));
		return -1;
	}
	cpu = pick_cpu(m);
	pinned = pin_around_fork(cpu, &saved);
	pid = fork();
	err = errno;
	if (pid != 0 && pinned && sched_setaffinity(0, sizeof(saved), &saved) != 0)
		log_warn("worker_cpu_affinity: master cannot restore its mask: %s", strerror(errno));
	if (pid < 0) {
		log_error("fork failed: %s", strerror(err));
		close(ready[0]);
		close(ready[1]);
		return -1;
	}
	if (pid == 0) {
		close(ready[0]);
		_exit(worker_main(&m->cfg, &m->keys, &m->dbimages, &m->imagemap, &m->gallery,
		    m->listen_fd, ready[1], m->stats, (int)(s - m->slots), m->quota));
	}
	close(ready[1]);
	/* Wait until the worker has dropped its privileges: a process of the
	 * pool is never seen running a worker's code as the master's user.
	 * One that cannot drop them exits; the reaper replaces it. */
	{
		struct pollfd p = {.fd = ready[0], .events = POLLIN};
		char          c;

		if (poll(&p, 1, 5000) != 1 || read(ready[0], &c, 1) != 1)
			log_error("worker %d did not start (user %s)", (int)pid,
			    m->cfg.user[0] != '\0' ? m->cfg.user : "unchanged");
		close(ready[0]);
	}
	s->pid = pid;
	s->cpu = cpu;
	s->gen = m->gen;
	s->started = time(NULL);
	return pid;
}

static int
count(struct master *m, int gen)
{
	int n = 0;

	for (size_t i = 0; i < sizeof(m->slots) / sizeof(*m->slots); i++)
		if (m->slots[i].pid != 0 && (gen < 0 || m->slots[i].gen == gen))
			n++;
	return n;
}

static void
signal_old(struct master *m, int sig, bool all)
{
	for (size_t i = 0; i < sizeof(m->slots) / sizeof(*m->slots); i++)
		if (m->slots[i].pid != 0 && (all || m->slots[i].gen != m->gen))
			kill(m->slots[i].pid, sig);
}

/* Reaps dead workers; returns how many of the current generation died. */
static int
reap(struct master *m)
{
	int   status, died = 0;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (size_t i = 0; i < sizeof(m->slots) / sizeof(*m->slots); i++)
			if (m->slots[i].pid == pid) {
				if (m->slots[i].gen == m->gen) {
					died++;
					if (!sig_term)
						log_warn("worker %d exited (status %d); replacing it",
						    (int)pid, status);
				}
				m->slots[i].pid = 0;
				/* A worker that died mid-request is busy no more. */
				planestats_busy(m->stats, (int)i, 0);
			}
	return died;
}

static int
open_socket(struct master *m)
{
	const struct config *c = &m->cfg;

	if (c->listen[0] == '/') {
		(void)unlink(c->listen);
	}
	m->listen_fd = FCGX_OpenSocket(c->listen, 1024);
	if (m->listen_fd < 0) {
		log_error("cannot listen on %s", c->listen);
		return -1;
	}
	/* Workers poll, then accept; a lost race must not block (see worker_main). */
	if (fcntl(m->listen_fd, F_SETFL, fcntl(m->listen_fd, F_GETFL) | O_NONBLOCK) != 0) {
		log_error("cannot make the listening socket non-blocking");
		return -1;
	}
	if (c->listen[0] == '/' && util_socket_access(c->listen, c->socket_group, c->socket_mode) != 0)
		return -1;
	return 0;
}

static void
apply_log_level(const struct config *c)
{
	enum log_level l;

	if (log_level_parse(c->log_level, &l) == 0)
		log_set_level(l);
}

/*
 * fcgi_state_file: "PID\nring N\n", N the number of keys of the ring that
 * every live worker holds.  Written (temporary file, rename) once no worker
 * of an older generation is left; removed when the pool stops.
 */
static void
write_state(struct master *m)
{
	char tmp[CONFIG_STR_MAX + 8], text[64];
	int  fd, n;

	m->state_gen = m->gen;
	if (m->cfg.fcgi_state_file[0] == '\0')
		return;
	n = util_snprintf(text, sizeof(text), "%d\nring %d\n", (int)getpid(), m->keys.nring);
	if (n < 0 || util_snprintf(tmp, sizeof(tmp), "%s.tmp", m->cfg.fcgi_state_file) < 0)
		return;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, (size_t)n) != n || close(fd) != 0 ||
	    rename(tmp, m->cfg.fcgi_state_file) != 0) {
		log_error("cannot write %s: %s", m->cfg.fcgi_state_file, strerror(errno));
		if (fd >= 0)
			(void)unlink(tmp);
		return;
	}
	log_info("every worker holds the key ring of %d keys", m->keys.nring);
}

/* Removes fcgi_state_file if it is this master's (not another pool's). */
static void
remove_state(struct master *m)
{
	char  buf[32], mine[32];
	FILE *f;
	size_t n;

	if (m->cfg.fcgi_state_file[0] == '\0' || (f = fopen(m->cfg.fcgi_state_file, "r")) == NULL)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (util_snprintf(mine, sizeof(mine), "%d\n", (int)getpid()) > 0 &&
	    strncmp(buf, mine, strlen(mine)) == 0)
		(void)unlink(m->cfg.fcgi_state_file);
}

/*
 * --ingest: the same pool serving Sentry SDK events on a socket of its own
 * (nginx's ingest location), so that API requests never queue behind
 * them: ingest_listen and ingest_workers instead of listen and workers,
 * and no fcgi_state_file (that is the API pool's; the ingest path seals
 * and opens no secret).  The quota's counters are shared through
 * eventquota_file (README "Error tracking: ingest").
 */
static void
as_ingest(const struct master *m, struct config *c)
{
	if (!m->ingest)
		return;
	util_snprintf(c->listen, sizeof(c->listen), "%s", c->ingest_listen);
	c->workers = c->ingest_workers;
	c->fcgi_state_file[0] = '\0';
}

static void
reload(struct master *m)
{
	struct config      next;
	struct crypto_keys keys;
	struct dbimages    images;
	struct imagemap    mirrors;
	struct gallery     gallery;
	char               err[512];

	if (config_load(&next, m->conf_path, err, sizeof(err)) != 0) {
		log_error("reload refused, keeping the running config: %s", err);
		return;
	}
	as_ingest(m, &next);
	if (dbimages_load(&images, next.database_images_file, err, sizeof(err)) != 0) {
		log_error("reload refused, keeping the running config: %s", err);
		return;
	}
	if (imagemap_load(&mirrors, next.image_mirrors_file, err, sizeof(err)) != 0) {
		log_error("reload refused, keeping the running config: %s", err);
		dbimages_free(&images);
		return;
	}
	if (gallery_load(&gallery, next.templates_dir, err, sizeof(err)) != 0) {
		log_error("reload refused, keeping the running config: %s", err);
		dbimages_free(&images);
		imagemap_free(&mirrors);
		return;
	}
	if (crypto_keys_load(&keys, next.master_key_file, err, sizeof(err)) != 0) {
		log_error("reload refused, keeping the running config and keys: %s", err);
		dbimages_free(&images);
		imagemap_free(&mirrors);
		gallery_free(&gallery);
		return;
	}
	/* Workers of the old generation hold their own (forked) copy. */
	dbimages_free(&m->dbimages);
	m->dbimages = images;
	imagemap_free(&m->imagemap);
	m->imagemap = mirrors;
	gallery_free(&m->gallery);
	m->gallery = gallery;
	if (strcmp(next.fcgi_state_file, m->cfg.fcgi_state_file) != 0)
		remove_state(m);
	crypto_keys_wipe(&m->keys);
	m->keys = keys;
	sodium_memzero(&keys, sizeof(keys));
	if (strcmp(next.listen, m->cfg.listen) != 0)
		log_warn("reload: 'listen' changes need a restart; keeping %s", m->cfg.listen);
	util_snprintf(next.listen, sizeof(next.listen), "%s", m->cfg.listen);
	m->cfg = next;
	apply_log_level(&m->cfg);
	m->gen++;
	/* New workers first, so that the socket is never without acceptors. */
	for (int i = 0; i < m->cfg.workers; i++)
		spawn(m);
	signal_old(m, SIGTERM, false);
	log_info("reload: generation %d started with %d workers", m->gen, (int)m->cfg.workers);
}

/* The worker counts of GET /metrics (planestats.h). */
static void
publish_counts(struct master *m)
{
	if (m->stats == NULL)
		return;
	__atomic_store_n(&m->stats->workers, (uint32_t)count(m, -1), __ATOMIC_RELAXED);
	__atomic_store_n(&m->stats->workers_configured, (uint32_t)m->cfg.workers, __ATOMIC_RELAXED);
}

static int
master_loop(struct master *m)
{
	sigset_t block, old;
	time_t   last_nudge = 0;

	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	for (int i = 0; i < m->cfg.workers; i++)
		spawn(m);
	publish_counts(m);
	log_info("launcher-fcgi %s: %d workers on %s", LAUNCHER_VERSION,
	    (int)m->cfg.workers, m->cfg.listen);
	for (;;) {
		struct timespec ts = {1, 0};
		time_t          now;

		/* Sleep with signals atomically unblocked (no lost wake-up); wake
		 * at least once a second to nudge workers that are leaving. */
		pselect(0, NULL, NULL, NULL, &ts, &old);
		now = time(NULL);
		if (sig_chld) {
			int died;

			sig_chld = 0;
			died = reap(m);
			for (int i = 0; i < died && !sig_term; i++)
				spawn(m);
		}
		if (sig_term) {
			/* No new connection from here on (nginx's connect fails
			 * and it tries the next server, a POST too: nothing was
			 * sent); the workers serve what is queued, then leave. */
			if (m->cfg.listen[0] == '/')
				(void)unlink(m->cfg.listen);
			signal_old(m, SIGTERM, true);
			break;
		}
		if (sig_hup) {
			sig_hup = 0;
			reload(m);
		}
		/* A leaving worker blocked in accept() is woken every second;
		 * it exits once it has no request in flight. */
		if (now != last_nudge && count(m, -1) > count(m, m->gen)) {
			signal_old(m, SIGTERM, false);
			last_nudge = now;
		}
		/* Keep the pool full (a failed fork is retried here). */
		while (count(m, m->gen) < m->cfg.workers && spawn(m) > 0)
			;
		if (m->state_gen != m->gen && count(m, -1) == count(m, m->gen))
			write_state(m);
		publish_counts(m);
	}
	/* Drain: workers finish in-flight requests, then exit. */
	while (count(m, -1) > 0) {
		struct timespec ts = {0, 200 * 1000 * 1000};

		pselect(0, NULL, NULL, NULL, &ts, &old);
		sig_chld = 0;
		reap(m);
		signal_old(m, SIGTERM, true);
	}
	remove_state(m);
	crypto_keys_wipe(&m->keys);
	log_info("launcher-fcgi stopped");
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: launcher-fcgi -c FILE        run the pool\n"
	    "       launcher-fcgi -c FILE --ingest  run the ingest pool (ingest_listen, ingest_workers)\n"
	    "       launcher-fcgi -c FILE -t     check the config and exit\n"
	    "       launcher-fcgi --routes       print every route (method, path, cap, audit, auth)\n"
	    "       launcher-fcgi --permissions  print the project permission table\n"
	    "       launcher-fcgi --mcp-tools    print the MCP endpoint's tool table (JSON)\n"
	    "       launcher-fcgi --config-keys  print every config key\n");
}

int
main(int argc, char **argv)
{
	static struct master m;
	char                 err[512];
	bool                 test_only = false;

	db_conn_check_names();
	router_init(sections, sizeof(sections) / sizeof(*sections));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			m.conf_path = argv[++i];
		else if (strcmp(argv[i], "--ingest") == 0)
			m.ingest = true;
		else if (strcmp(argv[i], "-t") == 0)
			test_only = true;
		else if (strcmp(argv[i], "--routes") == 0) {
			router_print();
			return 0;
		} else if (strcmp(argv[i], "--mcp-tools") == 0) {
			return mcp_print_tools();
		} else if (strcmp(argv[i], "--permissions") == 0) {
			perm_print();
			return 0;
		} else if (strcmp(argv[i], "--config-keys") == 0) {
			config_print_keys();
			return 0;
		} else {
			usage();
			return 2;
		}
	}
	if (m.conf_path == NULL) {
		usage();
		return 2;
	}
	if (config_load(&m.cfg, m.conf_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "launcher-fcgi: %s\n", err);
		return 1;
	}
	as_ingest(&m, &m.cfg);
	apply_log_level(&m.cfg);
	if (dbimages_load(&m.dbimages, m.cfg.database_images_file, err, sizeof(err)) != 0 ||
	    imagemap_load(&m.imagemap, m.cfg.image_mirrors_file, err, sizeof(err)) != 0) {
		fprintf(stderr, "launcher-fcgi: %s\n", err);
		return 1;
	}
	if (gallery_load(&m.gallery, m.cfg.templates_dir, err, sizeof(err)) != 0) {
		fprintf(stderr, "launcher-fcgi: %s\n", err);
		return 1;
	}
	/* Read here (fail at start, not in every worker), with the master's
	 * privileges: workers inherit the derived keys. */
	if (crypto_keys_load(&m.keys, m.cfg.master_key_file, err, sizeof(err)) != 0) {
		fprintf(stderr, "launcher-fcgi: %s\n", err);
		return 1;
	}
	if (test_only) {
		printf("launcher-fcgi: %s is valid\n", m.conf_path);
		return 0;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* Workers drop to `user` when forked: an unknown one fails here. */
	if (m.cfg.user[0] != '\0' && geteuid() == 0 && getpwnam(m.cfg.user) == NULL) {
		fprintf(stderr, "launcher-fcgi: unknown user %s\n", m.cfg.user);
		return 1;
	}
	if (FCGX_Init() != 0 || open_socket(&m) != 0)
		return 1;
	m.state_gen = -1;
	/* Shared with every worker: mapped once, before the first fork. */
	if ((m.stats = planestats_map(router_count())) == NULL)
		log_warn("cannot map the pool's figures (GET /metrics answers 503): %s",
		    strerror(errno));
	if ((m.quota = eventquota_map(m.cfg.eventquota_file)) == NULL)
		log_warn("cannot map the ingest quota's counters (events go uncounted): %s",
		    strerror(errno));
	set_handler(SIGTERM, on_signal);
	set_handler(SIGINT, on_signal);
	set_handler(SIGHUP, on_signal);
	set_handler(SIGCHLD, on_signal);
	signal(SIGPIPE, SIG_IGN);
	{
		cpu_set_t set;

		if (sched_getaffinity(0, sizeof(set), &set) == 0)
			for (int c = 0; c < CPU_SETSIZE; c++)
				if (CPU_ISSET(c, &set))
					m.cpus[m.ncpus++] = c;
	}
	return master_loop(&m);
}
