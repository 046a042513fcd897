/*
 * launcher_scheduler.c - the queue's clock, run every minute by cron
 * (conf/crontab) or as a loop: re-queues or fails jobs whose lease expired,
 * fails jobs past their deadline, marks servers offline after three missed
 * heartbeats, and clears expired short-lived rows (and exec output past its
 * retention, push webhook delivery ids after 7 days).
 *
 *   launcher-scheduler -c FILE --once        one tick, then exit
 *   launcher-scheduler -c FILE [--interval S] tick every S seconds (default 60)
 *   launcher-scheduler -c FILE --at TIME     one tick whose functions' cron
 *                                            step takes TIME (RFC 3339) as
 *                                            now: replays a tick (README,
 *                                            Functions: cron)
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
#include "../core/cron.h"
#include "../core/db_conn.h"
#include "../core/helper.h"
#include "../core/json.h"
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
/* Functions' cron triggers (sql/054_functions.sql): what is deployed, and
 * the firing of one minute, exactly once per (function, minute). */
DB_STMT st_fn_cron = {"scheduler_fn_cron",
    "SELECT function_id, schedule, timezone,"
    " coalesce(extract(epoch FROM last_at), 0)::bigint AS last"
    " FROM launcher.fn_cron_triggers()"};
DB_STMT st_fn_fire = {"scheduler_fn_fire",
    "SELECT launcher.fn_cron_fire($1::uuid, to_timestamp($2::bigint)) AS queued"};
/* How far back a missed window is looked for: a plane down longer than
 * this runs the function's latest due minute of the last day, once. */
#define FN_CRON_LOOKBACK 86400
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

/*
 * The latest minute of cron c in zone tz that is due at now (<= now) and
 * after `after`, or -1 when none: a window missed while the plane was down
 * runs once, at its latest minute, never once per missed minute.
 */
static time_t
cron_latest(const struct cron *c, const char *tz, time_t after, time_t now)
{
	time_t t, latest = (time_t)-1;

	if (after < now - FN_CRON_LOOKBACK)
		after = now - FN_CRON_LOOKBACK;
	for (t = cron_next(c, tz, after); t != (time_t)-1 && t <= now; t = cron_next(c, tz, t))
		latest = t;
	return latest;
}

/*
 * Fires every cron trigger of a deployed function whose latest due minute
 * (cron_latest after its last fired one; a function never fired looks back
 * one minute) is not fired yet: fn_cron_fire queues one fn.invoke per
 * (function, minute), whoever asks how often.  now: the tick's time (--at
 * replays one).  Returns 0, or 1 after logging.
 */
static int
fn_cron(struct db_conn *c, time_t now)
{
	PGresult *res, *one;
	int       rc = 0, fired = 0;

	if (db_conn_exec(c, &st_fn_cron, 0, NULL, &res) != ERR_OK) {
		log_error("fn_cron_triggers failed: %s", c->sqlstate[0] ? c->sqlstate : "no SQLSTATE");
		return 1;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		const char *fid = PQgetvalue(res, i, 0);
		struct cron cr;
		char        err[160], at[24];
		int64_t     last;
		time_t      due;
		const char *param[2] = {fid, at};

		if (cron_parse(PQgetvalue(res, i, 1), &cr, err, sizeof(err)) != 0 ||
		    util_parse_i64(PQgetvalue(res, i, 3), 0, INT64_MAX, &last) != 0) {
			log_warn("function %s: cron trigger skipped: %s", fid, err);
			continue;
		}
		due = cron_latest(&cr, PQgetvalue(res, i, 2), last > 0 ? (time_t)last : now - 60, now);
		if (due == (time_t)-1)
			continue;
		util_snprintf(at, sizeof(at), "%lld", (long long)due);
		if (db_conn_exec(c, &st_fn_fire, 2, param, &one) != ERR_OK) {
			log_error("fn_cron_fire failed: %s", c->sqlstate[0] ? c->sqlstate : "no SQLSTATE");
			rc = 1;
			continue;
		}
		fired += PQgetvalue(one, 0, 0)[0] == 't';
		PQclear(one);
	}
	PQclear(res);
	if (fired > 0)
		log_info("tick: %d function cron runs queued", fired);
	return rc;
}

static int
tick(struct db_conn *c, const struct config *cfg, time_t now)
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
	rc |= fn_cron(c, now);
	return rc;
}

int
main(int argc, char **argv)
{
	struct config cfg;
	const char   *conf = NULL;
	char          err[512];
	int64_t       interval = 60;
	double        at = 0;
	int           once = 0, rc = 0;

	db_conn_check_names();
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "--once") == 0)
			once = 1;
		else if (strcmp(argv[i], "--at") == 0 && i + 1 < argc) {
			if (!json_time_epoch(argv[++i], &at) || at <= 0) {
				fprintf(stderr, "launcher-scheduler: --at must be an RFC 3339 time\n");
				return 2;
			}
			once = 1;
		}
		else if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc) {
			if (util_parse_i64(argv[++i], 1, 3600, &interval) != 0) {
				fprintf(stderr, "launcher-scheduler: --interval must be 1..3600\n");
				return 2;
			}
		} else {
			fprintf(stderr, "usage: launcher-scheduler -c FILE [--once] [--interval SECONDS] [--at RFC3339]\n");
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
			rc = tick(&c, &cfg, at > 0 ? (time_t)at : time(NULL));
		db_conn_close(&c);
		/* The next tick at the next multiple of the interval on the wall
		 * clock (second 1 of the next minute for 60 s), not `interval`
		 * after this one ended: ticks that drift would now and then cross
		 * two minute boundaries at once, and a function's cron would see
		 * the earlier of them as a missed window (run only the latest). */
		for (time_t next = (time(NULL) / (time_t)interval + 1) * (time_t)interval +
		    (interval >= 10 ? 1 : 0); !once && !helper_stop && time(NULL) < next;)
			sleep(1);
	} while (!once && !helper_stop);
	return rc;
}
