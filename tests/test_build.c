// tests/test_build.c — the build keeps assert() active where STYLE wants it: in the tests and
// in the core library (CMakeLists.txt adds -UNDEBUG to both, Release included).
#include <assert.h>
#include <criterion/criterion.h>
#include <signal.h>

#include "common.h"
#include "config.h"

Test(build, asserts_are_active_in_test_code) {
#ifdef NDEBUG
    cr_fail("NDEBUG is defined in a test target: assert() is compiled out");
#endif
}

// core/config.c asserts that a key read was declared: with NDEBUG in the core library the read
// would log and return 0 instead of aborting.
Test(build, asserts_are_active_in_the_core_library, .signal = SIGABRT) {
    qins_config_t *cfg;
    cr_assert_eq(qins_config_new(&cfg, NULL), 0);
    qins_log_set_level(QINS_LOG_ERROR - 1); // the error line is expected: silence it
    (void)qins_config_int(cfg, "run", "no_such_key_declared_anywhere");
    qins_config_free(cfg);
}
