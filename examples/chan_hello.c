/* The article's first channel: an unbuffered rendezvous.
 *
 *   ch := make(chan string)
 *   go func() { ch <- "hello" }()
 *   msg := <-ch
 *   fmt.Println(msg)
 */
#include <stdio.h>
#include <uvgo.h>

static void sender(void *arg) {
  const char *msg = "hello";
  uvgo_chan_send(arg, &msg); /* blocks until main has taken it */
}

static void main_task(void *arg) {
  (void)arg;
  uvgo_chan *ch = uvgo_chan_new(sizeof(const char *), 0);
  uvgo_go(sender, ch);
  const char *msg = NULL;
  uvgo_chan_recv(ch, &msg);
  printf("%s\n", msg);
  uvgo_chan_release(ch);
}

int main(void) { return uvgo_run(NULL, main_task, NULL) == 0 ? 0 : 1; }
