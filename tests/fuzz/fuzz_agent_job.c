/* fuzz_agent_job.c - the agent's job parsing: a claimed job object
 * (runner_job_parse) and its payload read for every app.* kind
 * (app_spec_parse), then the secret redaction built from it. The input is
 * the claim's "job" JSON object. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/appspec.h"
#include "agent/runner.h"

static const char *const kinds[] = {
	"app.deploy", "app.scale", "app.start", "app.stop", "app.restart", "app.remove",
	"app.exec", "app.logs", "noop",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON          *o = cJSON_ParseWithLength((const char *)data, size);
	struct job      j;
	struct app_spec s;
	char            err[512], out[256];

	if (o == NULL)
		return 0;
	if (runner_job_parse(o, NULL, 1.7e9, 5, &j, err, sizeof(err)) == 0) {
		if (j.payload == NULL || memchr(j.id, '\0', sizeof(j.id)) == NULL ||
		    memchr(j.kind, '\0', sizeof(j.kind)) == NULL || j.lease_seconds < 3)
			abort();
		for (size_t k = 0; k < sizeof(kinds) / sizeof(*kinds); k++) {
			memset(&s, 0, sizeof(s));
			if (app_spec_parse(j.payload, kinds[k], &s, err, sizeof(err)) == 0) {
				struct app_redact r;

				app_redact_init(&r, &s);
				app_redact(&r, "build https://user:pass@example.com/x.git step", out,
				    sizeof(out));
				app_redact_free(&r);
				if (memchr(out, '\0', sizeof(out)) == NULL)
					abort();
			} else if (memchr(err, '\0', sizeof(err)) == NULL) {
				abort();
			}
		}
		runner_job_clear(&j);
	}
	cJSON_Delete(o);
	return 0;
}
