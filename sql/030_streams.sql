-- 030_streams.sql - the live streams of launcher-ws (API.md §22).
--
-- Agents and pools write rows as they always did (job_logs through the
-- progress endpoint, runtime_logs through /agent/logs, server_metrics with
-- each heartbeat, deployments' status through the job triggers).  These
-- triggers announce them on launcher_stream, ids only, at commit:
--
--   j <tenant> <job id>         <first id> <last id>   job_logs of one statement
--   a <tenant> <application id> <first id> <last id>   runtime_logs of an app
--   b <tenant> <database id>    <first id> <last id>   runtime_logs of a database
--   m <tenant> <server id>      <first id> <last id>   server_metrics
--   d <tenant> <deployment id>  0 0                    its status or job changed
--
-- One notification per statement and resource (statement-level triggers
-- with transition tables), not per row: a batch of 500 log lines is one
-- notification.  launcher-ws reads the rows by id under the tenant's
-- row-level security, as the pool reads them, and fans them out; a
-- client's cursor is the row id, and ?since=<cursor> reads on from it.

SET search_path = launcher;

-- Metrics samples get an id: the metrics stream's cursor.
ALTER TABLE server_metrics ADD COLUMN id bigserial;
CREATE INDEX server_metrics_stream ON server_metrics (server_id, id);
GRANT USAGE ON SEQUENCE server_metrics_id_seq TO launcher_api;

-- A stream reads on from a cursor (an id) per resource.
CREATE INDEX runtime_logs_app_stream ON runtime_logs (application_id, id)
	WHERE application_id IS NOT NULL;
CREATE INDEX runtime_logs_database_stream ON runtime_logs (database_id, id)
	WHERE database_id IS NOT NULL;

-- One function for the three tables: TG_ARGV[0] is the topic (an SQL
-- expression over the row n), TG_ARGV[1] the resource's id.
CREATE FUNCTION stream_rows() RETURNS trigger
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	EXECUTE format('SELECT count(pg_notify(''launcher_stream'','
	               ' concat_ws('' '', x.topic, x.tenant_id, x.res, x.lo, x.hi)))'
	               ' FROM (SELECT %s AS topic, n.tenant_id, %s AS res, min(n.id) AS lo, max(n.id) AS hi'
	               ' FROM new_rows n GROUP BY 1, 2, 3) x', TG_ARGV[0], TG_ARGV[1]);
	RETURN NULL;
END
$$;
CREATE TRIGGER job_logs_stream AFTER INSERT ON job_logs
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
	EXECUTE FUNCTION stream_rows('''j''', 'n.job_id');
CREATE TRIGGER runtime_logs_stream AFTER INSERT ON runtime_logs
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
	EXECUTE FUNCTION stream_rows('CASE WHEN n.application_id IS NOT NULL THEN ''a'' ELSE ''b'' END',
	                             'coalesce(n.application_id, n.database_id)');
CREATE TRIGGER server_metrics_stream AFTER INSERT ON server_metrics
	REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
	EXECUTE FUNCTION stream_rows('''m''', 'n.server_id');

CREATE FUNCTION stream_deployment() RETURNS trigger
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	PERFORM pg_notify('launcher_stream', format('d %s %s 0 0', NEW.tenant_id, NEW.id));
	RETURN NULL;
END
$$;
CREATE TRIGGER deployments_stream AFTER UPDATE OF status, job_id ON deployments
	FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status OR NEW.job_id IS DISTINCT FROM OLD.job_id)
	EXECUTE FUNCTION stream_deployment();
