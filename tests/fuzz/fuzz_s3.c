/* fuzz_s3.c - the object store layer's parsers of untrusted bytes: an S3
 * server's error document (s3_error_text, any bytes, not NUL-terminated),
 * a ListObjectsV2 answer (s3_list_parse: every key it reports is non-empty
 * and NUL-terminated, never more objects than <Contents> elements) and a
 * destination object (objstore_dest_check on any JSON, then
 * objstore_dest_from_json and the endpoint/key derivations it allows).
 * Beyond the sanitizers: every output is NUL-terminated within its size and
 * has no control characters; a destination the check accepts (with keys)
 * is accepted by dest_from_json and has an endpoint. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/objstore.h"
#include "core/s3.h"

static int
on_object(void *ud, const char *key, uint64_t size, const char *etag, const char *mtime)
{
	size_t *n = ud;

	if (key[0] == '\0' || strlen(etag) > 200 || strlen(mtime) > 200)
		abort();
	(*n)++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[96], err[256], ep[1100], key[1200];
	char *text = malloc(size + 1);
	const char *msg;
	cJSON *j;

	if (text == NULL)
		return 0;
	s3_error_text(403, (const char *)data, size, out, sizeof(out));
	if (memchr(out, '\0', sizeof(out)) == NULL)
		abort();
	for (const char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			abort();
	{
		size_t objects = 0, contents = 0;
		bool truncated;
		char lerr[128];

		(void)s3_list_parse((const char *)data, size, on_object, &objects, &truncated, lerr,
		                    sizeof(lerr));
		for (const uint8_t *p = data; (p = memmem(p, size - (size_t)(p - data), "<Contents>", 10)) != NULL; p++)
			contents++;
		if (objects > contents)
			abort();
	}
	memcpy(text, data, size);
	text[size] = '\0';
	j = cJSON_Parse(text);
	if (j != NULL && cJSON_IsObject(j) && objstore_dest_check(j, &msg) == NULL) {
		struct objstore_dest d;
		const cJSON *prov = cJSON_GetObjectItemCaseSensitive(j, "provider");

		if (strcmp(prov->valuestring, "local") != 0) {
			cJSON_DeleteItemFromObjectCaseSensitive(j, "access_key");
			cJSON_DeleteItemFromObjectCaseSensitive(j, "secret_key");
			cJSON_AddStringToObject(j, "access_key", "AK");
			cJSON_AddStringToObject(j, "secret_key", "SK");
			if (objstore_dest_from_json(j, NULL, NULL, &d, err, sizeof(err)) != 0 ||
			    objstore_endpoint(&d, ep, sizeof(ep)) != 0)
				abort();
			(void)objstore_full_key(&d, text, key, sizeof(key));
		}
	}
	cJSON_Delete(j);
	free(text);
	return 0;
}
