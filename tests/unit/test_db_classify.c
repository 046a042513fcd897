/* test_db_classify.c - the one SQLSTATE -> enum err table (STYLE rule 6):
 * every class the API answers differently, the prefixes, our own raised
 * codes, and what must stay a 500. */
#include "core/db.h"
#include "unit.h"

int
main(void)
{
	static const struct {
		const char *state;
		enum err    want;
	} cases[] = {
		{"23505", ERR_CONFLICT},	/* unique_violation */
		{"LN409", ERR_CONFLICT},
		{"23503", ERR_BAD_REQUEST},	/* foreign_key_violation */
		{"23514", ERR_BAD_REQUEST},	/* check_violation */
		{"23502", ERR_BAD_REQUEST},	/* not_null_violation */
		{"22P02", ERR_BAD_REQUEST},	/* invalid_text_representation */
		{"22001", ERR_BAD_REQUEST},	/* string_data_right_truncation */
		{"22003", ERR_BAD_REQUEST},	/* numeric_value_out_of_range */
		{"LN400", ERR_BAD_REQUEST},
		{"40001", ERR_RETRY},		/* serialization_failure */
		{"40P01", ERR_RETRY},		/* deadlock_detected */
		{"08006", ERR_UNAVAILABLE},	/* connection_failure */
		{"08000", ERR_UNAVAILABLE},
		{"57P01", ERR_UNAVAILABLE},	/* admin_shutdown */
		{"57P03", ERR_UNAVAILABLE},	/* cannot_connect_now */
		{"P0002", ERR_NOT_FOUND},	/* no_data_found (our functions) */
		{"LN403", ERR_FORBIDDEN},
		{"LN429", ERR_TOO_MANY_REQUESTS},
		/* Everything else is ours to fix: 500, logged with the statement. */
		{"23000", ERR_INTERNAL},	/* integrity_constraint_violation: not a client error */
		{"23P01", ERR_INTERNAL},	/* exclusion_violation */
		{"40000", ERR_INTERNAL},	/* transaction_rollback without retry meaning */
		{"42501", ERR_INTERNAL},	/* insufficient_privilege: an RLS or grant bug */
		{"42P01", ERR_INTERNAL},	/* undefined_table */
		{"57014", ERR_INTERNAL},	/* query_canceled (statement_timeout) */
		{"P0001", ERR_INTERNAL},	/* raise_exception without our code */
		{"LN404", ERR_INTERNAL},	/* not one of ours */
		{"LN4", ERR_INTERNAL},
		{"2", ERR_INTERNAL},
		{"", ERR_INTERNAL},
		{NULL, ERR_INTERNAL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		enum err got = db_classify_sqlstate(cases[i].state);

		CHECK(got == cases[i].want, cases[i].state ? cases[i].state : "(null)");
		if (got != cases[i].want)
			printf("  %s: got %d, want %d\n", cases[i].state ? cases[i].state : "(null)",
			    (int)got, (int)cases[i].want);
	}
	return unit_done("db_classify");
}
