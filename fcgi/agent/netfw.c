/*
 * netfw.c - the agent's isolation chains between project networks (see
 * netfw.h).  The pure functions build and read texts; netfw_sync() runs
 * iptables through spawn_argv (argv, never a shell).
 */
#include "netfw.h"

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cjson/cJSON.h>

#include "../core/log.h"
#include "../core/util.h"
#include "../core/spawn.h"
#include "engine.h"
#include "text.h"

bool
netfw_chain_ok(const char *chain)
{
	size_t n = strlen(chain);

	if (n == 0 || n > NETFW_CHAIN_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = chain[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* a.b.c.d/n with the host bits cleared into out; 0, or -1 when not IPv4 CIDR. */
static int
cidr_canon(const char *in, char *out, size_t outlen)
{
	char           addr[INET_ADDRSTRLEN], *end;
	const char    *slash = strchr(in, '/');
	struct in_addr ia;
	unsigned long  bits;
	uint32_t       mask;

	if (slash == NULL || (size_t)(slash - in) >= sizeof(addr) || slash[1] == '\0')
		return -1;
	memcpy(addr, in, (size_t)(slash - in));
	addr[slash - in] = '\0';
	bits = strtoul(slash + 1, &end, 10);
	if (*end != '\0' || bits > 32 || slash[1] < '0' || slash[1] > '9' ||
	    inet_pton(AF_INET, addr, &ia) != 1)
		return -1;
	mask = bits == 0 ? 0 : htonl(0xffffffffu << (32 - bits));
	ia.s_addr &= mask;
	if (inet_ntop(AF_INET, &ia, addr, sizeof(addr)) == NULL)
		return -1;
	return util_snprintf(out, outlen, "%s/%lu", addr, bits) < 0 ? -1 : 0;
}

bool
netfw_subnet_ok(const char *cidr)
{
	char canon[NETFW_SUBNET_MAX];

	return cidr_canon(cidr, canon, sizeof(canon)) == 0 && strcmp(canon, cidr) == 0;
}

static int
net_cmp(const void *a, const void *b)
{
	return strcmp(((const struct netfw_net *)a)->subnet, ((const struct netfw_net *)b)->subnet);
}

int
netfw_parse_networks(const char *json, struct netfw_net *out, size_t max)
{
	cJSON        *doc = cJSON_Parse(json);
	const cJSON  *net;
	size_t        n = 0, k = 0;

	if (!cJSON_IsArray(doc)) {
		cJSON_Delete(doc);
		return -1;
	}
	cJSON_ArrayForEach(net, doc) {
		const cJSON *labels = cJSON_GetObjectItemCaseSensitive(net, "Labels");
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(labels, "launcher.managed");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(net, "Name");
		const cJSON *ipam = cJSON_GetObjectItemCaseSensitive(net, "IPAM");
		const cJSON *cfg;

		if (!cJSON_IsString(m) || strcmp(m->valuestring, "1") != 0)
			continue;
		cJSON_ArrayForEach(cfg, cJSON_GetObjectItemCaseSensitive(ipam, "Config")) {
			const cJSON *sn = cJSON_GetObjectItemCaseSensitive(cfg, "Subnet");

			if (n == max)
				break;
			/* IPv6 subnets are not ours to guard here (see the README). */
			if (!cJSON_IsString(sn) ||
			    cidr_canon(sn->valuestring, out[n].subnet, sizeof(out[n].subnet)) != 0)
				continue;
			util_snprintf(out[n].name, sizeof(out[n].name), "%s",
			    cJSON_IsString(name) ? name->valuestring : "");
			n++;
		}
	}
	cJSON_Delete(doc);
	qsort(out, n, sizeof(*out), net_cmp);
	for (size_t i = 0; i < n; i++)	/* one subnet once */
		if (k == 0 || strcmp(out[k - 1].subnet, out[i].subnet) != 0)
			out[k++] = out[i];
	return (int)k;
}

/* The rules of both chains. */
static int
chain_rules(const char *chain, const struct netfw_net *nets, size_t n, char *out, size_t outlen,
    size_t *len)
{
	for (size_t i = 0; i < n; i++)
		if (text_put(out, outlen, len, "-A %s -s %s ! -d %s -j %s-2\n", chain, nets[i].subnet,
		    nets[i].subnet, chain) != 0)
			return -1;
	for (size_t i = 0; i < n; i++)
		if (text_put(out, outlen, len, "-A %s-2 -d %s -j DROP\n", chain, nets[i].subnet) != 0)
			return -1;
	return 0;
}

int
netfw_expected(const char *chain, const struct netfw_net *nets, size_t n, char *out,
    size_t outlen)
{
	size_t len = 0;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	if (text_put(out, outlen, &len, "-N %s\n-N %s-2\n", chain, chain) != 0)
		return -1;
	return chain_rules(chain, nets, n, out, outlen, &len);
}

int
netfw_restore_text(const char *chain, const struct netfw_net *nets, size_t n, int jumps,
    char *out, size_t outlen)
{
	size_t len = 0;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	/* With --noflush a chain line creates the chain, or empties it. */
	if (text_put(out, outlen, &len, "*filter\n:%s - [0:0]\n:%s-2 - [0:0]\n", chain, chain) != 0 ||
	    chain_rules(chain, nets, n, out, outlen, &len) != 0)
		return -1;
	for (int i = 0; i < jumps; i++)
		if (text_put(out, outlen, &len, "-D FORWARD -j %s\n", chain) != 0)
			return -1;
	return text_put(out, outlen, &len, "-I FORWARD 1 -j %s\nCOMMIT\n", chain);
}

/* Whether the line p (l bytes, no newline) is exactly s. */
static bool
line_is(const char *p, size_t l, const char *s)
{
	return l == strlen(s) && strncmp(p, s, l) == 0;
}

/* Whether listing has the line s. */
static bool
has_line(const char *listing, const char *s)
{
	for (const char *p = listing, *nl; *p != '\0'; p = *nl ? nl + 1 : nl) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p);
		if (line_is(p, (size_t)(nl - p), s))
			return true;
	}
	return false;
}

/*
 * Whether FORWARD's rule p (l bytes) is another agent's jump: exactly
 * "-A FORWARD -j X" where X is a chain name and X-2 exists (the pair that
 * agents of other stacks or installations on this host own, under names of
 * their own).  Their rules only drop, so ours after them is still ahead
 * of every engine ACCEPT; taking the first place from them would have each
 * agent take it back at its next check.
 */
static bool
peer_jump(const char *listing, const char *p, size_t l)
{
	static const char pre[] = "-A FORWARD -j ";
	char              x[NETFW_CHAIN_MAX + 1], want[NETFW_CHAIN_MAX + 8];
	size_t            n = sizeof(pre) - 1;

	if (l <= n || l - n > NETFW_CHAIN_MAX || strncmp(p, pre, n) != 0)
		return false;
	memcpy(x, p + n, l - n);
	x[l - n] = '\0';
	return netfw_chain_ok(x) && util_snprintf(want, sizeof(want), "-N %s-2", x) >= 0 &&
	    has_line(listing, want);
}

int
netfw_parse_listing(const char *chain, const char *listing, bool *first, int *jumps, char *ours,
    size_t outlen)
{
	char        jump[64], n1[64], n2[64], a[2][64];
	const char *p, *nl;
	bool        seen_forward = false, have1 = false, have2 = false;
	size_t      len = 0;
	int         rc = 0;

	*first = false;
	*jumps = 0;
	if (outlen == 0)
		return -1;
	ours[0] = '\0';
	util_snprintf(jump, sizeof(jump), "-A FORWARD -j %s", chain);
	util_snprintf(n1, sizeof(n1), "-N %s", chain);
	util_snprintf(n2, sizeof(n2), "-N %s-2", chain);
	util_snprintf(a[0], sizeof(a[0]), "-A %s ", chain);
	util_snprintf(a[1], sizeof(a[1]), "-A %s-2 ", chain);
	for (p = listing; *p != '\0'; p = *nl ? nl + 1 : nl) {
		size_t l;

		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p);
		l = (size_t)(nl - p);
		if (l > 11 && strncmp(p, "-A FORWARD ", 11) == 0) {
			bool mine = line_is(p, l, jump);

			if (!seen_forward && (mine || !peer_jump(listing, p, l))) {
				*first = mine;	/* only other agents' jumps before it */
				seen_forward = true;
			}
			*jumps += mine;
		}
		have1 = have1 || line_is(p, l, n1);
		have2 = have2 || line_is(p, l, n2);
	}
	/* In netfw_expected's order: the chains, then each one's rules in order. */
	if ((have1 && text_put(ours, outlen, &len, "%s\n", n1) != 0) ||
	    (have2 && text_put(ours, outlen, &len, "%s\n", n2) != 0))
		return -1;
	for (int c = 0; c < 2; c++)
		for (p = listing; *p != '\0'; p = *nl ? nl + 1 : nl) {
			if ((nl = strchr(p, '\n')) == NULL)
				nl = p + strlen(p);
			if (strncmp(p, a[c], strlen(a[c])) == 0 &&
			    text_put(ours, outlen, &len, "%.*s\n", (int)(nl - p), p) != 0)
				rc = -1;
		}
	return rc;
}

const char *
netfw_family(const char *version_text)
{
	if (strstr(version_text, "(nf_tables)") != NULL)
		return "nf_tables";
	if (strstr(version_text, "(legacy)") != NULL)
		return "legacy";
	return NULL;
}

/* ------------------------------------------------------------- runtime */

struct capture {
	char  *p;
	size_t cap, len;
	bool   over;
};

static void
buf_sink(void *ud, const char *p, size_t n)
{
	struct capture *b = ud;

	if (b->len + n >= b->cap) {
		b->over = true;
		n = b->cap - 1 - b->len;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* The first executable name found in PATH, then /usr/sbin and /sbin. */
static int
find_tool(const char *name, char *out, size_t outlen)
{
	const char *path = getenv("PATH");
	char        dirs[2048];
	char       *save = NULL, *d;

	util_snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/sbin", path != NULL ? path : "");
	for (d = strtok_r(dirs, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
		if (d[0] != '/')
			continue;	/* never a relative PATH entry */
		if (util_snprintf(out, outlen, "%s/%s", d, name) >= 0 && access(out, X_OK) == 0)
			return 0;
	}
	return -1;
}

/* Runs argv with input; out gets its output.  0 = exit 0, else -1 (err). */
static int
run(const char *const *argv, const char *input, struct capture *out, char *err, size_t errlen)
{
	int status = -1;

	out->len = 0;
	out->over = false;
	out->p[0] = '\0';
	if (spawn_argv(argv, NULL, input, NETFW_TIMEOUT_MS, &status, buf_sink, out, err, errlen) != 0)
		return -1;
	if (status != 0) {
		util_snprintf(err, errlen, "%s exited %d: %.300s", argv[1] != NULL ? argv[1] : argv[0],
		    status, out->p);
		return -1;
	}
	return 0;
}

/* The iptables whose family was asked, and the answer. */
static char family_of[512], family[16];

/* What this process last logged, so that a steady state is logged once. */
static enum netfw_state logged = (enum netfw_state)-1;

static enum netfw_state
finish(enum netfw_state st, const char *msg, char *detail, size_t detlen)
{
	if (detail != NULL)
		util_snprintf(detail, detlen, "%s", msg);
	if (st != logged && st != NETFW_ENFORCED)
		log_warn("network isolation: %s", msg);
	logged = st;
	return st;
}

#define NETFW_BUF (256 * 1024)

/* netfw_sync's work, with its buffers (NETFW_BUF bytes each). */
static enum netfw_state
sync_in(struct xfer *x, struct arena *a, const char *chain, bool *changed, char *detail,
    size_t detlen, const char *ipt, const char *rst, char *outp, char *want, char *have,
    char *text)
{
	static struct netfw_net nets[NETFW_NETS_MAX];
	struct xfer_resp        r;
	struct capture          out = {.p = outp, .cap = NETFW_BUF};
	char                    err[700], msg[1024];
	bool                    first = false;
	int                     n, jumps = 0;
	const size_t            cap = NETFW_BUF;

	/* Which iptables (nf_tables or legacy): once per process, for the logs. */
	if (strcmp(family_of, ipt) != 0) {
		const char *const argv[] = {ipt, "--version", NULL};

		if (run(argv, NULL, &out, err, sizeof(err)) != 0)
			return finish(NETFW_FAILED, err, detail, detlen);
		util_snprintf(family, sizeof(family), "%s",
		    netfw_family(out.p) != NULL ? netfw_family(out.p) : "unknown");
		util_snprintf(family_of, sizeof(family_of), "%s", ipt);
	}
	/* The engine's view of the project networks. */
	if (xfer_engine(x, a, ENGINE_API "/networks?filters=%7B%22label%22%3A%5B%22"
	    "launcher.managed%3D1%22%5D%7D", NETFW_TIMEOUT_MS, &r) != 0 || r.status != 200) {
		util_snprintf(msg, sizeof(msg), "engine networks: %s",
		    r.status != 0 ? "unexpected answer" : r.err);
		return finish(NETFW_FAILED, msg, detail, detlen);
	}
	if ((n = netfw_parse_networks(r.body, nets, NETFW_NETS_MAX)) < 0)
		return finish(NETFW_FAILED, "engine networks: not a JSON array", detail, detlen);
	if (netfw_expected(chain, nets, (size_t)n, want, cap) != 0)
		return finish(NETFW_FAILED, "too many project networks", detail, detlen);
	{
		const char *const argv[] = {ipt, "-w", "5", "-t", "filter", "-S", NULL};

		if (run(argv, NULL, &out, err, sizeof(err)) != 0)
			return finish(NETFW_FAILED, err, detail, detlen);
	}
	if (out.over || netfw_parse_listing(chain, out.p, &first, &jumps, have, cap) != 0)
		return finish(NETFW_FAILED, "iptables -S: more than 256 KiB of rules, not read",
		    detail, detlen);
	if (!first || jumps != 1 || strcmp(want, have) != 0) {
		const char *const argv[] = {rst, "-w", "5", "--noflush", NULL};

		if (netfw_restore_text(chain, nets, (size_t)n, jumps, text, SPAWN_INPUT_MAX) != 0)
			return finish(NETFW_FAILED, "too many project networks for one iptables-restore",
			    detail, detlen);
		if (run(argv, text, &out, err, sizeof(err)) != 0)
			return finish(NETFW_FAILED, err, detail, detlen);
		*changed = true;
		log_info("network isolation: %s %s written (%d project subnet%s; FORWARD jump %s)",
		    chain, family, n, n == 1 ? "" : "s",
		    first && jumps == 1 ? "in place" : jumps == 0 ? "was missing" : "was not first");
	}
	util_snprintf(msg, sizeof(msg), "%s (iptables %s, %s): cross-project traffic dropped "
	    "between %d project subnet%s", chain, family, ipt, n, n == 1 ? "" : "s");
	return finish(NETFW_ENFORCED, msg, detail, detlen);
}

enum netfw_state
netfw_sync(struct xfer *x, struct arena *a, const char *chain, bool *changed, char *detail,
    size_t detlen)
{
	enum netfw_state st;
	char             ipt[512], rst[512], *bufs;

	*changed = false;
	if (!netfw_chain_ok(chain))
		return finish(NETFW_FAILED, "bad firewall_chain", detail, detlen);
	if (find_tool("iptables", ipt, sizeof(ipt)) != 0 ||
	    find_tool("iptables-restore", rst, sizeof(rst)) != 0)
		return finish(NETFW_UNGUARDED, "no iptables/iptables-restore on this host (PATH, "
		    "/usr/sbin, /sbin): project networks are isolated by the engine's own rules "
		    "only, which netavark 1.4 can drop", detail, detlen);
	/* Not the arena: a job may sync many times before its arena is reset. */
	if ((bufs = malloc(4 * (size_t)NETFW_BUF)) == NULL)
		return finish(NETFW_FAILED, "out of memory", detail, detlen);
	st = sync_in(x, a, chain, changed, detail, detlen, ipt, rst, bufs, bufs + NETFW_BUF,
	    bufs + 2 * NETFW_BUF, bufs + 3 * NETFW_BUF);
	free(bufs);
	return st;
}
