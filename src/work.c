/* uvgo_work: a uv_work_t on the caller's stack, the task parked on a
 * parker until libuv's after-work callback (on the task's own worker
 * loop) claims and wakes it. Nothing is allocated. */
#include "waitq.h"

typedef struct {
  uv_work_t req;
  uvgo__parker parker;
  void (*fn)(void *arg);
  void *arg;
  int status; /* after_work's status: 0, or UV_ECANCELED after uv_cancel */
} work_op;

static void on_work(uv_work_t *req) {
  work_op *op = UVGO__CONTAINER_OF(req, work_op, req);
  op->fn(op->arg);
}

static void on_after_work(uv_work_t *req, int status) {
  work_op *op = UVGO__CONTAINER_OF(req, work_op, req);
  op->status = status;
  /* The only claimer today. A context would claim first with its error;
   * the waiter then calls uv_cancel and waits a second episode for this
   * callback, which must still run before op's memory goes. */
  if (uvgo__parker_claim(&op->parker, 0))
    uvgo__parker_wake(&op->parker);
}

int uvgo_work(void (*fn)(void *arg), void *arg) {
  if (fn == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL work function");
  uvgo_task *t = uvgo__current_task();
  if (t == NULL)
    return UVGO__MISUSE(UVGO_ENOTTASK, "uvgo_work outside a task");
  work_op op = {.fn = fn, .arg = arg};
  /* Prepare before queueing: the callback runs on this thread after we
   * switch out, but PARKING keeps the order right whatever happens. */
  int err = uvgo__parker_prepare(&op.parker, "uvgo_work");
  if (err != 0)
    return err;
  err = uv_queue_work(t->home->loop, &op.req, on_work, on_after_work);
  if (err != 0) {
    uvgo__parker_abandon(&op.parker);
    return err;
  }
  uvgo__parker_wait(&op.parker, UVGO__NO_DEADLINE);
  return op.status;
}
