/*
 * crypto.h - keys derived from the master key, keyed hashes, random
 * tokens, password hashing and HS256 JWTs.
 *
 * The master key file (32 bytes, mode 0600) never enters the database.
 * From it: the JWT signing key, the keyed-hash key for service keys, agent
 * tokens and one-time codes, and (later) per-tenant AEAD keys.  All secret
 * comparisons are constant-time.
 */
#ifndef LAUNCHER_CRYPTO_H
#define LAUNCHER_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEY_BYTES 32
#define CRYPTO_HASH_BYTES 32

struct crypto_keys {
	unsigned char master[CRYPTO_KEY_BYTES];
	unsigned char jwt[CRYPTO_KEY_BYTES];
	unsigned char hash[CRYPTO_KEY_BYTES];
};

/* Loads the master key (refuses a group/world-readable file); derives. */
int  crypto_keys_load(struct crypto_keys *k, const char *path, char *err, size_t errlen);
void crypto_keys_wipe(struct crypto_keys *k);

/* Keyed BLAKE2b-256 of (purpose || 0 || data) into out[32]. */
void crypto_keyed_hash(const struct crypto_keys *k, const char *purpose,
    const void *data, size_t len, unsigned char out[CRYPTO_HASH_BYTES]);

/*
 * Secrets at rest (env values, registry and git tokens, backup keys, ...):
 * XChaCha20-Poly1305 with a key per tenant derived from the master key,
 * the tenant id and the field's purpose as associated data, so that a
 * sealed value cannot be moved to another tenant or another field.
 * crypto_seal writes base64 text of nonce || ciphertext into an allocated
 * string (caller frees); crypto_open returns the plaintext (caller frees,
 * NUL-terminated) or NULL when the value was tampered with or moved.
 */
char *crypto_seal(const struct crypto_keys *k, const char *tenant_id, const char *purpose,
    const void *plain, size_t len);
char *crypto_open(const struct crypto_keys *k, const char *tenant_id, const char *purpose,
    const char *sealed, size_t *len);

/* prefix + n unbiased base62 characters, NUL-terminated into out. */
int  crypto_token(char *out, size_t outlen, const char *prefix, size_t n);
/* A uniformly random decimal code of n digits. */
void crypto_digits(char *out, size_t n);

/* argon2id; cost "interactive" | "moderate" | "min". 0 on success. */
int  crypto_password_hash(const char *password, const char *cost, char *out, size_t outlen);
bool crypto_password_verify(const char *hash, const char *password);
/* Burns the same time as a verify, for unknown accounts. */
void crypto_password_dummy(const char *password, const char *cost);

struct jwt_claims {
	char    sub[37];
	char    tid[37];
	char    jti[37];
	char    role[16];
	int64_t iat;
	int64_t exp;
	int64_t gen;	/* the user's session generation at issue (0 if absent) */
	char    sk[32];	/* session proof: crypto_session_proof(user secret, jti) */
};

/*
 * The proof that a token's jti was issued by this plane for this user:
 * base64url (no padding, 22 characters) of a BLAKE2b-128 of the jti keyed
 * with the user's session secret, which only the database and the pool
 * see.  A token signed with a leaked JWT key but an invented jti fails it.
 */
#define CRYPTO_SESSION_PROOF_LEN 22
int  crypto_session_proof(const char *secret, const char *jti, char out[CRYPTO_SESSION_PROOF_LEN + 1]);
/* Constant-time check of a claimed proof; true if it matches. */
bool crypto_session_proof_ok(const char *secret, const char *jti, const char *claimed);

/* Signs claims (HS256) into out; 0 on success. */
int crypto_jwt_sign(const struct crypto_keys *k, const char *issuer,
    const struct jwt_claims *c, char *out, size_t outlen);
/*
 * Verifies token: header alg must be exactly HS256 (typ JWT if present),
 * signature checked in constant time, iss must match, exp > now >= iat-60.
 * Returns 0 and fills *c, or -1 (every failure looks the same to callers).
 */
int crypto_jwt_verify(const struct crypto_keys *k, const char *issuer,
    const char *token, int64_t now, struct jwt_claims *c);

#endif
