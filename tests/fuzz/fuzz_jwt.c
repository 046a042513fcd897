/* fuzz_jwt.c - crypto_jwt_verify on arbitrary tokens: never crashes, and
 * never accepts what it did not sign (the key here signs nothing). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crypto_keys k;
	struct jwt_claims  c;
	char              *tok = malloc(size + 1);

	memset(&k, 3, sizeof(k));
	memcpy(tok, data, size);
	tok[size] = '\0';
	if (crypto_jwt_verify(&k, "launcher", tok, 1700000000, &c) == 0)
		abort();	/* a forged token passed */
	free(tok);
	return 0;
}
