/*
 * backup_dest.c - the local destinations' root and the job kind
 * backup.dest_test (see backup_dest.h); the work is core/objstore.c's.
 */
#include "backup_dest.h"

#include "../core/objstore.h"
#include "../core/util.h"

int
backup_local_root_path(const struct agent_conf *conf, char *buf, size_t n)
{
	if (conf->backup_local_root[0] != '\0')
		return util_snprintf(buf, n, "%s", conf->backup_local_root) < 0 ? -1 : 0;
	return util_snprintf(buf, n, "%s/backups", conf->state_dir) < 0 ? -1 : 0;
}

int
backup_dest_test(const struct agent_conf *conf, const cJSON *payload, cJSON **result,
    char *err, size_t errlen)
{
	const cJSON *dest = cJSON_GetObjectItemCaseSensitive(payload, "destination");
	const cJSON *tenant = cJSON_GetObjectItemCaseSensitive(payload, "tenant_id");
	char         root[AGENT_STR_MAX + 16];

	if (backup_local_root_path(conf, root, sizeof(root)) != 0) {
		util_snprintf(err, errlen, "backup_local_root too long");
		return -1;
	}
	*result = objstore_test_json(dest, root, cJSON_IsString(tenant) ? tenant->valuestring : NULL);
	if (*result == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}
