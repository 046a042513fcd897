/*
 * launcher_scheduler.c - the queue's clock, run every minute by cron
 * (conf/crontab) or as a loop: re-queues or fails jobs whose lease expired,
 * fails jobs past their deadline, marks servers offline after three missed
 * heartbeats, and clears expired short-lived rows (and exec output past its
 * retention, push webhook delivery ids after 7 days).
 *
 *   launcher-scheduler -c FILE --once        one tick, then exit
 *   launcher-scheduler -c FILE [--interval S] tick every S seconds (default 60)
 *
 * All of it is one SQL function (scheduler_tick, sql/004_servers.sql) run
 * as the maintenance role (maintenance_database_url, launcher_maint: the
 * only role that may run it; sql/015_tenant_guard.sql): the rules live
 * beside the data, a tick is atomic, and two schedulers running at once
 * do no harm.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "../core/config.h"
#include "../core/db_conn.h"
#include "../core/helper.h"
#include "../core/log.h"
#include "../core/util.h"

DB_STMT st_tick = {"scheduler_tick",
    "SELECT * FROM launcher.scheduler_tick()"};
DB_STMT st_logs_prune = {"scheduler_logs_prune",
    "SELECT launcher.runtime_logs_prune($1::int)"};
DB_STMT st_results_expire = {"scheduler_results_expire",
    "SELECT launcher.job_results_expire($1::int)"};
DB_STMT st_deliveries_prune = {"scheduler_deliveries_prune",
    "SELECT launcher.webhook_deliveries_prune($1::int)"};
/* Monitoring's downsampling and retention (sql/038_metrics.sql, the
 * traffic's sql/039_traffic.sql; one watermark table and one retention):
 * at most this many new points of each raw series per tick. */
DB_STMT st_metrics_rollup = {"scheduler_metrics_rollup",
    "SELECT launcher.metrics_rollup($1::int)"};
DB_STMT st_traffic_rollup = {"scheduler_traffic_rollup",
    "SELECT launcher.traffic_rollup($1::int)"};
#define ROLLUP_BATCH 2000000
DB_STMT st_rules_evaluate = {"scheduler_alert_rules_evaluate",
    "SELECT launcher.alert_rules_evaluate($1::int)"};
/* The interval of the metric series the rules read (the agent's points). */
#define ALERT_POINT_SECONDS 10
/* Push webhook deliveries are recognised as repeats this many days
 * (API.md §21; sql/027_webhooks.sql). */
#define WEBHOOK_DELIVERY_DAYS 7

/*
 * Runs st (a retention function of one integer returning how many rows it
 * removed) and logs a non-zero count as "<n> <what>".  Returns 0, or 1
 * after logging the SQLSTATE.
 */
static int
prune(struct db_conn *c, const struct db_stmt *st, int64_t arg, const char *what)
{
	char        num[24];
	const char *param[1] = {num};
	PGresult   *res;

	util_snprintf(num, sizeof(num), "%lld", (long long)arg);
	if (db_conn_exec(c, st, 1, param, &res) != ERR_OK) {
		log_error("%s failed: %s", st->name, c->sqlstate[0] ? c->sqlstate : "no SQLSTATE");
		return 1;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "0") != 0)
		log_info("tick: %s %s", PQgetvalue(res, 0, 0), what);
	PQclear(res);
	return 0;
}

static int
tick(struct db_conn *c, const struct config *cfg)
{
	PGresult *res;
	int       rc = 0;

	if (db_conn_exec(c, &st_tick, 0, NULL, &res) != ERR_OK) {
		log_error("scheduler_tick failed: %s", c->sqlstate[0] ? c->sqlstate : "no SQLSTATE");
		rc = 1;
	} else {
		log_info("tick: %s re-queued, %s failed (lease), %s failed (deadline), %s servers offline",
		    PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
		    PQgetvalue(res, 0, 3));
		PQclear(res);
	}
	/* Runtime logs older than the retention (config runtime_log_retention_days). */
	rc |= prune(c, &st_logs_prune, cfg->runtime_log_retention_days,
	    "runtime log lines past their retention removed");
	/* Sealed job results (exec output) past config job_result_retention_seconds. */
	rc |= prune(c, &st_results_expire, cfg->job_result_retention_seconds,
	    "job results past their retention removed");
	rc |= prune(c, &st_deliveries_prune, WEBHOOK_DELIVERY_DAYS,
	    "webhook delivery ids past their 7 days removed");
	rc |= prune(c, &st_metrics_rollup, ROLLUP_BATCH, "metrics rollup rows written or removed");
	rc |= prune(c, &st_traffic_rollup, ROLLUP_BATCH, "traffic rollup rows written or removed");
	/* Metric threshold rules (sql/041): fire, hold back, resolve. */
	rc |= prune(c, &st_rules_evaluate, ALERT_POINT_SECONDS, "alert events raised by metric rules");
	return rc;
}

int
main(int argc, char **argv)
{
	struct config cfg;
	const char   *conf = NULL;
	char          err[512];
	int64_t       interval = 60;
	int           once = 0, rc = 0;

	db_conn_check_names();
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "--once") == 0)
			once = 1;
		else if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc) {
			if (util_parse_i64(argv[++i], 1, 3600, &interval) != 0) {
				fprintf(stderr, "launcher-scheduler: --interval must be 1..3600\n");
				return 2;
			}
		} else {
			fprintf(stderr, "usage: launcher-scheduler -c FILE [--once] [--interval SECONDS]\n");
			return 2;
		}
	}
	if (conf == NULL || config_load(&cfg, conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "launcher-scheduler: %s\n", conf ? err : "-c FILE is required");
		return 1;
	}
	helper_stop_on_signals();
	do {
		struct db_conn c = {0};

		/* A new connection each tick: a restarted database costs one tick. */
		if (db_conn_open(&c, cfg.maintenance_database_url, NULL) != ERR_OK) {
			log_error("database unavailable");
			rc = 1;
		} else
			rc = tick(&c, &cfg);
		db_conn_close(&c);
		for (int64_t s = 0; !once && !helper_stop && s < interval; s++)
			sleep(1);
	} while (!once && !helper_stop);
	return rc;
}
