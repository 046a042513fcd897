/*
 * crypto.c - master-key derivation, keyed hashes, tokens, argon2id and
 * HS256 JWTs (see crypto.h).
 *
 * JWTs are signed with libjwt.  They are verified here with libsodium's
 * HMAC-SHA256 and a constant-time comparison, because the libjwt of Debian
 * 12 compares signatures with strcmp and lets the token's header choose the
 * algorithm; this verifier pins HS256 before it looks at anything else.
 */
#include "crypto.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <jwt.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "util.h"

int
crypto_keys_load(struct crypto_keys *k, const char *path, char *err, size_t errlen)
{
	struct stat st;
	ssize_t     n;
	int         fd;

	if (sodium_init() < 0) {
		util_snprintf(err, errlen, "libsodium failed to initialise");
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		util_snprintf(err, errlen, "%s: cannot open master key", path);
		return -1;
	}
	if (fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
		util_snprintf(err, errlen, "%s: master key must be mode 0600", path);
		close(fd);
		return -1;
	}
	n = read(fd, k->master, sizeof(k->master));
	close(fd);
	if (n != (ssize_t)sizeof(k->master)) {
		util_snprintf(err, errlen, "%s: master key must hold 32 bytes", path);
		return -1;
	}
	crypto_kdf_derive_from_key(k->jwt, sizeof(k->jwt), 1, "lnchrjwt", k->master);
	crypto_kdf_derive_from_key(k->hash, sizeof(k->hash), 2, "lnchrhsh", k->master);
	return 0;
}

/*
 * HS256 verification runs on every JWT request.  OpenSSL's HMAC (the
 * library libjwt signs with; hardware SHA-256 where the CPU has it) with a
 * context keyed once per process costs ~0.4 us, a fresh libsodium HMAC
 * (portable SHA-256) ~1.8 us.  The context is keyed again whenever it is
 * asked for another key, and wiped with the keys.
 */
static struct {
	EVP_MAC_CTX  *ctx;
	unsigned char key[CRYPTO_KEY_BYTES];
} jwt_mac;

static int
jwt_hmac(const unsigned char key[CRYPTO_KEY_BYTES], const void *data, size_t len,
    unsigned char out[crypto_auth_hmacsha256_BYTES])
{
	size_t n = 0;

	if (jwt_mac.ctx == NULL) {
		EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);

		jwt_mac.ctx = m != NULL ? EVP_MAC_CTX_new(m) : NULL;
		EVP_MAC_free(m);
		if (jwt_mac.ctx == NULL)
			return -1;
		memset(jwt_mac.key, 0, sizeof(jwt_mac.key));
		jwt_mac.key[0] = (unsigned char)~key[0];	/* not keyed yet */
	}
	if (sodium_memcmp(jwt_mac.key, key, CRYPTO_KEY_BYTES) != 0) {
		OSSL_PARAM p[] = {
			OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
			OSSL_PARAM_construct_end(),
		};

		if (EVP_MAC_init(jwt_mac.ctx, key, CRYPTO_KEY_BYTES, p) != 1)
			return -1;
		memcpy(jwt_mac.key, key, CRYPTO_KEY_BYTES);
	} else if (EVP_MAC_init(jwt_mac.ctx, NULL, 0, NULL) != 1)
		return -1;
	if (EVP_MAC_update(jwt_mac.ctx, data, len) != 1 ||
	    EVP_MAC_final(jwt_mac.ctx, out, &n, crypto_auth_hmacsha256_BYTES) != 1 ||
	    n != crypto_auth_hmacsha256_BYTES)
		return -1;
	return 0;
}

void
crypto_keys_wipe(struct crypto_keys *k)
{
	sodium_memzero(k, sizeof(*k));
	EVP_MAC_CTX_free(jwt_mac.ctx);
	jwt_mac.ctx = NULL;
	sodium_memzero(jwt_mac.key, sizeof(jwt_mac.key));
}

void
crypto_keyed_hash(const struct crypto_keys *k, const char *purpose, const void *data,
    size_t len, unsigned char out[CRYPTO_HASH_BYTES])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, k->hash, sizeof(k->hash), CRYPTO_HASH_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)purpose, strlen(purpose) + 1);
	crypto_generichash_update(&st, data, len);
	crypto_generichash_final(&st, out, CRYPTO_HASH_BYTES);
}

/* The tenant's sealing key: keyed BLAKE2b of the tenant id under a subkey. */
static void
tenant_key(const struct crypto_keys *k, const char *tenant_id,
    unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES])
{
	unsigned char            sub[CRYPTO_KEY_BYTES];
	crypto_generichash_state st;

	crypto_kdf_derive_from_key(sub, sizeof(sub), 3, "lnchrenc", k->master);
	crypto_generichash_init(&st, sub, sizeof(sub), crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	crypto_generichash_update(&st, (const unsigned char *)tenant_id, strlen(tenant_id));
	crypto_generichash_final(&st, key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	sodium_memzero(sub, sizeof(sub));
}

char *
crypto_seal(const struct crypto_keys *k, const char *tenant_id, const char *purpose,
    const void *plain, size_t len)
{
	unsigned char  key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES], *box;
	size_t         boxlen = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + len +
	    crypto_aead_xchacha20poly1305_ietf_ABYTES, b64len;
	char          *out = NULL;

	if (len > (size_t)64 << 20 || (box = malloc(boxlen)) == NULL)
		return NULL;
	tenant_key(k, tenant_id, key);
	randombytes_buf(box, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(box + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	    NULL, plain, len, (const unsigned char *)purpose, strlen(purpose), NULL, box, key);
	b64len = sodium_base64_encoded_len(boxlen, sodium_base64_VARIANT_ORIGINAL);
	if ((out = malloc(b64len)) != NULL)
		sodium_bin2base64(out, b64len, box, boxlen, sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(key, sizeof(key));
	free(box);
	return out;
}

char *
crypto_open(const struct crypto_keys *k, const char *tenant_id, const char *purpose,
    const char *sealed, size_t *len)
{
	unsigned char       key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES], *box = NULL;
	unsigned long long  plen;
	size_t              sl = strlen(sealed), boxlen;
	char               *plain = NULL;

	if (sl > (size_t)100 << 20 || (box = malloc(sl)) == NULL)
		return NULL;
	if (sodium_base642bin(box, sl, sealed, sl, NULL, &boxlen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    boxlen < crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES ||
	    (plain = malloc(boxlen + 1)) == NULL)
		goto out;
	tenant_key(k, tenant_id, key);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)plain, &plen, NULL,
	    box + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	    boxlen - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, (const unsigned char *)purpose,
	    strlen(purpose), box, key) != 0) {
		free(plain);
		plain = NULL;
	} else {
		plain[plen] = '\0';
		if (len != NULL)
			*len = (size_t)plen;
	}
	sodium_memzero(key, sizeof(key));
out:
	free(box);
	return plain;
}

int
crypto_token(char *out, size_t outlen, const char *prefix, size_t n)
{
	static const char b62[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	size_t p = strlen(prefix);

	if (p + n + 1 > outlen)
		return -1;
	memcpy(out, prefix, p);
	for (size_t i = 0; i < n; i++)
		out[p + i] = b62[randombytes_uniform(62)];
	out[p + n] = '\0';
	return 0;
}

void
crypto_digits(char *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (char)('0' + randombytes_uniform(10));
	out[n] = '\0';
}

static void
cost_of(const char *cost, unsigned long long *ops, size_t *mem)
{
	if (strcmp(cost, "moderate") == 0) {
		*ops = crypto_pwhash_OPSLIMIT_MODERATE;
		*mem = crypto_pwhash_MEMLIMIT_MODERATE;
	} else if (strcmp(cost, "min") == 0) {
		*ops = crypto_pwhash_OPSLIMIT_MIN;
		*mem = 8192 * 1024;
	} else {
		*ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
		*mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
	}
}

int
crypto_password_hash(const char *password, const char *cost, char *out, size_t outlen)
{
	unsigned long long ops;
	size_t             mem;

	if (outlen < crypto_pwhash_STRBYTES)
		return -1;
	cost_of(cost, &ops, &mem);
	return crypto_pwhash_str_alg(out, password, strlen(password), ops, mem,
	    crypto_pwhash_ALG_ARGON2ID13);
}

bool
crypto_password_verify(const char *hash, const char *password)
{
	return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

void
crypto_password_dummy(const char *password, const char *cost)
{
	char out[crypto_pwhash_STRBYTES];

	(void)crypto_password_hash(password, cost, out, sizeof(out));
	sodium_memzero(out, sizeof(out));
}

int
crypto_session_proof(const char *secret, const char *jti, char out[CRYPTO_SESSION_PROOF_LEN + 1])
{
	unsigned char h[16];
	size_t        kl = strlen(secret);

	if (kl < crypto_generichash_KEYBYTES_MIN || kl > crypto_generichash_KEYBYTES_MAX ||
	    crypto_generichash(h, sizeof(h), (const unsigned char *)jti, strlen(jti),
	    (const unsigned char *)secret, kl) != 0)
		return -1;
	sodium_bin2base64(out, CRYPTO_SESSION_PROOF_LEN + 1, h, sizeof(h),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return 0;
}

bool
crypto_session_proof_ok(const char *secret, const char *jti, const char *claimed)
{
	char want[CRYPTO_SESSION_PROOF_LEN + 1];

	return strlen(claimed) == CRYPTO_SESSION_PROOF_LEN &&
	    crypto_session_proof(secret, jti, want) == 0 &&
	    sodium_memcmp(want, claimed, CRYPTO_SESSION_PROOF_LEN) == 0;
}

int
crypto_jwt_sign(const struct crypto_keys *k, const char *issuer,
    const struct jwt_claims *c, char *out, size_t outlen)
{
	jwt_t *jwt = NULL;
	char  *s = NULL;
	int    rc = -1;

	if (jwt_new(&jwt) != 0)
		goto out;
	if (jwt_set_alg(jwt, JWT_ALG_HS256, k->jwt, sizeof(k->jwt)) != 0 ||
	    jwt_add_grant(jwt, "iss", issuer) != 0 ||
	    jwt_add_grant(jwt, "sub", c->sub) != 0 ||
	    jwt_add_grant(jwt, "tid", c->tid) != 0 ||
	    jwt_add_grant(jwt, "jti", c->jti) != 0 ||
	    jwt_add_grant(jwt, "role", c->role) != 0 ||
	    jwt_add_grant_int(jwt, "gen", (long)c->gen) != 0 ||
	    jwt_add_grant(jwt, "sk", c->sk) != 0 ||
	    jwt_add_grant_int(jwt, "iat", (long)c->iat) != 0 ||
	    jwt_add_grant_int(jwt, "exp", (long)c->exp) != 0)
		goto out;
	if ((s = jwt_encode_str(jwt)) == NULL)
		goto out;
	rc = util_snprintf(out, outlen, "%s", s) < 0 ? -1 : 0;
out:
	if (s != NULL)
		free(s);
	if (jwt != NULL)
		jwt_free(jwt);
	return rc;
}

/*
 * base64url (no padding) of public data -> NUL-terminated buf[cap]; -1 if
 * bad.  Table-driven and not constant-time: only for the header and the
 * payload, never for secrets.
 */
static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '-' ? 62 : c == '_' ? 63 : -1;
}

static int
b64url_public(const char *s, size_t n, unsigned char *buf, size_t cap, size_t *outlen)
{
	uint32_t acc = 0;
	size_t   o = 0;
	int      bits = 0;

	if (n % 4 == 1 || (n / 4) * 3 + 3 >= cap)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_value((unsigned char)s[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover bits must be zero (canonical encoding). */
	if ((acc & ((1u << bits) - 1)) != 0)
		return -1;
	buf[o] = '\0';
	*outlen = o;
	return 0;
}

/* base64url (no padding) segment -> NUL-terminated buf[cap]; -1 if bad. */
static int
b64url(const char *s, size_t n, unsigned char *buf, size_t cap, size_t *outlen)
{
	if (sodium_base642bin(buf, cap - 1, s, n, NULL, outlen, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return -1;
	buf[*outlen] = '\0';
	return 0;
}

static int
claim_str(const cJSON *o, const char *name, char *dst, size_t len, bool uuid)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	size_t       n;

	if (!cJSON_IsString(v) || (n = strlen(v->valuestring)) >= len)
		return -1;
	memcpy(dst, v->valuestring, n + 1);
	return uuid && !util_is_uuid(dst) ? -1 : 0;
}

static int
claim_int(const cJSON *o, const char *name, int64_t *dst)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 4e12)
		return -1;
	*dst = (int64_t)v->valuedouble;
	return 0;
}

/* base64url of {"alg":"HS256","typ":"JWT"}, the header libjwt writes. */
#define JWT_HS256_HEADER "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

int
crypto_jwt_verify(const struct crypto_keys *k, const char *issuer, const char *token,
    int64_t now, struct jwt_claims *c)
{
	const char    *d1, *d2;
	/* A token is at most 4 KiB, so no decoded part is longer. */
	unsigned char  hdr[4096], pay[4096];
	unsigned char  mac[crypto_auth_hmacsha256_BYTES];
	size_t         hl, pl, tl = strlen(token);
	cJSON         *h = NULL, *p = NULL;
	const cJSON   *alg, *typ;
	char           iss[128];
	int            rc = -1;

	if (tl > 4096 || (d1 = strchr(token, '.')) == NULL ||
	    (d2 = strchr(d1 + 1, '.')) == NULL || strchr(d2 + 1, '.') != NULL)
		return -1;
	/* The server fixes the algorithm: exactly HS256, nothing else.  The
	 * header this server issues is recognised as is; any other is decoded
	 * and must still say HS256. */
	if ((size_t)(d1 - token) != sizeof(JWT_HS256_HEADER) - 1 ||
	    memcmp(token, JWT_HS256_HEADER, sizeof(JWT_HS256_HEADER) - 1) != 0) {
		if (b64url(token, (size_t)(d1 - token), hdr, sizeof(hdr), &hl) != 0 ||
		    (h = cJSON_ParseWithLength((char *)hdr, hl)) == NULL)
			goto out;
		alg = cJSON_GetObjectItemCaseSensitive(h, "alg");
		typ = cJSON_GetObjectItemCaseSensitive(h, "typ");
		if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "HS256") != 0)
			goto out;
		if (typ != NULL && (!cJSON_IsString(typ) || strcmp(typ->valuestring, "JWT") != 0))
			goto out;
	}
	/* The signature is compared in its encoded form (43 characters), in
	 * constant time, against the encoding of the MAC computed here. */
	if (tl - (size_t)(d2 + 1 - token) != 43)
		goto out;
	{
		char enc[64];

		if (jwt_hmac(k->jwt, token, (size_t)(d2 - token), mac) != 0)
			goto out;
		sodium_bin2base64(enc, sizeof(enc), mac, sizeof(mac),
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		if (sodium_memcmp(enc, d2 + 1, 43) != 0)
			goto out;
	}
	if (b64url_public(d1 + 1, (size_t)(d2 - d1 - 1), pay, sizeof(pay), &pl) != 0 ||
	    (p = cJSON_ParseWithLength((char *)pay, pl)) == NULL)
		goto out;
	if (claim_str(p, "iss", iss, sizeof(iss), false) != 0 || strcmp(iss, issuer) != 0 ||
	    claim_str(p, "sub", c->sub, sizeof(c->sub), true) != 0 ||
	    claim_str(p, "tid", c->tid, sizeof(c->tid), true) != 0 ||
	    claim_str(p, "jti", c->jti, sizeof(c->jti), true) != 0 ||
	    claim_str(p, "role", c->role, sizeof(c->role), false) != 0 ||
	    claim_int(p, "iat", &c->iat) != 0 || claim_int(p, "exp", &c->exp) != 0)
		goto out;
	c->gen = 0;
	if (claim_str(p, "sk", c->sk, sizeof(c->sk), false) != 0 ||
	    (cJSON_GetObjectItemCaseSensitive(p, "gen") != NULL && claim_int(p, "gen", &c->gen) != 0))
		goto out;
	if (c->exp <= now || c->iat > now + 60)
		goto out;
	rc = 0;
out:
	cJSON_Delete(h);
	cJSON_Delete(p);
	return rc;
}
