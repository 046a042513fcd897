/* test_agent_term.c - a terminal session's resize message (the only text a
 * client sends the agent): what is taken, what is ignored. */
#include <string.h>

#include "agent/term.h"
#include "unit.h"

static int
parse(const char *s, int *c, int *r)
{
	*c = *r = 0;
	return term_parse_resize(s, strlen(s), c, r);
}

int
main(void)
{
	static const struct {
		const char *text;
		int         rc, cols, rows;
	} cases[] = {
		{"{\"type\":\"resize\",\"cols\":120,\"rows\":40}", 0, 120, 40},
		{"{\"rows\":1,\"cols\":1000,\"type\":\"resize\"}", 0, 1000, 1},
		{"{\"type\":\"resize\",\"cols\":0,\"rows\":40}", -1, 0, 0},
		{"{\"type\":\"resize\",\"cols\":80,\"rows\":1001}", -1, 0, 0},
		{"{\"type\":\"resize\",\"cols\":\"80\",\"rows\":24}", -1, 0, 0},
		{"{\"type\":\"resize\",\"cols\":80.5,\"rows\":24}", -1, 0, 0},
		{"{\"type\":\"exit\",\"code\":0}", -1, 0, 0},
		{"{\"type\":\"resize\"", -1, 0, 0},
		{"[]", -1, 0, 0},
		{"", -1, 0, 0},
	};
	int c, r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int rc = parse(cases[i].text, &c, &r);

		CHECK(rc == cases[i].rc && (rc != 0 || (c == cases[i].cols && r == cases[i].rows)),
		    cases[i].text);
	}
	/* Not NUL-terminated: only len bytes are read. */
	CHECK(term_parse_resize("{\"type\":\"resize\",\"cols\":9,\"rows\":9}xyz", 35, &c, &r) == 0 &&
	    c == 9 && r == 9, "length-bounded text");
	CHECK(term_kind("terminal.open") && !term_kind("app.exec"), "the kind the loop hands over");
	return unit_done("agent-term");
}
