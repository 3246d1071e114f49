/*
 * noblock_preload: an LD_PRELOAD library that proves PortAudio stream
 * callbacks allocate nothing, take no lock and make no blocking call.
 *
 * It interposes Pa_OpenStream and hands PortAudio a trampoline instead of
 * the program's callback; the trampoline raises a thread-local flag around
 * the real callback. Every allocator, lock, sleep, I/O and stdio entry point
 * below is interposed too: a call made while the flag is up is counted
 * (atomically, per symbol) and the first offender's name kept. Calls from
 * libc to itself bypass the PLT and are not seen; the callback's own calls
 * and those of the libraries it calls are.
 *
 * At exit the library writes one line to the file named by NOBLOCK_REPORT
 * (stderr when unset):
 *   callbacks=N capture=N playback=N streams=N violations=M first=SYM by=SYM:n,...
 *
 * NOBLOCK_SELFTEST=1 makes the trampoline allocate, lock and sleep once
 * inside the flagged region (before the real callback), so a test can show
 * that the detector detects.
 *
 * Threads: any. The trampoline runs on the audio thread; nothing here locks
 * or allocates on that path except the deliberate self-test.
 */
#undef _FORTIFY_SOURCE /* the stdio and I/O entry points are defined here */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <portaudio.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* glibc's allocator under its internal names: no dlsym recursion. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

/* Every interposed symbol, in report order. */
/* clang-format off */
#define SYMS(X) \
	/* allocation */ \
	X(malloc) X(calloc) X(realloc) X(reallocarray) X(free) X(posix_memalign) \
	X(aligned_alloc) X(memalign) X(valloc) X(pvalloc) \
	/* locks and waits */ \
	X(pthread_mutex_lock) X(pthread_mutex_trylock) X(pthread_mutex_timedlock) \
	X(pthread_rwlock_rdlock) X(pthread_rwlock_wrlock) X(pthread_spin_lock) \
	X(pthread_cond_wait) X(pthread_cond_timedwait) X(pthread_cond_signal) \
	X(pthread_cond_broadcast) X(pthread_join) X(sem_wait) X(sem_timedwait) X(sem_post) \
	/* sleeping */ \
	X(nanosleep) X(clock_nanosleep) X(usleep) X(sleep) X(sched_yield) \
	/* I/O */ \
	X(write) X(read) X(writev) X(readv) X(open) X(close) X(fsync) X(send) X(recv) X(sendto) \
	X(recvfrom) X(sendmsg) X(recvmsg) X(poll) X(ppoll) X(select) X(epoll_wait) \
	/* stdio */ \
	X(printf) X(fprintf) X(vprintf) X(vfprintf) X(puts) X(fputs) X(fputc) \
	X(putc) X(putchar) X(fwrite) X(fflush) X(perror) X(__printf_chk) X(__fprintf_chk) \
	X(__vprintf_chk) X(__vfprintf_chk)
/* clang-format on */

#define AS_ENUM(s) SYM_##s,
#define AS_NAME(s) #s,
enum sym { SYMS(AS_ENUM) SYM_COUNT };
static const char *const sym_names[SYM_COUNT] = {SYMS(AS_NAME)};

static __thread int in_cb __attribute__((tls_model("initial-exec")));
static _Atomic uint64_t counts[SYM_COUNT];
static _Atomic uint64_t violations;
static _Atomic(const char *) first;
static _Atomic uint64_t cap_callbacks, play_callbacks, streams;

static inline void note(enum sym s)
{
	if (__builtin_expect(!in_cb, 1))
		return;
	const char *none = NULL;

	atomic_fetch_add_explicit(&counts[s], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&violations, 1, memory_order_relaxed);
	atomic_compare_exchange_strong(&first, &none, sym_names[s]);
}

/* The next definition of a symbol; resolved once, on first use. */
#define REAL(name)                                                                                 \
	static __typeof__(&name) real_##name;                                                      \
	if (!real_##name)                                                                          \
		*(void **)&real_##name = dlsym(RTLD_NEXT, #name);
#define REALV(name, ver)                                                                           \
	static __typeof__(&name) real_##name;                                                      \
	if (!real_##name)                                                                          \
		*(void **)&real_##name = dlvsym(RTLD_NEXT, #name, ver);

/* ---- PortAudio: the trampoline ---- */

#define MAX_STREAMS 64

struct slot {
	_Atomic int used;
	PaStream *_Atomic stream;
	PaStreamCallback *cb;
	void *user;
	bool capture;
	_Atomic int selftest_done;
};

static struct slot slots[MAX_STREAMS];
static bool selftest;

static void run_selftest(void)
{
	static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	const struct timespec zero = {0, 0};
	char *p = strdup("noblock"); /* libc's strdup calls malloc through the PLT */

	free(p);
	pthread_mutex_lock(&m);
	pthread_mutex_unlock(&m);
	nanosleep(&zero, NULL);
}

static int trampoline(const void *in, void *out, unsigned long frames,
                      const PaStreamCallbackTimeInfo *ti, PaStreamCallbackFlags flags, void *arg)
{
	struct slot *s = arg;
	int rc;

	in_cb = 1;
	atomic_fetch_add_explicit(s->capture ? &cap_callbacks : &play_callbacks, 1,
	                          memory_order_relaxed);
	if (selftest && !atomic_exchange(&s->selftest_done, 1))
		run_selftest();
	rc = s->cb(in, out, frames, ti, flags, s->user);
	in_cb = 0;
	return rc;
}

EXPORT PaError Pa_OpenStream(PaStream **stream, const PaStreamParameters *in,
                             const PaStreamParameters *out, double rate, unsigned long fpb,
                             PaStreamFlags flags, PaStreamCallback *cb, void *user)
{
	REAL(Pa_OpenStream);
	struct slot *s = NULL;

	if (!cb)
		return real_Pa_OpenStream(stream, in, out, rate, fpb, flags, cb, user);
	for (int i = 0; i < MAX_STREAMS && !s; i++) {
		int zero = 0;

		if (atomic_compare_exchange_strong(&slots[i].used, &zero, 1))
			s = &slots[i];
	}
	if (!s) {
		fputs("noblock_preload: too many open streams\n", stderr);
		return paInsufficientMemory;
	}
	s->cb = cb;
	s->user = user;
	s->capture = in != NULL;
	atomic_store(&s->selftest_done, 0);
	atomic_store(&s->stream, NULL);
	PaError e = real_Pa_OpenStream(stream, in, out, rate, fpb, flags, trampoline, s);
	if (e != paNoError) {
		atomic_store(&s->used, 0);
		return e;
	}
	atomic_store(&s->stream, *stream);
	atomic_fetch_add(&streams, 1);
	return e;
}

EXPORT PaError Pa_CloseStream(PaStream *stream)
{
	REAL(Pa_CloseStream);
	PaError e = real_Pa_CloseStream(stream);

	/* Callbacks are over once the stream is closed: the slot may be reused. */
	for (int i = 0; i < MAX_STREAMS; i++)
		if (atomic_load(&slots[i].used) && atomic_load(&slots[i].stream) == stream) {
			atomic_store(&slots[i].stream, NULL);
			atomic_store(&slots[i].used, 0);
		}
	return e;
}

/* ---- allocation ---- */

EXPORT void *malloc(size_t n)
{
	note(SYM_malloc);
	return __libc_malloc(n);
}

EXPORT void *calloc(size_t n, size_t size)
{
	note(SYM_calloc);
	return __libc_calloc(n, size);
}

EXPORT void *realloc(void *p, size_t n)
{
	note(SYM_realloc);
	return __libc_realloc(p, n);
}

EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
	note(SYM_reallocarray);
	if (size && n > (size_t)-1 / size) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_realloc(p, n * size);
}

EXPORT void free(void *p)
{
	note(SYM_free);
	__libc_free(p);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	note(SYM_posix_memalign);
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	void *p = __libc_memalign(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
	note(SYM_aligned_alloc);
	return __libc_memalign(align, n);
}

EXPORT void *memalign(size_t align, size_t n)
{
	note(SYM_memalign);
	return __libc_memalign(align, n);
}

EXPORT void *valloc(size_t n)
{
	note(SYM_valloc);
	return __libc_valloc(n);
}

EXPORT void *pvalloc(size_t n)
{
	note(SYM_pvalloc);
	return __libc_pvalloc(n);
}

/* ---- locks and waits ---- */

EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
	REAL(pthread_mutex_lock);
	note(SYM_pthread_mutex_lock);
	return real_pthread_mutex_lock(m);
}

EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
	REAL(pthread_mutex_trylock);
	note(SYM_pthread_mutex_trylock);
	return real_pthread_mutex_trylock(m);
}

EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *t)
{
	REAL(pthread_mutex_timedlock);
	note(SYM_pthread_mutex_timedlock);
	return real_pthread_mutex_timedlock(m, t);
}

EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	REAL(pthread_rwlock_rdlock);
	note(SYM_pthread_rwlock_rdlock);
	return real_pthread_rwlock_rdlock(l);
}

EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	REAL(pthread_rwlock_wrlock);
	note(SYM_pthread_rwlock_wrlock);
	return real_pthread_rwlock_wrlock(l);
}

EXPORT int pthread_spin_lock(pthread_spinlock_t *l)
{
	REAL(pthread_spin_lock);
	note(SYM_pthread_spin_lock);
	return real_pthread_spin_lock(l);
}

/* The condition variable calls have two versions; programs link the 2.3.2 ones. */
EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	REALV(pthread_cond_wait, "GLIBC_2.3.2");
	note(SYM_pthread_cond_wait);
	return real_pthread_cond_wait(c, m);
}

EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t)
{
	REALV(pthread_cond_timedwait, "GLIBC_2.3.2");
	note(SYM_pthread_cond_timedwait);
	return real_pthread_cond_timedwait(c, m, t);
}

EXPORT int pthread_cond_signal(pthread_cond_t *c)
{
	REALV(pthread_cond_signal, "GLIBC_2.3.2");
	note(SYM_pthread_cond_signal);
	return real_pthread_cond_signal(c);
}

EXPORT int pthread_cond_broadcast(pthread_cond_t *c)
{
	REALV(pthread_cond_broadcast, "GLIBC_2.3.2");
	note(SYM_pthread_cond_broadcast);
	return real_pthread_cond_broadcast(c);
}

EXPORT int pthread_join(pthread_t t, void **ret)
{
	REAL(pthread_join);
	note(SYM_pthread_join);
	return real_pthread_join(t, ret);
}

EXPORT int sem_wait(sem_t *s)
{
	REAL(sem_wait);
	note(SYM_sem_wait);
	return real_sem_wait(s);
}

EXPORT int sem_timedwait(sem_t *s, const struct timespec *t)
{
	REAL(sem_timedwait);
	note(SYM_sem_timedwait);
	return real_sem_timedwait(s, t);
}

EXPORT int sem_post(sem_t *s)
{
	REAL(sem_post);
	note(SYM_sem_post);
	return real_sem_post(s);
}

/* ---- sleeping ---- */

EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	REAL(nanosleep);
	note(SYM_nanosleep);
	return real_nanosleep(req, rem);
}

EXPORT int clock_nanosleep(clockid_t clk, int fl, const struct timespec *req, struct timespec *rem)
{
	REAL(clock_nanosleep);
	note(SYM_clock_nanosleep);
	return real_clock_nanosleep(clk, fl, req, rem);
}

EXPORT int usleep(useconds_t us)
{
	REAL(usleep);
	note(SYM_usleep);
	return real_usleep(us);
}

EXPORT unsigned int sleep(unsigned int s)
{
	REAL(sleep);
	note(SYM_sleep);
	return real_sleep(s);
}

EXPORT int sched_yield(void)
{
	REAL(sched_yield);
	note(SYM_sched_yield);
	return real_sched_yield();
}

/* ---- file and socket I/O ---- */

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	REAL(write);
	note(SYM_write);
	return real_write(fd, buf, n);
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	REAL(read);
	note(SYM_read);
	return real_read(fd, buf, n);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int n)
{
	REAL(writev);
	note(SYM_writev);
	return real_writev(fd, iov, n);
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
	REAL(readv);
	note(SYM_readv);
	return real_readv(fd, iov, n);
}

EXPORT int open(const char *path, int fl, ...)
{
	REAL(open);
	mode_t mode = 0;

	if (fl & (O_CREAT | O_TMPFILE)) {
		va_list ap;

		va_start(ap, fl);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	note(SYM_open);
	return real_open(path, fl, mode);
}

EXPORT int close(int fd)
{
	REAL(close);
	note(SYM_close);
	return real_close(fd);
}

EXPORT int fsync(int fd)
{
	REAL(fsync);
	note(SYM_fsync);
	return real_fsync(fd);
}

EXPORT ssize_t send(int fd, const void *buf, size_t n, int fl)
{
	REAL(send);
	note(SYM_send);
	return real_send(fd, buf, n, fl);
}

EXPORT ssize_t recv(int fd, void *buf, size_t n, int fl)
{
	REAL(recv);
	note(SYM_recv);
	return real_recv(fd, buf, n, fl);
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int fl, const struct sockaddr *a,
                      socklen_t al)
{
	REAL(sendto);
	note(SYM_sendto);
	return real_sendto(fd, buf, n, fl, a, al);
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int fl, struct sockaddr *a, socklen_t *al)
{
	REAL(recvfrom);
	note(SYM_recvfrom);
	return real_recvfrom(fd, buf, n, fl, a, al);
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int fl)
{
	REAL(sendmsg);
	note(SYM_sendmsg);
	return real_sendmsg(fd, m, fl);
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int fl)
{
	REAL(recvmsg);
	note(SYM_recvmsg);
	return real_recvmsg(fd, m, fl);
}

EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	REAL(poll);
	note(SYM_poll);
	return real_poll(fds, n, timeout);
}

EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *mask)
{
	REAL(ppoll);
	note(SYM_ppoll);
	return real_ppoll(fds, n, t, mask);
}

EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t)
{
	REAL(select);
	note(SYM_select);
	return real_select(n, r, w, e, t);
}

EXPORT int epoll_wait(int fd, struct epoll_event *ev, int n, int timeout)
{
	REAL(epoll_wait);
	note(SYM_epoll_wait);
	return real_epoll_wait(fd, ev, n, timeout);
}

/* ---- stdio (it locks the stream and may allocate and write) ---- */

EXPORT int vfprintf(FILE *f, const char *fmt, va_list ap)
{
	REAL(vfprintf);
	note(SYM_vfprintf);
	return real_vfprintf(f, fmt, ap);
}

EXPORT int vprintf(const char *fmt, va_list ap)
{
	REAL(vfprintf);
	note(SYM_vprintf);
	return real_vfprintf(stdout, fmt, ap);
}

EXPORT int fprintf(FILE *f, const char *fmt, ...)
{
	REAL(vfprintf);
	va_list ap;
	int rc;

	note(SYM_fprintf);
	va_start(ap, fmt);
	rc = real_vfprintf(f, fmt, ap);
	va_end(ap);
	return rc;
}

EXPORT int printf(const char *fmt, ...)
{
	REAL(vfprintf);
	va_list ap;
	int rc;

	note(SYM_printf);
	va_start(ap, fmt);
	rc = real_vfprintf(stdout, fmt, ap);
	va_end(ap);
	return rc;
}

int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap);
int __vprintf_chk(int flag, const char *fmt, va_list ap);
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...);
int __printf_chk(int flag, const char *fmt, ...);

EXPORT int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap)
{
	REAL(__vfprintf_chk);
	note(SYM___vfprintf_chk);
	return real___vfprintf_chk(f, flag, fmt, ap);
}

EXPORT int __vprintf_chk(int flag, const char *fmt, va_list ap)
{
	REAL(__vfprintf_chk);
	note(SYM___vprintf_chk);
	return real___vfprintf_chk(stdout, flag, fmt, ap);
}

EXPORT int __fprintf_chk(FILE *f, int flag, const char *fmt, ...)
{
	REAL(__vfprintf_chk);
	va_list ap;
	int rc;

	note(SYM___fprintf_chk);
	va_start(ap, fmt);
	rc = real___vfprintf_chk(f, flag, fmt, ap);
	va_end(ap);
	return rc;
}

EXPORT int __printf_chk(int flag, const char *fmt, ...)
{
	REAL(__vfprintf_chk);
	va_list ap;
	int rc;

	note(SYM___printf_chk);
	va_start(ap, fmt);
	rc = real___vfprintf_chk(stdout, flag, fmt, ap);
	va_end(ap);
	return rc;
}

EXPORT int puts(const char *s)
{
	REAL(puts);
	note(SYM_puts);
	return real_puts(s);
}

EXPORT int fputs(const char *s, FILE *f)
{
	REAL(fputs);
	note(SYM_fputs);
	return real_fputs(s, f);
}

EXPORT int fputc(int c, FILE *f)
{
	REAL(fputc);
	note(SYM_fputc);
	return real_fputc(c, f);
}

EXPORT int putc(int c, FILE *f)
{
	REAL(putc);
	note(SYM_putc);
	return real_putc(c, f);
}

EXPORT int putchar(int c)
{
	REAL(putchar);
	note(SYM_putchar);
	return real_putchar(c);
}

EXPORT size_t fwrite(const void *p, size_t size, size_t n, FILE *f)
{
	REAL(fwrite);
	note(SYM_fwrite);
	return real_fwrite(p, size, n, f);
}

EXPORT int fflush(FILE *f)
{
	REAL(fflush);
	note(SYM_fflush);
	return real_fflush(f);
}

EXPORT void perror(const char *s)
{
	REAL(perror);
	note(SYM_perror);
	real_perror(s);
}

/* ---- set-up and report ---- */

__attribute__((constructor)) static void noblock_init(void)
{
	const char *st = getenv("NOBLOCK_SELFTEST");

	selftest = st && *st && strcmp(st, "0");
}

/* Appends text to a fixed buffer; never overflows, always terminated. */
static void put(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;

	if (*len >= cap - 1)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len = *len + (size_t)n < cap - 1 ? *len + (size_t)n : cap - 1;
}

__attribute__((destructor)) static void noblock_report(void)
{
	REAL(write);
	REAL(open);
	REAL(close);
	static char line[2048];
	size_t len = 0;
	const char *f = atomic_load(&first);
	const char *path = getenv("NOBLOCK_REPORT");
	const char *sep = "";

	/*
	 * The relay runs PortAudio in a worker process that inherits this
	 * library; only a process that opened streams reports, so the relay's
	 * own exit does not overwrite the worker's line.
	 */
	if (atomic_load(&streams) == 0 && path)
		return;
	put(line, sizeof(line), &len,
	    "callbacks=%llu capture=%llu playback=%llu streams=%llu violations=%llu first=%s by=",
	    (unsigned long long)(atomic_load(&cap_callbacks) + atomic_load(&play_callbacks)),
	    (unsigned long long)atomic_load(&cap_callbacks),
	    (unsigned long long)atomic_load(&play_callbacks),
	    (unsigned long long)atomic_load(&streams), (unsigned long long)atomic_load(&violations),
	    f ? f : "-");
	for (int i = 0; i < SYM_COUNT; i++) {
		uint64_t n = atomic_load(&counts[i]);

		if (n) {
			put(line, sizeof(line), &len, "%s%s:%llu", sep, sym_names[i],
			    (unsigned long long)n);
			sep = ",";
		}
	}
	if (!*sep)
		put(line, sizeof(line), &len, "-");
	put(line, sizeof(line), &len, "\n");

	int fd = 2;
	if (path && *path) {
		fd = real_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			fd = 2;
	}
	if (real_write(fd, line, len) < 0)
		return;
	if (fd != 2)
		real_close(fd);
}
