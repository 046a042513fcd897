/* fuzz_dns.c - DNS replies from the network (core/dns.c dns_parse): the
 * input is a reply; each record type is read from it.  Beyond the
 * sanitizers, it checks the contract: a status among OK/NODATA/ERROR, at
 * most DNS_RR_MAX records, only for OK, each a terminated string. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/dns.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum dns_type types[] = {DNS_A, DNS_AAAA, DNS_CNAME, DNS_TXT};
	struct dns_answer          a;

	if (size > 65535)
		return 0;
	for (size_t k = 0; k < sizeof(types) / sizeof(*types); k++) {
		memset(&a, 0x5a, sizeof(a));
		switch (dns_parse(data, (int)size, types[k], &a)) {
		case DNS_OK:
			if (a.n < 1 || a.n > DNS_RR_MAX)
				abort();
			break;
		case DNS_NODATA:
		case DNS_ERROR:
			if (a.n != 0)
				abort();
			break;
		default:
			abort();
		}
		for (int i = 0; i < a.n; i++)
			if (memchr(a.rr[i], '\0', DNS_TEXT_MAX) == NULL)
				abort();
	}
	return 0;
}
