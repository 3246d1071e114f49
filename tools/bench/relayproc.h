/*
 * The relay's CPU time and memory, read from /proc, and finding the relay
 * by the TCP port it listens on. One thread; Linux only.
 */
#ifndef BENCH_RELAYPROC_H
#define BENCH_RELAYPROC_H

#include <stdint.h>
#include <sys/types.h>

/*
 * The process with a listening TCP socket on port (any local address, IPv4
 * or IPv6): the socket's inode from /proc/net/tcp and tcp6, then the
 * process whose /proc/PID/fd holds socket:[inode]. 0 when none is found
 * (or its descriptors are not ours to read).
 */
pid_t bench_find_listener(uint16_t port);
/* utime + stime in clock ticks (/proc/PID/stat); -1 when it cannot be read. */
long long bench_cpu_ticks(pid_t pid);
/* VmRSS in kB (/proc/PID/status); -1 when it cannot be read. */
long bench_rss_kb(pid_t pid);

#endif
