/* The relay's CPU and memory from /proc: see relayproc.h. */
#include "bench/relayproc.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bounds on what /proc can hold, so no scan runs away. */
#define MAX_TABLE_LINES 1000000
#define MAX_PROCS       1000000
#define MAX_FDS         1000000
#define TCP_LISTEN      0x0A

/* The inode of a socket listening on port in one /proc/net/tcp* table; 0 for none. */
static unsigned long listen_inode(const char *table, uint16_t port)
{
	FILE *f = fopen(table, "r");
	char line[512];
	unsigned long inode = 0;

	if (!f)
		return 0;
	for (int n = 0; n < MAX_TABLE_LINES && !inode && fgets(line, sizeof(line), f); n++) {
		char local[64];
		unsigned lport, st;
		unsigned long ino;

		/* "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode" */
		if (sscanf(line,
		           " %*u: %63[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*s %*s %*s %*u %*u %lu",
		           local, &lport, &st, &ino) == 4 &&
		    lport == port && st == TCP_LISTEN)
			inode = ino;
	}
	fclose(f);
	return inode;
}

static bool has_socket(const char *pid, const char *want)
{
	char dir[300], path[600], link[64];
	DIR *d;
	struct dirent *e;
	bool found = false;

	snprintf(dir, sizeof(dir), "/proc/%s/fd", pid);
	d = opendir(dir);
	if (!d)
		return false;
	for (int n = 0; n < MAX_FDS && !found && (e = readdir(d)); n++) {
		ssize_t len;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len > 0) {
			link[len] = '\0';
			found = !strcmp(link, want);
		}
	}
	closedir(d);
	return found;
}

pid_t bench_find_listener(uint16_t port)
{
	unsigned long inode = listen_inode("/proc/net/tcp", port);
	char want[64];
	DIR *d;
	struct dirent *e;
	pid_t pid = 0;

	if (!inode)
		inode = listen_inode("/proc/net/tcp6", port);
	if (!inode)
		return 0;
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	d = opendir("/proc");
	if (!d)
		return 0;
	for (int n = 0; n < MAX_PROCS && !pid && (e = readdir(d)); n++) {
		char *end;
		long v = strtol(e->d_name, &end, 10);

		if (*end || v <= 0)
			continue;
		if (has_socket(e->d_name, want))
			pid = (pid_t)v;
	}
	closedir(d);
	return pid;
}

long long bench_cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	FILE *f;
	size_t len;
	const char *p;
	unsigned long long ut, st;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	/* The command name may hold spaces and ')': the fields start after the last ')'. */
	p = strrchr(buf, ')');
	/* After ')': state, ppid, pgrp, session, tty_nr, tpgid, flags, minflt,
	 * cminflt, majflt, cmajflt, then utime (field 14) and stime (15). */
	if (!p ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

long bench_rss_kb(pid_t pid)
{
	char path[64], line[256];
	FILE *f;
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	for (int n = 0; n < 200 && kb < 0 && fgets(line, sizeof(line), f); n++)
		if (sscanf(line, "VmRSS: %ld kB", &kb) != 1)
			kb = -1;
	fclose(f);
	return kb;
}
