/*
 * users_common.h - the user object's columns, shared by the sections that
 * return users (auth, users).  json_row turns them into the API object.
 */
#ifndef LAUNCHER_USERS_COMMON_H
#define LAUNCHER_USERS_COMMON_H

#define USER_COLS "id, email, first_name, last_name, role, must_reset_password," \
	" two_factor_enabled, active, created_at, updated_at"

/* Password rules, checked by the field tables. */
#define PASSWORD_MIN 8
#define PASSWORD_MAX 256

#endif
