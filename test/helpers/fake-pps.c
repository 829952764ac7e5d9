/*
 * A fake RFC 2783 PPS device for tests, loaded with LD_PRELOAD: this machine (and CI)
 * has no /dev/pps*, and loading pps_ktimer would need a kernel module. Opening the path
 * in FAKE_PPS_PATH yields a descriptor (of /dev/null) whose PPS ioctls this library
 * answers; every other open, ioctl and close goes to libc unchanged. It never touches
 * the clock: it only reads CLOCK_REALTIME and sleeps.
 *
 *   FAKE_PPS_PATH    the device path to fake (required)
 *   FAKE_PPS_PHASE   where in each period the pulses come, s (default 0): the system
 *                    clock reads k * period + phase at each pulse, and that reading is
 *                    the assert timestamp
 *   FAKE_PPS_PERIOD  s between pulses (default 1)
 *   FAKE_PPS_MODE    the device's initial PPS_GETPARAMS mode (default 0: the assert
 *                    edge is not captured yet, so the client must PPS_SETPARAMS)
 *   FAKE_PPS_SILENT  "1": no pulse ever comes (every fetch times out)
 *   FAKE_PPS_LOG     a file to which each PPS ioctl is appended as one line
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/pps.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_ioctl)(int, unsigned long, ...);
static int (*real_close)(int);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
#define MAX_FAKE 8
static int fake_fds[MAX_FAKE] = {-1, -1, -1, -1, -1, -1, -1, -1};
static int params_mode = -1;
static unsigned sequence = 0;

static void resolve(void) {
  if (real_open == NULL) real_open = dlsym(RTLD_NEXT, "open");
  if (real_openat == NULL) real_openat = dlsym(RTLD_NEXT, "openat");
  if (real_ioctl == NULL) real_ioctl = dlsym(RTLD_NEXT, "ioctl");
  if (real_close == NULL) real_close = dlsym(RTLD_NEXT, "close");
}

static double env_number(const char *name, double fallback) {
  const char *v = getenv(name);
  return v != NULL && *v != '\0' ? strtod(v, NULL) : fallback;
}

static void log_line(const char *fmt, ...) {
  const char *path = getenv("FAKE_PPS_LOG");
  if (path == NULL) return;
  FILE *f = fopen(path, "a");
  if (f == NULL) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
  fputc('\n', f);
  fclose(f);
}

static int is_fake(int fd) {
  int found = 0;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_FAKE; i++) found |= fake_fds[i] == fd;
  pthread_mutex_unlock(&lock);
  return fd >= 0 && found;
}

static int open_fake(const char *path) {
  const char *fake = getenv("FAKE_PPS_PATH");
  if (fake == NULL || path == NULL || strcmp(path, fake) != 0) return -2;
  int fd = real_open("/dev/null", O_RDWR | O_CLOEXEC);
  if (fd < 0) return fd;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_FAKE; i++) {
    if (fake_fds[i] < 0) {
      fake_fds[i] = fd;
      break;
    }
  }
  if (params_mode < 0) params_mode = (int)env_number("FAKE_PPS_MODE", 0);
  pthread_mutex_unlock(&lock);
  log_line("open %s", path);
  return fd;
}

int open(const char *path, int flags, ...) {
  resolve();
  int fd = open_fake(path);
  if (fd != -2) return fd;
  va_list ap;
  va_start(ap, flags);
  int mode = va_arg(ap, int);
  va_end(ap);
  return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int openat(int dirfd, const char *path, int flags, ...) {
  resolve();
  int fd = open_fake(path);
  if (fd != -2) return fd;
  va_list ap;
  va_start(ap, flags);
  int mode = va_arg(ap, int);
  va_end(ap);
  return real_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

int close(int fd) {
  resolve();
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_FAKE; i++) {
    if (fake_fds[i] == fd) fake_fds[i] = -1;
  }
  pthread_mutex_unlock(&lock);
  return real_close(fd);
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_until_ns(long long t) {
  struct timespec ts = {.tv_sec = (time_t)(t / 1000000000LL), .tv_nsec = (long)(t % 1000000000LL)};
  while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

/* Whole nanoseconds, so the pulses land exactly on k * period + phase. */
static int fetch(struct pps_fdata *data) {
  long long period = llround(env_number("FAKE_PPS_PERIOD", 1) * 1e9);
  long long phase = llround(env_number("FAKE_PPS_PHASE", 0) * 1e9);
  long long timeout = (long long)data->timeout.sec * 1000000000LL + data->timeout.nsec;
  int forever = (data->timeout.flags & PPS_TIME_INVALID) != 0;
  if (forever) timeout = 3600LL * 1000000000LL;
  log_line("PPS_FETCH timeout=%.3f", timeout * 1e-9);
  long long now = now_ns();
  const char *silent = getenv("FAKE_PPS_SILENT");
  long long next = ((now - phase) / period + 1) * period + phase;
  if ((silent != NULL && strcmp(silent, "1") == 0) || next - now > timeout) {
    sleep_until_ns(now + timeout);
    errno = ETIMEDOUT;
    return -1;
  }
  sleep_until_ns(next);
  memset(&data->info, 0, sizeof data->info);
  data->info.assert_tu.sec = (__s64)(next / 1000000000LL);
  data->info.assert_tu.nsec = (__s32)(next % 1000000000LL);
  pthread_mutex_lock(&lock);
  data->info.assert_sequence = ++sequence;
  pthread_mutex_unlock(&lock);
  data->info.current_mode = params_mode;
  return 0;
}

int ioctl(int fd, unsigned long request, ...) {
  resolve();
  va_list ap;
  va_start(ap, request);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  if (!is_fake(fd)) return real_ioctl(fd, request, arg);
  switch (request) {
    case PPS_GETCAP:
      log_line("PPS_GETCAP");
      *(int *)arg = PPS_CAPTUREASSERT | PPS_OFFSETASSERT | PPS_CANWAIT | PPS_TSFMT_TSPEC;
      return 0;
    case PPS_GETPARAMS: {
      struct pps_kparams *p = arg;
      log_line("PPS_GETPARAMS");
      memset(p, 0, sizeof *p);
      p->api_version = PPS_API_VERS;
      pthread_mutex_lock(&lock);
      p->mode = params_mode;
      pthread_mutex_unlock(&lock);
      return 0;
    }
    case PPS_SETPARAMS: {
      struct pps_kparams *p = arg;
      log_line("PPS_SETPARAMS mode=0x%x", p->mode);
      pthread_mutex_lock(&lock);
      params_mode = p->mode;
      pthread_mutex_unlock(&lock);
      return 0;
    }
    case PPS_FETCH:
      return fetch(arg);
    default:
      log_line("unexpected ioctl 0x%lx", request);
      errno = ENOTTY;
      return -1;
  }
}
