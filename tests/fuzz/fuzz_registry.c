/* fuzz_registry.c - what the agent reads from a remote registry and from
 * image references (agent/registry.c): the WWW-Authenticate challenge of
 * GET /v2/ (a registry's bytes), then, for the same input taken as an image
 * reference, its registry host and whether a registry url serves it.
 * Beyond the sanitizers: every field of a parsed challenge is terminated and
 * within its buffer, a Bearer challenge has a realm, and a host is lower-case. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/registry.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reg_challenge c;
	char                *s = malloc(size + 1), host[300];

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (reg_challenge_parse(s, &c) == 0) {
		if (strlen(c.realm) >= sizeof(c.realm) || strlen(c.service) >= sizeof(c.service) ||
		    strlen(c.scope) >= sizeof(c.scope))
			abort();
		if (strcmp(c.scheme, "bearer") == 0 && c.realm[0] == '\0')
			abort();
		if (strcmp(c.scheme, "bearer") != 0 && strcmp(c.scheme, "basic") != 0)
			abort();
	}
	if (reg_image_host(s, host, sizeof(host)) == 0)
		for (const char *p = host; *p; p++)
			if (isupper((unsigned char)*p))
				abort();
	(void)reg_serves("https://ghcr.io", s);
	(void)reg_serves(s, "ghcr.io/org/app:1");
	free(s);
	return 0;
}
