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

#include <errno.h>
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

/* Largest ring file: CRYPTO_RING_MAX lines of ~60 characters and comments. */
#define RING_FILE_MAX 65536
#define RING_HEADER "launcher-keyring 1"

static int
derive(struct crypto_keys *k)
{
	crypto_kdf_derive_from_key(k->jwt, sizeof(k->jwt), 1, "lnchrjwt", k->ring[0]);
	crypto_kdf_derive_from_key(k->hash, sizeof(k->hash), 2, "lnchrhsh", k->ring[0]);
	return 0;
}

/* One "key N BASE64" line (NUL-terminated, no newline) into k->ring[N]. */
static int
ring_line(struct crypto_keys *k, const char *line, const char *path, int lno, char *err,
    size_t errlen)
{
	const char *p = line + 4, *b64;
	size_t      klen = 0;
	long        id = 0;

	if (strncmp(line, "key ", 4) != 0) {
		util_snprintf(err, errlen, "%s: line %d: expected \"key N BASE64\"", path, lno);
		return -1;
	}
	if (*p < '0' || *p > '9') {
		util_snprintf(err, errlen, "%s: line %d: the key id must be a number", path, lno);
		return -1;
	}
	while (*p >= '0' && *p <= '9' && id <= CRYPTO_RING_MAX)
		id = id * 10 + (*p++ - '0');
	if (*p != ' ') {
		util_snprintf(err, errlen, "%s: line %d: the key id must be a number", path, lno);
		return -1;
	}
	if (id != k->nring) {
		util_snprintf(err, errlen, "%s: line %d: key %ld where key %d was expected"
		    " (ids are 0, 1, 2, ... in order)", path, lno, id, k->nring);
		return -1;
	}
	if (k->nring == CRYPTO_RING_MAX) {
		util_snprintf(err, errlen, "%s: line %d: more than %d keys", path, lno, CRYPTO_RING_MAX);
		return -1;
	}
	b64 = p + 1;
	if (sodium_base642bin(k->ring[k->nring], CRYPTO_KEY_BYTES, b64, strlen(b64), NULL, &klen,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || klen != CRYPTO_KEY_BYTES) {
		util_snprintf(err, errlen, "%s: line %d: key %ld is not the base64 of 32 bytes",
		    path, lno, id);
		return -1;
	}
	k->nring++;
	return 0;
}

int
crypto_keys_parse(struct crypto_keys *k, const void *buf, size_t len, const char *path,
    char *err, size_t errlen)
{
	const char *s = buf, *end = s + len;
	char        line[256];
	bool        header = false;
	int         lno = 0;

	memset(k, 0, sizeof(*k));
	/* The original file: 32 raw bytes, a ring of key 0 alone. */
	if (len == CRYPTO_KEY_BYTES) {
		memcpy(k->ring[0], buf, CRYPTO_KEY_BYTES);
		k->nring = 1;
		return derive(k);
	}
	if (len < sizeof(RING_HEADER) || len > RING_FILE_MAX || memchr(buf, '\0', len) != NULL) {
		util_snprintf(err, errlen, "%s: master key must hold 32 bytes or be a key ring"
		    " (\"" RING_HEADER "\", then \"key N BASE64\" lines)", path);
		return -1;
	}
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t      n = (size_t)((nl != NULL ? nl : end) - s);

		lno++;
		if (n >= sizeof(line)) {
			util_snprintf(err, errlen, "%s: line %d: too long", path, lno);
			goto bad;
		}
		memcpy(line, s, n);
		line[n] = '\0';
		while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = '\0';
		s = nl != NULL ? nl + 1 : end;
		if (n == 0 || line[0] == '#')
			continue;
		if (!header) {
			if (strcmp(line, RING_HEADER) != 0) {
				util_snprintf(err, errlen, "%s: line %d: a key ring starts with \""
				    RING_HEADER "\"", path, lno);
				goto bad;
			}
			header = true;
		} else if (ring_line(k, line, path, lno, err, errlen) != 0)
			goto bad;
	}
	sodium_memzero(line, sizeof(line));
	if (k->nring == 0) {
		util_snprintf(err, errlen, "%s: %s", path, header ? "the key ring holds no key" :
		    "a key ring starts with \"" RING_HEADER "\"");
		goto bad;
	}
	return derive(k);
bad:
	sodium_memzero(line, sizeof(line));
	sodium_memzero(k, sizeof(*k));
	return -1;
}

int
crypto_keys_load(struct crypto_keys *k, const char *path, char *err, size_t errlen)
{
	unsigned char buf[RING_FILE_MAX + 1];
	struct stat   st;
	ssize_t       n;
	size_t        len = 0;
	int           fd, rc;

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
	while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	close(fd);
	rc = crypto_keys_parse(k, buf, len, path, err, errlen);
	sodium_memzero(buf, len);
	return rc;
}

int
crypto_ring_add(struct crypto_keys *k, char *err, size_t errlen)
{
	if (k->nring >= CRYPTO_RING_MAX) {
		util_snprintf(err, errlen, "the key ring already holds %d keys", CRYPTO_RING_MAX);
		return -1;
	}
	randombytes_buf(k->ring[k->nring], CRYPTO_KEY_BYTES);
	k->nring++;
	return 0;
}

int
crypto_ring_write(const struct crypto_keys *k, const char *path, char *err, size_t errlen)
{
	char        tmp[4096], dir[4096], b64[64], line[128];
	struct stat st;
	const char *slash;
	int         fd = -1, dfd, rc = -1;

	if (util_snprintf(tmp, sizeof(tmp), "%s.new", path) < 0 ||
	    util_snprintf(dir, sizeof(dir), "%s", path) < 0) {
		util_snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	(void)unlink(tmp);	/* left by a run killed while writing */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		util_snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
		return -1;
	}
	/* Same owner as the ring it replaces (the pool's master reads it). */
	if (stat(path, &st) == 0 && fchown(fd, st.st_uid, st.st_gid) != 0 && geteuid() == 0) {
		util_snprintf(err, errlen, "%s: cannot chown: %s", tmp, strerror(errno));
		goto out;
	}
	{
		static const char head[] =
		    "# Launcher master key ring (mode 0600).  Written by launcher-admin\n"
		    "# rotate-master-key; keep a copy with your backups: a value sealed\n"
		    "# with a key missing here cannot be read again.  Key 0 also signs\n"
		    "# sessions and keys the hashes of service keys and agent tokens.\n"
		    RING_HEADER "\n";

		if (write(fd, head, sizeof(head) - 1) != (ssize_t)(sizeof(head) - 1))
			goto werr;
	}
	for (int i = 0; i < k->nring; i++) {
		int n;

		sodium_bin2base64(b64, sizeof(b64), k->ring[i], CRYPTO_KEY_BYTES,
		    sodium_base64_VARIANT_ORIGINAL);
		n = util_snprintf(line, sizeof(line), "key %d %s\n", i, b64);
		if (n < 0 || write(fd, line, (size_t)n) != (ssize_t)n)
			goto werr;
	}
	if (fsync(fd) != 0)
		goto werr;
	if (close(fd) != 0) {
		fd = -1;
		goto werr;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		util_snprintf(err, errlen, "%s: cannot replace: %s", path, strerror(errno));
		goto out;
	}
	slash = strrchr(dir, '/');
	if (slash == NULL)
		util_snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		dir[slash - dir] = '\0';
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	rc = 0;
	goto out;
werr:
	util_snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
out:
	sodium_memzero(b64, sizeof(b64));
	sodium_memzero(line, sizeof(line));
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		(void)unlink(tmp);
	return rc;
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

int
crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
    unsigned char out[32])
{
	size_t n = 0;

	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen, data, len, out, 32, &n) ==
	    NULL || n != 32)
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

/* The tenant's sealing key under ring key id: keyed BLAKE2b of the tenant id under a subkey. */
static void
tenant_key(const struct crypto_keys *k, int id, const char *tenant_id,
    unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES])
{
	unsigned char            sub[CRYPTO_KEY_BYTES];
	crypto_generichash_state st;

	crypto_kdf_derive_from_key(sub, sizeof(sub), 3, "lnchrenc", k->ring[id]);
	crypto_generichash_init(&st, sub, sizeof(sub), crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	crypto_generichash_update(&st, (const unsigned char *)tenant_id, strlen(tenant_id));
	crypto_generichash_final(&st, key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	sodium_memzero(sub, sizeof(sub));
}

/* The longest key prefix: "$" + two digits + "$". */
#define KEY_PREFIX_MAX 4
_Static_assert(CRYPTO_RING_MAX <= 100, "key ids must fit two digits (KEY_PREFIX_MAX)");

int
crypto_sealed_key(const char *sealed)
{
	int id = 0;

	if (sealed[0] != '$')
		return 0;
	for (size_t i = 1; i < KEY_PREFIX_MAX; i++) {
		if (sealed[i] == '$')
			return i > 1 && !(i > 2 && sealed[1] == '0') && id > 0 ? id : -1;
		if (sealed[i] < '0' || sealed[i] > '9')
			return -1;
		id = id * 10 + (sealed[i] - '0');
	}
	return -1;
}

char *
crypto_seal(const struct crypto_keys *k, const char *tenant_id, const char *purpose,
    const void *plain, size_t len)
{
	unsigned char  key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES], *box;
	size_t         boxlen = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + len +
	    crypto_aead_xchacha20poly1305_ietf_ABYTES, b64len;
	int            id = k->nring - 1, pl = 0;
	char          *out = NULL;

	if (id < 0 || len > (size_t)64 << 20 || (box = malloc(boxlen)) == NULL)
		return NULL;
	tenant_key(k, id, tenant_id, key);
	randombytes_buf(box, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(box + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	    NULL, plain, len, (const unsigned char *)purpose, strlen(purpose), NULL, box, key);
	b64len = sodium_base64_encoded_len(boxlen, sodium_base64_VARIANT_ORIGINAL);
	if ((out = malloc(KEY_PREFIX_MAX + b64len)) != NULL) {
		if (id > 0 && (pl = util_snprintf(out, KEY_PREFIX_MAX + 1, "$%d$", id)) < 0) {
			free(out);
			out = NULL;
			goto wipe;
		}
		sodium_bin2base64(out + pl, b64len, box, boxlen, sodium_base64_VARIANT_ORIGINAL);
	}
wipe:
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
	int                 id = crypto_sealed_key(sealed);
	size_t              sl, boxlen;
	char               *plain = NULL;

	if (id < 0 || id >= k->nring)
		return NULL;
	if (id > 0)
		sealed = strchr(sealed + 1, '$') + 1;
	sl = strlen(sealed);
	if (sl > (size_t)100 << 20 || (box = malloc(sl + 1)) == NULL)
		return NULL;
	if (sodium_base642bin(box, sl, sealed, sl, NULL, &boxlen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    boxlen < crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES ||
	    (plain = malloc(boxlen + 1)) == NULL)
		goto out;
	tenant_key(k, id, tenant_id, key);
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

void
crypto_uuid_new(char *out)
{
	unsigned char b[16];
	char          h[33];

	randombytes_buf(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	util_hex(h, b, sizeof(b));
	(void)util_snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}
