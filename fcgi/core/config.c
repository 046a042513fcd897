/*
 * config.c - declarative configuration table (key, type, default, range,
 * validator); see config.h for the format.
 */
#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "log.h"
#include "util.h"

enum cfg_type { CFG_STR, CFG_INT, CFG_OCTAL, CFG_BOOL };

struct cfg_key {
	const char   *key;
	enum cfg_type type;
	size_t        off;
	size_t        size;	/* for strings */
	const char   *def;
	int64_t       min, max;
	int         (*valid)(const char *v);
	const char   *help;
};

static int
valid_level(const char *v)
{
	enum log_level l;

	return log_level_parse(v, &l);
}

static int
valid_cost(const char *v)
{
	return strcmp(v, "interactive") == 0 || strcmp(v, "moderate") == 0 ||
	    strcmp(v, "min") == 0 ? 0 : -1;
}

static int
valid_cron(const char *v)
{
	struct cron c;
	char        err[160];

	return cron_parse(v, &c, err, sizeof(err));
}

/* "runtime=image[,runtime=image...]": every item has a name and an image. */
static int
valid_runtime_images(const char *v)
{
	for (const char *p = v; *p; ) {
		size_t n = strcspn(p, ","), eq = strcspn(p, "=");

		if (eq == 0 || eq + 1 >= n)
			return -1;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int
valid_affinity(const char *v)
{
	return strcmp(v, "auto") == 0 || strcmp(v, "off") == 0 ? 0 : -1;
}

#define S(k, d, h)            {#k, CFG_STR, offsetof(struct config, k), sizeof(((struct config *)0)->k), d, 0, 0, NULL, h}
#define SV(k, d, v, h)        {#k, CFG_STR, offsetof(struct config, k), sizeof(((struct config *)0)->k), d, 0, 0, v, h}
#define I(k, d, lo, hi, h)    {#k, CFG_INT, offsetof(struct config, k), 0, d, lo, hi, NULL, h}
#define O(k, d, lo, hi, h)    {#k, CFG_OCTAL, offsetof(struct config, k), 0, d, lo, hi, NULL, h}
#define B(k, d, h)            {#k, CFG_BOOL, offsetof(struct config, k), 0, d, 0, 1, NULL, h}

static const struct cfg_key cfg_keys[] = {
	S(listen, "/run/launcher/fcgi.sock", "FastCGI unix socket path (or host:port)"),
	O(socket_mode, "0660", 0, 0777, "permissions of the unix socket"),
	S(socket_group, "", "group owning the unix socket (nginx's user)"),
	S(user, "", "workers (the pool) or the daemon (launcher-ws) run as this user"),
	I(workers, "2", 1, 64, "pre-forked worker processes"),
	SV(worker_cpu_affinity, "auto", valid_affinity,
	    "auto: each worker runs on one CPU, spread evenly; off: the scheduler places them"),
	S(database_url, "dbname=launcher user=launcher_api", "libpq conninfo of the API role"),
	S(admin_database_url, "dbname=launcher user=launcher_owner", "libpq conninfo of the owner role (launcher-admin only)"),
	S(maintenance_database_url, "dbname=launcher user=launcher_maint",
	    "libpq conninfo of the maintenance role (launcher-scheduler: cross-tenant upkeep)"),
	S(migrations_dir, "/usr/share/launcher/sql", "directory of numbered migrations"),
	S(master_key_file, "/etc/launcher/master.key",
	    "master key ring, mode 0600: 32 raw bytes (key 0) or the ring rotate-master-key writes"),
	S(fcgi_state_file, "", "launcher-fcgi writes its master's pid and the key ring its workers hold here;"
	    " launcher-admin rotate-master-key reads it (empty: none)"),
	S(ingest_listen, "/run/launcher/ingest.sock",
	    "socket of the ingest pool (launcher-fcgi --ingest: Sentry SDK events), nginx's ingest location"),
	I(ingest_workers, "8", 1, 64, "worker processes of the ingest pool"),
	S(eventquota_file, "/run/launcher/eventquota",
	    "the error-tracking ingest quota's counters, mapped by both pools (empty: each pool its own)"),
	I(max_body_bytes, "1048576", 1024, 1073741824, "largest accepted request body"),
	I(webhook_max_body_bytes, "5242880", 1024, 1073741824,
	    "largest accepted git push webhook body (nginx's webhooks location must allow it)"),
	I(jwt_lifetime_seconds, "86400", JWT_LIFETIME_MIN, JWT_LIFETIME_MAX,
	    "lifetime of issued JWTs unless the tenant set its own (GET/PUT /settings/general, same bounds)"),
	S(jwt_issuer, "launcher", "iss claim of issued JWTs"),
	SV(password_hash_cost, "interactive", valid_cost, "argon2id cost: interactive|moderate|min (min: tests only)"),
	S(smtp_url, "", "SMTP server, smtp://host:port or smtps://host:port; empty disables mail"),
	S(smtp_from, "launcher@localhost", "From address of outgoing mail"),
	S(smtp_user, "", "SMTP user; the password comes from LAUNCHER_SMTP_PASSWORD"),
	S(public_url, "https://localhost:8443", "public base URL used in e-mailed links"),
	SV(log_level, "info", valid_level, "error|warn|info|debug"),
	B(bench_routes, "false", "enable /_bench/select1 (benchmarks only)"),
	S(icons_dir, "/var/lib/launcher/icons", "where uploaded project icons are written (nginx serves them)"),
	S(icons_url, "/icons", "URL prefix under which nginx serves icons_dir"),
	S(imports_dir, "/var/lib/launcher/imports", "staged database imports (POST /databases/:id/import): nginx writes each"
	    " body under <imports_dir>/tmp, the pool renames it here, the agent fetches it (X-Accel-Redirect)"),
	I(import_max_bytes, "1073741824", 1024, (int64_t)1 << 40,
	    "largest database import (nginx's import location must allow it: client_max_body_size)"),
	I(db_reconnect_interval_ms, "500", 0, 60000, "least time between reconnect attempts"),
	I(agent_poll_interval_ms, "250", 100, 60000, "how often agents ask for jobs (sent in every heartbeat answer)"),
	S(ws_listen, "/run/launcher/ws.sock", "launcher-ws: unix socket path (or host:port) nginx proxies /<tenant>/ws/ to"),
	I(ws_ping_seconds, "30", 1, 3600, "launcher-ws pings every socket this often and closes one that answered none of the last two pings"),
	I(runtime_log_retention_days, "7", 1, 3650, "applications' runtime logs are kept this long (launcher-scheduler prunes)"),
	I(quota_projects, "100", 0, 1000000, "projects a tenant may have unless launcher-admin quota set says otherwise (0 = no limit)"),
	I(quota_applications, "500", 0, 1000000, "applications a tenant may have (0 = no limit)"),
	I(quota_databases, "100", 0, 1000000, "databases a tenant may have (0 = no limit)"),
	I(pitr_archive_timeout_seconds, "60", 1, 3600, "PostgreSQL databases with point-in-time recovery "
	    "switch to a new WAL segment (archived) at least this often while written to: the most a "
	    "crash of the host loses"),
	S(database_images_file, "/usr/share/launcher/conf/database-images.conf",
	    "image table of managed databases: type x version -> image, port, data path, readiness, env names"),
	S(object_store_image, "quay.io/minio/minio:latest",
	    "image of the managed object store (MinIO) the first bucket on a server without one starts"
	    " (through the image mirror table)"),
	S(image_mirrors_file, "/usr/share/launcher/conf/image-mirrors.conf",
	    "image mirror table: source-ref | replacement-ref; a deploy pulls the replacement (empty: no table)"),
	SV(function_runtime_images, "node20=node:20-bookworm-slim,python3=python:3.11-slim-bookworm",
	    valid_runtime_images, "functions: the base image of each runtime (runtime=image, comma list), "
	    "mapped through the image mirror table when an agent claims a deploy"),
	S(templates_dir, "/usr/share/launcher/conf/templates",
	    "the built-in template gallery (registry.json, <category>/<slug>/template.yaml); empty: none"),
	S(agent_dist_dir, "/usr/lib/launcher/agent",
	    "the agent's downloads nginx serves at /agent/; GET /servers/:id/install-script answers its"
	    " install.sh with the plane's URL, the tenant and the server filled in"),
	I(terminal_sessions_max, "10", 0, 100000, "terminal sessions a tenant may have open or waiting to be attached at once (0 = no limit)"),
	B(domain_wildcards, "false", "custom domains may be wildcards (\"*.example.com\", a leading label only)"),
	S(reserved_domains, "", "comma list of names that no tenant may add as custom domains, nor names under them"),
	I(job_result_retention_seconds, "3600", 60, 604800, "an exec's output is kept (sealed) this long after it finished (launcher-scheduler clears it)"),
	S(dns_server, "", "launcher-dnscheck asks this DNS server (IPv4 address[:port]); empty: those of /etc/resolv.conf"),
	I(dns_timeout_ms, "2000", 1, 60000, "launcher-dnscheck: one DNS query's timeout (whole seconds are the resolver's unit: rounded up)"),
	S(dnscheck_lock_file, "", "launcher-dnscheck's lock (one run at a time); empty: dnscheck.lock beside fcgi_state_file, else /run/launcher/dnscheck.lock"),
	I(dnscheck_batch, "500", 1, 100000, "launcher-dnscheck: most domains checked in one run (the oldest due first)"),
	S(acme_directory_url, "", "ACME directory of the CA issuing custom domains' certificates; empty: no certificates"),
	S(acme_email, "", "ACME account e-mail"),
	S(acme_ca_file, "", "PEM trusted for the ACME server's own TLS (a private CA); empty: the system's"),
	I(acme_renew_days, "30", 1, 365, "certificates are renewed this many days before they expire"),
	S(acme_client, "lego", "the ACME client (PATH) of the plane's own certificate"),
	S(plane_hostname, "", "the plane's own public hostname: launcher-dnscheck keeps a certificate for it; empty: none"),
	S(plane_acme_webroot, "/var/lib/launcher/acme-webroot", "HTTP-01 files for plane_hostname (the plane's nginx serves /.well-known/acme-challenge/ from here)"),
	S(plane_acme_dir, "/var/lib/launcher/acme", "the ACME client's state for plane_hostname (account key, orders)"),
	S(plane_tls_cert, "/etc/launcher/tls/plane-cert.pem", "certificate (chain) of the plane's nginx for plane_hostname, replaced when it gets one"),
	S(plane_tls_key, "/etc/launcher/tls/plane-key.pem", "its private key (written 0600)"),
	S(tls_cert_file, "/etc/launcher/tls/cert.pem", "the certificate of the plane's nginx (its default server): launcher-admin setup writes a self-signed one when absent, doctor checks its expiry"),
	S(tls_key_file, "/etc/launcher/tls/key.pem", "its private key (setup writes it 0600)"),
	S(nginx_test_command, "nginx -t -q", "launcher-admin doctor runs this (sh -c) to check nginx's configuration; empty: not checked"),
	S(plane_reload_command, "", "run (sh -c) after plane_tls_cert changed, e.g. \"nginx -s reload\" where the helper may; empty: none (the installed layout: launcher-nginx-reload.path)"),
	S(backup_lock_file, "", "launcher-backup's lock (one run at a time); empty: backup.lock beside fcgi_state_file, else /run/launcher/backup.lock"),
	S(alert_allowed_hosts, "", "alert channel URLs may point at these loopback or private hosts (comma list of host or host:port; a host alone allows every port); empty: none, every such URL is refused (SSRF)"),
	I(alert_retry_base_seconds, "30", 1, 3600, "launcher-notify: a failed delivery is retried after base * 2^(n-1) seconds (at most an hour) for 24 h"),
	I(alert_timeout_seconds, "10", 1, 300, "launcher-notify: one attempt (connect, send, answer) ends after this many seconds"),
	S(notify_lock_file, "", "launcher-notify's lock (one process at a time); empty: notify.lock beside fcgi_state_file, else /run/launcher/notify.lock"),
	S(issues_lock_file, "", "launcher-issues' lock (one process per machine); empty: issues.lock beside fcgi_state_file, else /run/launcher/issues.lock"),
	I(issues_batch, "500", 1, 10000, "launcher-issues: raw error events grouped per transaction"),
	I(issues_interval_seconds, "1", 1, 3600, "launcher-issues --loop also looks at the queue this often (besides NOTIFY launcher_issues): what a missed wake-up costs at most; --interval overrides it"),
	S(plane_backup_destination_file, "", "launcher-backup: where the plane's own database goes: a JSON destination file (mode 0600, keys inside) or a local directory; empty: not backed up"),
	SV(plane_backup_cron, "0 3 * * *", valid_cron, "launcher-backup: when the plane's database is backed up (5-field cron, UTC)"),
	I(plane_backup_keep_last, "7", 0, 100000, "launcher-backup: succeeded plane backups kept (older ones deleted; 0: keep all)"),
	S(plane_backup_database_url, "", "libpq conninfo pg_dump backs the plane's database up with (a role that may read every table); empty: admin_database_url"),
};

#define NKEYS (sizeof(cfg_keys) / sizeof(*cfg_keys))

static int
cfg_set(struct config *c, const struct cfg_key *k, const char *v)
{
	char   *base = (char *)c + k->off;
	int64_t n;

	switch (k->type) {
	case CFG_STR:
		if (k->valid != NULL && k->valid(v) != 0)
			return -1;
		return util_snprintf(base, k->size, "%s", v) < 0 ? -1 : 0;
	case CFG_INT:
		if (util_parse_i64(v, k->min, k->max, &n) != 0)
			return -1;
		*(int64_t *)(void *)base = n;
		return 0;
	case CFG_OCTAL: {
		char *end;
		long  o;

		if (*v == '\0')
			return -1;
		o = strtol(v, &end, 8);
		if (*end != '\0' || o < k->min || o > k->max)
			return -1;
		*(int64_t *)(void *)base = o;
		return 0;
	}
	case CFG_BOOL:
		if (strcmp(v, "true") == 0 || strcmp(v, "on") == 0 || strcmp(v, "yes") == 0)
			*(bool *)(void *)base = true;
		else if (strcmp(v, "false") == 0 || strcmp(v, "off") == 0 || strcmp(v, "no") == 0)
			*(bool *)(void *)base = false;
		else
			return -1;
		return 0;
	}
	return -1;
}

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NKEYS; i++)
		if (cfg_set(c, &cfg_keys[i], cfg_keys[i].def) != 0)
			log_error("config: bad built-in default for %s", cfg_keys[i].key);
}

int
config_read(const char *path, config_set_fn set, void *ctx, char *err, size_t errlen)
{
	char  seen[64][64];	/* keys met so far (longer keys are unknown anyway) */
	char  line[4096], why[256];
	FILE *f;
	int   lineno = 0, nseen = 0, rc = -1;

	if ((f = fopen(path, "r")) == NULL) {
		util_snprintf(err, errlen, "%s: cannot open", path);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char  *key, *val, *eq, *p;
		size_t n;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			util_snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			goto out;
		}
		p = util_trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		if ((eq = strchr(p, '=')) == NULL) {
			util_snprintf(err, errlen, "%s:%d: expected key = value", path, lineno);
			goto out;
		}
		*eq = '\0';
		key = util_trim(p);
		val = util_trim(eq + 1);
		n = strlen(val);
		if (n >= 2 && val[0] == '"' && val[n - 1] == '"') {
			val[n - 1] = '\0';
			val++;
		}
		for (int i = 0; i < nseen; i++)
			if (strcmp(seen[i], key) == 0) {
				util_snprintf(err, errlen, "%s:%d: duplicate key '%s'", path, lineno, key);
				goto out;
			}
		why[0] = '\0';
		if (set(ctx, key, val, why, sizeof(why)) != 0) {
			util_snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			goto out;
		}
		if (nseen < 64 && util_snprintf(seen[nseen], sizeof(seen[nseen]), "%s", key) >= 0)
			nseen++;
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

static int
plane_set(void *ctx, const char *key, const char *val, char *why, size_t whylen)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(cfg_keys[i].key, key) == 0) {
			if (cfg_set(ctx, &cfg_keys[i], val) == 0)
				return 0;
			util_snprintf(why, whylen, "bad value for '%s'", key);
			return -1;
		}
	util_snprintf(why, whylen, "unknown key '%.64s'", key);
	return -1;
}

int
config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen)
{
	return plane_set(c, key, value, err, errlen);
}

int
config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	config_defaults(c);
	return config_read(path, plane_set, c, err, errlen);
}

void
config_print_keys(void)
{
	for (size_t i = 0; i < NKEYS; i++)
		printf("%-26s default %-28s %s\n", cfg_keys[i].key,
		    cfg_keys[i].def[0] ? cfg_keys[i].def : "(empty)", cfg_keys[i].help);
}
