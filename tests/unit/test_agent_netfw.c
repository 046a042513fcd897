/* test_agent_netfw.c - the isolation chains' texts: the project networks
 * read from an engine /networks answer, what `iptables -S` must show, the
 * iptables-restore input (each rule line one argv), the reading of a real
 * listing (the jump first, how many jumps, our chains' lines), names. */
#include <stdio.h>
#include <string.h>

#include "agent/netfw.h"
#include "unit.h"

/* Two launcher projects, a foreign network, a launcher network with an
 * IPv6 subnet too and one whose subnet has host bits set. */
static const char networks_json[] =
    "[{\"Name\":\"lnchr-net-b\",\"Labels\":{\"launcher.managed\":\"1\",\"launcher.project\":\"b\"},"
    "\"IPAM\":{\"Config\":[{\"Subnet\":\"10.89.1.0/24\",\"Gateway\":\"10.89.1.1\"}]}},"
    "{\"Name\":\"podman\",\"Labels\":{},\"IPAM\":{\"Config\":[{\"Subnet\":\"10.88.0.0/16\"}]}},"
    "{\"Name\":\"other\",\"Labels\":{\"launcher.managed\":\"0\"},"
    "\"IPAM\":{\"Config\":[{\"Subnet\":\"10.77.0.0/16\"}]}},"
    "{\"Name\":\"lnchr-net-a\",\"Labels\":{\"launcher.managed\":\"1\"},"
    "\"IPAM\":{\"Config\":[{\"Subnet\":\"fd00:1::/64\"},{\"Subnet\":\"10.89.0.0/24\"}]}},"
    "{\"Name\":\"lnchr-net-c\",\"Labels\":{\"launcher.managed\":\"1\"},"
    "\"IPAM\":{\"Config\":[{\"Subnet\":\"10.89.2.7/24\"},{\"Subnet\":\"bad; -j ACCEPT\"}]}},"
    "{\"Name\":\"lnchr-net-d\",\"Labels\":{\"launcher.managed\":\"1\"},\"IPAM\":null}]";

/* iptables -S as iptables-nft printed it here, netavark's jump dropped
 * and ours second after an insertion of another tool's. */
static const char listing[] =
    "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-N LAUNCHER-ISOLATION\n"
    "-N LAUNCHER-ISOLATION-2\n-N NETAVARK_FORWARD\n"
    "-A FORWARD -j OTHER\n"
    "-A FORWARD -j LAUNCHER-ISOLATION\n"
    "-A FORWARD -m comment --comment \"netavark firewall plugin rules\" -j NETAVARK_FORWARD\n"
    "-A LAUNCHER-ISOLATION -s 10.89.0.0/24 ! -d 10.89.0.0/24 -j LAUNCHER-ISOLATION-2\n"
    "-A LAUNCHER-ISOLATION-2 -d 10.89.0.0/24 -j DROP\n"
    "-A LAUNCHER-ISOLATION-3 -j DROP\n"
    "-A NETAVARK_FORWARD -s 10.89.0.0/24 -j ACCEPT\n";

int
main(void)
{
	struct netfw_net nets[8], one[1];
	char             out[4096], have[4096];
	bool             first;
	int              n, jumps;

	n = netfw_parse_networks(networks_json, nets, 8);
	CHECK(n == 3, "three launcher IPv4 subnets (foreign, IPv6 and bad ones left out)");
	CHECK(n == 3 && strcmp(nets[0].subnet, "10.89.0.0/24") == 0 &&
	    strcmp(nets[0].name, "lnchr-net-a") == 0 && strcmp(nets[1].subnet, "10.89.1.0/24") == 0 &&
	    strcmp(nets[2].subnet, "10.89.2.0/24") == 0, "sorted by subnet, host bits cleared");
	CHECK(netfw_parse_networks(networks_json, one, 1) == 1, "at most max");
	CHECK(netfw_parse_networks("{}", nets, 8) == -1 && netfw_parse_networks("x", nets, 8) == -1,
	    "not an array");
	CHECK(netfw_parse_networks("[]", nets, 8) == 0, "no networks");

	n = netfw_parse_networks(networks_json, nets, 8);
	CHECK(netfw_expected("LAUNCHER-ISOLATION", nets, 2, out, sizeof(out)) == 0 &&
	    strcmp(out,
	    "-N LAUNCHER-ISOLATION\n-N LAUNCHER-ISOLATION-2\n"
	    "-A LAUNCHER-ISOLATION -s 10.89.0.0/24 ! -d 10.89.0.0/24 -j LAUNCHER-ISOLATION-2\n"
	    "-A LAUNCHER-ISOLATION -s 10.89.1.0/24 ! -d 10.89.1.0/24 -j LAUNCHER-ISOLATION-2\n"
	    "-A LAUNCHER-ISOLATION-2 -d 10.89.0.0/24 -j DROP\n"
	    "-A LAUNCHER-ISOLATION-2 -d 10.89.1.0/24 -j DROP\n") == 0,
	    "expected listing: from one project subnet to another dropped");
	CHECK(netfw_restore_text("LAUNCHER-ISOLATION", nets, 2, 2, out, sizeof(out)) == 0 &&
	    strcmp(out, "*filter\n:LAUNCHER-ISOLATION - [0:0]\n:LAUNCHER-ISOLATION-2 - [0:0]\n"
	    "-A LAUNCHER-ISOLATION -s 10.89.0.0/24 ! -d 10.89.0.0/24 -j LAUNCHER-ISOLATION-2\n"
	    "-A LAUNCHER-ISOLATION -s 10.89.1.0/24 ! -d 10.89.1.0/24 -j LAUNCHER-ISOLATION-2\n"
	    "-A LAUNCHER-ISOLATION-2 -d 10.89.0.0/24 -j DROP\n"
	    "-A LAUNCHER-ISOLATION-2 -d 10.89.1.0/24 -j DROP\n"
	    "-D FORWARD -j LAUNCHER-ISOLATION\n-D FORWARD -j LAUNCHER-ISOLATION\n"
	    "-I FORWARD 1 -j LAUNCHER-ISOLATION\nCOMMIT\n") == 0,
	    "restore input: chains emptied and refilled, every jump deleted, one inserted first");
	CHECK(netfw_restore_text("X", nets, 0, 0, out, sizeof(out)) == 0 &&
	    strcmp(out, "*filter\n:X - [0:0]\n:X-2 - [0:0]\n-I FORWARD 1 -j X\nCOMMIT\n") == 0,
	    "no project network: empty chains, the jump still first");
	CHECK(netfw_restore_text("LAUNCHER-ISOLATION", nets, 3, 0, out, 200) == -1 &&
	    netfw_expected("LAUNCHER-ISOLATION", nets, 3, out, 100) == -1, "too small: -1");

	CHECK(netfw_parse_listing("LAUNCHER-ISOLATION", listing, &first, &jumps, have,
	    sizeof(have)) == 0 && !first && jumps == 1, "our jump found, but not first");
	CHECK(netfw_expected("LAUNCHER-ISOLATION", nets, 1, out, sizeof(out)) == 0 &&
	    strcmp(have, out) == 0, "our chains' lines read (a -3 chain is not ours)");
	CHECK(netfw_expected("LAUNCHER-ISOLATION", nets, 2, out, sizeof(out)) == 0 &&
	    strcmp(have, out) != 0, "a project subnet missing: differs");
	CHECK(netfw_parse_listing("LAUNCHER-ISOLATION",
	    "-P FORWARD ACCEPT\n-A FORWARD -j LAUNCHER-ISOLATION\n-A FORWARD -j LAUNCHER-ISOLATION",
	    &first, &jumps, have, sizeof(have)) == 0 && first && jumps == 2 && strcmp(have, "") == 0,
	    "first, twice, no chains (last line without newline)");
	/* Another stack's agent (its chain pair) ahead of ours: still in place. */
	CHECK(netfw_parse_listing("LNCHR-1", "-P FORWARD ACCEPT\n-N LNCHR-1\n-N LNCHR-1-2\n"
	    "-N LNCHR-2\n-N LNCHR-2-2\n-A FORWARD -j LNCHR-2\n-A FORWARD -j LNCHR-1\n"
	    "-A FORWARD -j NETAVARK_FORWARD\n", &first, &jumps, have, sizeof(have)) == 0 && first &&
	    jumps == 1, "after another agent's jump: first all the same");
	CHECK(netfw_parse_listing("LNCHR-1", "-P FORWARD ACCEPT\n-N LNCHR-1\n-N LNCHR-1-2\n"
	    "-N NETAVARK_FORWARD\n-A FORWARD -j NETAVARK_FORWARD\n-A FORWARD -j LNCHR-1\n",
	    &first, &jumps, have, sizeof(have)) == 0 && !first && jumps == 1,
	    "after an engine's jump (no X-2 chain): not first");
	CHECK(netfw_parse_listing("LNCHR-1", "-P FORWARD ACCEPT\n-N LNCHR-1\n-N LNCHR-1-2\n"
	    "-N LNCHR-2\n-N LNCHR-2-2\n-A FORWARD -i eth0 -j LNCHR-2\n-A FORWARD -j LNCHR-1\n",
	    &first, &jumps, have, sizeof(have)) == 0 && !first,
	    "after a jump with a match: not first");
	CHECK(netfw_parse_listing("LNCHR-1", "-P FORWARD ACCEPT\n-N LNCHR-1\n-N LNCHR-1-2\n"
	    "-N LNCHR-2\n-N LNCHR-2-2\n-A FORWARD -j LNCHR-2\n-A FORWARD -j ACCEPT\n"
	    "-A FORWARD -j LNCHR-1\n", &first, &jumps, have, sizeof(have)) == 0 && !first,
	    "an ACCEPT between: not first");
	CHECK(netfw_parse_listing("LAUNCHER-ISOLATION", "-P FORWARD ACCEPT\n", &first, &jumps, have,
	    sizeof(have)) == 0 && !first && jumps == 0, "no jump");
	CHECK(netfw_parse_listing("LAUNCHER-ISOLATION", listing, &first, &jumps, have, 20) == -1,
	    "too small: -1");

	CHECK(netfw_chain_ok("LAUNCHER-ISOLATION") && netfw_chain_ok("LNCHR-4294967295") &&
	    !netfw_chain_ok("") && !netfw_chain_ok("A B") && !netfw_chain_ok("X\n-A FORWARD") &&
	    !netfw_chain_ok("ABCDEFGHIJKLMNOPQRSTUVWXYZ1"), "chain names");
	CHECK(netfw_subnet_ok("10.89.0.0/24") && netfw_subnet_ok("0.0.0.0/0") &&
	    netfw_subnet_ok("10.0.0.1/32") && !netfw_subnet_ok("10.89.0.1/24") &&
	    !netfw_subnet_ok("10.89.0.0/33") && !netfw_subnet_ok("10.89.0.0") &&
	    !netfw_subnet_ok("10.89.0.0/") && !netfw_subnet_ok("fd00::/64") &&
	    !netfw_subnet_ok("10.89.0.0/24 -j ACCEPT"), "subnets: canonical IPv4 CIDR only");
	CHECK(strcmp(netfw_family("iptables v1.8.9 (nf_tables)\n"), "nf_tables") == 0 &&
	    strcmp(netfw_family("iptables v1.8.7 (legacy)\n"), "legacy") == 0 &&
	    netfw_family("iptables v1.4.21\n") == NULL, "family from --version");
	return unit_done("agent-netfw");
}
