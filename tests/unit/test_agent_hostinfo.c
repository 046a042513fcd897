/* test_agent_hostinfo.c - the agent's /proc parsers on fixture text: stat
 * (CPU share between two samples), meminfo, loadavg, net/dev, os-release,
 * and the heartbeat's host object. */
#include <string.h>

#include "agent/hostinfo.h"
#include "unit.h"

#define NEAR(a, b) ((a) - (b) < 1e-9 && (b) - (a) < 1e-9)

static const char stat_a[] =
    "cpu  1000 50 500 8000 400 0 50 0 0 0\n"
    "cpu0 500 25 250 4000 200 0 25 0 0 0\n"
    "cpu1 500 25 250 4000 200 0 25 0 0 0\n"
    "intr 12345 0 0\nctxt 999\nbtime 1700000000\n";
/* +300 busy (user 200, system 100), +700 idle: 30 % busy. */
static const char stat_b[] =
    "cpu  1200 50 600 8700 400 0 50 0 0 0\n"
    "cpu0 600 25 300 4350 200 0 25 0 0 0\n";

static const char meminfo[] =
    "MemTotal:       16316412 kB\n"
    "MemFree:         1024000 kB\n"
    "MemAvailable:    8158206 kB\n"
    "Buffers:          100000 kB\n"
    "Cached:          2000000 kB\n"
    "SwapCached:            0 kB\n"
    "HugePages_Total:       0\n";
/* An old kernel without MemAvailable. */
static const char meminfo_old[] =
    "MemTotal:        4000000 kB\nMemFree:          500000 kB\n"
    "Buffers:          100000 kB\nCached:           400000 kB\n";

static const char netdev[] =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
    "    lo: 23199159599 26581523    0    0    0     0          0         0 23199159599 26581523    0    0    0     0       0          0\n"
    "  eth0: 1215645    2751    0    0    0     0          0         0   1782404    4324    0    0    0     0       0          0\n"
    "docker0:1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n"
    "  veth1a2b3c: 5 1 0 0 0 0 0 0 7 1 0 0 0 0 0 0\n";

int
main(void)
{
	struct cpu_times a = {0}, b = {0}, none = {0};
	struct host_info h;
	uint64_t         total = 0, avail = 0, rx = 0, tx = 0;
	double           load[3];
	char             os[128];
	cJSON           *o;

	CHECK(hostinfo_parse_stat(stat_a, &a) == 0 && a.valid, "stat parses");
	CHECK(a.total == 10000 && a.busy == 1600, "stat: total and busy exclude idle+iowait");
	CHECK(hostinfo_parse_stat(stat_b, &b) == 0, "second sample parses");
	CHECK(NEAR(hostinfo_cpu_percent(&a, &b), 30.0), "30% busy between samples");
	CHECK(NEAR(hostinfo_cpu_percent(&none, &a), 16.0), "first sample: since boot");
	CHECK(NEAR(hostinfo_cpu_percent(&b, &a), 16.0), "counters going back: since boot");
	CHECK(hostinfo_parse_stat("cpu0 1 2 3 4\n", &a) == -1, "no aggregate line");
	CHECK(hostinfo_parse_stat("cpu  1 2\n", &a) == -1, "too few fields");
	CHECK(hostinfo_parse_stat("", &a) == -1, "empty stat");
	CHECK(hostinfo_parse_stat("cpu  5 0 5 90\n", &a) == 0 && a.total == 100 && a.busy == 10,
	    "four-field (old kernel) line");

	CHECK(hostinfo_parse_meminfo(meminfo, &total, &avail) == 0, "meminfo parses");
	CHECK(total == 16316412ULL * 1024 && avail == 8158206ULL * 1024, "MemTotal/MemAvailable in bytes");
	CHECK(hostinfo_parse_meminfo(meminfo_old, &total, &avail) == 0 &&
	    avail == 1000000ULL * 1024, "fallback: MemFree + Buffers + Cached");
	CHECK(hostinfo_parse_meminfo("MemFree: 5 kB\n", &total, &avail) == -1, "no MemTotal");
	CHECK(hostinfo_parse_meminfo("MemTotal: 99999999999999999999 kB\n", &total, &avail) == -1,
	    "overflowing value");

	CHECK(hostinfo_parse_loadavg("0.52 0.58 1.59 1/467 12345\n", load) == 0 &&
	    load[0] == 0.52 && load[1] == 0.58 && load[2] == 1.59, "loadavg");
	CHECK(hostinfo_parse_loadavg("0.52\n", load) == -1, "short loadavg");
	CHECK(hostinfo_parse_loadavg("x y z", load) == -1, "garbage loadavg");

	CHECK(hostinfo_parse_netdev(netdev, &rx, &tx) == 0, "net/dev parses");
	CHECK(rx == 1215645 + 1000 + 5 && tx == 1782404 + 2000 + 7, "non-loopback sums");
	CHECK(hostinfo_parse_netdev("Inter-|\n face |\n    lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
	    &rx, &tx) == 0 && rx == 0 && tx == 0, "loopback only sums to zero");
	CHECK(hostinfo_parse_netdev("  eth0: 1 2 3\n", &rx, &tx) == -1, "truncated interface line");

	CHECK(hostinfo_parse_os_release("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
	    os, sizeof(os)) == 0 && strcmp(os, "Debian GNU/Linux 12 (bookworm)") == 0, "os-release quoted");
	CHECK(hostinfo_parse_os_release("PRETTY_NAME=Alpine\n", os, sizeof(os)) == 0 &&
	    strcmp(os, "Alpine") == 0, "os-release unquoted");
	CHECK(hostinfo_parse_os_release("NAME=x\n", os, sizeof(os)) == -1, "no PRETTY_NAME");

	/* The host object: required fields always there, others only when read. */
	memset(&h, 0, sizeof(h));
	o = hostinfo_json(&h);
	CHECK(o != NULL && cJSON_GetObjectItem(o, "cpus")->valuedouble == 1 &&
	    cJSON_GetObjectItem(o, "memory_total_bytes") != NULL &&
	    cJSON_GetObjectItem(o, "disk_used_bytes") != NULL &&
	    cJSON_GetObjectItem(o, "load1") == NULL && cJSON_GetObjectItem(o, "cpu_percent") == NULL,
	    "unread facts: required ones as 0/1, the rest left out");
	cJSON_Delete(o);
	{
		struct arena     ar;
		struct cpu_times prev = {0};

		arena_init(&ar, 4096);
		hostinfo_collect(&ar, &prev, &h);
		CHECK(h.have_cpu && h.have_mem && h.have_disk && h.have_load && h.have_net &&
		    h.cpus >= 1 && h.mem_total > h.mem_total - h.mem_available && h.os[0] &&
		    h.kernel[0], "this host's facts are all read");
		CHECK(prev.valid, "the CPU sample is kept for the next call");
		o = hostinfo_json(&h);
		CHECK(o != NULL && cJSON_GetArraySize(o) == 15, "full host object");
		cJSON_Delete(o);
		arena_free(&ar);
	}
	return unit_done("agent-hostinfo");
}
