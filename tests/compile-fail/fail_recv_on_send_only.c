/* Must not compile: a receive from a send-only handle. */
#include <uvgo.h>

UVGO_CHAN_DECLARE(int_chan, int)

int use(int_chan c);
int use(int_chan c) {
  int v;
  return int_chan_recv(int_chan_sender(c), &v);
}
