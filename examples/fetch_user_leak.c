/* The article's goroutine leak, and two ways out.
 *
 *   func fetchUser(id string) <-chan User {
 *       ch := make(chan User)
 *       go func() { user, err := httpClient.GetUser(id)
 *                   if err != nil { return }   // caller hangs
 *                   ch <- user }()             // or this send hangs
 *       return ch }
 *
 * 1. The article's fix: a buffered channel, close on error, and a select on
 *    the caller's ctx.Done() so the sender never blocks.
 * 2. uvgo's structural fix: even the naive version ends once the caller's
 *    context is cancelled, because its send is a cancellation point under
 *    the context the task inherited. */
#include <stdio.h>
#include <string.h>

#include <uvgo.h>

typedef struct {
  char name[32];
} user;

/* A fake user service: slow, and failing for id "bad". */
static int get_user(const char *id, user *out) {
  uvgo_sleep(30);
  if (strcmp(id, "bad") == 0)
    return UV_ECONNREFUSED;
  snprintf(out->name, sizeof out->name, "user-%s", id);
  return 0;
}

typedef struct {
  uvgo_chan *ch;
  uvgo_ctx *ctx;
  char id[16];
} fetch_job;

/* --- 1: the article's fix --- */
static void fetch_fixed_task(void *arg) {
  fetch_job *job = arg;
  user u;
  if (get_user(job->id, &u) != 0) {
    uvgo_chan_close(job->ch); /* the caller sees "closed", never hangs */
  } else {
    uvgo_select_case cases[] = {UVGO_SEND_CASE(job->ch, &u),
                                UVGO_RECV_CASE(uvgo_ctx_done(job->ctx), NULL)};
    uvgo_select(cases, 2); /* the buffer has room: the send always fits */
  }
  uvgo_chan_release(job->ch);
  uvgo_ctx_release(job->ctx);
}

static uvgo_chan *fetch_user_fixed(uvgo_ctx *ctx, const char *id) {
  uvgo_chan *ch = uvgo_chan_new(sizeof(user), 1);
  fetch_job job = {ch, ctx, ""};
  snprintf(job.id, sizeof job.id, "%s", id);
  uvgo_chan_retain(ch);
  uvgo_ctx_retain(ctx);
  uvgo_go_copy(fetch_fixed_task, &job, sizeof job);
  return ch;
}

/* --- 2: the naive version, bounded by its context --- */
static void fetch_naive_task(void *arg) {
  fetch_job *job = arg;
  user u;
  if (get_user(job->id, &u) == 0) {
    int err = uvgo_chan_send(job->ch, &u); /* unbuffered: nobody listens */
    printf("naive sender for %s ended: %s\n", job->id, uvgo_err_name(err));
  }
  uvgo_chan_release(job->ch);
}

static uvgo_chan *fetch_user_naive(const char *id) {
  uvgo_chan *ch = uvgo_chan_new(sizeof(user), 0);
  fetch_job job = {ch, NULL, ""};
  snprintf(job.id, sizeof job.id, "%s", id);
  uvgo_chan_retain(ch);
  uvgo_go_copy(fetch_naive_task, &job, sizeof job); /* inherits our ctx */
  return ch;
}

/* A caller that gives up after 10 ms, then tells the request handler by
 * closing `finished`. */
static void impatient_caller(void *arg) {
  uvgo_chan *finished = arg;
  uvgo_chan *ch = fetch_user_naive("42");
  uvgo_select_case cases[] = {UVGO_RECV_CASE(ch, NULL),
                              UVGO_RECV_CASE(uvgo_after(10), NULL)};
  if (uvgo_select(cases, 2) == 1)
    printf("caller gave up waiting for user 42\n");
  uvgo_chan_release(ch);
  uvgo_chan_close(finished);
  uvgo_chan_release(finished);
}

static void main_task(void *arg) {
  (void)arg;
  uvgo_ctx *ctx;
  uvgo_ctx_with_cancel(uvgo_ctx_current(), &ctx);

  const char *ids[] = {"7", "bad"};
  for (int i = 0; i < 2; i++) {
    uvgo_chan *ch = fetch_user_fixed(ctx, ids[i]);
    user u;
    if (uvgo_chan_recv(ch, &u) == 0)
      printf("fixed: got %s\n", u.name);
    else
      printf("fixed: fetch of %s failed, channel closed\n", ids[i]);
    uvgo_chan_release(ch);
  }

  /* The naive fetch runs under a request context; cancelling it when the
   * request ends is what frees its sender. */
  uvgo_ctx *request;
  uvgo_ctx_with_cancel(ctx, &request);
  uvgo_chan *finished = uvgo_chan_new(0, 0);
  uvgo_chan_retain(finished); /* the caller's reference */
  uvgo_go_ctx(request, impatient_caller, finished);
  /* The request handler finishes after the caller has given up (waiting
   * for it rather than for a while: a cancel any earlier would end the
   * caller's select instead)... */
  uvgo_chan_recv(finished, NULL);
  uvgo_chan_release(finished);
  uvgo_sleep(50); /* longer than the service: its sender is stuck now */
  uvgo_ctx_cancel(request); /* ...and its context ends: no leak */
  uvgo_ctx_release(request);

  uvgo_ctx_cancel(ctx);
  uvgo_ctx_release(ctx);
}

int main(void) {
  /* One worker: the caller's 10 ms and the user service's 30 ms are then
   * timers on one heap, fired in deadline order, so the caller always
   * gives up first. With a worker each, a stall of the caller's thread
   * could let the sender's answer reach it first. */
  uvgo_config cfg = {.workers = 1};
  int err = uvgo_run(&cfg, main_task, NULL);
  printf("run ended: %s\n", uvgo_err_name(err));
  return err == 0 ? 0 : 1;
}
