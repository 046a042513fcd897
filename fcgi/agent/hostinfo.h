/*
 * hostinfo.h - host facts and metrics for the heartbeat, read from /proc,
 * statvfs("/"), uname and sysconf.
 *
 * The parsers take the text of a /proc file and are pure (unit-tested on
 * fixtures); hostinfo_collect() reads the real files.  A fact that cannot
 * be read is left out of the heartbeat rather than sent as zero, except
 * cpus, memory and disk, which the plane requires (0 then; cpus at least 1).
 */
#ifndef LAUNCHER_AGENT_HOSTINFO_H
#define LAUNCHER_AGENT_HOSTINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../core/arena.h"

/* Aggregate CPU jiffies of the first "cpu" line of /proc/stat. */
struct cpu_times {
	bool     valid;
	uint64_t busy, total;
};

struct host_info {
	char     hostname[256];
	char     os[128];		/* os-release PRETTY_NAME, else uname sysname */
	char     kernel[128];		/* uname release */
	char     arch[64];		/* uname machine */
	int64_t  cpus;
	bool     have_cpu, have_mem, have_disk, have_load, have_net;
	double   cpu_percent;
	uint64_t mem_total, mem_available;
	uint64_t disk_total, disk_used, disk_avail;
	double   load[3];
	uint64_t net_rx, net_tx;
};

/* /proc/stat: fills *out from the aggregate "cpu" line; 0 or -1. */
int    hostinfo_parse_stat(const char *text, struct cpu_times *out);
/*
 * Busy share (0..100) of all cores between prev and cur; with no valid
 * prev (first sample, counters went back) the share since boot.
 */
double hostinfo_cpu_percent(const struct cpu_times *prev, const struct cpu_times *cur);
/*
 * /proc/meminfo: MemTotal and MemAvailable in bytes (MemAvailable falls
 * back to MemFree + Buffers + Cached on kernels without it); 0 or -1.
 */
int    hostinfo_parse_meminfo(const char *text, uint64_t *total, uint64_t *avail);
/* /proc/loadavg: the three load averages; 0 or -1. */
int    hostinfo_parse_loadavg(const char *text, double load[3]);
/* /proc/net/dev: received and sent bytes summed over non-loopback interfaces; 0 or -1. */
int    hostinfo_parse_netdev(const char *text, uint64_t *rx, uint64_t *tx);
/* /etc/os-release: PRETTY_NAME unquoted into out; 0 or -1 when absent. */
int    hostinfo_parse_os_release(const char *text, char *out, size_t outlen);

/*
 * Reads a whole (small, /proc) file into the arena, at most max bytes;
 * *out is NUL-terminated.  Returns 0 or -1 (missing, unreadable, too big).
 */
int    hostinfo_read_file(struct arena *a, const char *path, size_t max, char **out);
/*
 * Collects everything into *h.  prev carries the CPU sample between calls
 * (zero it before the first); it is updated.
 */
void   hostinfo_collect(struct arena *a, struct cpu_times *prev, struct host_info *h);
/* The heartbeat's "host" object (caller frees with cJSON_Delete); NULL on OOM. */
cJSON *hostinfo_json(const struct host_info *h);

#endif
