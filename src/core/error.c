/* Error names and messages over uvgo's and libuv's codes. */
#include <string.h>

#include "core/internal.h"

const char *uvgo_strerror(int err) {
  if (err >= 0)
    return "success";
  switch (err) {
#define UVGO__ERR_TEXT(name, value, text) \
  case UVGO_##name:                       \
    return text;
    UVGO_ERRNO_MAP(UVGO__ERR_TEXT)
#undef UVGO__ERR_TEXT
  default:
    break;
  }
  /* uv_strerror allocates (and leaks) a string for a code it does not know,
   * so ask uv_err_name_r first: it writes into our buffer either way. */
  char name[64];
  uv_err_name_r(err, name, sizeof name);
  if (strncmp(name, "Unknown", 7) == 0)
    return "unknown error";
  return uv_strerror(err);
}

const char *uvgo_err_name(int err) {
  if (err >= 0)
    return "OK";
  switch (err) {
#define UVGO__ERR_NAME(name, value, text) \
  case UVGO_##name:                       \
    return "UVGO_" #name;
    UVGO_ERRNO_MAP(UVGO__ERR_NAME)
#undef UVGO__ERR_NAME
  default:
    break;
  }
  char name[64];
  uv_err_name_r(err, name, sizeof name);
  if (strncmp(name, "Unknown", 7) == 0)
    return "UNKNOWN";
  return uv_err_name(err);
}

unsigned uvgo_version(void) { return UVGO_VERSION_HEX; }

#define UVGO__STR2(x) #x
#define UVGO__STR(x) UVGO__STR2(x)
const char *uvgo_version_string(void) {
  return UVGO__STR(UVGO_VERSION_MAJOR) "." UVGO__STR(
      UVGO_VERSION_MINOR) "." UVGO__STR(UVGO_VERSION_PATCH);
}
