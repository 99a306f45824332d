/* The cost of the callback side, one worker (the host's loop): N spawns
 * each followed by its done callback (the next spawn starts in the
 * callback), N values through uvgo_embed_recv_each, and N sends each
 * followed by its callback. Prints nanoseconds per operation.
 *   embed_bench [N]            (default 100000) */
#include <stdio.h>
#include <stdlib.h>

#include <uvgo.h>

static uv_loop_t loop;
static uvgo_rt *rt;
static long n_ops;
static long spawned, received, sent_count;
static uvgo_chan *send_ch;

static int task_body(void *arg) {
  (void)arg;
  return 1;
}

static void on_done(int result, void *arg) {
  (void)result;
  if (++spawned < n_ops)
    uvgo_embed_spawn(rt, NULL, task_body, arg, on_done);
}

static void on_value(uvgo_embed_recv *r, int status, const void *value,
                     void *arg) {
  (void)r;
  (void)value;
  (void)arg;
  if (status == 0)
    received++;
}

static void produce(void *arg) {
  uvgo_chan *ch = arg;
  for (long i = 0; i < n_ops; i++)
    uvgo_chan_send(ch, &i);
  uvgo_chan_close(ch);
}

static void on_sent(int status, void *arg) {
  (void)status;
  (void)arg;
  if (++sent_count < n_ops)
    uvgo_embed_send(rt, NULL, send_ch, &sent_count, on_sent, NULL);
}

static void consume(void *arg) {
  uvgo_chan *ch = arg;
  long v;
  for (long i = 0; i < n_ops; i++)
    uvgo_chan_recv(ch, &v);
}

static double per_op(uint64_t t0) {
  return (double)(uv_hrtime() - t0) / (double)n_ops;
}

int main(int argc, char **argv) {
  n_ops = argc > 1 ? atol(argv[1]) : 100000;
  if (n_ops <= 0 || uv_loop_init(&loop) != 0 ||
      uvgo_rt_attach(&loop, NULL, &rt) != 0)
    return 1;

  uint64_t t0 = uv_hrtime();
  uvgo_embed_spawn(rt, NULL, task_body, NULL, on_done);
  uv_run(&loop, UV_RUN_DEFAULT);
  printf("embed_spawn + done callback: %.0f ns\n", per_op(t0));

  uvgo_chan *ch = uvgo_chan_new(sizeof(long), 64);
  uvgo_embed_recv_each(rt, NULL, ch, on_value, NULL, NULL);
  uvgo_rt_spawn(rt, produce, ch);
  uvgo_chan_release(ch);
  t0 = uv_hrtime();
  uv_run(&loop, UV_RUN_DEFAULT);
  printf("embed_recv_each, per value: %.0f ns\n", per_op(t0));

  send_ch = uvgo_chan_new(sizeof(long), 64);
  uvgo_rt_spawn(rt, consume, send_ch);
  t0 = uv_hrtime();
  uvgo_embed_send(rt, NULL, send_ch, &sent_count, on_sent, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  printf("embed_send + callback: %.0f ns\n", per_op(t0));
  uvgo_chan_release(send_ch);

  int ok = spawned == n_ops && received == n_ops && sent_count == n_ops;
  int closed = uvgo_rt_close(rt);
  uv_run(&loop, UV_RUN_DEFAULT);
  return ok && closed == 0 && uv_loop_close(&loop) == 0 ? 0 : 1;
}
