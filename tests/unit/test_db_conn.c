/*
 * test_db_conn.c - statement names: one SQL text per name in the process.
 * The first prepare of a name already seen with other SQL aborts, before
 * any round trip (so no database is needed to prove it); one name declared
 * twice with the same SQL is one statement.  At start-up every binary
 * checks all of its DB_STMTs at once (db_conn_check_names).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/db_conn.h"
#include "unit.h"

/* Outside the DB_STMT section: only the prepare-time check sees these. */
static const struct db_stmt st_a = {"unit_same_name", "SELECT 1"};
static const struct db_stmt st_a_again = {"unit_same_name", "SELECT 1"};
static const struct db_stmt st_b = {"unit_same_name", "SELECT 2"};
static const struct db_stmt st_other = {"unit_other_name", "SELECT 2"};

/* In this binary's DB_STMT section with the library's statements: the
 * start-up check must find the pair. */
DB_STMT st_dup1 = {"unit_startup_dup", "SELECT 1"};
DB_STMT st_dup2 = {"unit_startup_dup", "SELECT 2"};

/* Runs db_conn_check_names() in a child; how it ended. */
static int
check_child(void)
{
	pid_t pid = fork();
	int   status = 0;

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, 2);
		db_conn_check_names();
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* Runs the statements in a child on a connection that is not open; how it ended. */
static int
run_child(const struct db_stmt *const *sts, int n)
{
	pid_t pid = fork();
	int   status = 0;

	if (pid == 0) {
		struct db_conn c = {0};
		int            null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, 2);	/* the abort's log line is expected */
		for (int i = 0; i < n; i++)
			if (db_conn_exec(&c, sts[i], 0, NULL, NULL) != ERR_UNAVAILABLE)
				_exit(3);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

int
main(void)
{
	const struct db_stmt *dup[] = {&st_a, &st_other, &st_b};
	const struct db_stmt *same[] = {&st_a, &st_a_again, &st_other, &st_a};
	int                   s;

	s = run_child(dup, 3);
	CHECK(WIFSIGNALED(s) && WTERMSIG(s) == SIGABRT,
	    "a name prepared with two different SQL texts aborts");
	s = run_child(same, 4);
	CHECK(WIFEXITED(s) && WEXITSTATUS(s) == 0,
	    "distinct names, and one name with the same SQL twice, are accepted");
	s = check_child();
	CHECK(WIFSIGNALED(s) && WTERMSIG(s) == SIGABRT,
	    "start-up: two DB_STMTs of one binary with one name and different SQL abort");
	return unit_done("db_conn");
}
