/*
 * Benchmark: minivmm start-up. Runs `minivmm ARGS...` N times with MINIVMM_BENCH_T0_NS set just before
 * exec, reads minivmm's "stats:" line (vmm/stats.h) and prints medians of: exec -> first guest
 * instruction (first vCPU exit: the guest's POST-code write), exec -> minivmm exit (guest poweroff),
 * and the VMM's resident memory excluding guest RAM.
 *   usage: boot_time N path/to/minivmm [minivmm args...]
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

static long long median(long long *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[1]) : 0;
	long long *first, *end, *rss, *wall;
	int ok = 0;

	if (n < 1) {
		fprintf(stderr, "usage: boot_time N minivmm [args...]\n");
		return 2;
	}
	first = calloc(n, sizeof(*first));
	end = calloc(n, sizeof(*end));
	rss = calloc(n, sizeof(*rss));
	wall = calloc(n, sizeof(*wall));
	for (int i = 0; i < n; i++) {
		int pipefd[2], status;
		struct timespec ts, te;
		char env[64], out[8192];
		size_t got = 0;
		ssize_t r;
		pid_t pid;
		posix_spawn_file_actions_t fa;

		if (pipe(pipefd))
			return 1;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
		posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", 1, 0);
		posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", 0, 0);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		snprintf(env, sizeof(env), "MINIVMM_BENCH_T0_NS=%lld", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
		char *envp[] = { env, NULL };
		if (posix_spawn(&pid, argv[2], &fa, NULL, argv + 2, envp)) {
			perror("posix_spawn");
			return 1;
		}
		close(pipefd[1]);
		while ((r = read(pipefd[0], out + got, sizeof(out) - 1 - got)) > 0)
			got += r;
		out[got] = 0;
		close(pipefd[0]);
		waitpid(pid, &status, 0);
		clock_gettime(CLOCK_MONOTONIC, &te);
		posix_spawn_file_actions_destroy(&fa);
		char *s = strstr(out, "stats: ");
		long long fe, en, rk, gk, vk;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !s ||
		    sscanf(s, "stats: first_exit_us=%lld end_us=%lld rss_kib=%lld guest_ram_kib=%lld vmm_kib=%lld",
			   &fe, &en, &rk, &gk, &vk) != 5) {
			fprintf(stderr, "run %d failed (status 0x%x): %s\n", i, status, out);
			continue;
		}
		first[ok] = fe;
		end[ok] = en;
		rss[ok] = vk;
		wall[ok] = ((te.tv_sec - ts.tv_sec) * 1000000000LL + te.tv_nsec - ts.tv_nsec) / 1000;
		ok++;
	}
	if (!ok)
		return 1;
	printf("boot: runs=%d exec->first-guest-instruction median %.2f ms, exec->poweroff median %.2f ms, "
	       "exec->process-exit median %.2f ms, VMM memory excluding guest RAM median %.2f MiB\n",
	       ok, median(first, ok) / 1000.0, median(end, ok) / 1000.0, median(wall, ok) / 1000.0,
	       median(rss, ok) / 1024.0);
	return ok == n ? 0 : 1;
}
