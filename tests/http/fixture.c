/* HTTP client test fixtures (fixture.h): nginx started by the test, and a
 * scripted raw-socket peer. */
#include "http/fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "tls/fixture.h"

#define NGINX "/usr/sbin/nginx"

static void die(const char *what) {
  uvgo_test_fail(__FILE__, __LINE__, "%s: %s", what, strerror(errno));
}

static void write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (f == NULL)
    die(path);
  if (len > 0 && fwrite(data, 1, len, f) != len)
    die(path);
  fclose(f);
}

static void make_payload(const char *path, size_t len) {
  unsigned char *b = malloc(len);
  if (b == NULL)
    die("malloc");
  for (size_t i = 0; i < len; i++)
    b[i] = http_fx_byte(i);
  write_file(path, b, len);
  free(b);
}

/* A port nobody listens on right now (the kernel's pick). nginx binds it
 * a moment later; if another process took it meanwhile nginx exits and
 * start tries another. */
static unsigned free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
    die("bind");
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  close(fd);
  return ntohs(a.sin_port);
}

static bool accepts(unsigned port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

static void write_locations(const http_nginx *n, FILE *f) {
  fprintf(f,
          "root %s/www;\n"
          "location = /moved { return 301 /1k.bin; }\n"
          "location = /r301 { return 301 /method; }\n"
          "location = /r302 { return 302 /method; }\n"
          "location = /r303 { return 303 /method; }\n"
          "location = /r307 { return 307 /method; }\n"
          "location = /r308 { return 308 /method; }\n"
          "location = /method { return 200 \"$request_method\\n\"; }\n"
          "location = /hdrs { return 200 "
          "\"auth=$http_authorization;cookie=$http_cookie\\n\"; }\n"
          "location = /cross { return 302 http://localhost:%u/hdrs; }\n"
          "location = /same { return 302 /hdrs; }\n"
          "location = /nothing { return 204; }\n"
          "location /ka/ { keepalive_requests 2; alias %s/www/; }\n"
          "location /dav/ { dav_methods PUT; create_full_put_path on;\n"
          "  client_max_body_size 20m; }\n",
          n->dir, n->port, n->dir);
  fprintf(f, "location = /chain/0 { return 200 \"end\\n\"; }\n");
  for (int i = 1; i <= HTTP_FX_CHAIN; i++)
    fprintf(f, "location = /chain/%d { return 302 /chain/%d; }\n", i, i - 1);
}

static void write_conf(http_nginx *n, const tls_fx *certs) {
  char path[256];
  snprintf(path, sizeof path, "%s/nginx.conf", n->dir);
  FILE *f = fopen(path, "w");
  if (f == NULL)
    die(path);
  fprintf(f,
          "daemon off;\nmaster_process off;\nworker_processes 1;\n"
          "error_log %s/error.log warn;\npid %s/nginx.pid;\n"
          "events { worker_connections 1024; }\n"
          "http {\n"
          "  access_log off;\n"
          "  types { text/plain txt; application/octet-stream bin; }\n"
          "  default_type text/plain;\n"
          "  client_body_temp_path %s/tmp/body; proxy_temp_path %s/tmp/proxy;\n"
          "  fastcgi_temp_path %s/tmp/fcgi; uwsgi_temp_path %s/tmp/uwsgi;\n"
          "  scgi_temp_path %s/tmp/scgi;\n"
          "  keepalive_requests 100000;\n"
          "  gzip on; gzip_types text/plain; gzip_min_length 1;\n"
          "  server {\n    listen 127.0.0.1:%u backlog=1024;\n",
          n->dir, n->dir, n->dir, n->dir, n->dir, n->dir, n->dir, n->port);
  write_locations(n, f);
  fprintf(f, "  }\n");
  if (n->tls_port != 0) {
    fprintf(f, "  server {\n    listen 127.0.0.1:%u ssl;\n"
               "    ssl_certificate %s;\n",
            n->tls_port, tls_fx_path(certs, "server.crt"));
    fprintf(f, "    ssl_certificate_key %s;\n", tls_fx_path(certs, "server.key"));
    write_locations(n, f);
    fprintf(f, "  }\n");
  }
  fprintf(f, "}\n");
  fclose(f);
}

static pid_t spawn_nginx(const http_nginx *n) {
  char conf[256], err[256];
  snprintf(conf, sizeof conf, "%s/nginx.conf", n->dir);
  snprintf(err, sizeof err, "%s/error.log", n->dir);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0)
    die("fork");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(1);
    char out[256];
    snprintf(out, sizeof out, "%s/stderr.log", n->dir);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execl(NGINX, "nginx", "-p", n->dir, "-e", err, "-c", conf, (char *)NULL);
    _exit(127);
  }
  return pid;
}

static tls_fx certs_of_last_start;

void http_nginx_start(http_nginx *n, bool tls) {
  memset(n, 0, sizeof *n);
  if (access(NGINX, X_OK) != 0)
    uvgo_test_skip("nginx is not installed (%s)", NGINX);
  snprintf(n->dir, sizeof n->dir, "/tmp/uvgo-nginx-XXXXXX");
  if (mkdtemp(n->dir) == NULL)
    die("mkdtemp");
  char p[256];
  snprintf(p, sizeof p, "%s/www", n->dir);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/www/dav", n->dir);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/tmp", n->dir);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/www/1k.bin", n->dir);
  make_payload(p, HTTP_FX_SMALL);
  snprintf(p, sizeof p, "%s/www/5m.bin", n->dir);
  make_payload(p, HTTP_FX_LARGE);
  snprintf(p, sizeof p, "%s/www/text.txt", n->dir);
  FILE *f = fopen(p, "w");
  if (f == NULL)
    die(p);
  for (int i = 0; i < 1024; i++)
    fprintf(f, "line %04d: the quick brown fox jumps over the lazy dog..\n", i);
  fclose(f);
  if (tls) {
    tls_fx_make(&certs_of_last_start);
    snprintf(n->ca_path, sizeof n->ca_path, "%s",
             tls_fx_path(&certs_of_last_start, "ca.crt"));
  }
  for (int attempt = 0; attempt < 8; attempt++) {
    n->port = free_port();
    n->tls_port = tls ? free_port() : 0;
    write_conf(n, &certs_of_last_start);
    n->pid = spawn_nginx(n);
    /* Up to 20 s for nginx to accept (it starts in milliseconds; the
     * bound only matters on a machine stalled by other work). */
    for (int i = 0; i < 2000; i++) {
      int status;
      if (waitpid(n->pid, &status, WNOHANG) == n->pid) {
        n->pid = 0; /* exited: a port was taken meanwhile; try others */
        break;
      }
      if (accepts(n->port) && (n->tls_port == 0 || accepts(n->tls_port)))
        return;
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    if (n->pid > 0) {
      kill(n->pid, SIGKILL);
      waitpid(n->pid, NULL, 0);
      n->pid = 0;
    }
  }
  char log[256];
  snprintf(log, sizeof log, "%s/error.log", n->dir);
  uvgo_test_fail(__FILE__, __LINE__, "nginx did not start (see %s)", log);
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

void http_nginx_stop(http_nginx *n) {
  if (n->pid > 0) {
    kill(n->pid, SIGKILL);
    waitpid(n->pid, NULL, 0);
    n->pid = 0;
  }
  if (n->dir[0] != '\0') {
    nftw(n->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    n->dir[0] = '\0';
  }
  if (n->ca_path[0] != '\0') {
    tls_fx_remove(&certs_of_last_start);
    n->ca_path[0] = '\0';
  }
}

/* --- the scripted peer --- */

static void *peer_main(void *arg) {
  http_peer *p = arg;
  for (;;) {
    int fd = accept(p->lfd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR)
        continue;
      break; /* shut down by http_peer_stop */
    }
    if (p->stop) {
      close(fd);
      break;
    }
    p->script(fd, atomic_fetch_add(&p->accepted, 1), p->arg);
    close(fd);
  }
  return NULL;
}

void http_peer_start(http_peer *p, http_peer_script script, void *arg) {
  memset(p, 0, sizeof *p);
  p->script = script;
  p->arg = arg;
  p->lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
      listen(p->lfd, 64) != 0)
    die("peer listen");
  socklen_t len = sizeof a;
  getsockname(p->lfd, (struct sockaddr *)&a, &len);
  p->port = ntohs(a.sin_port);
  if (pthread_create(&p->thread, NULL, peer_main, p) != 0)
    die("pthread_create");
}

void http_peer_stop(http_peer *p) {
  p->stop = 1;
  shutdown(p->lfd, SHUT_RDWR); /* wakes accept */
  pthread_join(p->thread, NULL);
  close(p->lfd);
}

ssize_t http_peer_read_head(int fd, char *buf, size_t cap) {
  size_t len = 0;
  char c;
  /* Byte by byte: the head must not eat what follows it. */
  for (;;) {
    ssize_t n = recv(fd, &c, 1, 0);
    if (n == 0)
      return 0;
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (len + 1 < cap)
      buf[len] = c;
    len++;
    if (len >= 4 && len < cap && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0)
      break;
  }
  buf[len < cap ? len : cap - 1] = '\0';
  return (ssize_t)len;
}

int http_peer_send(int fd, const void *s, size_t len) {
  if (len == 0)
    len = strlen(s);
  const char *p = s;
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

void http_peer_reset(int fd) {
  struct linger l = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}
