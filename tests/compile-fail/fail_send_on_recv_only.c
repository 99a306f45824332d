/* Must not compile: a send on a receive-only handle (Go: send to
 * receive-only channel). */
#include <uvgo.h>

UVGO_CHAN_DECLARE(int_chan, int)

int use(int_chan c);
int use(int_chan c) { return int_chan_send(int_chan_receiver(c), 1); }
