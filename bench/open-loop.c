/*
 * bench/open-loop.c — HTTP/1.1 load generator for bench:edge (issue 14).
 *
 * Why a C program: the Node generator it replaces (bench/edge-open-loop.ts
 * before session 2026-12-07 late) fell 8–14 ms behind its own schedule at
 * 80 % of the edge's peak (≈ 45k req/s), so hello-world ITSELF showed a
 * 9–10 ms p99: the generator was the floor, not the server. wrk2 is not
 * packaged here; wrk's delay() ticks in whole ms (bursts). This is the
 * smallest thing that measures the server: one thread, epoll, no
 * allocation per request.
 *
 * Open loop (--rate R > 0, wrk2's method):
 *   request k is due at t0 + k/R (CLOCK_MONOTONIC, ns), whatever the
 *   answers do. The loop sleeps in epoll_pwait2 until the next due time
 *   (ns timeout, timer slack set to 1 ns; one syscall, no timerfd), and
 *   on each wake-up every due request leaves round-robin
 *   over the connections, one write() per connection per wake-up. A
 *   request due on a connection still waiting for an answer is pipelined
 *   behind it (HTTP/1.1 answers come in order): a slow server shows as
 *   latency, not as a lower offered rate. Latency is measured from the
 *   request's SCHEDULED time to the read() that completes its answer
 *   (coordinated-omission corrected): if this program falls behind, that
 *   counts too, and sendLag* says by how much it did.
 * Closed loop (--rate 0): every connection keeps --depth requests in
 *   flight (depth 1 = wrk without pipelining); latency from the send.
 *
 * Requests: GET <path> with one Authorization value per line of
 * --auth-file (the same file wrk's Lua script reads), one picked at random
 * (xorshift) per request, pre-built once. Answers are framed by their
 * Content-Length (header name in any case); status outside 2xx is counted.
 * Latencies go into a log-linear histogram of ns values (HdrHistogram's
 * layout: 128 linear sub-buckets per power of two, ≤ 0.8 % error).
 *
 * Only the window [warm-up, warm-up + duration) of SCHEDULED times is
 * measured; after it, answers are awaited ≤ --drain seconds and the ones
 * still missing are reported as `unanswered` — and enter the percentiles
 * with their latency so far (end − scheduled, a lower bound), as do those
 * lost with a closed connection: an overloaded server's p99 is not
 * flattered by leaving out the answers that never came.
 *
 * Output: one JSON object on stdout (µs). Errors: a message on stderr,
 * exit 2 (usage) or 1 (run).
 *
 *   cc -O2 -o open-loop bench/open-loop.c
 *   open-loop --port 8080 --auth-file sessions.txt --path /v1/code \
 *             --rate 40000 --duration 10 --connections 64 [--host 127.0.0.1]
 *             [--warmup 1] [--drain 2] [--depth 1] [--seed 1]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ── histogram: HdrHistogram-like, ns values up to 2^44 (≈ 4.9 h) ─────────── */

#define SUB 128 /* linear sub-buckets per power of two */
#define HBUCKETS ((44 - 7 + 1) * SUB + 2 * SUB)

typedef struct {
  uint64_t c[HBUCKETS];
  uint64_t n, max;
  double sum;
} hist_t;

static inline int hidx(uint64_t v) {
  if (v < 2 * SUB) return (int)v;
  int msb = 63 - __builtin_clzll(v);
  int shift = msb - 7; /* v >> shift is in [128, 255] */
  int i = (shift << 7) + (int)(v >> shift);
  return i < HBUCKETS ? i : HBUCKETS - 1;
}

/* the highest value that maps to bucket i (HdrHistogram reports this too) */
static uint64_t hval(int i) {
  if (i < 2 * SUB) return (uint64_t)i;
  int shift = (i >> 7) - 1;
  uint64_t m = (uint64_t)(i - (shift << 7));
  return ((m + 1) << shift) - 1;
}

static inline void hrec(hist_t *h, uint64_t v) {
  h->c[hidx(v)]++;
  h->n++;
  h->sum += (double)v;
  if (v > h->max) h->max = v;
}

static double hpct_us(const hist_t *h, double p) {
  if (h->n == 0) return 0;
  uint64_t target = (uint64_t)((p / 100.0) * (double)h->n + 0.999999);
  if (target < 1) target = 1;
  uint64_t acc = 0;
  for (int i = 0; i < HBUCKETS; i++) {
    acc += h->c[i];
    if (acc >= target) {
      uint64_t v = hval(i);
      return (double)(v < h->max ? v : h->max) / 1000.0;
    }
  }
  return (double)h->max / 1000.0;
}

/* ── connections ──────────────────────────────────────────────────────────── */

typedef struct {
  int fd;
  int dead;
  /* scheduled (open) or sent (closed) times of requests awaiting an answer: a ring */
  int64_t *due;
  uint32_t cap, head, len;
  /* bytes not yet written (EAGAIN) */
  char *out;
  size_t outLen, outCap;
  int wantOut;
  /* bytes read, not yet a whole answer */
  char *in;
  size_t inLen, inCap;
} conn_t;

static void die(const char *what) {
  fprintf(stderr, "open-loop: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (q == NULL) die("out of memory");
  return q;
}

static inline int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void due_push(conn_t *c, int64_t t) {
  if (c->len == c->cap) {
    uint32_t ncap = c->cap * 2;
    int64_t *n = xrealloc(NULL, ncap * sizeof(int64_t));
    for (uint32_t k = 0; k < c->len; k++) n[k] = c->due[(c->head + k) & (c->cap - 1)];
    free(c->due);
    c->due = n;
    c->cap = ncap;
    c->head = 0;
  }
  c->due[(c->head + c->len) & (c->cap - 1)] = t;
  c->len++;
}

static inline int64_t due_pop(conn_t *c) {
  int64_t t = c->due[c->head];
  c->head = (c->head + 1) & (c->cap - 1);
  c->len--;
  return t;
}

static void out_append(conn_t *c, const char *p, size_t n) {
  if (c->outLen + n > c->outCap) {
    c->outCap = (c->outLen + n) * 2;
    c->out = xrealloc(c->out, c->outCap);
  }
  memcpy(c->out + c->outLen, p, n);
  c->outLen += n;
}

/* ── state ────────────────────────────────────────────────────────────────── */

static conn_t *conns;
static int nconns;
static int ep;
static char **reqs;
static size_t *reqLen;
static size_t nreqs;
static uint64_t rng = 88172645463325252ULL;
static hist_t lat, lag;
static int64_t measureFrom, measureTo;
static uint64_t sent, measuredSent, completed, statusErrors, socketErrors, lostOnClose, parseErrors;

static inline uint64_t xorshift(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void conn_lost(conn_t *c, const char *why) {
  if (c->dead) return;
  if (socketErrors + parseErrors < 5) fprintf(stderr, "open-loop: connection %d lost: %s (errno %d)\n", (int)(c - conns), why, errno);
  c->dead = 1;
  if (strncmp(why, "answer", 6) != 0 && strncmp(why, "unframeable", 11) != 0) socketErrors++;
  int64_t now = now_ns();
  for (uint32_t k = 0; k < c->len; k++) {
    int64_t t = c->due[(c->head + k) & (c->cap - 1)];
    if (t >= measureFrom && t < measureTo) {
      lostOnClose++;
      hrec(&lat, (uint64_t)(now > t ? now - t : 0)); /* a lower bound: it never came */
    }
  }
  c->len = 0;
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
}

static void flush_out(conn_t *c) {
  size_t off = 0;
  while (off < c->outLen) {
    ssize_t w = write(c->fd, c->out + off, c->outLen - off);
    if (w > 0) {
      off += (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    conn_lost(c, "write");
    return;
  }
  if (off > 0) {
    memmove(c->out, c->out + off, c->outLen - off);
    c->outLen -= off;
  }
  int want = c->outLen > 0;
  if (want != c->wantOut) {
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.u32 = (uint32_t)(c - conns)};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->wantOut = want;
  }
}

static inline void queue_request(conn_t *c, int64_t t) {
  size_t k = nreqs == 1 ? 0 : (size_t)(xorshift() % nreqs);
  out_append(c, reqs[k], reqLen[k]);
  due_push(c, t);
  sent++;
}

/* value of a Content-Length header in head[0, n) (any case), or -1 */
static long content_length(const char *head, size_t n) {
  static const char name[] = "content-length:";
  const size_t L = sizeof(name) - 1;
  for (size_t i = 0; i + 1 + L < n; i++) {
    if (head[i] != '\n') continue;
    if (strncasecmp(head + i + 1, name, L) != 0) continue;
    size_t p = i + 1 + L;
    while (p < n && (head[p] == ' ' || head[p] == '\t')) p++;
    long v = 0;
    int digits = 0;
    for (; p < n && head[p] >= '0' && head[p] <= '9'; p++, digits++) v = v * 10 + (head[p] - '0');
    return digits > 0 ? v : -1;
  }
  return -1;
}

/* closed loop: a connection answered, send the next */
static int closedLoop;
static int64_t closedStop;

static void on_readable(conn_t *c) {
  for (;;) {
    if (c->inCap - c->inLen < 16384) {
      c->inCap = c->inCap * 2;
      c->in = xrealloc(c->in, c->inCap);
    }
    ssize_t r = read(c->fd, c->in + c->inLen, c->inCap - c->inLen);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (r <= 0) {
      conn_lost(c, r == 0 ? "closed by the server" : "read");
      return;
    }
    c->inLen += (size_t)r;
    if ((size_t)r < c->inCap - c->inLen + (size_t)r) break; /* short read: the socket is drained */
  }
  int64_t now = now_ns();
  size_t off = 0;
  int answered = 0;
  while (c->inLen - off >= 16) {
    char *p = c->in + off;
    char *end = memmem(p, c->inLen - off, "\r\n\r\n", 4);
    if (end == NULL) break;
    size_t headLen = (size_t)(end - p) + 4;
    long cl = content_length(p, headLen);
    if (cl < 0) {
      /* every answer here carries Content-Length (uWS, Node http): without one we cannot frame */
      parseErrors++;
      conn_lost(c, "unframeable answer");
      return;
    }
    if (c->inLen - off < headLen + (size_t)cl) break;
    int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (memcmp(p, "HTTP/1.", 7) != 0) {
      parseErrors++;
      conn_lost(c, "unframeable answer");
      return;
    }
    off += headLen + (size_t)cl;
    if (c->len == 0) {
      parseErrors++; /* an answer nobody asked for */
      conn_lost(c, "answer without a request");
      return;
    }
    int64_t t = due_pop(c);
    answered++;
    if (status < 200 || status > 299) statusErrors++;
    if (t >= measureFrom && t < measureTo) {
      completed++;
      hrec(&lat, (uint64_t)(now > t ? now - t : 0));
    }
  }
  if (off > 0) {
    memmove(c->in, c->in + off, c->inLen - off);
    c->inLen -= off;
  }
  if (closedLoop && answered > 0 && now < closedStop) {
    for (int k = 0; k < answered; k++) {
      if (now >= measureFrom && now < measureTo) measuredSent++;
      queue_request(c, now);
    }
    flush_out(c);
  }
}

static void usage(const char *msg) {
  fprintf(stderr,
          "open-loop: %s\nusage: open-loop --port N --auth-file FILE [--path /v1/code] [--host 127.0.0.1]\n"
          "                 [--rate REQ_PER_S (0 = closed loop)] [--depth 1] [--duration 10] [--warmup 1]\n"
          "                 [--drain 2] [--connections 64] [--seed 1]\n",
          msg);
  exit(2);
}

static double num(const char *flag, const char *v, double lo, double hi) {
  char *e;
  double d = strtod(v, &e);
  if (*v == '\0' || *e != '\0' || !(d >= lo && d <= hi)) {
    char m[200];
    snprintf(m, sizeof m, "%s needs a number %g–%g, got '%s'", flag, lo, hi, v);
    usage(m);
  }
  return d;
}

static void load_requests(const char *file, const char *path, const char *hostHeader) {
  FILE *f = fopen(file, "r");
  if (f == NULL) die(file);
  size_t cap = 1024;
  reqs = xrealloc(NULL, cap * sizeof(char *));
  reqLen = xrealloc(NULL, cap * sizeof(size_t));
  char *line = NULL;
  size_t lcap = 0;
  ssize_t n;
  while ((n = getline(&line, &lcap, f)) >= 0) {
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    if (n == 0) continue;
    if (nreqs == cap) {
      cap *= 2;
      reqs = xrealloc(reqs, cap * sizeof(char *));
      reqLen = xrealloc(reqLen, cap * sizeof(size_t));
    }
    int len = asprintf(&reqs[nreqs], "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n\r\n", path, hostHeader, line);
    if (len < 0) die("asprintf");
    reqLen[nreqs++] = (size_t)len;
  }
  free(line);
  fclose(f);
  if (nreqs == 0) {
    fprintf(stderr, "open-loop: %s has no Authorization values (one per line)\n", file);
    exit(2);
  }
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *path = "/v1/code", *authFile = NULL;
  int port = 0, depth = 1;
  double rate = -1, duration = 10, warmup = 1, drain = 2;
  nconns = 64;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) usage("every flag needs a value");
    const char *v = argv[++i];
    if (!strcmp(a, "--host")) host = v;
    else if (!strcmp(a, "--port")) port = (int)num(a, v, 1, 65535);
    else if (!strcmp(a, "--path")) path = v;
    else if (!strcmp(a, "--auth-file")) authFile = v;
    else if (!strcmp(a, "--rate")) rate = num(a, v, 0, 1e8);
    else if (!strcmp(a, "--depth")) depth = (int)num(a, v, 1, 1024);
    else if (!strcmp(a, "--duration")) duration = num(a, v, 0.05, 3600);
    else if (!strcmp(a, "--warmup")) warmup = num(a, v, 0, 600);
    else if (!strcmp(a, "--drain")) drain = num(a, v, 0, 600);
    else if (!strcmp(a, "--connections")) nconns = (int)num(a, v, 1, 100000);
    else if (!strcmp(a, "--seed")) rng = (uint64_t)num(a, v, 1, 1e15) * 2654435761ULL | 1;
    else {
      char m[200];
      snprintf(m, sizeof m, "unknown flag %s", a);
      usage(m);
    }
  }
  if (port == 0 || authFile == NULL) usage("--port and --auth-file are required");
  if (rate < 0) usage("--rate is required (0 = closed loop)");
  closedLoop = rate == 0;

  struct in_addr addr;
  if (inet_pton(AF_INET, host, &addr) != 1) usage("--host must be an IPv4 address");
  char hostHeader[300];
  snprintf(hostHeader, sizeof hostHeader, "%s:%d", host, port);
  load_requests(authFile, path, hostHeader);

  signal(SIGPIPE, SIG_IGN); /* a server that closes shows as a socket error, not as our death */
  /* the default timer slack (50 µs) would bunch a 25 µs schedule */
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  conns = calloc((size_t)nconns, sizeof(conn_t));
  if (conns == NULL) die("calloc");
  for (int i = 0; i < nconns; i++) {
    conn_t *c = &conns[i];
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = addr};
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) die("connect");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    c->cap = 64;
    c->due = xrealloc(NULL, c->cap * sizeof(int64_t));
    c->outCap = 4096;
    c->out = xrealloc(NULL, c->outCap);
    c->inCap = 65536;
    c->in = xrealloc(NULL, c->inCap);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) die("epoll_ctl");
  }

  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  const int64_t start = now_ns();
  measureFrom = start + (int64_t)(warmup * 1e9);
  measureTo = measureFrom + (int64_t)(duration * 1e9);
  closedStop = measureTo;
  const double interval = closedLoop ? 0 : 1e9 / rate;
  uint64_t k = 0; /* next request's index in the schedule */
  int rr = 0;
  int *touched = xrealloc(NULL, (size_t)nconns * sizeof(int));
  char *isTouched = calloc((size_t)nconns, 1);
  int64_t next = -1; /* open loop: when the next request is due */
  struct epoll_event evs[256];

  if (closedLoop) {
    for (int i = 0; i < nconns; i++) {
      for (int d = 0; d < depth; d++) queue_request(&conns[i], start);
      flush_out(&conns[i]);
    }
  }

  int64_t drainUntil = -1;
  int scheduleDone = 0;
  for (;;) {
    int64_t now = now_ns();
    if (!closedLoop && !scheduleDone) {
      /* send every request due by now (also after the window's end if we fell behind: it was scheduled) */
      int nt = 0;
      for (;;) {
        int64_t t = start + (int64_t)((double)k * interval);
        if (t >= measureTo) {
          scheduleDone = 1;
          break;
        }
        if (t > now) break;
        int tries = 0;
        while (conns[rr].dead && tries++ < nconns) rr = rr + 1 == nconns ? 0 : rr + 1;
        if (tries >= nconns) break;
        conn_t *c = &conns[rr];
        rr = rr + 1 == nconns ? 0 : rr + 1;
        if (t >= measureFrom) {
          measuredSent++;
          hrec(&lag, (uint64_t)(now - t));
        }
        queue_request(c, t);
        k++;
        if (!isTouched[c - conns]) {
          isTouched[c - conns] = 1;
          touched[nt++] = (int)(c - conns);
        }
      }
      for (int j = 0; j < nt; j++) {
        isTouched[touched[j]] = 0;
        flush_out(&conns[touched[j]]);
      }
      next = start + (int64_t)((double)k * interval);
    }
    int alive = 0;
    uint64_t outstanding = 0;
    for (int i = 0; i < nconns; i++)
      if (!conns[i].dead) {
        alive++;
        outstanding += conns[i].len;
      }
    if (alive == 0) break;
    if (now >= measureTo && (closedLoop || scheduleDone)) {
      if (drainUntil < 0) drainUntil = now + (int64_t)(drain * 1e9);
      if (outstanding == 0 || now >= drainUntil) break;
    }
    /* open loop: sleep in epoll until the next request is due (ns timeout, timer slack 1 ns: the next
       send is at most tens of µs away); once the schedule is done, poll the drain every 10 ms */
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 10000000};
    if (!closedLoop && !scheduleDone) {
      int64_t wait = next - now_ns();
      if (wait < 0) wait = 0;
      ts.tv_sec = wait / 1000000000LL;
      ts.tv_nsec = wait % 1000000000LL;
    }
    int n = epoll_pwait2(ep, evs, 256, &ts, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOSYS) {
        fprintf(stderr, "open-loop: epoll_pwait2 is missing: this generator needs Linux 5.11 or later\n");
        exit(1);
      }
      die("epoll_pwait2");
    }
    for (int j = 0; j < n; j++) {
      uint32_t id = evs[j].data.u32;
      conn_t *c = &conns[id];
      if (c->dead) continue;
      if (evs[j].events & (EPOLLERR | EPOLLHUP)) {
        if (evs[j].events & EPOLLIN) on_readable(c);
        conn_lost(c, "EPOLLERR/EPOLLHUP");
        continue;
      }
      if (evs[j].events & EPOLLIN) on_readable(c);
      if (!c->dead && (evs[j].events & EPOLLOUT)) flush_out(c);
    }
  }
  int64_t end = now_ns();
  getrusage(RUSAGE_SELF, &ru1);
  uint64_t unanswered = 0;
  for (int i = 0; i < nconns; i++) {
    conn_t *c = &conns[i];
    if (c->dead) continue;
    for (uint32_t q = 0; q < c->len; q++) {
      int64_t t = c->due[(c->head + q) & (c->cap - 1)];
      if (t >= measureFrom && t < measureTo) {
        unanswered++;
        hrec(&lat, (uint64_t)(end > t ? end - t : 0)); /* a lower bound: still waiting when the run ended */
      }
    }
    close(c->fd);
  }
  unanswered += lostOnClose;
  double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) + (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
               ((double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) + (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec)) / 1e6;
  printf("{\"mode\":\"%s\",\"offeredQps\":%.1f,\"depth\":%d,\"connections\":%d,\"durationSec\":%.3f,\"warmupSec\":%.3f,"
         "\"sessions\":%zu,\"sent\":%llu,\"completed\":%llu,\"unanswered\":%llu,\"achievedQps\":%.1f,"
         "\"statusErrors\":%llu,\"socketErrors\":%llu,\"parseErrors\":%llu,"
         "\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,\"mean\":%.1f,"
         "\"sendLagP50\":%.1f,\"sendLagP99\":%.1f,\"lateMs\":%.3f,\"cpuSec\":%.3f,\"wallSec\":%.3f}\n",
         closedLoop ? "closed" : "open", rate, closedLoop ? depth : 0, nconns, duration, warmup, nreqs, (unsigned long long)measuredSent,
         (unsigned long long)completed, (unsigned long long)unanswered, (double)completed / duration, (unsigned long long)statusErrors,
         (unsigned long long)socketErrors, (unsigned long long)parseErrors, hpct_us(&lat, 50), hpct_us(&lat, 90), hpct_us(&lat, 99),
         hpct_us(&lat, 99.9), (double)lat.max / 1000.0, lat.n ? lat.sum / (double)lat.n / 1000.0 : 0.0, hpct_us(&lag, 50),
         hpct_us(&lag, 99), (double)lag.max / 1e6, cpu, (double)(end - start) / 1e9);
  return 0;
}
