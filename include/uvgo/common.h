/* uvgo — common definitions: export macro, version, error codes.
 *
 * Included by every other public header; users include <uvgo.h>. */
#ifndef UVGO_COMMON_H
#define UVGO_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the public functions (exported from the shared library). */
#if defined(UVGO_BUILDING) && defined(__GNUC__)
#define UVGO_EXTERN __attribute__((visibility("default")))
#else
#define UVGO_EXTERN
#endif

/* Declared here because several modules take one (defined in ctx.h). */
typedef struct uvgo_ctx uvgo_ctx;

/* The version of these headers: major, minor, patch, and the three packed
 * as 0xMMmmpp (compare with uvgo_version() for the library's). */
#define UVGO_VERSION_MAJOR 0
#define UVGO_VERSION_MINOR 1
#define UVGO_VERSION_PATCH 0
#define UVGO_VERSION_HEX \
  ((UVGO_VERSION_MAJOR << 16) | (UVGO_VERSION_MINOR << 8) | UVGO_VERSION_PATCH)

/* The version the library was built as, packed like UVGO_VERSION_HEX.
 * Thread contract: any thread. */
UVGO_EXTERN unsigned uvgo_version(void);
/* "MAJOR.MINOR.PATCH". Any thread. */
UVGO_EXTERN const char *uvgo_version_string(void);

/* uvgo's own error codes live in [-30099, -30000]: libuv's codes are negated
 * errno values (> -4096) and its getaddrinfo codes (around -3000), so the two
 * ranges cannot collide. Every function returns 0 (or a positive count) on
 * success and a negative code on failure: a UV_E* code where libuv has one,
 * otherwise one of these. */
#define UVGO_ERRNO_MAP(XX)                                                    \
  XX(ECLOSED, -30001, "channel closed")                                       \
  XX(EDEADLOCK, -30002, "all tasks are asleep - deadlock!")                   \
  XX(ENOTTASK, -30003, "operation requires a uvgo task")                      \
  XX(ERELEASED, -30004, "object used after release")                          \
  XX(ENOTOWNER, -30005, "not held by the calling task")                       \
  XX(ENORUNTIME, -30006, "no uvgo runtime is running")                        \
  XX(ELIMIT, -30007, "limit on live tasks reached")                           \
  XX(EWAITERS, -30008, "object still has blocked waiters")                    \
  XX(ESTACKSIZE, -30009, "stack size out of range")                          \
  XX(ECONNCLOSED, -30010, "use of closed network connection")                \
  XX(ETLS, -30020, "TLS protocol error")                                      \
  XX(ETLSVERIFY, -30021, "TLS certificate verification failed")               \
  XX(ETLSTRUNCATED, -30022, "TLS stream truncated (EOF without close_notify)") \
  XX(ETLSHANDSHAKE, -30023, "TLS handshake failed")                           \
  XX(ETLSRECORD, -30024, "peer does not speak TLS")                           \
  XX(ENOTTLS, -30025, "not a TLS connection")                                 \
  XX(ETLSCONFIG, -30026, "bad TLS certificate, key or CA data")               \
  XX(ETLSKEY, -30027, "private key does not match the certificate")           \
  XX(EHTTPBADRESPONSE, -30040, "malformed HTTP response")                     \
  XX(EHTTPBADREQUEST, -30041, "malformed HTTP request")                       \
  XX(EHEADERTOOLARGE, -30042, "HTTP header section larger than the limit")    \
  XX(ETOOMANYHEADERS, -30043, "more HTTP header fields than the limit")       \
  XX(EBODYTOOLARGE, -30044, "HTTP body larger than the limit")                \
  XX(ETOOMANYREDIRECTS, -30045, "stopped after too many HTTP redirects")      \
  XX(EHTTPBADURL, -30046, "invalid URL")                                      \
  XX(EUNSUPPORTEDSCHEME, -30047, "unsupported URL scheme")                    \
  XX(EHTTPBADHEADER, -30048, "invalid HTTP header name or value")             \
  XX(EHTTPDIALTIMEOUT, -30049, "HTTP client timed out dialling")              \
  XX(EHTTPTLSTIMEOUT, -30050, "HTTP client timed out in the TLS handshake")   \
  XX(EHTTPHEADERTIMEOUT, -30051, "HTTP client timed out awaiting headers")    \
  XX(EHTTPIDLETIMEOUT, -30052, "HTTP client timed out: body read idle")       \
  XX(EHTTPUNEXPECTEDEOF, -30053, "connection closed mid HTTP message")        \
  XX(EHTTPBODYCLOSED, -30054, "read on a closed HTTP response body")          \
  XX(EHTTPPROXY, -30055, "HTTP proxy refused the request")                    \
  XX(EHTTPBADMETHOD, -30056, "invalid HTTP method")                           \
  XX(EHTTPHEADERSENT, -30060, "HTTP response headers already sent")         \
  XX(EHTTPBODYLEN, -30061, "HTTP body longer than its Content-Length")

/* The range of uvgo's own codes: UVGO_ERR_MIN <= code <= UVGO_ERR_MAX. */
#define UVGO_ERR_MIN (-30099)
#define UVGO_ERR_MAX (-30000)

/* uvgo's own error codes, UVGO_<name> = value, one per UVGO_ERRNO_MAP line
 * (the list above gives each one's message, as uvgo_strerror returns it). */
typedef enum {
#define UVGO__ERR_ENUM(name, value, text) UVGO_##name = (value),
  UVGO_ERRNO_MAP(UVGO__ERR_ENUM)
#undef UVGO__ERR_ENUM
  UVGO_ERRNO_MAP_END_ = UVGO_ERR_MIN
} uvgo_errno_t;

/* A human-readable message for any code uvgo or libuv returns; "success" for
 * 0 and "unknown error" for a code neither knows. Never allocates; the
 * string is static. Any thread. */
UVGO_EXTERN const char *uvgo_strerror(int err);
/* The symbolic name ("UVGO_ECLOSED", "ECANCELED", "UNKNOWN"). Static string,
 * any thread. */
UVGO_EXTERN const char *uvgo_err_name(int err);

#ifdef __cplusplus
}
#endif
#endif
