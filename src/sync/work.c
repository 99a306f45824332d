/* uvgo_work: a uv_work_t on the caller's stack, the task parked on a
 * parker until libuv's after-work callback (on the task's own worker
 * loop) claims and wakes it. Nothing is allocated. */
#include "core/waitq.h"

typedef struct {
  uv_work_t req;
  uvgo__parker parker;
  void (*fn)(void *arg);
  void *arg;
  int status; /* after_work's status: 0, or UV_ECANCELED after uv_cancel */
  bool finished; /* after_work has run */
} work_op;

static void on_work(uv_work_t *req) {
  work_op *op = UVGO__CONTAINER_OF(req, work_op, req);
  op->fn(op->arg);
}

static void on_after_work(uv_work_t *req, int status) {
  work_op *op = UVGO__CONTAINER_OF(req, work_op, req);
  op->status = status;
  op->finished = true;
  /* A context may have claimed the first wait; then the task is in its
   * second, uncancellable wait on a fresh episode of the same parker, and
   * this claim is the one that ends it. Both run on the task's own worker
   * thread, so there is no race between the two episodes. */
  if (uvgo__parker_claim(&op->parker, 0))
    uvgo__parker_wake(&op->parker);
}

int uvgo_work(uvgo_ctx *ctx, void (*fn)(void *arg), void *arg) {
  if (fn == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL work function");
  uvgo_task *t = uvgo__current_task();
  if (t == NULL)
    return UVGO__MISUSE(UVGO_ENOTTASK, "uvgo_work outside a task");
  work_op op = {.fn = fn, .arg = arg};
  int err = uvgo__parker_prepare(&op.parker, "uvgo_work");
  if (err != 0)
    return err;
  err = uv_queue_work(t->home->loop, &op.req, on_work, on_after_work);
  if (err != 0) {
    uvgo__parker_abandon(&op.parker);
    return err;
  }
  int reason = uvgo__parker_wait_ctx(&op.parker, UVGO__NO_DEADLINE, ctx);
  if (reason >= 0)
    return op.status;
  /* Cancelled: the request still owns op. Withdraw it if the pool has not
   * started it (its callback then says UV_ECANCELED), and in any case
   * stay parked until libuv calls back (DESIGN.md, In-flight requests). */
  uv_cancel((uv_req_t *)&op.req);
  if (!op.finished) {
    uvgo__parker_prepare(&op.parker, "uvgo_work (cancelled, draining)");
    uvgo__parker_wait_uncancellable(&op.parker, UVGO__NO_DEADLINE);
  }
  return reason;
}
