/*
 * test_crypto.c - JWT verification refuses alg none, other algorithms,
 * tampering, expiry and wrong issuers; tokens and hashes behave; the
 * master key ring is parsed strictly and rotation keeps every value open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/crypto.h"
#include "unit.h"

static void
b64(const char *in, char *out, size_t outlen)
{
	sodium_bin2base64(out, outlen, (const unsigned char *)in, strlen(in),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* header.payload.sig with sig = HMAC(key) of the first two parts. */
static void
forge(const unsigned char *key, size_t keylen, const char *hdr, const char *pay,
    char *out, size_t outlen)
{
	char          h[512], p[512], s[128], hp[1100];
	unsigned char mac[32];
	crypto_auth_hmacsha256_state st;

	b64(hdr, h, sizeof(h));
	b64(pay, p, sizeof(p));
	if (snprintf(hp, sizeof(hp), "%s.%s", h, p) < 0)
		abort();
	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (unsigned char *)hp, strlen(hp));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2base64(s, sizeof(s), mac, sizeof(mac), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (snprintf(out, outlen, "%s.%s", hp, s) < 0)
		abort();
}

/* Parses text as a ring; 0 on success, else err holds the reason. */
static int
parse(struct crypto_keys *k, const char *text, char *err, size_t errlen)
{
	err[0] = '\0';
	return crypto_keys_parse(k, text, strlen(text), "ring", err, errlen);
}

static void
test_ring(const struct crypto_keys *k0)
{
	struct crypto_keys r, back;
	char               err[256], b0[64], b1[64], text[512], path[] = "/tmp/lnchr-ring-XXXXXX";
	char              *s0, *s1, *p;
	unsigned char      other[32];
	struct stat        st;
	int                fd;
	static const struct {
		const char *text, *why;
	} bad[] = {
		{"", "32 bytes or be a key ring"},
		{"launcher-keyring 1\n", "holds no key"},
		{"# only a comment, no header, long enough to pass the size\n", "starts with"},
		{"launcher-keyring 2\nkey 0 AAAA\n", "line 1: a key ring starts with"},
		{"launcher-keyring 1\nkey 1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", "key 1 where key 0"},
		{"launcher-keyring 1\nkey 0 AAAA\n", "line 2: key 0 is not the base64 of 32 bytes"},
		{"launcher-keyring 1\nkey x AAAA\n", "line 2: the key id must be a number"},
		{"launcher-keyring 1\nkeys 0 AAAA\n", "line 2: expected"},
		{"launcher-keyring 1\nkey 0 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
		 "key 0 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", "line 3: key 0 where key 1"},
		{"launcher-keyring 1\nkey 0 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\ngarbage\n", "line 3: expected"},
	};

	/* A 32-byte file is key 0 alone, as before rotation existed. */
	CHECK(k0->nring == 1, "the raw 32-byte file is a ring of one key");
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int rc = parse(&r, bad[i].text, err, sizeof(err));

		CHECK(rc != 0 && strstr(err, bad[i].why) != NULL && strncmp(err, "ring: ", 6) == 0,
		    bad[i].why);
		if (rc == 0 || strstr(err, bad[i].why) == NULL)
			printf("  got: %s\n", err);
	}
	/* 33 keys: one too many. */
	{
		char big[4096];
		int  n = snprintf(big, sizeof(big), "launcher-keyring 1\n");

		for (int i = 0; i <= CRYPTO_RING_MAX; i++)
			n += snprintf(big + n, sizeof(big) - (size_t)n,
			    "key %d AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", i);
		CHECK(parse(&r, big, err, sizeof(err)) != 0 && strstr(err, "more than 32 keys") != NULL,
		    "a ring of 33 keys is refused");
	}
	/* Key 0 in text form derives the same JWT and hash keys as the raw file. */
	sodium_bin2base64(b0, sizeof(b0), k0->ring[0], 32, sodium_base64_VARIANT_ORIGINAL);
	randombytes_buf(other, sizeof(other));
	sodium_bin2base64(b1, sizeof(b1), other, 32, sodium_base64_VARIANT_ORIGINAL);
	snprintf(text, sizeof(text), "# comment\n\nlauncher-keyring 1\r\nkey 0 %s\nkey 1 %s  \n", b0, b1);
	CHECK(parse(&r, text, err, sizeof(err)) == 0 && r.nring == 2, "a ring of two keys parses");
	CHECK(memcmp(r.jwt, k0->jwt, 32) == 0 && memcmp(r.hash, k0->hash, 32) == 0,
	    "JWT and hash keys stay those of key 0");
	/* Values: key 0's have no prefix, the newest key seals with "$1$". */
	s0 = crypto_seal(k0, "t", "env", "old", 3);
	s1 = crypto_seal(&r, "t", "env", "new", 3);
	CHECK(s0[0] != '$' && crypto_sealed_key(s0) == 0, "key 0 values carry no prefix");
	CHECK(strncmp(s1, "$1$", 3) == 0 && crypto_sealed_key(s1) == 1, "the newest key's id prefixes");
	p = crypto_open(&r, "t", "env", s0, NULL);
	CHECK(p != NULL && strcmp(p, "old") == 0, "the ring opens key 0's value");
	free(p);
	p = crypto_open(&r, "t", "env", s1, NULL);
	CHECK(p != NULL && strcmp(p, "new") == 0, "the ring opens the newest key's value");
	free(p);
	CHECK(crypto_open(k0, "t", "env", s1, NULL) == NULL, "the old ring cannot open a newer key's value");
	s1[1] = '0';
	CHECK(crypto_sealed_key(s1) == -1 && crypto_open(&r, "t", "env", s1, NULL) == NULL,
	    "key id 0 in a prefix is malformed");
	CHECK(crypto_sealed_key("$12") == -1 && crypto_sealed_key("$$abc") == -1 &&
	    crypto_sealed_key("$123$x") == -1 && crypto_sealed_key("$01$x") == -1 &&
	    crypto_sealed_key("$31$x") == 31, "key prefixes are parsed strictly");
	free(s0);
	free(s1);
	/* Rotation's file: add a key, write it, read it back (mode 0600). */
	fd = mkstemp(path);
	CHECK(fd >= 0 && write(fd, k0->ring[0], 32) == 32, "write a raw key");
	close(fd);
	CHECK(crypto_keys_load(&back, path, err, sizeof(err)) == 0 && back.nring == 1, "raw file loads");
	CHECK(crypto_ring_add(&back, err, sizeof(err)) == 0 && back.nring == 2, "add a key");
	CHECK(crypto_ring_write(&back, path, err, sizeof(err)) == 0, "write the ring");
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "the ring is mode 0600");
	CHECK(crypto_keys_load(&r, path, err, sizeof(err)) == 0 && r.nring == 2 &&
	    memcmp(r.ring, back.ring, sizeof(r.ring[0]) * 2) == 0 && memcmp(r.jwt, k0->jwt, 32) == 0,
	    "the written ring reads back, key 0 unchanged");
	back.nring = CRYPTO_RING_MAX;
	CHECK(crypto_ring_add(&back, err, sizeof(err)) != 0, "a full ring takes no key");
	unlink(path);
	crypto_keys_wipe(&r);
	crypto_keys_wipe(&back);
}

int
main(void)
{
	struct crypto_keys k, other;
	struct jwt_claims  c, got;
	char               path[] = "/tmp/lnchr-key-XXXXXX", tok[2048], bad[2048], err[256];
	unsigned char      raw[32], h1[32], h2[32];
	int                fd;
	int64_t            now = (int64_t)time(NULL);
	char               pay[512];

	if (sodium_init() < 0)
		return 1;
	randombytes_buf(raw, sizeof(raw));
	fd = mkstemp(path);
	if (fd < 0 || write(fd, raw, sizeof(raw)) != (ssize_t)sizeof(raw))
		return 1;
	close(fd);
	CHECK(crypto_keys_load(&k, path, err, sizeof(err)) == 0, "load 0600 key");
	chmod(path, 0644);
	CHECK(crypto_keys_load(&other, path, err, sizeof(err)) != 0, "refuse world-readable key");
	unlink(path);
	memcpy(&other, &k, sizeof(k));
	other.jwt[0] ^= 1;

	memset(&c, 0, sizeof(c));
	snprintf(c.sub, sizeof(c.sub), "%s", "550e8400-e29b-41d4-a716-446655440000") < 0 ? abort() : (void)0;
	memcpy(c.tid, c.sub, sizeof(c.tid));
	memcpy(c.jti, c.sub, sizeof(c.jti));
	memcpy(c.role, "superadmin", 11);
	c.iat = now;
	c.exp = now + 3600;
	CHECK(crypto_jwt_sign(&k, "launcher", &c, tok, sizeof(tok)) == 0, "sign");
	CHECK(crypto_jwt_verify(&k, "launcher", tok, now, &got) == 0, "verify good token");
	CHECK(strcmp(got.sub, c.sub) == 0 && got.exp == c.exp, "claims round-trip");
	/* The session proof: keyed by the user's secret, bound to the jti. */
	{
		const char *secret = "5c1b1a3e-8f0e-4a53-9a47-2f4e9a0c7d11";
		char        p1[CRYPTO_SESSION_PROOF_LEN + 1], p2[CRYPTO_SESSION_PROOF_LEN + 1];

		CHECK(crypto_session_proof(secret, c.jti, p1) == 0 && strlen(p1) == CRYPTO_SESSION_PROOF_LEN,
		    "session proof shape");
		CHECK(crypto_session_proof_ok(secret, c.jti, p1), "session proof accepted");
		CHECK(!crypto_session_proof_ok(secret, "650e8400-e29b-41d4-a716-446655440000", p1),
		    "session proof of another jti refused");
		CHECK(!crypto_session_proof_ok("6c1b1a3e-8f0e-4a53-9a47-2f4e9a0c7d11", c.jti, p1),
		    "session proof under another secret refused");
		CHECK(!crypto_session_proof_ok(secret, c.jti, ""), "empty session proof refused");
		CHECK(crypto_session_proof("short", c.jti, p2) != 0, "too short a secret refused");
		memcpy(c.sk, p1, sizeof(p1));
		c.gen = 7;
		CHECK(crypto_jwt_sign(&k, "launcher", &c, tok, sizeof(tok)) == 0 &&
		    crypto_jwt_verify(&k, "launcher", tok, now, &got) == 0 &&
		    strcmp(got.sk, p1) == 0 && got.gen == 7, "sk and gen round-trip");
	}
	CHECK(crypto_jwt_verify(&other, "launcher", tok, now, &got) != 0, "other key refused");
	CHECK(crypto_jwt_verify(&k, "someone-else", tok, now, &got) != 0, "wrong issuer refused");
	CHECK(crypto_jwt_verify(&k, "launcher", tok, now + 7200, &got) != 0, "expired refused");
	memcpy(bad, tok, sizeof(bad));
	bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'A' ? 'B' : 'A';
	CHECK(crypto_jwt_verify(&k, "launcher", bad, now, &got) != 0, "tampered signature refused");

	snprintf(pay, sizeof(pay),
	    "{\"iss\":\"launcher\",\"sub\":\"%s\",\"tid\":\"%s\",\"jti\":\"%s\",\"role\":\"superadmin\",\"iat\":%lld,\"exp\":%lld,\"sk\":\"x\"}",
	    c.sub, c.tid, c.jti, (long long)now, (long long)now + 3600) < 0 ? abort() : (void)0;
	/* alg none with an empty signature */
	{
		char h[256], p[1024];

		b64("{\"alg\":\"none\",\"typ\":\"JWT\"}", h, sizeof(h));
		b64(pay, p, sizeof(p));
		snprintf(bad, sizeof(bad), "%s.%s.", h, p) < 0 ? abort() : (void)0;
		CHECK(crypto_jwt_verify(&k, "launcher", bad, now, &got) != 0, "alg none refused");
	}
	/* HS/RS confusion: an RS256 header signed with HMAC of our key */
	forge(k.jwt, sizeof(k.jwt), "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", pay, bad, sizeof(bad));
	CHECK(crypto_jwt_verify(&k, "launcher", bad, now, &got) != 0, "RS256 header refused");
	forge(k.jwt, sizeof(k.jwt), "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", pay, bad, sizeof(bad));
	CHECK(crypto_jwt_verify(&k, "launcher", bad, now, &got) != 0, "HS512 header refused");
	/* the same forge with HS256 and our key is accepted: the forge is right */
	forge(k.jwt, sizeof(k.jwt), "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", pay, bad, sizeof(bad));
	CHECK(crypto_jwt_verify(&k, "launcher", bad, now, &got) == 0, "forged HS256 with the real key passes (control)");
	/* a token without the session proof claim is refused */
	{
		char nosk[512];

		snprintf(nosk, sizeof(nosk), "%.*s}", (int)(strstr(pay, ",\"sk\"") - pay), pay) < 0 ? abort() : (void)0;
		forge(k.jwt, sizeof(k.jwt), "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", nosk, bad, sizeof(bad));
		CHECK(crypto_jwt_verify(&k, "launcher", bad, now, &got) != 0, "token without sk refused");
	}
	CHECK(crypto_jwt_verify(&k, "launcher", "a.b", now, &got) != 0, "two segments refused");
	CHECK(crypto_jwt_verify(&k, "launcher", "a.b.c.d", now, &got) != 0, "four segments refused");
	CHECK(crypto_jwt_verify(&k, "launcher", "", now, &got) != 0, "empty refused");

	CHECK(crypto_token(tok, sizeof(tok), "lnchr_sk_", 43) == 0 && strlen(tok) == 52 &&
	    strncmp(tok, "lnchr_sk_", 9) == 0, "service key shape");
	crypto_keyed_hash(&k, "service-key", "abc", 3, h1);
	crypto_keyed_hash(&k, "login-code", "abc", 3, h2);
	CHECK(memcmp(h1, h2, 32) != 0, "purposes separate hashes");
	crypto_keyed_hash(&other, "service-key", "abc", 3, h2);
	CHECK(memcmp(h1, h2, 32) == 0, "hash key independent of the JWT key");
	{
		char hash[crypto_pwhash_STRBYTES];

		CHECK(crypto_password_hash("correct horse", "min", hash, sizeof(hash)) == 0, "argon2id hash");
		CHECK(strncmp(hash, "$argon2id$", 10) == 0, "argon2id format");
		CHECK(crypto_password_verify(hash, "correct horse"), "argon2id verify");
		CHECK(!crypto_password_verify(hash, "correct horsE"), "argon2id wrong password");
	}
	{
		const char *t1 = "550e8400-e29b-41d4-a716-446655440000";
		const char *t2 = "650e8400-e29b-41d4-a716-446655440000";
		char       *sealed = crypto_seal(&k, t1, "env", "DATABASE_URL=postgres://u:p@h/d", 31);
		char       *again = crypto_seal(&k, t1, "env", "DATABASE_URL=postgres://u:p@h/d", 31);
		char       *plain;
		size_t      n = 0;

		CHECK(sealed != NULL && strstr(sealed, "postgres") == NULL, "sealed hides the value");
		CHECK(again != NULL && strcmp(sealed, again) != 0, "a fresh nonce each time");
		plain = crypto_open(&k, t1, "env", sealed, &n);
		CHECK(plain != NULL && n == 31 && strcmp(plain, "DATABASE_URL=postgres://u:p@h/d") == 0,
		    "round trip");
		free(plain);
		CHECK(crypto_open(&k, t2, "env", sealed, &n) == NULL, "another tenant cannot open it");
		CHECK(crypto_open(&k, t1, "registry", sealed, &n) == NULL, "another field cannot open it");
		sealed[10] = sealed[10] == 'A' ? 'B' : 'A';
		CHECK(crypto_open(&k, t1, "env", sealed, &n) == NULL, "tampering is detected");
		CHECK(crypto_open(&k, t1, "env", "not base64 !!", &n) == NULL, "garbage is refused");
		free(sealed);
		free(again);
	}
	{
		struct crypto_keys k2;

		memcpy(&k2, &k, sizeof(k));
		k2.ring[0][0] ^= 1;
		{
			char *s2 = crypto_seal(&k, "t", "env", "x", 1);

			CHECK(crypto_open(&k2, "t", "env", s2, NULL) == NULL, "another master key cannot open it");
			free(s2);
		}
	}
	test_ring(&k);
	return unit_done("crypto");
}
