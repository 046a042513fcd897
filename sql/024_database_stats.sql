-- 024: resource use of containers as the agent reads it from the engine
-- (GET /containers/<id>/stats, one call per running container per
-- report): cpu_percent as the docker CLI computes it (100 = one CPU) and
-- memory_bytes (usage minus page cache).  Applications' instances had
-- the columns since 006 with nothing filling them; a database keeps the
-- last figures on its row (stats_at: when they were reported; NULL
-- figures: a stopped container, or an engine that could not say).

ALTER TABLE databases
	ADD COLUMN cpu_percent  double precision CHECK (cpu_percent >= 0),
	ADD COLUMN memory_bytes bigint CHECK (memory_bytes >= 0),
	ADD COLUMN stats_at     timestamptz;

CREATE OR REPLACE FUNCTION instances_upsert(p_server uuid, p_items jsonb)
RETURNS void
LANGUAGE sql AS $$
	INSERT INTO instances AS i (tenant_id, server_id, application_id, deployment_id, container_id,
	                       name, status, health, host_port, started_at, restart_count, exit_code,
	                       cpu_percent, memory_bytes)
	SELECT a.tenant_id, p_server, a.id,
	       CASE WHEN x.deployment_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
	            THEN x.deployment_id::uuid END,
	       x.container_id, coalesce(x.name, ''),
	       coalesce(x.state, x.status, 'unknown'), coalesce(x.health, 'none'), x.host_port,
	       x.started_at, coalesce(x.restart_count, 0), x.exit_code,
	       CASE WHEN x.cpu_percent >= 0 THEN x.cpu_percent END,
	       CASE WHEN x.memory_bytes >= 0 THEN x.memory_bytes END
	  FROM jsonb_to_recordset(p_items) AS x(app_id text, deployment_id text, container_id text,
	       name text, state text, status text, health text, host_port integer,
	       started_at timestamptz, restart_count integer, exit_code integer,
	       cpu_percent double precision, memory_bytes bigint)
	  -- Containers without our labels (empty ids) or of other tenants match nothing.
	  JOIN applications a ON a.id = CASE WHEN x.app_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
	                                     THEN x.app_id::uuid END
	 WHERE x.container_id ~ '^[0-9a-f]{12,64}$'
	ON CONFLICT (server_id, container_id) DO UPDATE SET
	       deployment_id = excluded.deployment_id, name = excluded.name, status = excluded.status,
	       health = excluded.health, host_port = excluded.host_port,
	       started_at = excluded.started_at, restart_count = excluded.restart_count,
	       exit_code = excluded.exit_code,
	       -- A job's result carries no figures: the last report's stay.
	       cpu_percent = CASE WHEN p_items @? '$[*].memory_bytes' OR p_items @? '$[*].cpu_percent'
	                          THEN excluded.cpu_percent ELSE i.cpu_percent END,
	       memory_bytes = CASE WHEN p_items @? '$[*].memory_bytes' OR p_items @? '$[*].cpu_percent'
	                           THEN excluded.memory_bytes ELSE i.memory_bytes END,
	       updated_at = now()
$$;

-- The figures of the agent's report for the databases of this server
-- (POST /agent/instances, beside database_instances of 023): the
-- running container when a database has more than one.
CREATE FUNCTION database_stats(p_server uuid, p_items jsonb)
RETURNS void
LANGUAGE sql AS $$
	UPDATE databases d SET
	       cpu_percent = CASE WHEN x.cpu_percent >= 0 THEN x.cpu_percent END,
	       memory_bytes = CASE WHEN x.memory_bytes >= 0 THEN x.memory_bytes END,
	       stats_at = now()
	  FROM (SELECT DISTINCT ON (x.database_id) x.*
	          FROM jsonb_to_recordset(p_items) AS x(database_id text, container_id text,
	               state text, cpu_percent double precision, memory_bytes bigint)
	         WHERE x.database_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
	         ORDER BY x.database_id, x.state = 'running' DESC) x
	 WHERE d.id = x.database_id::uuid AND d.server_id = p_server
$$;

GRANT EXECUTE ON FUNCTION database_stats(uuid, jsonb) TO launcher_api;
