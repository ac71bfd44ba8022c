/* native_platform.c - td_platform.h for a host process (the "native" board).
 *
 * Serial link: a TCP server on 127.0.0.1, exactly as QEMU exposes a UART: the program announces
 * "td-native listening=socket://127.0.0.1:<port>" on stderr and td_platform_init() waits for the host
 * to connect (pyserial's socket:// url), so nothing written early is lost.  A pseudo-terminal was the
 * first choice but pyserial flushes a port's input on open, dropping whatever the program wrote before
 * the host opened it.  If the host disconnects, the next read or write waits for it to reconnect.
 * Counter: CLOCK_MONOTONIC in nanoseconds.  Exit: exit(status) after an exit marker on stderr.
 * stdout/stderr stay a console for diagnostics, as the semihosting console is under QEMU.
 * TD_NATIVE_PORT in the environment picks the port (default: any free one).
 */
#define _GNU_SOURCE /* accept4, SOCK_CLOEXEC, sigaction's SA_SIGINFO fields */

#include "td_platform.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef TD_BOARD_ID
#define TD_BOARD_ID "native"
#endif

#define NATIVE_EXIT_FAULT 70 /* mirrored in tinydeploy.flash.native */
#define EXIT_DRAIN_TIMEOUT_MS 2000

static int link_fd = -1;

static void die(const char *what) {
  fprintf(stderr, "td-native error: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void fault_handler(int sig, siginfo_t *info, void *context) {
  (void)context;
  /* Only async-signal-safe calls here: format by hand, write(2), _exit(2). */
  static const char digits[] = "0123456789abcdef";
  char line[96] = "*** HARDFAULT signal=";
  size_t n = strlen(line);
  line[n++] = (char)('0' + sig / 10);
  line[n++] = (char)('0' + sig % 10);
  const char *addr_label = " addr=0x";
  while (*addr_label) line[n++] = *addr_label++;
  uintptr_t addr = (uintptr_t)info->si_addr;
  for (int shift = (int)sizeof(addr) * 8 - 4; shift >= 0; shift -= 4) line[n++] = digits[(addr >> shift) & 0xFu];
  line[n++] = '\n';
  if (link_fd >= 0) {
    (void)!write(link_fd, line, n);
    shutdown(link_fd, SHUT_WR);
  }
  (void)!write(STDERR_FILENO, line, n);
  _exit(NATIVE_EXIT_FAULT);
}

static void install_fault_handlers(void) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = fault_handler;
  action.sa_flags = SA_SIGINFO | SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  const int signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE};
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; ++i) sigaction(signals[i], &action, NULL);
}

static void die_if(int failed, const char *what) {
  if (failed) die(what);
}

static int listen_fd = -1;

static void open_listener(void) {
  listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  die_if(listen_fd < 0, "socket");
  int one = 1;
  setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const char *port_env = getenv("TD_NATIVE_PORT");
  addr.sin_port = htons((uint16_t)(port_env ? atoi(port_env) : 0));
  die_if(bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0, "bind 127.0.0.1");
  die_if(listen(listen_fd, 1) != 0, "listen");
  socklen_t len = sizeof addr;
  die_if(getsockname(listen_fd, (struct sockaddr *)&addr, &len) != 0, "getsockname");
  fprintf(stderr, "td-native listening=socket://127.0.0.1:%u\n", (unsigned)ntohs(addr.sin_port));
  fflush(stderr);
}

/* Wait up to timeout_ms (< 0: forever) for the host to connect; 0 on success, -1 on timeout. */
static int accept_host(int32_t timeout_ms) {
  struct pollfd pfd = {.fd = listen_fd, .events = POLLIN, .revents = 0};
  for (;;) {
    int ready = poll(&pfd, 1, timeout_ms < 0 ? -1 : (int)timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    die_if(ready < 0, "poll listener");
    if (ready == 0) return -1;
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0 && (errno == EINTR || errno == ECONNABORTED)) continue;
    die_if(fd < 0, "accept");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    link_fd = fd;
    return 0;
  }
}

static void drop_host(void) {
  close(link_fd);
  link_fd = -1;
}

void td_platform_init(void) {
  if (listen_fd >= 0) return;
  signal(SIGPIPE, SIG_IGN);
  install_fault_handlers();
  open_listener();
  accept_host(-1);
}

void td_link_write(const uint8_t *data, size_t n) {
  while (n > 0) {
    if (link_fd < 0) accept_host(-1);
    ssize_t done = send(link_fd, data, n, MSG_NOSIGNAL);
    if (done < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      drop_host(); /* the host went away: wait for it to come back */
      continue;
    }
    data += done;
    n -= (size_t)done;
  }
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int td_link_read(int32_t timeout_ms) {
  int64_t deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
  for (;;) {
    int32_t left = timeout_ms < 0 ? -1 : (int32_t)(deadline - now_ms());
    if (timeout_ms >= 0 && left < 0) left = 0;
    if (link_fd < 0 && accept_host(left) != 0) return -1;
    struct pollfd pfd = {.fd = link_fd, .events = POLLIN, .revents = 0};
    int ready = poll(&pfd, 1, left);
    if (ready < 0 && errno == EINTR) continue;
    die_if(ready < 0, "poll link");
    if (ready == 0) return -1;
    uint8_t byte;
    ssize_t got = recv(link_fd, &byte, 1, 0);
    if (got == 1) return byte;
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    drop_host(); /* EOF or reset: the host disconnected */
  }
}

uint32_t td_counter_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint32_t)((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}

const char *td_counter_unit(void) { return "ns"; }
uint32_t td_counter_scale(void) { return 1u; }
uint32_t td_platform_clock_hz(void) { return 0u; }
const char *td_platform_board(void) { return TD_BOARD_ID; }

/* A host thread's stack is not ours to paint safely (guard pages, signal frames): unsupported. */
void td_stack_paint(void) {}
uint32_t td_stack_used(void) { return 0u; }

/* Close the link gracefully: send FIN, then read (and discard) what the host still sends until it closes
 * too, bounded; closing with unread input would send a reset that can destroy our last bytes in flight. */
static void close_link(void) {
  shutdown(link_fd, SHUT_WR);
  int64_t deadline = now_ms() + EXIT_DRAIN_TIMEOUT_MS;
  uint8_t sink[256];
  for (;;) {
    int32_t left = (int32_t)(deadline - now_ms());
    struct pollfd pfd = {.fd = link_fd, .events = POLLIN, .revents = 0};
    if (left <= 0 || poll(&pfd, 1, left) <= 0) break;
    if (recv(link_fd, sink, sizeof sink, 0) <= 0) break;
  }
  drop_host();
}

void td_platform_exit(int status) {
  if (link_fd >= 0) close_link();
  fprintf(stderr, "*** TD_EXIT status=%d\n", status);
  fflush(NULL);
  exit(status);
}
