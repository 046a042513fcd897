/*
 * launcher_dnscheck.c - custom domains' DNS checks and certificates, run
 * every minute by cron (conf/crontab) or as a loop:
 *
 *   launcher-dnscheck -c FILE --once                  one run, then exit
 *   launcher-dnscheck -c FILE --loop [--interval S]   a run every S seconds (60),
 *                                                     and at once on NOTIFY launcher_dnscheck
 *   --dns_server H:P, --dns_timeout_ms N, ... --KEY VALUE   override launcher.conf keys
 *
 * A run: the domains due (dnscheck_due, oldest first, dnscheck_batch of
 * them) are checked -- TXT _lnchr-verify.<host> = lnchr-verify=<token>,
 * then routing: a CNAME to the server's base_domain (or a name under it),
 * or an A/AAAA record equal to the server's address -- and the findings go
 * to dnscheck_record, which applies the status machine and the back-off
 * (sql/033_dnscheck.sql: the rules live beside the data).  Then, with
 * acme_directory_url set, dnscheck_cert_queue queues the due domain.cert
 * jobs (the agents run the ACME client), and the plane's own certificate
 * (plane_hostname) is obtained or renewed here.
 *
 * A wildcard host *.x is verified at _lnchr-verify.x and routed by a probe
 * name lnchr-probe.x (a wildcard record answers it).
 *
 * One run at a time: a run holds dnscheck_lock_file (flock); another run
 * started meanwhile says so and exits 0.  The database work runs as the
 * maintenance role (maintenance_database_url), like launcher-scheduler.
 * DNS waits happen here, never in a pool worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "../core/acme.h"
#include "../core/config.h"
#include "../core/db_conn.h"
#include "../core/dns.h"
#include "../core/helper.h"
#include "../core/log.h"
#include "../core/spawn.h"
#include "../core/util.h"

/* The TXT record that proves ownership, and the probe label of wildcards. */
#define VERIFY_LABEL "_lnchr-verify."
#define VERIFY_PREFIX "lnchr-verify="
#define PROBE_LABEL "lnchr-probe."
/* A server's address may resolve to several; more are ignored. */
#define ADDRS_MAX 8
/* ca_pem travels in every domain.cert payload: a PEM bundle, not more. */
#define CA_PEM_MAX 65536
/* The plane's own order: lego's whole run (account, order, HTTP-01, download). */
#define PLANE_ACME_TIMEOUT_MS (5 * 60 * 1000)
/* plane_reload_command, e.g. systemctl reload nginx. */
#define PLANE_RELOAD_TIMEOUT_MS (60 * 1000)

DB_STMT st_due = {"dnscheck_due",
    "SELECT id, hostname, token, status, base_domain, server_host"
    " FROM launcher.dnscheck_due($1::int)"};
DB_STMT st_record = {"dnscheck_record",
    "SELECT * FROM launcher.dnscheck_record($1::jsonb)"};
DB_STMT st_certs = {"dnscheck_cert_queue",
    "SELECT launcher.dnscheck_cert_queue($1::jsonb, $2::int)"};

/* The server a domain's routing is checked against. */
struct target {
	const char *base_domain;	/* NULL: none */
	const char *host;		/* as configured (a name or an address) */
	char        addrs[ADDRS_MAX][INET6_ADDRSTRLEN];
	int         naddrs;
};

/* host's addresses (getaddrinfo: a literal, or a name resolved once). */
static void
target_resolve(struct target *t)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;

	t->naddrs = 0;
	if (t->host == NULL || t->host[0] == '\0' || getaddrinfo(t->host, NULL, &hints, &res) != 0)
		return;
	for (struct addrinfo *a = res; a != NULL && t->naddrs < ADDRS_MAX; a = a->ai_next) {
		const void *p = a->ai_family == AF_INET
		    ? (const void *)&((struct sockaddr_in *)(void *)a->ai_addr)->sin_addr
		    : (const void *)&((struct sockaddr_in6 *)(void *)a->ai_addr)->sin6_addr;

		if (inet_ntop(a->ai_family, p, t->addrs[t->naddrs], INET6_ADDRSTRLEN) != NULL)
			t->naddrs++;
	}
	freeaddrinfo(res);
}

/* name equal to base or under it ("x.base"); both lower case, no trailing dot. */
static int
name_under(const char *name, const char *base)
{
	size_t n = strlen(name), b = strlen(base);

	if (b == 0)
		return 0;
	return strcmp(name, base) == 0 || (n > b && name[n - b - 1] == '.' && strcmp(name + n - b, base) == 0);
}

/*
 * The TXT check of one domain: 1 when a record of name is exactly the
 * expected value, else 0 with the finding in err ("TXT <name>: ...").
 * *server_fault is set when the server itself failed (no answer, SERVFAIL,
 * REFUSED): the routing queries would only wait again.
 */
static int
check_txt(struct dns_resolver *r, const char *name, const char *want, char *err, size_t errlen,
    int *server_fault)
{
	struct dns_answer a;
	char              why[64];

	*server_fault = 0;
	if (dns_query(r, name, DNS_TXT, &a) == DNS_OK) {
		for (int i = 0; i < a.n; i++)
			if (strcmp(a.rr[i], want) == 0)
				return 1;
		util_snprintf(err, errlen, "TXT %s: found \"%.80s\", expected \"%s\"", name, a.rr[0], want);
		return 0;
	}
	*server_fault = a.status == DNS_TIMEOUT || a.status == DNS_SERVFAIL || a.status == DNS_REFUSED ||
	    a.status == DNS_ERROR;
	dns_describe(r, &a, why, sizeof(why));
	util_snprintf(err, errlen, "TXT %s: %s", name, why);
	return 0;
}

/*
 * The routing check of name against t: 1 with *type "CNAME", "A" or
 * "AAAA" when it points at us, else 0 with the finding in err ("routing
 * <name>: ...").
 */
static int
check_routing(struct dns_resolver *r, const char *name, const struct target *t,
    const char **type, char *err, size_t errlen)
{
	static const enum dns_type addr_types[] = {DNS_A, DNS_AAAA};
	struct dns_answer a;
	char              found[256] = "", why[64];
	enum dns_status   first = DNS_OK;

	if (dns_query(r, name, DNS_CNAME, &a) == DNS_OK) {
		if (t->base_domain != NULL && name_under(a.rr[0], t->base_domain)) {
			*type = "CNAME";
			return 1;
		}
		util_snprintf(found, sizeof(found), "; found CNAME %.200s", a.rr[0]);
	} else
		first = a.status;
	for (size_t k = 0; k < sizeof(addr_types) / sizeof(*addr_types); k++) {
		if (dns_query(r, name, addr_types[k], &a) != DNS_OK)
			continue;
		for (int i = 0; i < a.n; i++)
			for (int j = 0; j < t->naddrs; j++)
				if (strcmp(a.rr[i], t->addrs[j]) == 0) {
					*type = dns_type_name(addr_types[k]);
					return 1;
				}
		if (found[0] == '\0')
			util_snprintf(found, sizeof(found), "; found %s %s", dns_type_name(addr_types[k]),
			    a.rr[0]);
	}
	if (first != DNS_OK && first != DNS_NODATA && found[0] == '\0') {
		a.status = first;
		dns_describe(r, &a, why, sizeof(why));
		util_snprintf(err, errlen, "routing %s: %s", name, why);
		return 0;
	}
	util_snprintf(err, errlen, "routing %s: no CNAME to %s and no A/AAAA of %s%s", name,
	    t->base_domain ? t->base_domain : "(no base_domain)",
	    t->host && t->host[0] ? t->host : "(no server address)", found);
	return 0;
}

/* Checks one due row; appends its result object to results. */
static void
check_domain(struct dns_resolver *r, PGresult *res, int row, cJSON *results)
{
	const char   *host = db_get(res, row, "hostname");
	const char   *base = strncmp(host, "*.", 2) == 0 ? host + 2 : host;
	const char   *rtype = NULL;
	char          txt_name[300], probe[300], want[128], terr[512] = "", rerr[512] = "", error[1100];
	struct target t = {0};
	int           txt_ok, routing_ok = 0, fault;
	cJSON        *o;

	t.base_domain = db_isnull(res, row, "base_domain") ? NULL : db_get(res, row, "base_domain");
	t.host = db_isnull(res, row, "server_host") ? NULL : db_get(res, row, "server_host");
	target_resolve(&t);
	util_snprintf(txt_name, sizeof(txt_name), VERIFY_LABEL "%s", base);
	util_snprintf(probe, sizeof(probe), "%s%s", base == host ? "" : PROBE_LABEL, base);
	util_snprintf(want, sizeof(want), VERIFY_PREFIX "%s", db_get(res, row, "token"));
	txt_ok = check_txt(r, txt_name, want, terr, sizeof(terr), &fault);
	if (!fault)
		routing_ok = check_routing(r, probe, &t, &rtype, rerr, sizeof(rerr));
	if (!txt_ok && !fault && !routing_ok)
		util_snprintf(error, sizeof(error), "%s; %s", terr, rerr);
	else
		util_snprintf(error, sizeof(error), "%s", !txt_ok ? terr : rerr);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", db_get(res, row, "id"));
	cJSON_AddStringToObject(o, "hostname", host);
	cJSON_AddStringToObject(o, "token", db_get(res, row, "token"));
	cJSON_AddBoolToObject(o, "txt_ok", txt_ok);
	cJSON_AddBoolToObject(o, "routing_ok", routing_ok);
	if (routing_ok)
		cJSON_AddStringToObject(o, "routing_type", rtype);
	if (!txt_ok || !routing_ok)
		cJSON_AddStringToObject(o, "error", error);
	cJSON_AddItemToArray(results, o);
	log_debug("%s: txt %s, routing %s%s%s", host, txt_ok ? "ok" : "failed",
	    routing_ok ? "ok" : "failed", txt_ok && routing_ok ? "" : ": ", txt_ok && routing_ok ? "" : error);
}

/* The checks of the due domains.  0, or 1 after logging why. */
static int
check_due(struct db_conn *c, const struct config *cfg)
{
	char                num[24];
	const char         *param[1] = {num};
	PGresult           *res = NULL, *rec = NULL;
	struct dns_resolver r;
	char                err[256], *json = NULL;
	cJSON              *results;
	int                 rc = 1, n;

	if (dns_init(&r, cfg->dns_server, (int)cfg->dns_timeout_ms, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return 1;
	}
	util_snprintf(num, sizeof(num), "%lld", (long long)cfg->dnscheck_batch);
	if (db_conn_exec(c, &st_due, 1, param, &res) != ERR_OK) {
		log_error("dnscheck_due failed: %s", c->sqlstate[0] ? c->sqlstate : "no SQLSTATE");
		dns_cleanup(&r);
		return 1;
	}
	n = PQntuples(res);
	results = cJSON_CreateArray();
	for (int i = 0; i < n && !helper_stop; i++)
		check_domain(&r, res, i, results);
	dns_cleanup(&r);
	if (n == 0) {
		rc = 0;
		goto out;
	}
	if ((json = cJSON_PrintUnformatted(results)) == NULL)
		goto out;
	param[0] = json;
	if (db_conn_exec(c, &st_record, 1, param, &rec) != ERR_OK) {
		log_error("dnscheck_record failed: %s", c->sqlstate[0] ? c->sqlstate : "no SQLSTATE");
		goto out;
	}
	log_info("checked %d domains: %s verified, %s failing, %s given up (failed), %s flagged", n,
	    PQgetvalue(rec, 0, 0), PQgetvalue(rec, 0, 1), PQgetvalue(rec, 0, 2), PQgetvalue(rec, 0, 3));
	rc = 0;
out:
	cJSON_free(json);
	cJSON_Delete(results);
	PQclear(rec);
	PQclear(res);
	return rc;
}

/* Queues the due domain.cert jobs.  0, or 1 after logging why. */
static int
queue_certs(struct db_conn *c, const struct config *cfg)
{
	char        days[24], *acme_json = NULL, *ca = NULL;
	const char *param[2];
	cJSON      *acme = cJSON_CreateObject();
	PGresult   *res = NULL;
	int         rc = 1;

	cJSON_AddStringToObject(acme, "directory_url", cfg->acme_directory_url);
	cJSON_AddStringToObject(acme, "email", cfg->acme_email);
	if (cfg->acme_ca_file[0] != '\0') {
		if (util_read_file(cfg->acme_ca_file, CA_PEM_MAX, &ca, NULL) != 0 || ca == NULL) {
			log_error("acme_ca_file %s: cannot read it (or larger than %d bytes)", cfg->acme_ca_file,
			    CA_PEM_MAX);
			goto out;
		}
		cJSON_AddStringToObject(acme, "ca_pem", ca);
	}
	if ((acme_json = cJSON_PrintUnformatted(acme)) == NULL)
		goto out;
	util_snprintf(days, sizeof(days), "%lld", (long long)cfg->acme_renew_days);
	param[0] = acme_json;
	param[1] = days;
	if (db_conn_exec(c, &st_certs, 2, param, &res) != ERR_OK) {
		log_error("dnscheck_cert_queue failed: %s", c->sqlstate[0] ? c->sqlstate : "no SQLSTATE");
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "0") != 0)
		log_info("queued %s certificate jobs", PQgetvalue(res, 0, 0));
	rc = 0;
out:
	PQclear(res);
	cJSON_free(acme_json);
	cJSON_Delete(acme);
	free(ca);
	return rc;
}

/*
 * The plane's own certificate.  Current when plane_tls_cert is a
 * certificate for plane_hostname (its names, X509_check_host) that
 * expires after the renewal window.
 */
static int
plane_cert_current(const struct config *cfg, int64_t now)
{
	struct acme_cert ci;
	char             err[256];
	FILE            *f;
	X509            *x = NULL;
	int              ok = 0;

	if (acme_cert_info(cfg->plane_tls_cert, &ci, err, sizeof(err)) != 0 ||
	    ci.not_after - now <= cfg->acme_renew_days * 86400)
		return 0;
	if ((f = fopen(cfg->plane_tls_cert, "r")) == NULL)
		return 0;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ok = x != NULL && X509_check_host(x, cfg->plane_hostname, 0, 0, NULL) == 1;
	X509_free(x);
	return ok;
}

/*
 * The back-off of failed attempts, kept in <plane_acme_dir>/plane-backoff
 * as "<attempts> <next attempt, unix seconds>" (none: not backing off).
 */
static void
plane_backoff_path(const struct config *cfg, char *path, size_t len)
{
	util_snprintf(path, len, "%s/plane-backoff", cfg->plane_acme_dir);
}

static void
plane_backoff_read(const struct config *cfg, int64_t *attempts, int64_t *next)
{
	char  path[CONFIG_STR_MAX + 16], *buf = NULL, *sp;

	*attempts = *next = 0;
	plane_backoff_path(cfg, path, sizeof(path));
	if (util_read_file(path, 64, &buf, NULL) != 0 || buf == NULL)
		return;
	if ((sp = strchr(buf, ' ')) != NULL) {
		*sp = '\0';
		if (util_parse_i64(buf, 0, 1000000, attempts) != 0 ||
		    util_parse_i64(util_trim(sp + 1), 0, INT64_MAX, next) != 0)
			*attempts = *next = 0;
	}
	free(buf);
}

/* After a failure: 5 minutes, doubling to 6 hours (as domains' certificates). */
static void
plane_backoff_write(const struct config *cfg, int64_t attempts, int64_t now)
{
	char    path[CONFIG_STR_MAX + 16], line[64];
	int64_t wait = 300;
	int     n;

	for (int64_t i = 1; i < attempts && wait < 21600; i++)
		wait *= 2;
	if (wait > 21600)
		wait = 21600;
	plane_backoff_path(cfg, path, sizeof(path));
	n = util_snprintf(line, sizeof(line), "%lld %lld\n", (long long)attempts, (long long)(now + wait));
	if (n < 0 || util_write_atomic(path, line, (size_t)n, 0600) != 0)
		log_error("plane certificate: cannot write %s: %s", path, strerror(errno));
	else
		log_info("plane certificate: next attempt in %lld s", (long long)wait);
}

/*
 * Obtains or renews the certificate of plane_hostname when the one at
 * plane_tls_cert is not current (outside the back-off of failed attempts),
 * installs it (plane_tls_cert, plane_tls_key 0600) and runs
 * plane_reload_command.  0, or 1 (logged).
 */
static int
dnscheck_plane_cert(const struct config *cfg)
{
	struct acme_req  q = {
		.client = cfg->acme_client, .directory_url = cfg->acme_directory_url,
		.email = cfg->acme_email, .ca_file = cfg->acme_ca_file,
		.state_dir = cfg->plane_acme_dir, .webroot = cfg->plane_acme_webroot,
		.hostname = cfg->plane_hostname, .timeout_ms = PLANE_ACME_TIMEOUT_MS,
	};
	struct acme_cert ci;
	char             err[1024], tail[1024];
	int64_t          now = (int64_t)time(NULL), attempts, next;
	int              status;

	if (cfg->plane_hostname[0] == '\0' || plane_cert_current(cfg, now))
		return 0;
	plane_backoff_read(cfg, &attempts, &next);
	if (next > now) {
		log_debug("plane certificate: backing off until %lld", (long long)next);
		return 0;
	}
	if (mkdir(cfg->plane_acme_dir, 0700) != 0 && errno != EEXIST) {
		log_error("plane certificate: %s: %s", cfg->plane_acme_dir, strerror(errno));
		return 1;
	}
	log_info("plane certificate: obtaining one for %s", cfg->plane_hostname);
	if (acme_obtain(&q, cfg->plane_tls_cert, cfg->plane_tls_key, &ci, err, sizeof(err)) != 0) {
		log_error("plane certificate for %s: %s", cfg->plane_hostname, err);
		plane_backoff_write(cfg, attempts + 1, now);
		return 1;
	}
	plane_backoff_path(cfg, err, sizeof(err));
	unlink(err);
	log_info("plane certificate for %s installed: issuer %s, serial %s, expires %lld",
	    cfg->plane_hostname, ci.issuer, ci.serial, (long long)ci.not_after);
	if (cfg->plane_reload_command[0] == '\0')
		return 0;
	if (spawn_command(cfg->plane_reload_command, PLANE_RELOAD_TIMEOUT_MS, &status, tail,
	    sizeof(tail)) != 0 || status != 0) {
		log_error("plane_reload_command failed (status %d): %s", status, tail);
		return 1;
	}
	return 0;
}

/* One run under the lock.  0, or 1 when a part failed (logged). */
static int
run(struct db_conn *c, const struct config *cfg)
{
	int fd = helper_lock_take(cfg->dnscheck_lock_file), rc;

	if (fd == -2) {
		log_info("another run holds the lock %s: nothing to do", cfg->dnscheck_lock_file);
		return 0;
	}
	if (fd < 0)
		return 1;
	rc = check_due(c, cfg);
	if (cfg->acme_directory_url[0] != '\0') {
		rc |= queue_certs(c, cfg);
		rc |= dnscheck_plane_cert(cfg);
	}
	close(fd);
	return rc;
}

/* helper_loop's run. */
static int
run_loop(struct db_conn *c, void *cfg)
{
	return run(c, cfg);
}

/* Keys a --KEY VALUE flag may override (launcher.conf). */
static const char *const flag_keys[] = {
	"dns_server", "dns_timeout_ms", "dnscheck_lock_file", "dnscheck_batch",
	"acme_directory_url", "acme_email", "acme_ca_file", "acme_renew_days", "acme_client",
	"plane_hostname", "plane_acme_webroot", "plane_acme_dir", "plane_tls_cert",
	"plane_tls_key", "plane_reload_command", "log_level",
};

int
main(int argc, char **argv)
{
	struct helper_args a;
	int                rc = 0;

	db_conn_check_names();
	if ((rc = helper_args_parse(&a, argc, argv, "launcher-dnscheck", flag_keys,
	    sizeof(flag_keys) / sizeof(*flag_keys), false)) != 0)
		return rc;
	helper_lock_default(a.cfg.dnscheck_lock_file, sizeof(a.cfg.dnscheck_lock_file), &a.cfg, "dnscheck");
	helper_stop_on_signals();
	if (a.once) {
		struct db_conn c = {0};

		if (db_conn_open(&c, a.cfg.maintenance_database_url, NULL) != ERR_OK) {
			log_error("database unavailable");
			return 1;
		}
		rc = run(&c, &a.cfg);
		db_conn_close(&c);
		return rc;
	}
	return helper_loop(a.cfg.maintenance_database_url, "launcher_dnscheck", a.interval, &helper_stop,
	    run_loop, &a.cfg);
}
