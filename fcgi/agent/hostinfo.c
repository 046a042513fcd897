/*
 * hostinfo.c - /proc parsers and host fact collection (see hostinfo.h).
 */
#include "hostinfo.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../core/buf.h"
#include "../core/util.h"

/* Unsigned decimal at *p after optional blanks; advances *p. */
static bool
next_u64(const char **p, uint64_t *v)
{
	const char        *s = *p;
	char              *end;
	unsigned long long n;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0)
		return false;
	*v = n;
	*p = end;
	return true;
}

static bool
next_double(const char **p, double *v)
{
	const char *s = *p;
	char       *end;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	*v = strtod(s, &end);
	if (errno != 0 || end == s)
		return false;
	*p = end;
	return true;
}

/* The start of the line after p (or the terminating NUL). */
static const char *
next_line(const char *p)
{
	const char *nl = strchr(p, '\n');

	return nl != NULL ? nl + 1 : p + strlen(p);
}

int
hostinfo_parse_stat(const char *text, struct cpu_times *out)
{
	const char *p;
	uint64_t    v[8] = {0}, total = 0;
	int         n;

	/* The aggregate line is "cpu " (per-core lines are "cpuN "). */
	for (p = text; *p; p = next_line(p))
		if (strncmp(p, "cpu ", 4) == 0)
			break;
	if (*p == '\0')
		return -1;
	p += 4;
	/* user nice system idle iowait irq softirq steal; guest time is
	 * already inside user and nice, so it is not added again. */
	for (n = 0; n < 8 && next_u64(&p, &v[n]); n++)
		;
	if (n < 4)
		return -1;
	for (int i = 0; i < n; i++) {
		if (total + v[i] < total)
			return -1;
		total += v[i];
	}
	out->total = total;
	out->busy = total - v[3] - v[4];	/* idle and iowait (0 when absent) */
	out->valid = true;
	return 0;
}

double
hostinfo_cpu_percent(const struct cpu_times *prev, const struct cpu_times *cur)
{
	uint64_t busy = cur->busy, total = cur->total;
	double   pct;

	if (!cur->valid)
		return 0.0;
	if (prev != NULL && prev->valid && cur->total > prev->total && cur->busy >= prev->busy) {
		busy -= prev->busy;
		total -= prev->total;
	}
	if (total == 0)
		return 0.0;
	pct = 100.0 * (double)busy / (double)total;
	return pct > 100.0 ? 100.0 : pct;
}

int
hostinfo_parse_meminfo(const char *text, uint64_t *total, uint64_t *avail)
{
	static const char *const keys[] = {"MemTotal:", "MemAvailable:", "MemFree:",
	    "Buffers:", "Cached:"};
	uint64_t    val[5] = {0};
	bool        seen[5] = {false};
	const char *p;

	for (p = text; *p; p = next_line(p)) {
		for (size_t k = 0; k < 5; k++) {
			size_t      n = strlen(keys[k]);
			const char *q = p + n;
			uint64_t    v;

			if (strncmp(p, keys[k], n) != 0 || !next_u64(&q, &v))
				continue;
			while (*q == ' ')
				q++;
			/* Values are in kB ("kB" is kibibytes here). */
			if (strncmp(q, "kB", 2) == 0) {
				if (v > UINT64_MAX / 1024)
					return -1;
				v *= 1024;
			}
			val[k] = v;
			seen[k] = true;
		}
	}
	if (!seen[0] || val[0] == 0)
		return -1;
	*total = val[0];
	if (seen[1])
		*avail = val[1];
	else if (seen[2])
		*avail = val[2] + val[3] + val[4];
	else
		return -1;
	if (*avail > *total)
		*avail = *total;
	return 0;
}

int
hostinfo_parse_loadavg(const char *text, double load[3])
{
	const char *p = text;

	for (int i = 0; i < 3; i++)
		if (!next_double(&p, &load[i]))
			return -1;
	return 0;
}

int
hostinfo_parse_netdev(const char *text, uint64_t *rx, uint64_t *tx)
{
	const char *p;
	uint64_t    sum_rx = 0, sum_tx = 0;

	for (p = text; *p; p = next_line(p)) {
		const char *colon = strchr(p, ':'), *nl = strchr(p, '\n'), *name = p, *q;
		uint64_t    f[9];
		size_t      n;
		int         i;

		/* Header lines have no ':' (their '|' separate column groups). */
		if (colon == NULL || (nl != NULL && colon > nl))
			continue;
		while (*name == ' ')
			name++;
		n = (size_t)(colon - name);
		if (n == 2 && strncmp(name, "lo", 2) == 0)
			continue;
		q = colon + 1;
		/* rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes ... */
		for (i = 0; i < 9 && next_u64(&q, &f[i]); i++)
			;
		if (i < 9)
			return -1;
		sum_rx += f[0];
		sum_tx += f[8];
	}
	/* A host with only loopback sums to zero: still an answer. */
	*rx = sum_rx;
	*tx = sum_tx;
	return 0;
}

int
hostinfo_parse_os_release(const char *text, char *out, size_t outlen)
{
	const char *p;

	for (p = text; *p; p = next_line(p)) {
		const char *v, *e;
		size_t      n;

		if (strncmp(p, "PRETTY_NAME=", 12) != 0)
			continue;
		v = p + 12;
		e = v + strcspn(v, "\n");
		if (e > v && (*v == '"' || *v == '\'') && e[-1] == *v && e - v >= 2) {
			v++;
			e--;
		}
		n = (size_t)(e - v);
		if (n == 0 || n >= outlen)
			return -1;
		memcpy(out, v, n);
		out[n] = '\0';
		return 0;
	}
	return -1;
}

int
hostinfo_read_file(struct arena *a, const char *path, size_t max, char **out)
{
	struct buf b;
	char       chunk[4096];
	ssize_t    n;
	int        fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return -1;
	buf_init(&b, a, 4096, max + 1);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		buf_add(&b, chunk, (size_t)n);
		if (!buf_ok(&b))
			goto out;
	}
	*out = b.data;
	rc = 0;
out:
	close(fd);
	return rc;
}

#define PROC_MAX ((size_t)1 << 20)

void
hostinfo_collect(struct arena *a, struct cpu_times *prev, struct host_info *h)
{
	struct utsname   u;
	struct statvfs   vfs;
	struct cpu_times cur = {0};
	char            *text;
	long             ncpu;

	memset(h, 0, sizeof(*h));
	if (gethostname(h->hostname, sizeof(h->hostname)) != 0)
		h->hostname[0] = '\0';
	h->hostname[sizeof(h->hostname) - 1] = '\0';
	if (uname(&u) == 0) {
		util_snprintf(h->kernel, sizeof(h->kernel), "%s", u.release);
		util_snprintf(h->arch, sizeof(h->arch), "%s", u.machine);
		util_snprintf(h->os, sizeof(h->os), "%s", u.sysname);
	}
	if (hostinfo_read_file(a, "/etc/os-release", 64 * 1024, &text) == 0 ||
	    hostinfo_read_file(a, "/usr/lib/os-release", 64 * 1024, &text) == 0)
		(void)hostinfo_parse_os_release(text, h->os, sizeof(h->os));
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	h->cpus = ncpu > 0 ? ncpu : 0;
	if (hostinfo_read_file(a, "/proc/stat", PROC_MAX, &text) == 0 &&
	    hostinfo_parse_stat(text, &cur) == 0) {
		h->cpu_percent = hostinfo_cpu_percent(prev, &cur);
		h->have_cpu = true;
		*prev = cur;
	}
	if (hostinfo_read_file(a, "/proc/meminfo", PROC_MAX, &text) == 0 &&
	    hostinfo_parse_meminfo(text, &h->mem_total, &h->mem_available) == 0)
		h->have_mem = true;
	if (statvfs("/", &vfs) == 0 && vfs.f_blocks > 0) {
		h->disk_total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
		h->disk_used = (uint64_t)(vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize;
		h->disk_avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		h->have_disk = true;
	}
	if (hostinfo_read_file(a, "/proc/loadavg", 4096, &text) == 0 &&
	    hostinfo_parse_loadavg(text, h->load) == 0)
		h->have_load = true;
	if (hostinfo_read_file(a, "/proc/net/dev", PROC_MAX, &text) == 0 &&
	    hostinfo_parse_netdev(text, &h->net_rx, &h->net_tx) == 0)
		h->have_net = true;
}

cJSON *
hostinfo_json(const struct host_info *h)
{
	cJSON *o = cJSON_CreateObject();
	bool   ok;

	if (o == NULL)
		return NULL;
	/* cpus, memory and disk are always sent (the plane requires them): an
	 * unreadable one is 0 (cpus at least 1); the others are left out. */
	ok = cJSON_AddStringToObject(o, "hostname", h->hostname) != NULL &&
	    cJSON_AddStringToObject(o, "os", h->os) != NULL &&
	    cJSON_AddStringToObject(o, "kernel", h->kernel) != NULL &&
	    cJSON_AddStringToObject(o, "arch", h->arch) != NULL &&
	    cJSON_AddNumberToObject(o, "cpus", (double)(h->cpus > 0 ? h->cpus : 1)) != NULL &&
	    cJSON_AddNumberToObject(o, "memory_total_bytes", (double)h->mem_total) != NULL &&
	    cJSON_AddNumberToObject(o, "memory_used_bytes",
	    (double)(h->mem_total - h->mem_available)) != NULL &&
	    cJSON_AddNumberToObject(o, "disk_total_bytes", (double)h->disk_total) != NULL &&
	    cJSON_AddNumberToObject(o, "disk_used_bytes", (double)h->disk_used) != NULL;
	if (ok && h->have_cpu)
		ok = cJSON_AddNumberToObject(o, "cpu_percent",
		    (double)(int64_t)(h->cpu_percent * 100.0 + 0.5) / 100.0) != NULL;
	if (ok && h->have_load)
		ok = cJSON_AddNumberToObject(o, "load1", h->load[0]) != NULL &&
		    cJSON_AddNumberToObject(o, "load5", h->load[1]) != NULL &&
		    cJSON_AddNumberToObject(o, "load15", h->load[2]) != NULL;
	if (ok && h->have_net)
		ok = cJSON_AddNumberToObject(o, "net_rx_bytes", (double)h->net_rx) != NULL &&
		    cJSON_AddNumberToObject(o, "net_tx_bytes", (double)h->net_tx) != NULL;
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}
