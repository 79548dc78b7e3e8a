/* Tiny assertion helpers shared by the C tests: each failed check prints where and why,
 * with the library's last error, and the test exits non-zero at the end. */
#ifndef CRM_TEST_CHECK_H
#define CRM_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

#include "crm.h"

static int check_failures = 0;

/* Whether the last error's field is `want` (NULL: it has none). */
static inline int same_field(const char *got, const char *want) {
    if (got == NULL || want == NULL) return got == want;
    return strcmp(got, want) == 0;
}

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: check failed: %s (last error %s: %s)\n", __FILE__,     \
                    __LINE__, #cond, crm_status_name((int)crm_last_error_code()),           \
                    crm_last_error_message());                                             \
            check_failures++;                                                              \
        }                                                                                  \
    } while (0)

/* The call succeeded. */
#define CHECK_OK(call) CHECK((call) == CRM_OK)

/* The call failed with `code`, the last error says so, its message contains `needle`,
 * and its field is `field` (NULL: no field). */
#define CHECK_ERR(call, code, needle, field)                                               \
    do {                                                                                   \
        crm_status st_ = (call);                                                           \
        CHECK(st_ == (code));                                                              \
        CHECK(crm_last_error_code() == (code));                                            \
        CHECK(strstr(crm_last_error_message(), (needle)) != NULL);                         \
        CHECK(same_field(crm_last_error_field(), (field)));                                \
    } while (0)

#define CHECK_DONE()                                                                       \
    do {                                                                                   \
        if (check_failures) {                                                              \
            fprintf(stderr, "%d check(s) failed\n", check_failures);                       \
            return 1;                                                                      \
        }                                                                                  \
        return 0;                                                                          \
    } while (0)

#endif
