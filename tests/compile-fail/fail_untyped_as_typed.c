/* Must not compile: a raw uvgo_chan * is not a typed handle. */
#include <uvgo.h>

UVGO_CHAN_DECLARE(int_chan, int)

int use(uvgo_chan *raw);
int use(uvgo_chan *raw) { return int_chan_send(raw, 1); }
