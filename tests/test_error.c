/* Error codes: names and messages over uvgo's and libuv's codes. */
#include "harness.h"

UVGO_TEST(error_names_uvgo_codes, unit, 10) {
  ASSERT_STR_EQ(uvgo_err_name(UVGO_ECLOSED), "UVGO_ECLOSED");
  ASSERT_STR_EQ(uvgo_strerror(UVGO_ECLOSED), "channel closed");
  ASSERT_STR_EQ(uvgo_err_name(UVGO_EDEADLOCK), "UVGO_EDEADLOCK");
  ASSERT_STR_CONTAINS(uvgo_strerror(UVGO_EDEADLOCK), "deadlock");
  ASSERT_LE(UVGO_ERR_MIN, UVGO_ECLOSED);
  ASSERT_GE(UVGO_ERR_MAX, UVGO_ESTACKSIZE);
}

UVGO_TEST(error_names_libuv_codes, unit, 10) {
  ASSERT_STR_EQ(uvgo_err_name(UV_ECANCELED), "ECANCELED");
  ASSERT_STR_EQ(uvgo_strerror(UV_ETIMEDOUT), uv_strerror(UV_ETIMEDOUT));
  ASSERT_STR_EQ(uvgo_err_name(UV_EOF), "EOF");
  ASSERT_STR_EQ(uvgo_err_name(UV_EAI_NONAME), "EAI_NONAME");
}

UVGO_TEST(error_unknown_code, unit, 10) {
  /* libuv allocates a string for codes it does not know; uvgo must not. */
  long before = uvgo_test_live_allocations();
  ASSERT_STR_EQ(uvgo_strerror(-29999), "unknown error");
  ASSERT_STR_EQ(uvgo_err_name(-29999), "UNKNOWN");
  ASSERT_STR_EQ(uvgo_strerror(-30098), "unknown error");
  ASSERT_STR_EQ(uvgo_strerror(0), "success");
  ASSERT_STR_EQ(uvgo_err_name(7), "OK");
  ASSERT_EQ(uvgo_test_live_allocations(), before);
}

UVGO_TEST(error_codes_do_not_collide_with_libuv, unit, 10) {
  /* Every libuv code (negated errno and getaddrinfo codes) lies above
   * uvgo's range. */
#define CHECK_UV(name, text) ASSERT_GT(UV_##name, UVGO_ERR_MAX);
  UV_ERRNO_MAP(CHECK_UV)
#undef CHECK_UV
#define CHECK_OWN(name, value, text) \
  ASSERT_STR_EQ(uvgo_err_name(UVGO_##name), "UVGO_" #name);
  UVGO_ERRNO_MAP(CHECK_OWN)
#undef CHECK_OWN
}

UVGO_TEST(version_matches_macros, unit, 10) {
  ASSERT_UEQ(uvgo_version(), UVGO_VERSION_HEX);
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", UVGO_VERSION_MAJOR,
           UVGO_VERSION_MINOR, UVGO_VERSION_PATCH);
  ASSERT_STR_EQ(uvgo_version_string(), want);
}
