-- 051_compose_mend.sql - a compose release's source holds no service
-- environment: its values (resolved) are in the sealed env snapshot, and
-- the source is stored in the clear (deployments.source, jobs.payload).
-- fcgi/api/app_actions.c compose_source leaves it out since this change;
-- the rows written before it lose it here.

SET search_path = launcher;

CREATE FUNCTION compose_source_without_env(src jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN src ->> 'type' = 'compose' AND jsonb_typeof(src -> 'services') = 'array'
	            THEN jsonb_set(src, '{services}', (SELECT coalesce(jsonb_agg(x.s - 'environment'
	                 ORDER BY x.o), '[]'::jsonb)
	                 FROM jsonb_array_elements(src -> 'services') WITH ORDINALITY x(s, o)))
	            ELSE src END
$$;

UPDATE deployments SET source = compose_source_without_env(source)
 WHERE source ->> 'type' = 'compose';
UPDATE jobs SET payload = jsonb_set(payload, '{source}',
	compose_source_without_env(payload -> 'source'))
 WHERE payload -> 'source' ->> 'type' = 'compose';

DROP FUNCTION compose_source_without_env(jsonb);
