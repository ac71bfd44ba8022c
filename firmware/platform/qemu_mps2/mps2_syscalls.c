/* mps2_syscalls.c - the newlib system calls, so that the C library (and TFLM's logging) links and works.
 *
 * stdout/stderr go to the semihosting console, which tinydeploy.flash.qemu captures, never to the UART:
 * the UART carries the harness protocol and stray text would corrupt it.  malloc is not used by our
 * firmware; _sbrk still gives newlib the RAM between .bss and the stack for its stdio buffers.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "mps2_private.h"
#include "td_platform.h"

/* Prototypes for the functions newlib calls (it declares none of them in a public header). */
void *_sbrk(ptrdiff_t increment);
int _write(int fd, const char *buf, int len);
int _read(int fd, char *buf, int len);
int _close(int fd);
int _fstat(int fd, struct stat *st);
int _isatty(int fd);
int _lseek(int fd, int offset, int whence);
void _exit(int status);
int _kill(int pid, int sig);
int _getpid(void);

static uint8_t *heap_end = (uint8_t *)__heap_start;

void *_sbrk(ptrdiff_t increment) {
  uint8_t *previous = heap_end;
  if (increment < 0 || (uintptr_t)(heap_end + increment) > (uintptr_t)__stack_bottom) {
    errno = ENOMEM;
    return (void *)-1;
  }
  heap_end += increment;
  return previous;
}

int _write(int fd, const char *buf, int len) {
  if (fd != 1 && fd != 2) {
    errno = EBADF;
    return -1;
  }
  char chunk[65];
  int done = 0;
  while (done < len) {
    int n = len - done < 64 ? len - done : 64;
    for (int i = 0; i < n; ++i) chunk[i] = buf[done + i] != '\0' ? buf[done + i] : ' ';
    chunk[n] = '\0';
    mps2_semihost_write0(chunk);
    done += n;
  }
  return len;
}

int _read(int fd, char *buf, int len) {
  (void)fd;
  (void)buf;
  (void)len;
  return 0; /* stdin is never used: the link is read with td_link_read */
}

int _close(int fd) {
  (void)fd;
  return -1;
}

int _fstat(int fd, struct stat *st) {
  (void)fd;
  st->st_mode = S_IFCHR;
  return 0;
}

int _isatty(int fd) {
  (void)fd;
  return 1;
}

int _lseek(int fd, int offset, int whence) {
  (void)fd;
  (void)offset;
  (void)whence;
  return 0;
}

void _exit(int status) { td_platform_exit(status); }

int _kill(int pid, int sig) {
  (void)pid;
  (void)sig;
  errno = EINVAL;
  return -1;
}

int _getpid(void) { return 1; }
