/*
 * secret.h - write-only secrets of a request's tenant: the one way a
 * handler seals a value for the database and opens it again.
 *
 * Every secret at rest (env maps, repository credentials, webhook secrets,
 * command output) goes through these two calls: crypto_seal/crypto_open
 * (crypto.h) bound to r->who.tenant_id and the worker's keys, with the
 * field's purpose as associated data, so that a sealed value cannot be
 * moved to another tenant or to another field.  A purpose is one of the
 * SECRET_* names below, never a literal at the call site.
 *
 * Values are sealed under the newest key of the master key ring and open
 * under any of its keys (crypto.h).  Every column that stores them is
 * listed in the table sealed_columns (sql/022_sealed_columns.sql) with the
 * SQL expression of its purpose, so that launcher-admin rotate-master-key
 * re-encrypts it: a new sealed column adds its row there, in its migration.
 */
#ifndef LAUNCHER_SECRET_H
#define LAUNCHER_SECRET_H

#include <stddef.h>

#include "http.h"

/* An application's env map and its deployments' snapshots. */
#define SECRET_APP_ENV "app-env"
/* The user:token part of a repository URL. */
#define SECRET_APP_REPO_CREDENTIAL "app-repo-credential"
/* A git provider's API token (git_providers.token_sealed, sql/028). */
#define SECRET_GIT_PROVIDER_TOKEN "git-provider-token"
/* The secret that signs an application's push webhook. */
#define SECRET_APP_WEBHOOK "app-webhook-secret"
/* A job's result that may show secrets (exec output), jobs.result_sealed. */
#define SECRET_JOB_RESULT "job-result"
/*
 * One variable of the env store (env_vars.value_sealed), always bound to
 * its row: secret_bound_purpose(r, SECRET_ENV_VAR, "<scope>:<scope_id>:<KEY>"),
 * i.e. the associated data env-var:<scope>:<scope_id>:<KEY>, which SQL
 * spells env_var_purpose(scope, scope_id, key) (sql/020_env_vars.sql).
 */
#define SECRET_ENV_VAR "env-var"
/*
 * A managed database's password (databases.password_sealed and the one a
 * rotation applies, pending_password_sealed), bound to the database:
 * secret_bound_purpose(r, SECRET_DB_PASSWORD, <id>), i.e. db-password:<id>.
 */
#define SECRET_DB_PASSWORD "db-password"
/* A registry's password (registries.password_sealed, API.md §14). */
#define SECRET_REGISTRY_PASSWORD "registry-password"
/*
 * A backup destination's keys, JSON {"access_key", "secret_key"}
 * (backup_destinations.credentials_sealed), bound to the destination:
 * secret_bound_purpose(r, SECRET_BACKUP_DESTINATION, <id>).
 */
#define SECRET_BACKUP_DESTINATION "backup-destination"
/*
 * An alert channel's secrets, JSON (slack/discord {"webhook_url"}, webhook
 * {"secret"?, "headers"?}; alert_channels.secret_sealed, sql/040), bound to
 * the channel: secret_bound_purpose(r, SECRET_ALERT_CHANNEL, <id>).
 */
#define SECRET_ALERT_CHANNEL "alert-channel"
/*
 * A server's object store: its admin (a managed store's root) secret
 * (object_stores.admin_secret_sealed, sql/053), bound to the store:
 * secret_bound_purpose(r, SECRET_BUCKET_STORE, <store id>).
 */
#define SECRET_BUCKET_STORE "bucket-store"
/*
 * A bucket's key's secret (bucket_keys.secret_sealed, sql/053), bound to
 * the bucket: secret_bound_purpose(r, SECRET_BUCKET_KEY, <bucket id>).
 */
#define SECRET_BUCKET_KEY "bucket-key"
/* The tenant's SMTP password (tenant_smtp.password_sealed, sql/040). */
#define SECRET_SMTP_PASSWORD "smtp-password"

/*
 * A purpose bound to one row: purpose ":" binding, in the request's arena
 * (NULL only when out of memory).  A value sealed under it opens only for
 * the same binding, so a ciphertext copied to another row does not open.
 */
const char *secret_bound_purpose(struct req *r, const char *purpose, const char *binding);
/* The same, malloc'd (caller frees), for code without a request (launcher-admin). */
char       *secret_bound_purpose_dup(const char *purpose, const char *binding);

/*
 * Seals len bytes of plain for the request's tenant under purpose.
 * Returns base64 text in the request's arena, or NULL (out of memory, a
 * value over 64 MiB, no tenant); the caller answers 500 then.
 */
const char *secret_seal(struct req *r, const char *purpose, const void *plain, size_t len);

/*
 * Opens a value sealed by secret_seal for the same tenant and purpose.
 * Returns the plaintext, NUL-terminated, owned by the request's arena and
 * wiped when the arena is reset; *len (if not NULL) gets its length.
 * Returns NULL when the value was tampered with, moved, or is not base64.
 */
char *secret_open(struct req *r, const char *purpose, const char *sealed, size_t *len);

#endif
