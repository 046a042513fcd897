/*
 * netfw.h - the agent's own guard of the isolation between project
 * networks, independent of the engine's firewall bookkeeping.
 *
 * Podman's netavark 1.4 (Debian 12) deletes the one global
 * `FORWARD -j NETAVARK_ISOLATION_1` jump when the last container of ANY
 * isolated network leaves; every other isolated network is then open to
 * the others until some container starts again.  So the agent owns two
 * chains of its own in the filter table (firewall_chain, default
 * LAUNCHER-ISOLATION, and <firewall_chain>-2):
 *
 *   -I FORWARD 1 -j LAUNCHER-ISOLATION                  (first, exactly once;
 *                                 only other agents' jumps may come before it)
 *   -A LAUNCHER-ISOLATION -s <subnet> ! -d <subnet> -j LAUNCHER-ISOLATION-2
 *                                                        (per project subnet)
 *   -A LAUNCHER-ISOLATION-2 -d <subnet> -j DROP           (per project subnet)
 *
 * i.e. forwarded traffic from one launcher project network to another is
 * dropped; traffic within a network, to the outside and from the outside
 * (published ports) is left to the engine's rules.  The project networks
 * and their subnets come from the engine (label launcher.managed=1, every
 * IPv4 subnet of IPAM.Config).  Everything is written in ONE
 * iptables-restore --noflush transaction (the chains' contents replaced,
 * the jump deleted wherever it is and inserted first), with the iptables
 * the engine's firewall uses here (the `iptables` of PATH, then /usr/sbin,
 * /sbin: nf_tables or legacy, reported).  Never through a shell.
 *
 * netfw_sync() compares what is there (`iptables -S`) with what should be
 * and writes only when they differ: cheap enough for every report cycle.
 */
#ifndef LAUNCHER_AGENT_NETFW_H
#define LAUNCHER_AGENT_NETFW_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/arena.h"
#include "xfer.h"

#define NETFW_CHAIN_DEFAULT "LAUNCHER-ISOLATION"
#define NETFW_CHAIN_MAX     26		/* + "-2" within iptables' 28 */
#define NETFW_SUBNET_MAX    44		/* "255.255.255.255/32" and room */
#define NETFW_NETS_MAX      1024
#define NETFW_TIMEOUT_MS    20000

/* One launcher project network as the engine describes it. */
struct netfw_net {
	char name[96];
	char subnet[NETFW_SUBNET_MAX];	/* IPv4 CIDR, validated */
};

enum netfw_state {
	NETFW_ENFORCED,		/* the rules are in place (were, or were just written) */
	NETFW_UNGUARDED,	/* no iptables on this host: isolation is the engine's alone */
	NETFW_FAILED,		/* iptables or the engine refused: see detail */
};

/* A chain name for firewall_chain: [A-Za-z0-9_-], 1..NETFW_CHAIN_MAX. */
bool        netfw_chain_ok(const char *chain);
/* An IPv4 CIDR a.b.c.d/n in canonical form (what iptables -S prints). */
bool        netfw_subnet_ok(const char *cidr);

/*
 * Pure: the project networks of an engine /networks answer (a JSON array,
 * Docker's shape): those labelled launcher.managed=1, one entry per IPv4
 * subnet, sorted by subnet and without duplicates.  Returns how many (at
 * most max), or -1 when the text is not such an array.
 */
int         netfw_parse_networks(const char *json, struct netfw_net *out, size_t max);

/*
 * Pure: what `iptables -S` prints for our two chains given the networks
 * (the "-N" lines, then the "-A" lines of each), into out.  0, or -1 when
 * it does not fit.
 */
int         netfw_expected(const char *chain, const struct netfw_net *nets, size_t n, char *out,
    size_t outlen);
/*
 * Pure: the iptables-restore --noflush input that makes the chains
 * exactly that and the jump FORWARD's first rule: each line one rule's
 * argv.  jumps = how many `-j <chain>` rules FORWARD has now (each is
 * deleted before the one insertion).  0, or -1 when it does not fit.
 */
int         netfw_restore_text(const char *chain, const struct netfw_net *nets, size_t n,
    int jumps, char *out, size_t outlen);
/*
 * Pure: reads `iptables -S` (the whole filter table) for what concerns
 * us: *first = FORWARD's first rule is our jump, other agents' jumps aside
 * (`-A FORWARD -j X` with a chain X-2: their chains only drop, and each
 * agent of the host insisting on the very first place would rewrite its
 * chains, and reset their counters, at every check), *jumps = how many of our
 * jumps FORWARD has, ours (outlen) = our chains' lines in the order
 * printed (to compare with netfw_expected).  0, or -1 when ours overflows.
 */
int         netfw_parse_listing(const char *chain, const char *listing, bool *first, int *jumps,
    char *ours, size_t outlen);
/* Pure: "nf_tables" or "legacy" from `iptables --version`, else NULL. */
const char *netfw_family(const char *version_text);

/*
 * Reads the project networks from the engine and makes the host's rules
 * match (writing only when they differ).  *changed tells whether it wrote.
 * detail (may be NULL) says what is in force, or why not; the first
 * NETFW_UNGUARDED / NETFW_FAILED of a process and every repair are logged.
 */
enum netfw_state netfw_sync(struct xfer *x, struct arena *a, const char *chain, bool *changed,
    char *detail, size_t detlen);

#endif
