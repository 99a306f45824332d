/* select with a timeout: time.After becomes uvgo_after, which allocates
 * nothing.
 *
 *   select {
 *   case msg := <-ch1: fmt.Println("from ch1:", msg)
 *   case msg := <-ch2: fmt.Println("from ch2:", msg)
 *   case <-time.After(2 * time.Second): fmt.Println("timed out")
 *   }
 */
#include <stdio.h>
#include <uvgo.h>

static void slow_sender(void *arg) {
  uvgo_sleep(20);
  const char *msg = "fast enough";
  uvgo_chan_send(arg, &msg);
}

static void wait_once(uvgo_chan *ch1, uvgo_chan *ch2, uint64_t timeout_ms) {
  const char *msg = NULL;
  uvgo_select_case cases[] = {
      UVGO_RECV_CASE(ch1, &msg),
      UVGO_RECV_CASE(ch2, &msg),
      UVGO_RECV_CASE(uvgo_after(timeout_ms), NULL),
  };
  switch (uvgo_select(cases, 3)) {
  case 0: printf("from ch1: %s\n", msg); break;
  case 1: printf("from ch2: %s\n", msg); break;
  case 2: printf("timed out\n"); break;
  }
}

static void main_task(void *arg) {
  (void)arg;
  uvgo_chan *ch1 = uvgo_chan_new(sizeof(const char *), 0);
  uvgo_chan *ch2 = uvgo_chan_new(sizeof(const char *), 0);
  uvgo_go(slow_sender, ch2);
  wait_once(ch1, ch2, 2000); /* ch2 answers after 20 ms */
  wait_once(ch1, ch2, 50);   /* nobody answers: the timeout fires */
  uvgo_chan_release(ch1);
  uvgo_chan_release(ch2);
}

int main(void) { return uvgo_run(NULL, main_task, NULL) == 0 ? 0 : 1; }
