/* Stand-in for <uv.h> in the standalone task-layer build (no libuv for the
 * target): only the error codes the task layer returns. On Unix libuv's
 * codes are the negated errno values. */
#ifndef UVGO_STANDALONE_UV_H
#define UVGO_STANDALONE_UV_H
#include <errno.h>
#define UV_EINVAL (-EINVAL)
#define UV_ENOMEM (-ENOMEM)
#define UV_EAGAIN (-EAGAIN)
/* Types the public headers name (never used by the task layer). */
typedef struct uv_loop_s uv_loop_t;
#endif
