-- 052_template_mend.sql - template deploys (sql/048), mended:
--   - what an application waits for is judged by the kind the deploy
--     itself recorded for it: a volume named in depends_on is ready at
--     once (it used to be taken for an application and held the deploy
--     forever);
--   - the rollback never fails: a volume of the deploy that something else
--     mounts meanwhile (a user's own application, or a database's data
--     volume) is kept, and so is any resource whose removal fails; each is
--     named in the deploy's error.  The rollback runs inside a job's
--     completion or the scheduler's tick (every tenant in one
--     transaction): an error there would block both;
--   - an application or a database of a deploy still `deploying` that is
--     deleted fails the deploy (and rolls back the rest), instead of
--     holding it forever.

SET search_path = launcher;

CREATE OR REPLACE FUNCTION template_app_waits(p_app uuid)
RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (
		SELECT 1 FROM template_deploy_resources r
		  JOIN template_deploys t ON t.id = r.template_deploy_id
		 WHERE r.resource_id = p_app AND r.kind = 'application' AND t.status = 'deploying'
		   AND EXISTS (SELECT 1 FROM template_deploy_resources w
		                WHERE w.template_deploy_id = r.template_deploy_id
		                  AND w.resource_id = ANY (r.waits_for)
		                  AND NOT template_resource_ready(w.kind, w.resource_id)))
$$;

CREATE OR REPLACE FUNCTION template_deploy_fail(p_id uuid, p_reason text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE t uuid; x record; kept text[] := '{}';
BEGIN
	FOR t IN SELECT DISTINCT td.id FROM template_deploy_resources r
	           JOIN template_deploys td ON td.id = r.template_deploy_id
	          WHERE r.resource_id = p_id AND td.status = 'deploying' LOOP
		UPDATE template_deploys SET status = 'failed', error = left(p_reason, 4000),
		       finished_at = now(), updated_at = now()
		 WHERE id = t AND status = 'deploying';
		CONTINUE WHEN NOT FOUND;
		kept := '{}';
		-- The other applications' deploys stop (the agent learns it at its
		-- next lease renewal) before their app.remove is queued.
		UPDATE jobs SET status = 'cancelled', finished_at = now(), lease_expires_at = NULL,
		       error = 'the template deploy failed: ' || left(p_reason, 1000)
		 WHERE status IN ('queued', 'running') AND kind LIKE 'app.%' AND kind <> 'app.remove'
		   AND payload ->> 'app_id' IN (SELECT resource_id::text FROM template_deploy_resources
		                                 WHERE template_deploy_id = t AND kind = 'application');
		FOR x IN SELECT resource_id, name FROM template_deploy_resources
		          WHERE template_deploy_id = t AND kind = 'application' ORDER BY position LOOP
			BEGIN
				DELETE FROM applications WHERE id = x.resource_id;
			EXCEPTION WHEN OTHERS THEN
				kept := kept || format('application %s (%s)', x.name, SQLERRM);
			END;
		END LOOP;
		FOR x IN SELECT r.resource_id, r.name, d.volume_id FROM template_deploy_resources r
		           JOIN databases d ON d.id = r.resource_id
		          WHERE r.template_deploy_id = t AND r.kind = 'database' ORDER BY r.position LOOP
			BEGIN
				-- Its data goes with it unless something else mounts it.
				PERFORM api_database_delete(x.resource_id, NULL, NOT EXISTS (
					SELECT 1 FROM volume_mounts m WHERE m.volume_id = x.volume_id));
				IF EXISTS (SELECT 1 FROM volumes WHERE id = x.volume_id) THEN
					kept := kept || format('the data volume of database %s (still mounted)',
					                       x.name);
				END IF;
			EXCEPTION WHEN OTHERS THEN
				kept := kept || format('database %s (%s)', x.name, SQLERRM);
			END;
		END LOOP;
		FOR x IN SELECT r.resource_id, r.name FROM template_deploy_resources r
		           JOIN volumes v ON v.id = r.resource_id
		          WHERE r.template_deploy_id = t AND r.kind = 'volume' ORDER BY r.position LOOP
			IF EXISTS (SELECT 1 FROM volume_mounts m WHERE m.volume_id = x.resource_id) THEN
				kept := kept || format('volume %s (still mounted by application %s)', x.name,
				    (SELECT string_agg(a.name, ', ' ORDER BY a.name) FROM volume_mounts m
				       JOIN applications a ON a.id = m.application_id
				      WHERE m.volume_id = x.resource_id));
				CONTINUE;
			END IF;
			BEGIN
				DELETE FROM volumes WHERE id = x.resource_id;
			EXCEPTION WHEN OTHERS THEN
				kept := kept || format('volume %s (%s)', x.name, SQLERRM);
			END;
		END LOOP;
		IF cardinality(kept) > 0 THEN
			UPDATE template_deploys
			   SET error = left(error || '; kept: ' || array_to_string(kept, '; '), 4000)
			 WHERE id = t;
		END IF;
	END LOOP;
END $$;

-- A resource of a deploy still `deploying` deleted (by a user): the deploy
-- fails and removes the rest.  Not when its project or tenant goes (the
-- record goes with them).
CREATE FUNCTION template_resource_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM projects WHERE id = OLD.project_id) THEN
		PERFORM template_deploy_fail(OLD.id, format('%s %s was deleted', TG_ARGV[0], OLD.name));
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER applications_template_deleted AFTER DELETE ON applications
	FOR EACH ROW EXECUTE FUNCTION template_resource_deleted('application');
CREATE TRIGGER databases_template_deleted AFTER DELETE ON databases
	FOR EACH ROW EXECUTE FUNCTION template_resource_deleted('database');
