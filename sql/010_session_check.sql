-- 010_session_check.sql - a JWT is checked against its user's row alone.
--
-- sessions keeps one row per issued token (issue, revocation, counts); the
-- request path no longer reads it.  What decides whether a signed,
-- unexpired token still counts now lives in the user's row, so that the
-- principal of a JWT request is one primary-key lookup:
--   session_gen       tokens carry the generation they were issued in
--                     (claim "gen"); revoking all of a user's tokens bumps
--                     it (password change, deactivation);
--   kept_session      the one token of an older generation that still
--                     counts: the one a password change was made with;
--   revoked_sessions  tokens revoked one by one (logout) while they are
--                     unexpired, as {"<jti>": <exp, epoch seconds>}; each
--                     logout drops the expired entries, and a generation
--                     bump empties it, so it stays as small as the number
--                     of the user's logouts within one token lifetime;
--   session_secret    keys each token's proof that its jti was issued to
--                     this user (below).
-- Tokens issued before this migration carry neither "gen" nor the proof
-- and are refused: everyone signs in again once after the upgrade.

SET search_path = launcher;

ALTER TABLE users
	ADD COLUMN session_gen      integer NOT NULL DEFAULT 0,
	ADD COLUMN kept_session     uuid,
	ADD COLUMN revoked_sessions jsonb NOT NULL DEFAULT '{}'
		CHECK (jsonb_typeof(revoked_sessions) = 'object');

-- The revoked set with jti added (until exp) and the expired entries gone.
CREATE FUNCTION session_revoked_add(m jsonb, jti uuid, exp timestamptz) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT coalesce((SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(m) e
	                  WHERE (e.value)::bigint > floor(extract(epoch FROM now()))), '{}')
	       || jsonb_build_object(jti::text, floor(extract(epoch FROM exp))::bigint)
$$;
GRANT EXECUTE ON FUNCTION session_revoked_add(jsonb, uuid, timestamptz) TO launcher_api;

-- Deactivating a user ends every token of theirs, whichever path does it.
CREATE FUNCTION users_sessions_end() RETURNS trigger
LANGUAGE plpgsql SET search_path = launcher, pg_catalog, pg_temp AS $$
BEGIN
	IF OLD.active AND NOT NEW.active THEN
		NEW.session_gen := OLD.session_gen + 1;
		NEW.kept_session := NULL;
		NEW.revoked_sessions := '{}';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER users_sessions_end BEFORE UPDATE OF active ON users
	FOR EACH ROW EXECUTE FUNCTION users_sessions_end();

-- Each token carries a proof that its jti was issued to this user (claim
-- "sk", see fcgi/core/crypto.h), keyed with this per-user secret: a token
-- signed with a leaked JWT key but an invented jti is still refused.
ALTER TABLE users ADD COLUMN session_secret uuid NOT NULL DEFAULT gen_random_uuid();
