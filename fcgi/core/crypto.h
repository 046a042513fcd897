/*
 * crypto.h - keys derived from the master key, keyed hashes, random
 * tokens, password hashing and HS256 JWTs.
 *
 * The master key file (mode 0600) never enters the database.  It is a key
 * ring: either the original 32 raw bytes (a ring of one key, key 0) or the
 * text file that launcher-admin rotate-master-key writes:
 *
 *   launcher-keyring 1
 *   key 0 <base64 of 32 bytes>
 *   key 1 <base64 of 32 bytes>
 *
 * (ids 0, 1, 2, ... in order, oldest first; "#" lines and blank lines are
 * comments).  Key 0 is the plane's identity: the JWT signing key and the
 * keyed-hash key (service keys, agent tokens, one-time codes) derive from
 * it alone and never change with a rotation.  The newest key seals secrets
 * at rest (per-tenant AEAD keys); every key of the ring opens them.  All
 * secret comparisons are constant-time.
 */
#ifndef LAUNCHER_CRYPTO_H
#define LAUNCHER_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEY_BYTES 32
#define CRYPTO_HASH_BYTES 32
/* Keys a ring may hold (a rotation refuses to add one beyond). */
#define CRYPTO_RING_MAX 32

struct crypto_keys {
	/* ring[0] is key 0 (the identity key), ring[nring - 1] the newest. */
	unsigned char ring[CRYPTO_RING_MAX][CRYPTO_KEY_BYTES];
	int           nring;
	unsigned char jwt[CRYPTO_KEY_BYTES];	/* derived from key 0 */
	unsigned char hash[CRYPTO_KEY_BYTES];	/* derived from key 0 */
};

/*
 * Loads the key ring (refuses a group/world-readable file); derives.
 * A malformed ring is refused with the file, the line and the reason.
 */
int  crypto_keys_load(struct crypto_keys *k, const char *path, char *err, size_t errlen);
/* The same from len bytes already read (path only names them in err). */
int  crypto_keys_parse(struct crypto_keys *k, const void *buf, size_t len, const char *path,
    char *err, size_t errlen);
/* Appends a random key, which becomes the newest; -1 when the ring is full. */
int  crypto_ring_add(struct crypto_keys *k, char *err, size_t errlen);
/*
 * Writes the ring to path in its text form: a temporary file beside it
 * (mode 0600, the old file's owner), fsync, rename over path, fsync of the
 * directory.  A reader sees the old ring or the new one, never a mix.
 */
int  crypto_ring_write(const struct crypto_keys *k, const char *path, char *err, size_t errlen);
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
 * string (caller frees), under the ring's newest key; crypto_open returns
 * the plaintext (caller frees, NUL-terminated) or NULL when the value was
 * tampered with, moved, or sealed with a key this ring does not hold.
 *
 * A value sealed with key N > 0 starts with "$N$" ('$' is not a base64
 * character); a value without that prefix is key 0's (every value written
 * before the first rotation).  The reader picks the key from it, without
 * trial decryption, and the rotation finds what is left to re-encrypt.
 */
char *crypto_seal(const struct crypto_keys *k, const char *tenant_id, const char *purpose,
    const void *plain, size_t len);
char *crypto_open(const struct crypto_keys *k, const char *tenant_id, const char *purpose,
    const char *sealed, size_t *len);
/* The key id of a sealed value ("$N$..." -> N, no prefix -> 0), -1 if malformed. */
int   crypto_sealed_key(const char *sealed);

/* prefix + n unbiased base62 characters, NUL-terminated into out. */
int  crypto_token(char *out, size_t outlen, const char *prefix, size_t n);
/* A random (version 4) UUID, lower-case, into out (37 bytes): an id sealed for before its insert. */
void crypto_uuid_new(char *out);
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

/*
 * HMAC-SHA256 of data under a key of any length (a git provider's webhook
 * secret), with OpenSSL (hardware SHA-256 where the CPU has it: a 5 MiB
 * push body costs a few ms).  0 on success, -1 on a library failure.
 */
int crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
    unsigned char out[32]);

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
