/* Wrapping any libuv request as a blocking call: the task parks, the
 * request's callback unparks it. Here uv_fs_stat on every path given on
 * the command line (or "/"), each in its own task. */
#include <stdio.h>
#include <sys/stat.h>

#include <uvgo.h>

static void on_stat(uv_fs_t *req) { uvgo_unpark(req->data); }

/* A blocking stat for tasks: parks until libuv calls back. */
static int stat_blocking(const char *path, uv_stat_t *out) {
  uv_fs_t req;
  req.data = uvgo_self();
  int err = uv_fs_stat(uvgo_loop(), &req, path, on_stat);
  if (err == 0) {
    uvgo_park(); /* not a cancellation point: req is libuv's until on_stat */
    err = (int)req.result;
    if (err == 0)
      *out = req.statbuf;
  }
  uv_fs_req_cleanup(&req);
  return err;
}

static void stat_one(void *arg) {
  const char *path = arg;
  uv_stat_t st;
  int err = stat_blocking(path, &st);
  if (err != 0)
    printf("%s: %s\n", path, uvgo_strerror(err));
  else if (S_ISDIR(st.st_mode))
    printf("%s: directory\n", path);
  else
    printf("%s: file, %llu bytes\n", path, (unsigned long long)st.st_size);
}

typedef struct {
  int argc;
  char **argv;
} args;

static void main_task(void *arg) {
  args *a = arg;
  if (a->argc < 2) {
    uvgo_go(stat_one, "/");
    return;
  }
  for (int i = 1; i < a->argc; i++)
    uvgo_go(stat_one, a->argv[i]);
}

int main(int argc, char **argv) {
  args a = {argc, argv};
  int err = uvgo_run(NULL, main_task, &a);
  return err == 0 ? 0 : 1;
}
