/* uvgo — Go's concurrency model for C, on libuv.
 *
 * The only header users include. Every public name starts with uvgo_. */
#ifndef UVGO_H
#define UVGO_H

#include "uvgo/common.h"
#include "uvgo/alloc.h"
#include "uvgo/runtime.h"
#include "uvgo/task.h"
#include "uvgo/chan.h"
#include "uvgo/select.h"
#include "uvgo/time.h"
#include "uvgo/ctx.h"
#include "uvgo/sync.h"
#include "uvgo/work.h"
#include "uvgo/group.h"
#include "uvgo/net.h"
#include "uvgo/http.h"
#include "uvgo/http_server.h"
#include "uvgo/tls.h"
#include "uvgo/diag.h"
#include "uvgo/embed.h"

#endif
