/*
 * config.h - the plane's configuration, loaded once from a declarative table.
 *
 * Format: "key = value" lines, '#' comments, values optionally in double
 * quotes.  Unknown keys, bad values and duplicates are rejected with
 * file:line.  Secrets come from files (master_key_file) or the environment
 * (LAUNCHER_SMTP_PASSWORD), never from this file.
 */
#ifndef LAUNCHER_CONFIG_H
#define LAUNCHER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_STR_MAX 1024

/* Bounds of a JWT's lifetime, for launcher.conf jwt_lifetime_seconds and a
 * tenant's own (PUT /settings/general; sql/045's CHECK says the same):
 * under 5 minutes a dashboard session ends mid-task (there is no refresh
 * token), over 30 days a stolen token outlives any reasonable notice. */
#define JWT_LIFETIME_MIN 300
#define JWT_LIFETIME_MAX 2592000

struct config {
	char    listen[CONFIG_STR_MAX];
	int64_t socket_mode;
	char    socket_group[64];
	char    user[64];
	int64_t workers;
	char    worker_cpu_affinity[8];
	char    database_url[CONFIG_STR_MAX];
	char    admin_database_url[CONFIG_STR_MAX];
	char    maintenance_database_url[CONFIG_STR_MAX];
	char    migrations_dir[CONFIG_STR_MAX];
	char    master_key_file[CONFIG_STR_MAX];
	int64_t max_body_bytes;
	int64_t webhook_max_body_bytes;
	int64_t jwt_lifetime_seconds;
	char    jwt_issuer[64];
	char    password_hash_cost[16];
	char    smtp_url[CONFIG_STR_MAX];
	char    smtp_from[256];
	char    smtp_user[256];
	char    public_url[CONFIG_STR_MAX];
	char    log_level[16];
	bool    bench_routes;
	char    icons_dir[CONFIG_STR_MAX];
	char    imports_dir[CONFIG_STR_MAX];
	int64_t import_max_bytes;
	char    icons_url[256];
	int64_t db_reconnect_interval_ms;
	int64_t runtime_log_retention_days;
	int64_t job_result_retention_seconds;
	int64_t agent_poll_interval_ms;
	char    ws_listen[CONFIG_STR_MAX];
	int64_t ws_ping_seconds;
	char    fcgi_state_file[CONFIG_STR_MAX];
	char    ingest_listen[CONFIG_STR_MAX];	/* launcher-fcgi --ingest: its socket */
	int64_t ingest_workers;			/* and its workers */
	char    eventquota_file[CONFIG_STR_MAX];	/* the ingest quota, shared by both pools */
	int64_t quota_projects;		/* per-tenant defaults; 0 = no limit */
	int64_t quota_applications;
	int64_t quota_databases;
	int64_t terminal_sessions_max;	/* open or pending terminal sessions per tenant; 0 = no limit */
	char    database_images_file[CONFIG_STR_MAX];
	char    object_store_image[CONFIG_STR_MAX];
	char    image_mirrors_file[CONFIG_STR_MAX];
	char    function_runtime_images[CONFIG_STR_MAX];	/* runtime=image,... (functions.c) */
	char    templates_dir[CONFIG_STR_MAX];	/* the built-in gallery (gallery.h) */
	char    agent_dist_dir[CONFIG_STR_MAX];	/* nginx's /agent/: install.sh (servers.c) */
	int64_t pitr_archive_timeout_seconds;	/* archive_timeout of pitr databases */
	/* launcher-dnscheck: custom domains' DNS checks, certificates (README,
	 * Custom domains: launcher-dnscheck) */
	char    dns_server[300];		/* host:port; empty = /etc/resolv.conf */
	int64_t dns_timeout_ms;
	char    dnscheck_lock_file[CONFIG_STR_MAX];
	int64_t dnscheck_batch;
	char    acme_directory_url[CONFIG_STR_MAX];	/* empty = no certificates */
	char    acme_email[256];
	char    acme_ca_file[CONFIG_STR_MAX];
	int64_t acme_renew_days;
	char    acme_client[256];
	char    plane_hostname[256];
	char    plane_acme_webroot[CONFIG_STR_MAX];
	char    plane_acme_dir[CONFIG_STR_MAX];
	char    plane_tls_cert[CONFIG_STR_MAX];
	char    plane_tls_key[CONFIG_STR_MAX];
	char    plane_reload_command[CONFIG_STR_MAX];
	/* launcher-admin setup and doctor (README, Health: launcher-admin doctor) */
	char    tls_cert_file[CONFIG_STR_MAX];
	char    tls_key_file[CONFIG_STR_MAX];
	char    nginx_test_command[CONFIG_STR_MAX];
	bool    domain_wildcards;	/* custom domains may be "*.example.com" */
	char    reserved_domains[CONFIG_STR_MAX];	/* comma list no tenant may claim */
	/* launcher-backup: schedules, retention, stale alerts, the plane's own
	 * database (README, Backups: launcher-backup) */
	char    backup_lock_file[CONFIG_STR_MAX];
	char    plane_backup_destination_file[CONFIG_STR_MAX];	/* empty = none */
	/* Alerts: channel URLs and launcher-notify (README, Alerts) */
	char    alert_allowed_hosts[CONFIG_STR_MAX];	/* host or host:port, comma list */
	int64_t alert_retry_base_seconds;
	int64_t alert_timeout_seconds;
	char    notify_lock_file[CONFIG_STR_MAX];
	/* launcher-issues: error events grouped into issues (README, Error
	 * tracking: grouping) */
	char    issues_lock_file[CONFIG_STR_MAX];
	int64_t issues_batch;
	int64_t issues_interval_seconds;
	char    plane_backup_cron[256];
	int64_t plane_backup_keep_last;	/* 0 = keep all */
	char    plane_backup_database_url[CONFIG_STR_MAX];
};

/*
 * The one reader of "key = value" files (the plane's and the agent's):
 * blank lines, '#' comments, optional double quotes, a line-length ceiling
 * and duplicate keys are handled here; each pair goes to set(ctx, key,
 * value, why, whylen), which returns 0 or -1 with the reason in why
 * ("unknown key 'x'", "bad value for 'y'").  Errors come back in err as
 * "path:line: reason".  Returns 0 or -1.
 */
typedef int (*config_set_fn)(void *ctx, const char *key, const char *value, char *why,
    size_t whylen);
int  config_read(const char *path, config_set_fn set, void *ctx, char *err, size_t errlen);

/*
 * Fills *c with defaults, then reads path.  On error writes a message
 * naming file:line into err (size errlen) and returns -1.
 */
int  config_load(struct config *c, const char *path, char *err, size_t errlen);
void config_defaults(struct config *c);
/*
 * Sets one key as if read from the file (a binary's --flag overriding
 * launcher.conf): 0, or -1 with "unknown key 'x'" / "bad value for 'x'"
 * in err.
 */
int  config_set(struct config *c, const char *key, const char *value, char *err,
    size_t errlen);
/* Prints every key with its default, for --help and docs. */
void config_print_keys(void);

#endif
