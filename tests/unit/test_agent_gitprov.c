/*
 * test_agent_gitprov.c - the parsing helpers of the git.* jobs
 * (fcgi/agent/gitprov.c): the next page of a Link header and a
 * repository's path from its URL.
 */
#include <string.h>

#include "agent/gitprov.h"
#include "unit.h"

static void
link_next(void)
{
	static const struct {
		const char *in, *want;	/* want NULL: no next */
	} cases[] = {
		{"<https://api.github.com/user/repos?page=2>; rel=\"next\", "
		 "<https://api.github.com/user/repos?page=5>; rel=\"last\"",
		 "https://api.github.com/user/repos?page=2"},
		{"<https://api.github.com/user/repos?page=1>; rel=\"prev\", "
		 "<https://api.github.com/user/repos?page=3>; rel=\"next\"",
		 "https://api.github.com/user/repos?page=3"},
		{"<https://gitlab.example.com/api/v4/projects?id_after=4&per_page=50>; rel=\"next\"",
		 "https://gitlab.example.com/api/v4/projects?id_after=4&per_page=50"},
		{"<https://api.github.com/user/repos?page=1>; rel=\"first\", "
		 "<https://api.github.com/user/repos?page=1>; rel=\"prev\"", NULL},
		{"", NULL},
		{"<https://broken", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char out[300];
		int  rc = gitprov_link_next(cases[i].in, out, sizeof(out));

		CHECK(cases[i].want ? rc == 0 && strcmp(out, cases[i].want) == 0 : rc == -1,
		    cases[i].in);
	}
}

static void
repo_path(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"https://github.com/octocat/Hello-World.git", "octocat/Hello-World"},
		{"https://github.com/octocat/Hello-World", "octocat/Hello-World"},
		{"https://gitlab.com/group/sub/project.git/", "group/sub/project"},
		{"ssh://git@gitlab.example.com:2222/group/project.git", "group/project"},
		{"git@github.com:octocat/locked.git", "octocat/locked"},
		{"https://bitbucket.org/ada/app", "ada/app"},
		{"https://github.com/octocat", NULL},
		{"https://github.com", NULL},
		{"not a url", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char out[300];
		int  rc = gitprov_repo_path(cases[i].in, out, sizeof(out));

		CHECK(cases[i].want ? rc == 0 && strcmp(out, cases[i].want) == 0 : rc == -1,
		    cases[i].in);
	}
}

int
main(void)
{
	link_next();
	repo_path();
	return unit_done("agent-gitprov");
}
