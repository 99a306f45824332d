/* select with a default case: never blocks.
 *
 *   select {
 *   case msg := <-ch: process(msg)
 *   default: // nothing ready, continue
 *   }
 */
#include <stdio.h>
#include <uvgo.h>

static void poll_once(uvgo_chan *ch) {
  int msg = 0;
  uvgo_select_case cases[] = {UVGO_RECV_CASE(ch, &msg)};
  int r = uvgo_select_try(cases, 1);
  if (r == 0)
    printf("processed %d\n", msg);
  else if (r == UV_EAGAIN)
    printf("nothing ready, continue\n");
}

static void main_task(void *arg) {
  (void)arg;
  uvgo_chan *ch = uvgo_chan_new(sizeof(int), 1);
  poll_once(ch);
  int v = 7;
  uvgo_chan_send(ch, &v);
  poll_once(ch);
  uvgo_chan_release(ch);
}

int main(void) { return uvgo_run(NULL, main_task, NULL) == 0 ? 0 : 1; }
