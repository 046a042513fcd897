/*
 * compose_host.c - the HostConfig members a compose file's "host" may
 * carry (compose.h): apart from compose.c so that the agent, which
 * checks its jobs against it, links it without the YAML reader.
 */
#include "compose.h"

#include <string.h>

static const char *const host_members[] = {"Privileged", "NetworkMode", "CapAdd", "Devices",
    "PidMode", "IpcMode", "UsernsMode", "SecurityOpt", "Sysctls", "Binds", NULL};

bool
compose_host_member_ok(const char *name)
{
	for (size_t i = 0; host_members[i] != NULL; i++)
		if (name != NULL && strcmp(name, host_members[i]) == 0)
			return true;
	return false;
}
